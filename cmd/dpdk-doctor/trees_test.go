package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dpdk-doctor/dpdk-doctor/internal/testenv"
)

// runBinWithin runs the binary and fails the test when it has not finished within d.
func runBinWithin(t *testing.T, d time.Duration, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%v still runs after %v", args, d)
	}
	var ee *exec.ExitError
	code := 0
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

// copyHost copies a test tree with its links.
func copyHost(t *testing.T, name string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), name)
	if out, err := exec.Command("cp", "-a", tree(name), dst).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v: %s", err, out)
	}
	return dst
}

// TestRootHostileCmdline: `check --root` on a tree whose proc/cmdline is a FIFO, a character
// device, a link to /dev/zero or a huge file ends within 2 s with the rest of the report.
func TestRootHostileCmdline(t *testing.T) {
	cases := map[string]func(p string) error{
		"fifo":        func(p string) error { return syscall.Mkfifo(p, 0o644) },
		"char device": func(p string) error { return syscall.Mknod(p, syscall.S_IFCHR|0o644, 1<<8|5) },
		"link to /dev/zero": func(p string) error {
			return os.Symlink("/dev/zero", p)
		},
		"huge file": func(p string) error {
			f, err := os.Create(p)
			if err != nil {
				return err
			}
			defer f.Close()
			return f.Truncate(4 << 30)
		},
	}
	for name, mk := range cases {
		t.Run(name, func(t *testing.T) {
			dir := copyHost(t, "dl360e-gen8")
			p := filepath.Join(dir, "proc/cmdline")
			os.Remove(p)
			if err := mk(p); err != nil {
				if errors.Is(err, syscall.EPERM) {
					testenv.Unavailable(t, "cannot make the node (not root): %v", err)
				}
				t.Fatal(err)
			}
			out, stderr, code := runBinWithin(t, 2*time.Second, "check", "--root", dir)
			if code != 1 || !strings.Contains(out, "RMRR-locked") {
				t.Errorf("exit %d, want 1 and the RMRR finding:\n%s\n%s", code, out, stderr)
			}
		})
	}
}

// TestRootUnreadableConfig: one device in D3cold (config all ones) and one without a config file
// do not stop check, devices and rmrr; devices names them unreadable.
func TestRootUnreadableConfig(t *testing.T) {
	dir := copyHost(t, "dl360e-gen8")
	devs := filepath.Join(dir, "sys/devices/pci0000:00")
	if err := os.WriteFile(filepath.Join(devs, "0000:00:02.0/0000:03:00.1/config"), bytes.Repeat([]byte{0xff}, 256), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(devs, "0000:00:1a.0/config")); err != nil {
		t.Fatal(err)
	}
	out, stderr, code := runBin(t, "check", "--root", dir)
	if code != 1 || !strings.Contains(out, "RMRR-locked") || !strings.Contains(out, "0000:03:00.1") {
		t.Errorf("check: exit %d\n%s\n%s", code, out, stderr)
	}
	out, stderr, code = runBin(t, "devices", "--all", "--root", dir)
	if code != 0 || !strings.Contains(out, "0000:00:1a.0") || !strings.Contains(out, "UNREADABLE") || !strings.Contains(out, "all ones") {
		t.Errorf("devices: exit %d\n%s\n%s", code, out, stderr)
	}
	if out, stderr, code = runBin(t, "rmrr", "--root", dir); code != 0 || !strings.Contains(out, "0000:03:00.0") {
		t.Errorf("rmrr: exit %d\n%s\n%s", code, out, stderr)
	}
}

// TestCaptureRefusesEmptyAndNonEmpty: `capture ”` does not write into the current directory,
// and a non-empty target is refused; both exit 2 and leave things as they were.
func TestCaptureRefusesEmptyAndNonEmpty(t *testing.T) {
	cwd := t.TempDir()
	cmd := exec.Command(binary, "capture", "", "--demo")
	cmd.Dir = cwd
	var errb bytes.Buffer
	cmd.Stderr = &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 {
		t.Errorf("capture '': %v %s", err, errb.String())
	}
	if ents, _ := os.ReadDir(cwd); len(ents) != 0 {
		t.Errorf("capture '' wrote %d entries into the current directory", len(ents))
	}
	full := t.TempDir()
	os.WriteFile(filepath.Join(full, "mine"), []byte("x"), 0o644)
	if _, stderr, code := runBin(t, "capture", full, "--demo"); code != 2 || !strings.Contains(stderr, full) {
		t.Errorf("capture into a non-empty dir: exit %d %q", code, stderr)
	}
	if ents, _ := os.ReadDir(full); len(ents) != 1 {
		t.Errorf("the non-empty target was changed: %d entries", len(ents))
	}
}

// TestCaptureDemoHasMounts: a bundle keeps proc/mounts as a file, so the copy is judged as the
// original (today's demo tree has it as a file already; a live capture had a dangling link).
func TestCaptureDemoHasMounts(t *testing.T) {
	dst := filepath.Join(t.TempDir(), "b")
	if _, stderr, code := runBin(t, "capture", dst, "--demo"); code != 0 {
		t.Fatalf("exit %d %s", code, stderr)
	}
	st, err := os.Lstat(filepath.Join(dst, "proc/mounts"))
	if err != nil || !st.Mode().IsRegular() {
		t.Errorf("proc/mounts: %v %v", st, err)
	}
	if ents, _ := os.ReadDir(filepath.Dir(dst)); len(ents) != 1 {
		t.Errorf("capture left %d entries beside the bundle", len(ents))
	}
}

// TestCaptureLiveOVS: a live capture with a real OVS-DPDK running carries /proc/mounts as a file,
// the OVS snapshot, and the end of the log ovs-vswitchd names with --log-file (where DPDK's EAL
// lines are), and the bundle is judged with the hugetlbfs mount the host has.
func TestCaptureLiveOVS(t *testing.T) {
	in := realOVS(t)
	dst := filepath.Join(t.TempDir(), "bundle")
	if _, stderr, code := runBin(t, "capture", dst, "--db", in.DB); code != 0 {
		t.Fatalf("capture: exit %d %s", code, stderr)
	}
	if st, err := os.Lstat(filepath.Join(dst, "proc/mounts")); err != nil || !st.Mode().IsRegular() {
		t.Errorf("proc/mounts in a live bundle: %v %v; want a file", st, err)
	}
	live, _ := os.ReadFile("/proc/self/mounts")
	if b, _ := os.ReadFile(filepath.Join(dst, "proc/mounts")); bytes.Contains(live, []byte("hugetlbfs")) && !bytes.Contains(b, []byte("hugetlbfs")) {
		t.Errorf("the host mounts hugetlbfs, the bundle's proc/mounts does not say so:\n%s", b)
	}
	b, err := os.ReadFile(filepath.Join(dst, "var/log/openvswitch/ovs-vswitchd.log"))
	if err != nil || !bytes.Contains(b, []byte("EAL")) {
		t.Errorf("ovs-vswitchd log in the bundle (%d bytes, %v) lacks DPDK's EAL lines", len(b), err)
	}
	if _, err := os.Stat(filepath.Join(dst, "var/lib/dpdk-doctor/ovs-state.json")); err != nil {
		t.Errorf("OVS snapshot: %v", err)
	}
}
