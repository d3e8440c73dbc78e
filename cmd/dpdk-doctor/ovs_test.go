package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/dpdk-doctor/dpdk-doctor/internal/ovstest"

	"github.com/dpdk-doctor/dpdk-doctor/internal/testenv"
)

// ovsInstance is the one real OVS-DPDK the tests of this package share (the machine has room
// for one); TestMain stops it.
var ovsInstance *ovstest.Instance

func realOVS(t *testing.T) *ovstest.Instance {
	t.Helper()
	if ovsInstance == nil {
		in, err := ovstest.Start(ovstest.Options{Switch: true})
		if err != nil {
			testenv.Unavailable(t, "the real OVS-DPDK must run: %v", err)
		}
		ovsInstance = in
	}
	return ovsInstance
}

func stopOVS() {
	if ovsInstance != nil {
		ovsInstance.Stop()
		ovsInstance = nil
	}
}

// bridge makes a fresh user-space bridge and removes it when the test ends.
func bridge(t *testing.T, in *ovstest.Instance, name string) {
	t.Helper()
	if _, err := in.Vsctl("--may-exist", "add-br", name, "--", "set", "bridge", name, "datapath_type=netdev"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		in.Vsctl("--if-exists", "del-br", name)
		exec.Command("ip", "link", "delete", name).Run()
	})
}

