package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// runHooked runs the test-hooks build, where a --root tree stands for this machine.
func runHooked(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(hookedBinary, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return out.String(), errb.String(), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), 0
}

// TestFixBindDryRunAndRefusals: on a tree, fix bind plans the whole group and changes nothing;
// --apply is refused (exit 2); refusals exit 1 with the reason; bad devices exit 2.
func TestFixBindDryRunAndRefusals(t *testing.T) {
	out, stderr, code := runBin(t, "fix", "bind", "--root", tree("nic-on-ixgbe"), "0000:02:00.0")
	if code != 0 || !strings.Contains(out, "0000:02:00.1 shares IOMMU group 6") || !strings.Contains(out, "nothing was changed") {
		t.Errorf("dry run: exit %d\n%s%s", code, out, stderr)
	}
	if _, stderr, code := runBin(t, "fix", "bind", "--root", tree("nic-on-ixgbe"), "0000:02:00.0", "--apply"); code != 2 || !strings.Contains(stderr, "refusing") {
		t.Errorf("--apply on a tree: exit %d %s", code, stderr)
	}
	if _, stderr, code := runBin(t, "fix", "bind", "--demo", "0000:03:00.0", "--apply"); code != 2 || !strings.Contains(stderr, "--demo") {
		t.Errorf("--apply on the demo: exit %d %s", code, stderr)
	}
	for _, c := range []struct{ tree, dev, want string }{
		{"shared-group", "0000:02:00.0", "has an interface the host uses"},
		{"dl360e-gen8", "0000:03:00.0", "fix rmrr 0000:03:00.0"},
		{"iommu-off-kernel", "0000:02:00.0", "the IOMMU is off"},
	} {
		if _, stderr, code := runBin(t, "fix", "bind", "--root", tree(c.tree), c.dev); code != 1 || !strings.Contains(stderr, c.want) {
			t.Errorf("%s: exit %d %s", c.tree, code, stderr)
		}
	}
	if _, stderr, code := runBin(t, "fix", "bind", "--root", tree("nic-on-ixgbe"), "0000:09:00.0"); code != 2 || !strings.Contains(stderr, "0000:09:00.0") {
		t.Errorf("absent device: exit %d %s", code, stderr)
	}
	if _, _, code := runBin(t, "fix", "bind", "--root", tree("nic-on-ixgbe"), "nonsense"); code != 2 {
		t.Errorf("bad address: exit %d", code)
	}
}

// TestFixBindApplyUnverifiedRollsBack: on a copied tree (the hooked build) no kernel binds
// anything, so verification fails: exit 1, the writes are undone, and the record says
// rolled-back. (The lab proves a real bind.)
func TestFixBindApplyUnverifiedRollsBack(t *testing.T) {
	root := t.TempDir()
	if out, err := exec.Command("cp", "-a", tree("nic-on-ixgbe")+"/.", root).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	for _, a := range []string{"0000:02:00.0", "0000:02:00.1"} {
		os.WriteFile(filepath.Join(root, "sys/bus/pci/devices", a, "driver_override"), []byte("(null)\n"), 0o644)
	}
	os.WriteFile(filepath.Join(root, "sys/bus/pci/drivers/ixgbe/unbind"), nil, 0o644)
	os.WriteFile(filepath.Join(root, "sys/bus/pci/drivers_probe"), nil, 0o644)
	state := filepath.Join(t.TempDir(), "state")
	out, stderr, code := runHooked(t, "fix", "bind", "--root", root, "--state-dir", state, "0000:02:00.0", "--apply")
	if code != 1 || !strings.Contains(stderr, "did not verify") || !strings.Contains(stderr, "rolled back") {
		t.Fatalf("exit %d\n%s%s", code, out, stderr)
	}
	recs, _ := filepath.Glob(filepath.Join(state, "bind-*.json"))
	if len(recs) != 1 {
		t.Fatalf("records %v", recs)
	}
	if b, _ := os.ReadFile(recs[0]); !strings.Contains(string(b), `"state": "rolled-back"`) {
		t.Errorf("record %s", b)
	}
	id := strings.TrimSuffix(filepath.Base(recs[0]), ".json")
	if out, _, code := runHooked(t, "fix", "--rollback", id, "--state-dir", state); code != 0 || !strings.Contains(out, "rolled back already") {
		t.Errorf("rollback of a rolled-back run: exit %d %s", code, out)
	}
	if _, stderr, code := runHooked(t, "fix", "--rollback", "no-such", "--state-dir", state); code != 2 || !strings.Contains(stderr, "not a run ID") {
		t.Errorf("bad ID: exit %d %s", code, stderr)
	}
}

