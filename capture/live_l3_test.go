package capture

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/dpdk-doctor/dpdk-doctor/internal/testenv"
)

// TestLiveL3Filter attaches compiled filters (with the kernel's VLAN metadata tests) to a real
// AF_PACKET socket on a veth and sends the l3 frames from the other end: the kernel passes
// exactly the frames the Go evaluator selects from the frames as the socket sees them: the
// outer 802.1Q tag moved to metadata by the kernel. As with libpcap live on Linux, a filter
// without vlan then also sees tagged frames ("port 22" passes a tagged SSH frame).
func TestLiveL3Filter(t *testing.T) {
	if os.Geteuid() != 0 {
		testenv.Unavailable(t, "this test needs root (veth, AF_PACKET)")
	}
	a, z := "ddtl3a", "ddtl3z"
	exec.Command("ip", "link", "delete", a).Run()
	if out, err := exec.Command("ip", "link", "add", a, "type", "veth", "peer", "name", z).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	defer exec.Command("ip", "link", "delete", a).Run()
	for _, n := range []string{a, z} {
		os.WriteFile("/proc/sys/net/ipv6/conf/"+n+"/disable_ipv6", []byte("1"), 0o644)
		if out, err := exec.Command("ip", "link", "set", n, "up").CombinedOutput(); err != nil {
			t.Fatalf("%v %s", err, out)
		}
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	idx, err := ifindex(a)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Ifindex: idx}); err != nil {
		t.Fatal(err)
	}
	fs := l3Frames()
	for _, expr := range []string{"port 22", "vlan and port 22", "vlan 5 and host 10.0.0.1", "vlan and vlan and udp port 68", "udp port 4789 or icmp6",
		"tcp and not vlan", "src net 10.0.0.0/24 and not port 53", "vlan and ip6 and tcp"} {
		f, err := ParseFilter(expr)
		if err != nil {
			t.Fatal(err)
		}
		src, err := Open(z, f)
		if err != nil {
			t.Fatal(err)
		}
		for _, fr := range fs {
			if _, err := unix.Write(fd, fr.Data); err != nil {
				t.Fatal(err)
			}
		}
		var got []int
		ctx, cancel := context.WithTimeout(context.Background(), 700*time.Millisecond)
		for {
			p, err := src.Next(ctx)
			if err != nil {
				break
			}
			for i, fr := range fs {
				if bytes.Equal(p.Data, fr.Data) {
					got = append(got, i)
				}
			}
		}
		cancel()
		src.Close()
		var want []int
		for i, fr := range fs {
			if f.Match(asReceived(fr.Data)) {
				want = append(want, i)
			}
		}
		if !same(got, want) {
			t.Errorf("%q: the kernel passed %v, want %v", expr, got, want)
		}
	}
}

// asReceived is a frame as an AF_PACKET socket's filter sees it: the kernel moved the outer
// 802.1Q tag to metadata.
func asReceived(b []byte) Frame {
	if len(b) >= 18 && b[12] == 0x81 && b[13] == 0 {
		return Frame{Data: append(append([]byte{}, b[:12]...), b[16:]...), VLANStrip: true, VLANTCI: uint16(b[14])<<8 | uint16(b[15])}
	}
	return Frame{Data: b}
}