// vethPair makes a veth pair with IPv6 off, removed when the test ends.
func vethPair(t *testing.T, a, b string) {
	t.Helper()
	exec.Command("ip", "link", "delete", a).Run()
	if out, err := exec.Command("ip", "link", "add", a, "type", "veth", "peer", "name", b).CombinedOutput(); err != nil {
		t.Fatalf("ip link add: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "link", "delete", a).Run() })
	for _, n := range []string{a, b} {
		os.WriteFile("/proc/sys/net/ipv6/conf/"+n+"/disable_ipv6", []byte("1"), 0o644)
		exec.Command("ip", "link", "set", n, "up").Run()
	}
}

type showJSON struct {
	Bridges []struct {
		Name  string `json:"name"`
		Ports []struct {
			Name       string `json:"name"`
			Interfaces []struct {
				Name        string            `json:"name"`
				Type        string            `json:"type"`
				Options     map[string]string `json:"options"`
				Error       string            `json:"error"`
				OFPort      *int              `json:"ofport"`
				Explanation *struct {
					Raw, Cause string
					Remedy     []string
				} `json:"explanation"`
			} `json:"interfaces"`
		} `json:"ports"`
	} `json:"bridges"`
}

func ovsShow(t *testing.T, args ...string) showJSON {
	t.Helper()
	out, stderr, code := runBin(t, append([]string{"ovs", "show", "--json"}, args...)...)
	if code != 0 {
		t.Fatalf("ovs show: exit %d: %s", code, stderr)
	}
	var s showJSON
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestOVSSeedFailure reproduces the seed on the real OVS-DPDK: ovs-vsctl adds a dpdk port for
// 0000:03:00.0, OVS answers "Error attaching device", and dpdk-doctor explains it: here there
// is no such device; with the seed's host tree as the facts, the RMRR lock in slot 2.
func TestOVSSeedFailure(t *testing.T) {
	in := realOVS(t)
	bridge(t, in, "br-provider")
	// OVS 3.1's ovs-vsctl prints the seed's error but exits 0: the port stays, with the error.
	out, _ := in.Vsctl("add-port", "br-provider", "dpdk-p0", "--", "set", "Interface", "dpdk-p0", "type=dpdk", "options:dpdk-devargs=0000:03:00.0")
	if !strings.Contains(out, "Error attaching device '0000:03:00.0' to DPDK") {
		t.Fatalf("ovs-vsctl should report the seed's error: %s", out)
	}
	find := func(s showJSON) (string, string) {
		for _, b := range s.Bridges {
			for _, p := range b.Ports {
				for _, i := range p.Interfaces {
					if i.Name == "dpdk-p0" && i.Explanation != nil {
						return i.Explanation.Raw, i.Explanation.Cause
					}
				}
			}
		}
		return "", ""
	}
	raw, cause := find(ovsShow(t, "--db", in.DB))
	if raw != "Error attaching device '0000:03:00.0' to DPDK" || !strings.Contains(cause, "no PCI device 0000:03:00.0") {
		t.Errorf("live: raw %q cause %q", raw, cause)
	}
	raw, cause = find(ovsShow(t, "--db", in.DB, "--root", tree("dl360e-gen8")))
	if raw == "" || !strings.Contains(cause, "RMRR-locked") || !strings.Contains(cause, "physical slot 2") {
		t.Errorf("with the seed's host: raw %q cause %q", raw, cause)
	}
	out, _, code := runBin(t, "check", "--db", in.DB, "--root", tree("dl360e-gen8"), "--json")
	if code != 1 || !strings.Contains(out, `"ovs.interface"`) || !strings.Contains(out, "RMRR-locked") {
		t.Errorf("check with OVS: exit %d", code)
	}
	in.Vsctl("del-port", "br-provider", "dpdk-p0")
}

// TestOVSWorkingPort adds a DPDK port on the af_packet driver over a veth with dpdk-doctor's
// add-port; it works, and check says so.
func TestOVSWorkingPort(t *testing.T) {
	in := realOVS(t)
	bridge(t, in, "br-work")
	vethPair(t, "ddtw0", "ddtw1")
	vethPair(t, "ddtw2", "ddtw3")
	// ovs-vsctl waits for ovs-vswitchd to apply the change, as add-port does: time both, on the
	// same kind of port (the first af_packet port pays DPDK's one-time driver set-up: warm up).
	in.Vsctl("add-port", "br-work", "dpdk-warm", "--", "set", "Interface", "dpdk-warm", "type=dpdk", "options:dpdk-devargs=net_af_packet9,iface=ddtw3")
	start := time.Now()
	if _, err := in.Vsctl("add-port", "br-work", "dpdk-w1", "--", "set", "Interface", "dpdk-w1", "type=dpdk", "options:dpdk-devargs=net_af_packet1,iface=ddtw2"); err != nil {
		t.Fatal(err)
	}
	vsctl := time.Since(start)
	start = time.Now()
	out, stderr, code := runBin(t, "ovs", "add-port", "br-work", "dpdk-w0", "--devargs", "net_af_packet0,iface=ddtw0", "--db", in.DB)
	if code != 0 || !strings.Contains(out, "working") {
		t.Fatalf("add-port: exit %d %s %s\n%s", code, out, stderr, in.Log())
	}
	ours := time.Since(start)
	t.Logf("add-port of a working af_packet port: dpdk-doctor %v (binary start to report), ovs-vsctl %v", ours, vsctl)
	if ours > vsctl+time.Second {
		t.Errorf("dpdk-doctor reports %v, ovs-vsctl %v: over a second after OVS settled", ours, vsctl)
	}
	s := ovsShow(t, "--db", in.DB)
	for _, b := range s.Bridges {
		for _, p := range b.Ports {
			for _, i := range p.Interfaces {
				if i.Name == "dpdk-w0" && (i.Error != "" || i.OFPort == nil || *i.OFPort <= 0) {
					t.Errorf("dpdk-w0: error %q ofport %v", i.Error, i.OFPort)
				}
			}
		}
	}
	out, _, _ = runBin(t, "check", "--db", in.DB, "--json")
	if !strings.Contains(out, "dpdk-w0 on bridge br-work works") {
		t.Error("check should say dpdk-w0 works")
	}
	if out, _, code := runBin(t, "ovs", "del-port", "br-work", "dpdk-w0", "--db", in.DB); code != 0 {
		t.Errorf("del-port: %d %s", code, out)
	}
	if ports, _ := in.Vsctl("list-ports", "br-work"); strings.Contains(ports, "dpdk-w0") {
		t.Error("del-port left the port")
	}
}

// TestOVSShowAgreesWithVsctl compares `ovs show --json` with ovs-vsctl's own view of bridges,
// ports, interface types, options and errors.
func TestOVSShowAgreesWithVsctl(t *testing.T) {
	in := realOVS(t)
	bridge(t, in, "br-cmp")
	vethPair(t, "ddtc0", "ddtc1")
	in.Vsctl("add-port", "br-cmp", "dpdk-bad", "--", "set", "Interface", "dpdk-bad", "type=dpdk", "options:dpdk-devargs=0000:04:00.1")
	in.Vsctl("add-port", "br-cmp", "dpdk-ok", "--", "set", "Interface", "dpdk-ok", "type=dpdk", "options:dpdk-devargs=net_af_packet1,iface=ddtc0")
	in.Vsctl("add-port", "br-cmp", "patch-a", "--", "set", "Interface", "patch-a", "type=patch", "options:peer=patch-b")
	ours := map[string]string{}
	for _, b := range ovsShow(t, "--db", in.DB).Bridges {
		for _, p := range b.Ports {
			for _, i := range p.Interfaces {
				opts := []string{}
				for k, v := range i.Options {
					opts = append(opts, k+"="+v)
				}
				sort.Strings(opts)
				ours[i.Name] = fmt.Sprintf("bridge=%s port=%s type=%s options=%v error=%q", b.Name, p.Name, i.Type, opts, i.Error)
			}
		}
	}
	theirs := map[string]string{}
	brs, _ := in.Vsctl("list-br")
	for _, b := range strings.Fields(brs) {
		ports, _ := in.Vsctl("list-ports", b)
		for _, p := range append(strings.Fields(ports), b) {
			ifaces, _ := in.Vsctl("list-ifaces", b)
			_ = ifaces
			raw, err := in.Vsctl("--format=json", "--columns=name,type,options,error", "list", "Interface", p)
			if err != nil {
				continue
			}
			var doc struct{ Data [][]any }
			json.Unmarshal([]byte(raw), &doc)
			if len(doc.Data) != 1 {
				continue
			}
			row := doc.Data[0]
			opts := []string{}
			if m, ok := row[2].([]any); ok && len(m) == 2 {
				for _, kv := range m[1].([]any) {
					pair := kv.([]any)
					opts = append(opts, fmt.Sprint(pair[0])+"="+fmt.Sprint(pair[1]))
				}
			}
			sort.Strings(opts)
			errText := ""
			if s, ok := row[3].(string); ok {
				errText = s
			}
			theirs[row[0].(string)] = fmt.Sprintf("bridge=%s port=%s type=%s options=%v error=%q", b, p, row[1], opts, errText)
		}
	}
	if len(theirs) < 4 {
		t.Fatalf("ovs-vsctl shows too little: %v", theirs)
	}
	for name, want := range theirs {
		if ours[name] != want {
			t.Errorf("%s:\n ours   %s\n vsctl  %s", name, ours[name], want)
		}
	}
	if len(ours) != len(theirs) {
		t.Errorf("we list %d interfaces, ovs-vsctl %d", len(ours), len(theirs))
	}
}

// TestOVSAddPortPreflight: a device that cannot work is refused with the diagnosis; --force
// adds it and reports OVS's own error, explained.
func TestOVSAddPortPreflight(t *testing.T) {
	in := realOVS(t)
	bridge(t, in, "br-pre")
	out, stderr, code := runBin(t, "ovs", "add-port", "br-pre", "dpdk-p9", "--devargs", "0000:03:00.0", "--db", in.DB)
	if code != 1 || !strings.Contains(stderr, "preflight") || !strings.Contains(stderr, "no PCI device 0000:03:00.0") {
		t.Errorf("preflight: exit %d %s %s", code, out, stderr)
	}
	if ports, _ := in.Vsctl("list-ports", "br-pre"); strings.Contains(ports, "dpdk-p9") {
		t.Error("a refused port must not be added")
	}
	start := time.Now()
	out, stderr, code = runBin(t, "ovs", "add-port", "br-pre", "dpdk-p9", "--devargs", "0000:03:00.0", "--db", in.DB, "--force")
	took := time.Since(start)
	if code != 1 || !strings.Contains(out, "Error attaching device '0000:03:00.0' to DPDK") || !strings.Contains(out, "cause: there is no PCI device") {
		t.Errorf("--force: exit %d %s %s", code, out, stderr)
	}
	t.Logf("add-port --force to an explained failure: %v", took)
	if took > 3*time.Second {
		t.Errorf("add-port took %v", took)
	}
	for _, bad := range [][]string{{"ovs", "add-port", "br pre", "x", "--devargs", "0000:03:00.0"}, {"ovs", "add-port", "br-pre", "x", "--devargs", "a b"}} {
		if _, _, code := runBin(t, append(bad, "--db", in.DB)...); code != 2 {
			t.Errorf("%v: exit %d, want 2", bad, code)
		}
	}
}

// TestOVSUnreachable: no server, or a server that goes away while add-port waits, gives a
// clear error quickly, not a hang.
func TestOVSUnreachable(t *testing.T) {
	start := time.Now()
	_, stderr, code := runBin(t, "ovs", "show", "--db", "unix:/nonexistent/db.sock")
	if code != 1 || !strings.Contains(stderr, "cannot reach OVSDB at unix:/nonexistent/db.sock") || time.Since(start) > 5*time.Second {
		t.Errorf("unreachable: exit %d after %v: %s", code, time.Since(start), stderr)
	}
	if _, stderr, code := runBin(t, "ovs", "show", "--db", "http://x"); code != 2 || !strings.Contains(stderr, "want unix:PATH") {
		t.Errorf("bad endpoint: exit %d %s", code, stderr)
	}
	// A database without a switch: add-port waits for an ofport that never comes; the server dies.
	// Only one instance runs at a time (ovstest holds a lock): stop the shared one first.
	stopOVS()
	db, err := ovstest.Start(ovstest.Options{Switch: false})
	if err != nil {
		testenv.Unavailable(t, "a private ovsdb-server must run: %v", err)
	}
	defer db.Stop()
	db.Vsctl("--no-wait", "add-br", "br-gone")
	cmd := exec.Command(binary, "ovs", "add-port", "br-gone", "p0", "--devargs", "net_af_packet5,iface=lo", "--force", "--timeout", "60s", "--db", db.DB)
	var errb strings.Builder
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	pid, _ := os.ReadFile(db.Dir + "/ovsdb-server.pid")
	var p int
	fmt.Sscan(string(pid), &p)
	syscall.Kill(p, syscall.SIGKILL)
	killed := time.Now()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
		if !strings.Contains(errb.String(), "went away") {
			t.Errorf("want a clear error, got %q", errb.String())
		}
		t.Logf("add-port noticed the server was gone after %v", time.Since(killed))
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatal("add-port hangs after the server went away")
	}
}

// TestOVSAddPortInput: malformed devargs, names and a missing bridge are refused with exit 2
// before anything is touched (the missing bridge before the preflight, with the bridges there
// are); the database is unchanged after each.
func TestOVSAddPortInput(t *testing.T) {
	in := realOVS(t)
	bridge(t, in, "br-in")
	before := ovsdbContents(t, in)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"br-in", "p-in", "--devargs", "0000:zz:00.0"}, `"0000:zz:00.0"`},
		{[]string{"br-in", "p-in", "--devargs", "0000:03:00.9"}, "function"},
		{[]string{"br-in", "p-in", "--devargs", "03-00.0"}, "neither a PCI address"},
		{[]string{"br-in", "p-in", "--devargs", ""}, "empty"},
		{[]string{"br-in", "p in", "--devargs", "net_tap0"}, "spaces"},
		{[]string{"br-in", "p/in", "--devargs", "net_tap0"}, "'/'"},
		{[]string{"br-in", "p\x1bin", "--devargs", "net_tap0"}, "control"},
		{[]string{"br-in", "", "--devargs", "net_tap0"}, "empty"},
		{[]string{"br-in", strings.Repeat("p", 65), "--devargs", "net_tap0"}, "at most 64"},
		{[]string{"br-in-too-long-name", "p-in", "--devargs", "net_tap0"}, "at most 15"},
		{[]string{"br-none", "p-in", "--devargs", "0000:03:00.0"}, "no bridge named br-none (bridges: br-in"},
	}
	for _, c := range cases {
		out, stderr, code := runBin(t, append(append([]string{"ovs", "add-port"}, c.args...), "--db", in.DB)...)
		if code != 2 || !strings.Contains(stderr, c.want) || strings.Contains(stderr, "preflight") {
			t.Errorf("%q: exit %d, want 2 with %q and no preflight:\n%s%s", c.args, code, c.want, out, stderr)
		}
		if after := ovsdbContents(t, in); after != before {
			t.Fatalf("%q changed the database", c.args)
		}
	}
	// A relative socket path (and a relative TMPDIR) reach this server, not the default socket
	// (libovsdb alone falls back to /var/run/openvswitch/db.sock for "unix:db.sock").
	rel := exec.Command(binary, "ovs", "show", "--json", "--db", "unix:db.sock")
	rel.Dir = in.Dir
	rel.Env = append(os.Environ(), "TMPDIR=relative-tmp")
	if out, err := rel.Output(); err != nil || !strings.Contains(string(out), `"name": "br-in"`) {
		t.Errorf("--db unix:db.sock in %s: %v %s", in.Dir, err, out)
	}
	if _, stderr, code := runBin(t, "ovs", "del-port", "br-none", "x", "--db", in.DB); code != 2 || !strings.Contains(stderr, "no bridge named br-none") {
		t.Errorf("del-port on a missing bridge: exit %d %s", code, stderr)
	}
	if _, stderr, code := runBin(t, "ovs", "del-port", "br-in", "x", "--db", in.DB); code != 2 || !strings.Contains(stderr, "has no port named x") {
		t.Errorf("del-port of a missing port: exit %d %s", code, stderr)
	}
}

