package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gopacket/gopacket/pcapgo"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/dpdk-doctor/dpdk-doctor/internal/frames"
	"github.com/dpdk-doctor/dpdk-doctor/internal/ovstest"

	"github.com/dpdk-doctor/dpdk-doctor/internal/testenv"
)

const trafBridge = "br-traf"

// trafficRig makes the seed's set-up on the real OVS-DPDK: a netdev bridge forwarding BPDUs,
// with a DPDK port (af_packet driver) on a veth whose other end sits in a network namespace the
// test made. It returns a function that writes raw frames into that end.
func trafficRig(t *testing.T) (*ovstest.Instance, func([]frames.Frame)) {
	t.Helper()
	in := realOVS(t)
	bridge(t, in, trafBridge)
	in.Vsctl("set", "bridge", trafBridge, "other_config:forward-bpdu=true")
	ns := "ddt-traffic"
	exec.Command("ip", "netns", "delete", ns).Run()
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "delete", ns).Run() })
	vethPair(t, "ddtdp", "ddtsrc")
	for _, args := range [][]string{{"link", "set", "ddtsrc", "netns", ns}} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v %s", args, err, out)
		}
	}
	exec.Command("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.ddtsrc.disable_ipv6=1").Run()
	exec.Command("ip", "netns", "exec", ns, "ip", "link", "set", "ddtsrc", "up").Run()
	if out, err := in.Vsctl("add-port", trafBridge, "dpdk-src", "--", "set", "Interface", "dpdk-src", "type=dpdk", "options:dpdk-devargs=net_af_packet7,iface=ddtdp"); err != nil || strings.Contains(out, "Error") {
		t.Fatalf("dpdk port: %v %s", err, out)
	}
	t.Cleanup(func() { in.Vsctl("--if-exists", "del-port", trafBridge, "dpdk-src") })
	// A socket bound inside the namespace, made on a thread that enters it and comes back.
	runtime.LockOSThread()
	orig, _ := netns.Get()
	target, err := netns.GetFromName(ns)
	if err != nil {
		t.Fatal(err)
	}
	netns.Set(target)
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, 0)
	var idx int
	if err == nil {
		var l netlink.Link
		if l, err = netlink.LinkByName("ddtsrc"); err == nil {
			idx = l.Attrs().Index
			err = unix.Bind(fd, &unix.SockaddrLinklayer{Ifindex: idx})
		}
	}
	netns.Set(orig)
	runtime.UnlockOSThread()
	target.Close()
	if err != nil {
		t.Fatalf("raw socket in the namespace: %v", err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	send := func(fs []frames.Frame) {
		for _, f := range fs {
			if _, err := unix.Write(fd, f.Data); err != nil {
				t.Fatalf("writing %s: %v", f.Name, err)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	return in, send
}

// startTraffic runs the real binary and waits until it captures; it returns the capture end.
func startTraffic(t *testing.T, in *ovstest.Instance, args ...string) (*exec.Cmd, *bytes.Buffer, *syncBuf, string) {
	t.Helper()
	out := &bytes.Buffer{}
	cmd, errb, dev := startTrafficTo(t, in, out, args...)
	return cmd, out, errb, dev
}

// startTrafficTo is startTraffic with standard output going to stdout.
func startTrafficTo(t *testing.T, in *ovstest.Instance, stdout io.Writer, args ...string) (*exec.Cmd, *syncBuf, string) {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"traffic", trafBridge, "--db", in.DB}, args...)...)
	errb := &syncBuf{}
	cmd.Stdout = stdout
	pr, pw := io.Pipe()
	cmd.Stderr = pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			errb.write(sc.Text() + "\n")
			if m := regexp.MustCompile(`capturing on (\S+),`).FindStringSubmatch(sc.Text()); m != nil {
				ready <- m[1]
			}
		}
	}()
	exited := make(chan struct{})
	go func() { cmd.Wait(); pw.Close(); close(exited) }()
	// A test that fails early must not leave a capture running.
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
			}
		}
	})
	select {
	case dev := <-ready:
		return cmd, errb, dev
	case <-exited:
		time.Sleep(50 * time.Millisecond)
		t.Fatalf("traffic exited before capturing: %s", errb.String())
	case <-time.After(15 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("traffic did not start capturing: %s", errb.String())
	}
	return nil, nil, ""
}

type syncBuf struct {
	b  strings.Builder
	mu chanMutex
}

type chanMutex chan struct{}

func (s *syncBuf) write(x string) {
	if s.mu == nil {
		s.mu = make(chanMutex, 1)
	}
	s.mu <- struct{}{}
	s.b.WriteString(x)
	<-s.mu
}

