package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/dpdk-doctor/dpdk-doctor/internal/frames"

	"github.com/dpdk-doctor/dpdk-doctor/internal/testenv"
)

// TestTrafficSignalsTearDown: SIGHUP (a dropped SSH session), SIGQUIT and SIGPIPE end a run
// exactly as SIGINT and SIGTERM do: everything torn down, exit 128+signal.
func TestTrafficSignalsTearDown(t *testing.T) {
	in, _ := trafficRig(t)
	for _, sig := range []syscall.Signal{syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGPIPE} {
		cmd, _, errb, _ := startTraffic(t, in, "--timeout", "0")
		cmd.Process.Signal(sig)
		code := waitExit(t, cmd, 10*time.Second)
		if want := 128 + int(sig); code != want {
			t.Errorf("%v: exit %d, want %d: %s", sig, code, want, errb.String())
		}
		t.Logf("%v: exit %d", sig, code)
		assertClean(t, in)
	}
}

// TestTrafficReaderGone: `traffic | head -n1`, and a reader that closes the pipe after the
// first line: the run notices, tears everything down and exits 141 without a word.
func TestTrafficReaderGone(t *testing.T) {
	in, send := trafficRig(t)
	for _, how := range []string{"head -n1", "close"} {
		t.Run(how, func(t *testing.T) {
			pr, pw, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			cmd, errb, _ := startTrafficTo(t, in, pw, "--timeout", "0")
			pw.Close()
			var first string
			if how == "close" {
				lines := make(chan string, 1)
				go func() {
					l, _ := bufio.NewReader(pr).ReadString('\n')
					lines <- l
				}()
				send(frames.Seed()[:3])
				select {
				case first = <-lines:
				case <-time.After(5 * time.Second):
					t.Fatalf("no line on stdout: %s", errb.String())
				}
				pr.Close()
			} else {
				head := exec.Command("head", "-n1")
				head.Stdin = pr
				var hout strings.Builder
				head.Stdout = &hout
				if err := head.Start(); err != nil {
					t.Fatal(err)
				}
				pr.Close()
				send(frames.Seed()[:3])
				done := make(chan error, 1)
				go func() { done <- head.Wait() }()
				select {
				case <-done:
				case <-time.After(5 * time.Second):
					head.Process.Kill()
					t.Fatalf("head got no line: %s", errb.String())
				}
				first = hout.String()
			}
			if !strings.Contains(first, " > ") {
				t.Errorf("first line: %q", first)
			}
			code := waitExit(t, cmd, 5*time.Second)
			if code != 141 {
				t.Errorf("exit %d, want 141: %s", code, errb.String())
			}
			if strings.Contains(errb.String(), "dpdk-doctor:") {
				t.Errorf("a closed reader is not an error: %s", errb.String())
			}
			t.Logf("%s: exit %d", how, code)
			assertClean(t, in)
		})
	}
}

// TestTrafficPcapStdout: `traffic -w - | tcpdump -r -` reads every frame (no text lines mixed
// into the pcap stream).
func TestTrafficPcapStdout(t *testing.T) {
	needTcpdumpCmd(t)
	in, send := trafficRig(t)
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	td := exec.Command("tcpdump", "-r", "-", "-nn")
	td.Stdin = pr
	var tdOut, tdErr strings.Builder
	td.Stdout, td.Stderr = &tdOut, &tdErr
	if err := td.Start(); err != nil {
		t.Fatal(err)
	}
	pr.Close()
	cmd, errb, _ := startTrafficTo(t, in, pw, "-w", "-", "--timeout", "2s")
	pw.Close()
	send(frames.Seed())
	if code := waitExit(t, cmd, 10*time.Second); code != 0 {
		t.Fatalf("traffic exit %d: %s", code, errb.String())
	}
	if err := td.Wait(); err != nil {
		t.Fatalf("tcpdump -r -: %v %s", err, tdErr.String())
	}
	lines := strings.Split(strings.TrimSpace(tdOut.String()), "\n")
	if len(lines) != len(frames.Seed()) {
		t.Errorf("tcpdump read %d frames, want %d:\n%s\n%s", len(lines), len(frames.Seed()), tdOut.String(), tdErr.String())
	}
	assertClean(t, in)
}

func needTcpdumpCmd(t *testing.T) {
	if _, err := exec.LookPath("tcpdump"); err != nil {
		testenv.Unavailable(t, "tcpdump is required")
	}
}