// TestOVSBounded: add-port and del-port are bounded end to end by --timeout, like ovs-vsctl's,
// and every wait by --db-timeout: a peer that never answers, and a stopped real ovsdb-server.
func TestOVSBounded(t *testing.T) {
	db := ovstest.SilentPeer(t)
	try := func(want string, args ...string) {
		t.Helper()
		start := time.Now()
		_, stderr, code := runBin(t, args...)
		took := time.Since(start)
		t.Logf("%v: %v", args, took)
		if code != 1 || !strings.Contains(stderr, want) || took > 3500*time.Millisecond {
			t.Errorf("%v: exit %d after %v, want 1 within ~2 s with %q: %s", args, code, took, want, stderr)
		}
	}
	try("gave up after --timeout 2s", "ovs", "add-port", "br0", "p0", "--devargs", "net_tap0", "--db", db, "--timeout", "2s")
	try("gave up after --timeout 2s", "ovs", "del-port", "br0", "p0", "--db", db, "--timeout", "2s")
	try("no answer in time", "ovs", "show", "--db", db, "--db-timeout", "2s")
	try("no answer in time", "ovs", "add-port", "br0", "p0", "--devargs", "net_tap0", "--db", db, "--db-timeout", "2s")
	if _, stderr, code := runBin(t, "ovs", "show", "--db", db, "--db-timeout", "0s"); code != 2 || !strings.Contains(stderr, "--db-timeout") {
		t.Errorf("--db-timeout 0: exit %d %s", code, stderr)
	}

	// The real ovsdb-server, stopped (SIGSTOP): the socket accepts, nothing answers.
	in := realOVS(t)
	bridge(t, in, "br-stop")
	before := ovsdbContents(t, in)
	pid := serverPID(t, in)
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := true
	defer func() {
		if stopped {
			syscall.Kill(pid, syscall.SIGCONT)
		}
	}()
	try("gave up after --timeout 2s", "ovs", "add-port", "br-stop", "p0", "--devargs", "net_tap0", "--db", in.DB, "--timeout", "2s")
	syscall.Kill(pid, syscall.SIGCONT)
	stopped = false
	if after := ovsdbContents(t, in); after != before {
		t.Errorf("a timed-out add-port changed the database")
	}
}