func (s *syncBuf) String() string {
	if s.mu == nil {
		s.mu = make(chanMutex, 1)
	}
	s.mu <- struct{}{}
	defer func() { <-s.mu }()
	return s.b.String()
}

func waitExit(t *testing.T, cmd *exec.Cmd, d time.Duration) int {
	t.Helper()
	deadline := time.Now().Add(d)
	for cmd.ProcessState == nil && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if cmd.ProcessState == nil {
		cmd.Process.Kill()
		t.Fatalf("traffic did not exit within %v", d)
	}
	return cmd.ProcessState.ExitCode()
}

// assertClean checks that nothing dpdk-doctor made is left: no tagged veth, no port but the
// test's own, no mirror row, no mirror on the bridge.
func assertClean(t *testing.T, in *ovstest.Instance) {
	t.Helper()
	links, _ := netlink.LinkList()
	for _, l := range links {
		if strings.HasPrefix(l.Attrs().Name, "ddc") || strings.HasPrefix(l.Attrs().Name, "ddb") {
			t.Errorf("veth %s left behind", l.Attrs().Name)
		}
	}
	ports, _ := in.Vsctl("list-ports", trafBridge)
	if strings.TrimSpace(ports) != "dpdk-src" {
		t.Errorf("ports left: %q", ports)
	}
	if m, _ := in.Vsctl("--columns=name", "list", "Mirror"); strings.TrimSpace(m) != "" {
		t.Errorf("mirror rows left: %q", m)
	}
	if m, _ := in.Vsctl("get", "bridge", trafBridge, "mirrors"); strings.TrimSpace(m) != "[]" {
		t.Errorf("bridge still has mirrors: %q", m)
	}
}

func readPcap(t *testing.T, path string) [][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var out [][]byte
	for {
		d, _, err := r.ReadPacketData()
		if err != nil {
			return out
		}
		out = append(out, d)
	}
}

// TestTrafficMatchesTcpdump reproduces the seed's capture: with each filter, dpdk-doctor must
// see exactly the frames tcpdump sees on the same capture port at the same time, byte for byte,
// and print the same lines as tcpdump -nne does for them.
func TestTrafficMatchesTcpdump(t *testing.T) {
	if _, err := exec.LookPath("tcpdump"); err != nil {
		testenv.Unavailable(t, "tcpdump is required")
	}
	in, send := trafficRig(t)
	seed := frames.Seed()
	for _, tc := range []struct {
		filter, tcpdump string // ours, and libpcap's words for it (libpcap has no "lldp")
		want            int
		args            []string
	}{
		{"not stp", "not stp", 10, nil},
		{"vlan 5", "vlan 5", 2, nil},
		{"stp or lldp", "stp or ether proto 0x88cc", 2, nil},
		{"arp or (vlan and ip6)", "arp or (vlan and ip6)", 2, nil},
		{"ether src 4c:00:82:d2:d5:f8", "ether src 4c:00:82:d2:d5:f8", 3, nil},
		{"", "", 11, nil},
		{"", "", 2, []string{"--vlan", "5"}}, // the mirror selects VLAN 5 only
		{"not stp", "not stp", 10, []string{"--select-port", "dpdk-src"}}, // the mirror selects one port
	} {
		t.Run(tc.filter+strings.Join(tc.args, " "), func(t *testing.T) {
			dir := t.TempDir()
			ours := filepath.Join(dir, "ours.pcap")
			cmd, out, errb, dev := startTraffic(t, in, append([]string{"--filter", tc.filter, "--timeout", "3s", "--write", ours}, tc.args...)...)
			theirs := filepath.Join(dir, "tcpdump.pcap")
			// -O: libpcap 1.10.3's optimizer miscompiles "arp or (vlan and ip6)" for tags the kernel
			// moved to metadata (it folds the 0-or-4 offset register to 4 and loads [16]); its
			// unoptimized program, like `tcpdump -d 'vlan and ip6'`, has the intended meaning.
			targs := []string{"-i", dev, "-O", "--immediate-mode", "-U", "-w", theirs}
			if tc.tcpdump != "" {
				targs = append(targs, tc.tcpdump)
			}
			td := exec.Command("tcpdump", targs...)
			tdErr := &syncBuf{}
			tdPipe, _ := td.StderrPipe()
			if err := td.Start(); err != nil {
				t.Fatal(err)
			}
			listening := make(chan bool, 1)
			go func() {
				sc := bufio.NewScanner(tdPipe)
				for sc.Scan() {
					tdErr.write(sc.Text() + "\n")
					if strings.Contains(sc.Text(), "listening on") {
						listening <- true
					}
				}
			}()
			select {
			case <-listening:
			case <-time.After(10 * time.Second):
				t.Fatalf("tcpdump did not start: %s", tdErr.String())
			}
			send(seed)
			// Stop tcpdump while the capture port still exists, then let dpdk-doctor time out.
			time.Sleep(500 * time.Millisecond)
			td.Process.Signal(os.Interrupt)
			td.Wait()
			code := waitExit(t, cmd, 10*time.Second)
			if code != 0 {
				t.Fatalf("traffic exit %d: %s", code, errb.String())
			}
			a, b := readPcap(t, ours), readPcap(t, theirs)
			if len(a) != tc.want || len(b) != tc.want {
				t.Fatalf("dpdk-doctor captured %d, tcpdump %d, want %d\n%s", len(a), len(b), tc.want, out.String())
			}
			for i := range a {
				if !bytes.Equal(a[i], b[i]) {
					t.Errorf("frame %d differs:\n ours    %x\n tcpdump %x", i, a[i], b[i])
				}
			}
			// Our lines against tcpdump's reading of our own pcap.
			tl, _ := exec.Command("tcpdump", "-r", ours, "-nne").Output()
			want := strings.Split(strings.TrimSpace(string(tl)), "\n")
			got := strings.Split(strings.TrimSpace(out.String()), "\n")
			if len(want) != len(got) {
				t.Fatalf("%d lines, tcpdump %d", len(got), len(want))
			}
			for i := range got {
				if got[i] != want[i] {
					t.Errorf("line %d:\n ours    %s\n tcpdump %s", i, got[i], want[i])
				}
			}
			if !strings.Contains(errb.String(), fmt.Sprintf("%d packets captured", tc.want)) {
				t.Errorf("summary: %s", errb.String())
			}
			assertClean(t, in)
		})
	}
}