// TestTrafficKilledRun: a SIGKILLed run leaves a pcap that tcpdump reads whole (header at
// once, every frame flushed); the next run names the leftovers and the exact cleanup command;
// a live run's leftovers are left alone; --cleanup-stale removes a dead run's.
func TestTrafficKilledRun(t *testing.T) {
	needTcpdumpCmd(t)
	in, send := trafficRig(t)
	path := filepath.Join(t.TempDir(), "killed.pcap")
	out := &syncBuf{}
	cmd, errb, dev := startTrafficTo(t, in, writerFunc(out.write), "--timeout", "0", "--write", path)
	n := 5
	send(frames.Seed()[:n])
	deadline := time.Now().Add(5 * time.Second)
	for strings.Count(out.String(), "\n") < n && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if got := strings.Count(out.String(), "\n"); got != n {
		t.Fatalf("%d lines before the kill, want %d: %s", got, n, errb.String())
	}
	cmd.Process.Kill()
	waitExit(t, cmd, 5*time.Second)
	tl, err := exec.Command("tcpdump", "-r", path, "-nn").CombinedOutput()
	if err != nil || strings.Count(string(tl), "\n") != n+1 { // n frames and "reading from file"
		t.Errorf("tcpdump -r after SIGKILL: %v\n%s", err, tl)
	}
	if _, err := netlink.LinkByName(dev); err != nil {
		t.Fatalf("the killed run should have left its veth: %v", err)
	}

	// A live run: its leftovers-to-be are not touched by another run's --cleanup-stale.
	live, _, liveErr, liveDev := startTraffic(t, in, "--timeout", "0")
	cmd2, errb2, _ := startTrafficTo(t, in, io.Discard, "--timeout", "300ms")
	if code := waitExit(t, cmd2, 10*time.Second); code != 0 {
		t.Fatalf("second run: exit %d %s", code, errb2.String())
	}
	time.Sleep(50 * time.Millisecond) // the stderr reader catches up
	msg := errb2.String()
	want := "remove it with: dpdk-doctor cleanup --db " + trafficQuote(in.DB)
	if !strings.Contains(msg, "found what earlier traffic runs left") || !strings.Contains(msg, "veth "+dev) || !strings.Contains(msg, want) {
		t.Errorf("the next run should name the leftovers and %q:\n%s", want, msg)
	}
	if strings.Contains(msg, liveDev) {
		t.Errorf("a live run's veth reported as a leftover: %s", msg)
	}
	cmd3, errb3, _ := startTrafficTo(t, in, io.Discard, "--timeout", "300ms", "--cleanup-stale")
	if code := waitExit(t, cmd3, 10*time.Second); code != 0 {
		t.Fatalf("--cleanup-stale: exit %d %s", code, errb3.String())
	}
	if !strings.Contains(errb3.String(), "removed what earlier traffic runs left") || !strings.Contains(errb3.String(), dev) {
		t.Errorf("--cleanup-stale: %s", errb3.String())
	}
	if _, err := netlink.LinkByName(dev); err == nil {
		t.Errorf("--cleanup-stale left the dead run's veth %s", dev)
	}
	if _, err := netlink.LinkByName(liveDev); err != nil {
		t.Errorf("--cleanup-stale removed the live run's veth %s: %v", liveDev, err)
	}
	live.Process.Signal(os.Interrupt)
	if code := waitExit(t, live, 10*time.Second); code != 130 {
		t.Errorf("live run: exit %d %s", code, liveErr.String())
	}
	assertClean(t, in)
}

type writerFunc func(string)

func (w writerFunc) Write(b []byte) (int, error) { w(string(b)); return len(b), nil }

// TestTrafficBadOutputAndBridge: a --write path that cannot be written and a bridge that does
// not exist are refused (exit 2) before anything is made, with no capture statistics, the
// existing bridges named, and an existing output file left as it was.
func TestTrafficBadOutputAndBridge(t *testing.T) {
	in, _ := trafficRig(t)
	dir := t.TempDir()
	keep := filepath.Join(dir, "keep.pcap")
	os.WriteFile(keep, []byte("keep"), 0o644)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{trafBridge, "--write", filepath.Join(dir, "no", "such", "dir.pcap")}, "no such file or directory"},
		{[]string{trafBridge, "--write", dir}, "is a directory"},
		{[]string{"br-nosuch", "--write", keep}, "no bridge named br-nosuch (bridges: " + trafBridge},
		{[]string{"br-nosuch", "--write", filepath.Join(dir, "new.pcap")}, "no bridge named br-nosuch"},
	} {
		_, stderr, code := runBin(t, append([]string{"traffic", "--db", in.DB, "--timeout", "1s"}, tc.args...)...)
		if code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, want 2 and %q: %s", tc.args, code, tc.want, stderr)
		}
		if strings.Contains(stderr, "packets captured") || strings.Contains(stderr, "teardown") || strings.Contains(stderr, "capturing on") {
			t.Errorf("%v: a capture that never ran has no statistics: %s", tc.args, stderr)
		}
		assertClean(t, in)
	}
	if b, _ := os.ReadFile(keep); string(b) != "keep" {
		t.Errorf("an existing --write file was changed by a run that never captured: %q", b)
	}
	if _, err := os.Stat(filepath.Join(dir, "new.pcap")); err == nil {
		t.Errorf("a run that never captured left a new pcap file")
	}
}

