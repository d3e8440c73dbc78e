package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/dpdk-doctor/dpdk-doctor/internal/frames"
	"github.com/dpdk-doctor/dpdk-doctor/internal/ovsrpc"
	"github.com/dpdk-doctor/dpdk-doctor/internal/ovstest"
)

type topJSON struct {
	Interval float64 `json:"interval_s"`
	Ports    []struct {
		Name      string             `json:"name"`
		Type      string             `json:"type"`
		LinkState string             `json:"link_state"`
		MTU       int                `json:"mtu"`
		RxPPS     float64            `json:"rx_pps"`
		TxPPS     float64            `json:"tx_pps"`
		Drops     map[string]uint64  `json:"drops"`
		DropRates map[string]float64 `json:"drop_rates"`
		Rxqs      []struct {
			Core int `json:"core_id"`
		} `json:"rxqs"`
	} `json:"ports"`
	PMDs []struct {
		Core    int     `json:"core_id"`
		BusyPct float64 `json:"busy_pct"`
		CPP     float64 `json:"cycles_per_packet"`
		Rxqs    int     `json:"rxqs"`
	} `json:"pmds"`
}

// rawSocket opens an AF_PACKET socket bound to a kernel interface, closed when the test ends.
func rawSocket(t *testing.T, ifname string) int {
	t.Helper()
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	ifi, err := netInterfaceIndex(ifname)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Ifindex: ifi}); err != nil {
		t.Fatal(err)
	}
	return fd
}

func netInterfaceIndex(name string) (int, error) {
	b, err := os.ReadFile("/sys/class/net/" + name + "/ifindex")
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

// paced writes frame to fd at rate frames per second for d, and returns how many it wrote.
func paced(t *testing.T, fd int, frame []byte, rate int, d time.Duration) int {
	start := time.Now()
	n := 0
	for time.Since(start) < d {
		want := int(time.Since(start).Seconds() * float64(rate))
		for ; n < want; n++ {
			if _, err := unix.Write(fd, frame); err != nil {
				t.Errorf("writing frame %d: %v", n, err)
				return n
			}
		}
		time.Sleep(time.Millisecond)
	}
	return n
}

// topPorts sets up bridge br-top with two af_packet DPDK ports: dpdk-top0 on veth ddto0 (its
// peer ddto1 is where the test writes frames) and dpdk-top1 on ddto2 with mtu_request 1500.
func topPorts(t *testing.T, in *ovstest.Instance) int {
	t.Helper()
	bridge(t, in, "br-top")
	vethPair(t, "ddto0", "ddto1")
	vethPair(t, "ddto2", "ddto3")
	for _, n := range []string{"ddto0", "ddto1", "ddto2", "ddto3"} {
		exec.Command("ip", "link", "set", n, "mtu", "2000").Run()
	}
	for _, p := range [][3]string{{"dpdk-top0", "net_af_packet20,iface=ddto0", "2000"}, {"dpdk-top1", "net_af_packet21,iface=ddto2", "1500"}} {
		if out, err := in.Vsctl("add-port", "br-top", p[0], "--", "set", "Interface", p[0], "type=dpdk", "options:dpdk-devargs="+p[1], "mtu_request="+p[2]); err != nil {
			t.Fatalf("add-port %s: %v %s", p[0], err, out)
		}
		t.Cleanup(func() { in.Vsctl("--if-exists", "del-port", "br-top", p[0]) })
	}
	// Wait until both ports are up in OVS.
	deadline := time.Now().Add(30 * time.Second)
	for {
		a, _ := in.Vsctl("get", "Interface", "dpdk-top0", "link_state")
		b, _ := in.Vsctl("get", "Interface", "dpdk-top1", "link_state")
		if strings.TrimSpace(a) == "up" && strings.TrimSpace(b) == "up" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ports not up: %q %q\n%s", a, b, in.Log())
		}
		time.Sleep(100 * time.Millisecond)
	}
	return rawSocket(t, "ddto1")
}