// TestTrafficTeardown ends runs by timeout, SIGINT and SIGTERM, and checks that each leaves
// nothing; then a SIGKILLed run's leftovers are reported by check and removed by cleanup.
func TestTrafficTeardown(t *testing.T) {
	in, _ := trafficRig(t)
	cmd, _, errb, _ := startTraffic(t, in, "--timeout", "500ms")
	if code := waitExit(t, cmd, 10*time.Second); code != 0 {
		t.Errorf("timeout: exit %d %s", code, errb.String())
	}
	assertClean(t, in)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		cmd, _, errb, _ := startTraffic(t, in, "--timeout", "0")
		cmd.Process.Signal(sig)
		code := waitExit(t, cmd, 10*time.Second)
		if want := 128 + int(sig); code != want {
			t.Errorf("%v: exit %d, want %d: %s", sig, code, want, errb.String())
		}
		assertClean(t, in)
	}
	// SIGKILL: nothing can clean up in the process; check reports it, cleanup removes it.
	cmd, _, _, dev := startTraffic(t, in, "--timeout", "0")
	cmd.Process.Kill()
	waitExit(t, cmd, 5*time.Second)
	if _, err := netlink.LinkByName(dev); err != nil {
		t.Fatalf("a killed run should leave its veth: %v", err)
	}
	out, _, _ := runBin(t, "check", "--db", in.DB, "--json")
	if !strings.Contains(out, `"ovs.leftovers"`) || !strings.Contains(out, dev) {
		t.Errorf("check should warn about the leftovers of the killed run")
	}
	out, stderr, code := runBin(t, "cleanup", "--db", in.DB)
	if code != 0 || !strings.Contains(out, "removed mirror") || !strings.Contains(out, "removed veth") {
		t.Errorf("cleanup: exit %d %s %s", code, out, stderr)
	}
	assertClean(t, in)
	if out, _, _ := runBin(t, "cleanup", "--db", in.DB); !strings.Contains(out, "nothing to clean up") {
		t.Errorf("second cleanup: %s", out)
	}
}

// TestTrafficSetupTeardownTime: setup plus teardown around a capture stays under 300 ms (the
// best of three runs, so that a loaded machine does not decide it).
func TestTrafficSetupTeardownTime(t *testing.T) {
	in, _ := trafficRig(t)
	best := time.Hour
	re := regexp.MustCompile(`setup (\S+), teardown (\S+)`)
	for range 3 {
		cmd, _, errb, _ := startTraffic(t, in, "--timeout", "100ms")
		waitExit(t, cmd, 10*time.Second)
		m := re.FindStringSubmatch(errb.String())
		if m == nil {
			t.Fatalf("no timings in %s", errb.String())
		}
		s, _ := time.ParseDuration(m[1])
		d, _ := time.ParseDuration(m[2])
		t.Logf("setup %v, teardown %v", s, d)
		best = min(best, s+d)
	}
	if best > 300*time.Millisecond {
		t.Errorf("setup plus teardown takes %v at best, more than 300 ms", best)
	}
	assertClean(t, in)
}