// TestCleanupOnlyOurs: cleanup removes a killed run's veth, mirror and port, and nothing that
// merely looks like them: a Linux bridge link with our name pattern and alias, a veth with our name
// pattern but no alias, a veth with our alias but another name, a port tagged by someone else.
func TestCleanupOnlyOurs(t *testing.T) {
	in, _ := trafficRig(t)
	alias := "dpdk-doctor traffic pid=999999" // no such process: a dead run
	mk := func(l netlink.Link, alias string) {
		t.Helper()
		name := l.Attrs().Name
		if old, err := netlink.LinkByName(name); err == nil {
			netlink.LinkDel(old)
		}
		if err := netlink.LinkAdd(l); err != nil {
			t.Fatalf("adding decoy %s: %v", name, err)
		}
		t.Cleanup(func() {
			if l, err := netlink.LinkByName(name); err == nil {
				netlink.LinkDel(l)
			}
		})
		if alias != "" {
			got, _ := netlink.LinkByName(name)
			if err := netlink.LinkSetAlias(got, alias); err != nil {
				t.Fatal(err)
			}
		}
	}
	mk(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "ddc0badf00d"}}, alias) // not a veth
	mk(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "ddb0badf00d"}, PeerName: "ddtdecoyp0"}, "")
	mk(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "ddtdecoy1"}, PeerName: "ddtdecoy2"}, alias)
	if out, err := in.Vsctl("add-port", trafBridge, "ddtdecoyport", "--", "set", "port", "ddtdecoyport",
		"external_ids:dpdk-doctor=someone-else", "external_ids:dpdk-doctor-pid=999999"); err != nil {
		t.Fatalf("decoy port: %v %s", err, out)
	}
	t.Cleanup(func() { in.Vsctl("--if-exists", "del-port", trafBridge, "ddtdecoyport") })

	cmd, _, _, dev := startTraffic(t, in, "--timeout", "0")
	cmd.Process.Kill()
	waitExit(t, cmd, 5*time.Second)
	out, stderr, code := runBin(t, "cleanup", "--db", in.DB)
	if code != 0 || !strings.Contains(out, "removed veth "+dev) || !strings.Contains(out, "removed mirror") {
		t.Errorf("cleanup: exit %d %s %s", code, out, stderr)
	}
	for _, name := range []string{"ddc0badf00d", "ddb0badf00d", "ddtdecoyp0", "ddtdecoy1", "ddtdecoy2"} {
		if _, err := netlink.LinkByName(name); err != nil {
			t.Errorf("cleanup removed %s, which it did not make: %v", name, err)
		}
	}
	if ports, _ := in.Vsctl("list-ports", trafBridge); !strings.Contains(ports, "ddtdecoyport") {
		t.Errorf("cleanup removed a port someone else tagged: %q", ports)
	}
	if strings.Contains(out, "decoy") || strings.Contains(out, "0badf00d") {
		t.Errorf("cleanup talks about links that are not its own:\n%s", out)
	}
	for _, name := range []string{"ddc0badf00d", "ddb0badf00d", "ddtdecoy1"} {
		if l, err := netlink.LinkByName(name); err == nil {
			netlink.LinkDel(l)
		}
	}
	in.Vsctl("--if-exists", "del-port", trafBridge, "ddtdecoyport")
	assertClean(t, in)
}