// TestTopRates writes 2,000 frames/s for 3 s into an af_packet DPDK port and requires top's
// rx rate within 10% of that; frames longer than the other port's MTU (1500) show as
// ovs_tx_mtu_exceeded_drops on that port; PMD busy % is within 0-100.
func TestTopRates(t *testing.T) {
	in := realOVS(t)
	fd := topPorts(t, in)
	small := frames.UDP4("02:00:00:00:00:01", "ff:ff:ff:ff:ff:ff", 0, 0, "10.9.0.1", "10.9.0.2", 1000, 2000, 64)
	// Warm up: let the bridge learn and the PMD settle.
	paced(t, fd, small, 500, 300*time.Millisecond)
	done := make(chan int)
	go func() { done <- paced(t, fd, small, 2000, 3*time.Second) }()
	time.Sleep(500 * time.Millisecond)
	out, stderr, code := runBin(t, "top", "--once", "--json", "--interval", "2s", "--db", in.DB, "--rundir", in.Dir)
	sent := <-done
	if code != 0 {
		t.Fatalf("top: exit %d: %s", code, stderr)
	}
	var v topJSON
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	t.Logf("sent %d frames in 3s; top: %s", sent, out)
	found := false
	for _, p := range v.Ports {
		if p.Name != "dpdk-top0" {
			continue
		}
		found = true
		if p.RxPPS < 1800 || p.RxPPS > 2200 {
			t.Errorf("dpdk-top0 rx %.0f pkt/s, want 2000 +-10%%", p.RxPPS)
		}
		if p.LinkState != "up" || p.MTU != 2000 || len(p.Rxqs) == 0 {
			t.Errorf("dpdk-top0: link %q MTU %d rxqs %d", p.LinkState, p.MTU, len(p.Rxqs))
		}
	}
	if !found {
		t.Fatalf("no dpdk-top0 in %s", out)
	}
	if len(v.PMDs) == 0 {
		t.Fatal("no PMD threads")
	}
	for _, p := range v.PMDs {
		if p.BusyPct < 0 || p.BusyPct > 100 {
			t.Errorf("PMD core %d busy %.1f%%", p.Core, p.BusyPct)
		}
		if p.CPP <= 0 {
			t.Errorf("PMD core %d: %.0f cycles per packet with traffic flowing", p.Core, p.CPP)
		}
	}

	// A deliberate drop: 1600-byte frames flood to dpdk-top1, whose MTU is 1500.
	big := frames.UDP4("02:00:00:00:00:01", "ff:ff:ff:ff:ff:ff", 0, 0, "10.9.0.1", "10.9.0.2", 1000, 2000, 1560)
	go func() { done <- paced(t, fd, big, 200, 2*time.Second) }()
	time.Sleep(300 * time.Millisecond)
	out, stderr, code = runBin(t, "top", "--once", "--json", "--interval", "1s", "--db", in.DB, "--rundir", in.Dir)
	<-done
	if code != 0 {
		t.Fatalf("top: exit %d: %s", code, stderr)
	}
	v = topJSON{}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatal(err)
	}
	for _, p := range v.Ports {
		if p.Name == "dpdk-top1" {
			if p.DropRates["ovs_tx_mtu_exceeded_drops"] < 100 {
				t.Errorf("dpdk-top1: want ovs_tx_mtu_exceeded_drops at ~200/s, got %v (drops %v)", p.DropRates, p.Drops)
			}
			return
		}
	}
	t.Fatalf("no dpdk-top1 in %s", out)
}

// TestTopGoldenCapture saves ovs-vswitchd's real pmd-* replies for the parser's golden tests
// when DPDK_DOCTOR_GOLDEN names a directory.
func TestTopGoldenCapture(t *testing.T) {
	dir := os.Getenv("DPDK_DOCTOR_GOLDEN")
	if dir == "" {
		t.Skip("DPDK_DOCTOR_GOLDEN unset: not capturing")
	}
	in := realOVS(t)
	fd := topPorts(t, in)
	small := frames.UDP4("02:00:00:00:00:01", "ff:ff:ff:ff:ff:ff", 0, 0, "10.9.0.1", "10.9.0.2", 1000, 2000, 64)
	paced(t, fd, small, 1000, time.Second)
	sock, err := ovsrpc.VswitchdSocket(in.Dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"pmd-stats-show", "pmd-rxq-show", "pmd-perf-show"} {
		out, err := exec.Command("ovs-appctl", "-t", sock, "dpif-netdev/"+c).Output()
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, c+".txt"), out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