func serverPID(t *testing.T, in *ovstest.Instance) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(in.Dir, "ovsdb-server.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// TestOVSFlood: a peer that answers with one endless JSON string is cut off at the message
// limit with an error naming it, and the process's peak memory stays bounded (it grew by
// 800 MB in 3 s before).
func TestOVSFlood(t *testing.T) {
	db := ovstest.Listen(t, func(c net.Conn) {
		c.Write([]byte(`{"id":0,"error":null,"result":"`))
		chunk := []byte(strings.Repeat("A", 256<<10))
		for {
			if _, err := c.Write(chunk); err != nil {
				return
			}
		}
	})
	cmd := exec.Command(binary, "ovs", "show", "--db", db, "--db-timeout", "60s")
	var errb strings.Builder
	cmd.Stderr = &errb
	start := time.Now()
	err := cmd.Run()
	took := time.Since(start)
	peak := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss // KiB
	t.Logf("flood: exit after %v, peak RSS %d MiB: %s", took, peak>>10, strings.TrimSpace(errb.String()))
	if err == nil || !strings.Contains(errb.String(), db) || !strings.Contains(errb.String(), "more than 64 MiB") {
		t.Errorf("want an error naming the peer and the limit: %v %s", err, errb.String())
	}
	if peak > 256<<10 {
		t.Errorf("peak RSS %d MiB for a 64 MiB message limit", peak>>10)
	}
}

// openPTY returns a pseudo-terminal's master and slave.
func openPTY(t *testing.T) (*os.File, *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("no pseudo-terminals: %v", err)
	}
	var unlock int32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, m.Fd(), syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); e != 0 {
		t.Fatal(e)
	}
	var n uint32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, m.Fd(), syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n))); e != 0 {
		t.Fatal(e)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	return m, s
}