// TestTrafficFilterLimits: a filter past the kernel's 4096 BPF instructions, and 128 kB of
// filter (the most one argument can hold, MAX_ARG_STRLEN), are refused with exit 2 at once,
// before OVS is touched.
func TestTrafficFilterLimits(t *testing.T) {
	terms := make([]string, 600)
	for i := range terms {
		terms[i] = fmt.Sprintf("vlan %d", i+1)
	}
	for name, f := range map[string]string{"600 vlan terms": strings.Join(terms, " or "), "128 kB": strings.Repeat("arp or ", 130000/7) + "arp"} {
		start := time.Now()
		_, stderr, code := runBin(t, "traffic", "br-none", "--db", "unix:/nonexistent", "--filter", f)
		if code != 2 || !strings.Contains(stderr, "4096") || len(stderr) > 2000 {
			t.Errorf("%s: exit %d: %.300s", name, code, stderr)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%s: took %v", name, d)
		}
	}
}

// TestTrafficStdoutBuffering: frame lines to a pipe are buffered (few writes for many frames
// that come back to back), and to a terminal go out line by line, while frames still come.
func TestTrafficStdoutBuffering(t *testing.T) {
	in, send := trafficRig(t)
	const n = 100
	stream := func() time.Time { // n frames, 5 ms apart: the capture is never idle for 50 ms
		f := frames.Seed()[0]
		for range n {
			send([]frames.Frame{f})
			time.Sleep(3 * time.Millisecond)
		}
		return time.Now()
	}
	type chunk struct {
		at    time.Time
		lines int
	}
	read := func(r *os.File) chan []chunk {
		ch := make(chan []chunk, 1)
		go func() {
			var cs []chunk
			buf := make([]byte, 1<<16)
			for {
				k, err := r.Read(buf)
				if k > 0 {
					cs = append(cs, chunk{time.Now(), strings.Count(string(buf[:k]), "\n")})
				}
				if err != nil {
					ch <- cs
					return
				}
			}
		}()
		return ch
	}
	t.Run("pipe", func(t *testing.T) {
		pr, pw, _ := os.Pipe()
		cmd, errb, _ := startTrafficTo(t, in, pw, "--timeout", "0", "--count", fmt.Sprint(n))
		pw.Close()
		got := read(pr)
		stream()
		if code := waitExit(t, cmd, 10*time.Second); code != 0 {
			t.Fatalf("exit %d %s", code, errb.String())
		}
		cs := <-got
		lines := 0
		for _, c := range cs {
			lines += c.lines
		}
		if lines != n || len(cs) > n/4 {
			t.Errorf("%d lines in %d writes to a pipe, want %d lines in fewer than %d writes", lines, len(cs), n, n/4)
		}
		t.Logf("pipe: %d lines in %d writes", lines, len(cs))
	})
	t.Run("tty", func(t *testing.T) {
		master, slave := openPTY(t)
		cmd, errb, _ := startTrafficTo(t, in, slave, "--timeout", "0", "--count", fmt.Sprint(n))
		slave.Close()
		got := read(master)
		end := stream()
		if code := waitExit(t, cmd, 10*time.Second); code != 0 {
			t.Fatalf("exit %d %s", code, errb.String())
		}
		time.Sleep(100 * time.Millisecond)
		master.Close()
		cs := <-got
		lines, before := 0, 0
		for _, c := range cs {
			lines += c.lines
			if c.at.Before(end) {
				before += c.lines
			}
		}
		if lines != n || before < n/2 {
			t.Errorf("terminal: %d lines, %d of them while frames still came; want %d and most", lines, before, n)
		}
		t.Logf("tty: %d lines, %d before the last frame was sent, in %d reads", lines, before, len(cs))
	})
	assertClean(t, in)
}

// TestTrafficPcapReaderGone: `traffic -w - | tcpdump -r - -c 1`: tcpdump stops after a frame,
// and traffic tears down and exits 141 quietly.
func TestTrafficPcapReaderGone(t *testing.T) {
	needTcpdumpCmd(t)
	in, send := trafficRig(t)
	pr, pw, _ := os.Pipe()
	td := exec.Command("tcpdump", "-r", "-", "-nn", "-c", "1")
	td.Stdin = pr
	var tdOut strings.Builder
	td.Stdout = &tdOut
	if err := td.Start(); err != nil {
		t.Fatal(err)
	}
	pr.Close()
	cmd, errb, _ := startTrafficTo(t, in, pw, "-w", "-", "--timeout", "0")
	pw.Close()
	send(frames.Seed()[:3])
	if err := td.Wait(); err != nil || strings.Count(tdOut.String(), "\n") != 1 {
		t.Errorf("tcpdump -c 1: %v %q", err, tdOut.String())
	}
	if code := waitExit(t, cmd, 5*time.Second); code != 141 || strings.Contains(errb.String(), "dpdk-doctor:") {
		t.Errorf("exit %d, want 141 without an error: %s", code, errb.String())
	}
	assertClean(t, in)
}
