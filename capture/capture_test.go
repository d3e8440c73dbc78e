package capture

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"golang.org/x/net/bpf"

	"github.com/dpdk-doctor/dpdk-doctor/internal/frames"

	"github.com/dpdk-doctor/dpdk-doctor/internal/testenv"
)

func needTcpdump(t *testing.T) {
	if _, err := exec.LookPath("tcpdump"); err != nil {
		testenv.Unavailable(t, "tcpdump is required")
	}
}

// seedPcap writes the seed's frames (VLAN tags in-band, as in any pcap file) to a file.
func seedPcap(t *testing.T) (string, []frames.Frame) {
	fs := frames.Seed()
	path := filepath.Join(t.TempDir(), "seed.pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := pcapgo.NewWriter(f)
	w.WriteFileHeader(snapLen, layers.LinkTypeEthernet)
	for i, fr := range fs {
		w.WritePacket(gopacket.CaptureInfo{Timestamp: time.Unix(1533580312, int64(i)*1000), CaptureLength: len(fr.Data), Length: len(fr.Data)}, fr.Data)
	}
	f.Close()
	return path, fs
}

// TestDecodeAgainstTcpdump: our line for every frame equals what tcpdump -nne prints for it.
func TestDecodeAgainstTcpdump(t *testing.T) {
	needTcpdump(t)
	path, fs := seedPcap(t)
	out, err := exec.Command("tcpdump", "-r", path, "-nne").Output()
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(fs) {
		t.Fatalf("tcpdump printed %d lines for %d frames", len(lines), len(fs))
	}
	for i, fr := range fs {
		want := lines[i][strings.Index(lines[i], " ")+1:]
		if got := Line(fr.Data, len(fr.Data)); got != want {
			t.Errorf("%s:\n ours    %s\n tcpdump %s", fr.Name, got, want)
		}
	}
}

// TestFilterAgainstTcpdump: for each filter, the frames our compiled BPF program accepts (run
// in x/net/bpf's VM) and those our Go evaluator accepts are the frames tcpdump's own filter
// selects from the same pcap.
func TestFilterAgainstTcpdump(t *testing.T) {
	needTcpdump(t)
	path, fs := seedPcap(t)
	filters := []string{"not stp", "stp", "vlan", "vlan 5", "vlan 4089", "not vlan", "arp", "ip", "ip6", "vlan and ip", "vlan and ip6",
		"ether proto 0x88cc", "ether host 4c:00:82:d2:d5:f8", "ether src 00:0c:29:93:2f:54", "ether dst 01:00:5e:00:00:76",
		`ether proto \arp or ether proto \ip6`, "(vlan 5 or vlan 50) and not ip6", "not (arp or stp)", "vlan and stp", "ether proto 0x8100", "vlan 5 or vlan 50", "vlan or ip6", "vlan and vlan", "ip or vlan 5 and ip"}
	for _, expr := range filters {
		f, err := ParseFilter(expr)
		if err != nil {
			t.Fatalf("%q: %v", expr, err)
		}
		checkAgainstTcpdump(t, path, fs, f)
	}
}

// checkAgainstTcpdump: the frames of the seed pcap at path that f's compiled program (in
// x/net/bpf's VM) and its Go evaluator accept are those tcpdump's filter selects.
func checkAgainstTcpdump(t *testing.T, path string, fs []frames.Frame, f *Filter) {
	t.Helper()
	expr := f.Text
	prog, err := f.Compile(false)
	if err != nil {
		t.Fatal(err)
	}
	vm, err := bpf.NewVM(prog)
	if err != nil {
		t.Fatalf("%.60q: %v", expr, err)
	}
	out, err := exec.Command("tcpdump", "-r", path, "-O", "-nn", expr).Output()
	if err != nil {
		t.Fatalf("tcpdump %.60q: %v", expr, err)
	}
	var want []int
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if l == "" {
			continue
		}
		// The microseconds of the timestamp are the frame's index.
		var h, m, s, us int
		if _, err := fmtSscanf(l, &h, &m, &s, &us); err == nil {
			want = append(want, us)
		}
	}
	var vmGot, goGot []int
	for i, fr := range fs {
		if n, _ := vm.Run(fr.Data); n > 0 {
			vmGot = append(vmGot, i)
		}
		if f.Match(Frame{Data: fr.Data}) {
			goGot = append(goGot, i)
		}
	}
	if !same(vmGot, want) || !same(goGot, want) {
		t.Errorf("%.60q: BPF %v, Go %v, tcpdump %v", expr, vmGot, goGot, want)
	}
}

func same(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestFilterErrors(t *testing.T) {
	for _, bad := range []string{"tcp port domain", "vlan 5000", "ether host zz", "(arp", "arp or", "ether proto 100", "host 10.0.0.256"} {
		if _, err := ParseFilter(bad); err == nil || !strings.Contains(err.Error(), "supported:") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// TestMetadataVLAN: frames whose tag the kernel moved to metadata (as on a veth).
func TestMetadataVLAN(t *testing.T) {
	untag := func(b []byte) []byte { return append(append([]byte{}, b[:12]...), b[16:]...) }
	fs := frames.Seed()
	udp4 := Frame{Data: untag(fs[0].Data), VLANStrip: true, VLANTCI: 5}
	for expr, want := range map[string]bool{"vlan": true, "vlan 5": true, "vlan 6": false, "ip": true, "vlan and ip": true, "not vlan": false} {
		f, _ := ParseFilter(expr)
		if f.Match(udp4) != want {
			t.Errorf("%q on a metadata-tagged IPv4 frame: %v, want %v", expr, !want, want)
		}
	}
}

func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{"not stp", "vlan 5 and (ip or ip6)", "ether host 01:02:03:04:05:06 || !arp", "lldp"} {
		f.Add(s, frames.Seed()[0].Data)
	}
	for i, s := range []string{"vlan and port 22", "src net 10.0.0.0/24 or dst host 2001:db8::1", "vlan and vlan and udp portrange 60-70", "tcp or icmp6 or ip proto 1"} {
		f.Add(s, l3Frames()[i*4].Data)
	}
	f.Fuzz(func(t *testing.T, expr string, frame []byte) {
		flt, err := ParseFilter(expr)
		if err != nil {
			return
		}
		prog, err := flt.Compile(false)
		if err != nil {
			return
		}
		vm, err := bpf.NewVM(prog)
		if err != nil {
			t.Fatalf("%q compiles to a program the VM refuses: %v", expr, err)
		}
		n, err := vm.Run(frame)
		if err != nil {
			t.Fatalf("%q: %v", expr, err)
		}
		// The compiled program and the Go evaluator must agree on every frame.
		if (n > 0) != flt.Match(Frame{Data: frame}) {
			t.Fatalf("%q on %x: BPF %v, Go %v", expr, frame, n > 0, !(n > 0))
		}
		if _, err := flt.Compile(true); err != nil {
			t.Fatal(err)
		}
	})
}

func FuzzLine(f *testing.F) {
	for _, fr := range frames.Seed() {
		f.Add(fr.Data)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if Line(b, len(b)) == "" {
			t.Fatal("empty line")
		}
		var s Summary
		s.Add(Packet{Data: b, WireLen: len(b)})
	})
}