// TestOVSProgress: on a terminal a wait on OVSDB shows how long it has lasted and of how long,
// and clears the line; on a pipe it shows nothing.
func TestOVSProgress(t *testing.T) {
	db := ovstest.SilentPeer(t)
	m, s := openPTY(t)
	defer m.Close()
	cmd := exec.Command(binary, "ovs", "show", "--db", db, "--db-timeout", "3s")
	cmd.Stderr = s
	var tty bytes.Buffer
	copied := make(chan struct{})
	go func() {
		io.Copy(&tty, m)
		close(copied)
	}()
	cmd.Run()
	s.Close()
	select {
	case <-copied:
	case <-time.After(2 * time.Second):
	}
	m.Close()
	out := tty.String()
	if !strings.Contains(out, "waiting for OVSDB at "+db+" (1s of 3s)") || !strings.Contains(out, "(2s of 3s)") || !strings.Contains(out, "\r\x1b[K") {
		t.Errorf("terminal: no progress or no clearing: %q", out)
	}
	_, stderr, _ := runBin(t, "ovs", "show", "--db", db, "--db-timeout", "2s")
	if strings.Contains(stderr, "waiting for") || strings.Contains(stderr, "\r") {
		t.Errorf("a pipe gets progress: %q", stderr)
	}
}

// TestOVSPermission: a user who may not open the socket is told to run as root, not that OVS
// is missing.
func TestOVSPermission(t *testing.T) {
	if os.Geteuid() != 0 {
		testenv.Unavailable(t, "needs root to run the binary as another user")
	}
	dir, err := os.MkdirTemp("", "dpdk-doctor-perm")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o755)
	bin := filepath.Join(dir, "dpdk-doctor")
	raw, _ := os.ReadFile(binary)
	os.WriteFile(bin, raw, 0o755)
	sock := filepath.Join(dir, "db.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	os.Chmod(sock, 0o600)
	cmd := exec.Command(bin, "ovs", "show", "--db", "unix:"+sock, "--db-timeout", "2s")
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	var errb strings.Builder
	cmd.Stderr = &errb
	cmd.Run()
	if !strings.Contains(errb.String(), "run as root (permission denied on "+sock+")") {
		t.Errorf("want the run-as-root advice: %q", errb.String())
	}
}