// TestFixHugepagesCLI: a dry run on a tree reads the tree's pool; bad sizes are exit 2; --apply
// on a tree is refused.
func TestFixHugepagesCLI(t *testing.T) {
	out, stderr, code := runBin(t, "fix", "hugepages", "--root", tree("nic-on-ixgbe"), "--pages", "1024")
	if code != 0 || !strings.Contains(out, "echo 1024 > /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages") {
		t.Errorf("dry run: exit %d\n%s%s", code, out, stderr)
	}
	if _, stderr, code := runBin(t, "fix", "hugepages", "--root", tree("nic-on-ixgbe"), "--pages", "4", "--size", "3M"); code != 2 || !strings.Contains(stderr, "--size") {
		t.Errorf("bad size: exit %d %s", code, stderr)
	}
	if _, _, code := runBin(t, "fix", "hugepages", "--root", tree("nic-on-ixgbe"), "--pages", "4", "--apply"); code != 2 {
		t.Errorf("--apply on a tree: exit %d", code)
	}
}

// TestFixCmdlineCLI: the dry run prints the diff and leaves the file alone; an invalid option is
// exit 2; the release binary never skips update-grub (no --no-regenerate), so on a host without
// it --apply changes nothing (exit 1); the test-hooks build applies (pending reboot) and the
// rollback by ID restores the file byte for byte.
func TestFixCmdlineCLI(t *testing.T) {
	dir := t.TempDir()
	grub := filepath.Join(dir, "grub")
	orig, _ := os.ReadFile(filepath.Join("..", "..", "fix", "testdata", "grub", "conflict.grub"))
	os.WriteFile(grub, orig, 0o644)
	state := filepath.Join(dir, "state")
	out, stderr, code := runBin(t, "fix", "cmdline", "--grub-file", grub, "--add", "intel_iommu=on", "--state-dir", state)
	if code != 0 || !strings.Contains(out, `-GRUB_CMDLINE_LINUX="console=ttyS0,115200 intel_iommu=off`) || !strings.Contains(out, `+GRUB_CMDLINE_LINUX="console=ttyS0,115200 intel_iommu=on`) {
		t.Errorf("dry run: exit %d\n%s%s", code, out, stderr)
	}
	if _, stderr, code := runBin(t, "fix", "cmdline", "--grub-file", grub, "--add", "amd_iommu=on"); code != 2 || !strings.Contains(stderr, "amd_iommu=on") {
		t.Errorf("amd_iommu=on: exit %d %s", code, stderr)
	}
	if _, err := exec.LookPath("update-grub"); err != nil {
		if _, _, code := runBin(t, "fix", "cmdline", "--grub-file", grub, "--add", "intel_iommu=on", "--apply", "--no-regenerate", "--state-dir", state); code != 1 {
			t.Errorf("release --apply without update-grub: exit %d", code)
		}
	}
	if b, _ := os.ReadFile(grub); !bytes.Equal(b, orig) {
		t.Fatal("the file changed without a test-hooks --apply")
	}
	out, stderr, code = runHooked(t, "fix", "cmdline", "--grub-file", grub, "--add", "intel_iommu=on", "--apply", "--no-regenerate", "--state-dir", state)
	if code != 0 || !strings.Contains(out, "pending reboot") {
		t.Fatalf("apply: exit %d\n%s%s", code, out, stderr)
	}
	recs, _ := filepath.Glob(filepath.Join(state, "cmdline-*.json"))
	if len(recs) != 1 {
		t.Fatalf("records %v", recs)
	}
	id := strings.TrimSuffix(filepath.Base(recs[0]), ".json")
	if out, stderr, code := runHooked(t, "fix", "--rollback", id, "--apply", "--state-dir", state); code != 0 {
		t.Fatalf("rollback: exit %d %s%s", code, out, stderr)
	}
	if b, _ := os.ReadFile(grub); !bytes.Equal(b, orig) {
		t.Errorf("after the rollback:\n%s", b)
	}
}

// TestFixDryRunReadsTheDemo: a dry run on the demo plans from the demo's pools, not from the
// machine it runs on (the demo reserves 2048 pages of 2M; this machine has its own number).
func TestFixDryRunReadsTheDemo(t *testing.T) {
	out, stderr, code := runBin(t, "fix", "hugepages", "--size", "2M", "--pages", "8", "--demo")
	if code != 0 || !strings.Contains(out, "2M pages of the machine now: 2048") {
		t.Errorf("fix hugepages --demo: exit %d, want the demo's 2048 pages:\n%s%s", code, out, stderr)
	}
}
