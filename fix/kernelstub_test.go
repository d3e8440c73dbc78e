package fix

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// buildKernelstubDouble builds testdata/kernelstub-double into the test's directory (go's cache
// makes it quick): the real kernelstub needs an EFI system partition, lsblk and efibootmgr (see
// the double's doc comment).
func buildKernelstubDouble(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "kernelstub-double")
	if out, err := exec.Command("go", "build", "-o", p, "./testdata/kernelstub-double").CombinedOutput(); err != nil {
		t.Fatalf("building the kernelstub double: %v\n%s", err, out)
	}
	return p
}

const popConfig = `{
  "default": {
    "kernel_options": ["quiet", "splash"],
    "esp_path": "/boot/efi",
    "setup_loader": false,
    "manage_mode": false,
    "force_update": false,
    "live_mode": false,
    "config_rev": 3
  },
  "user": {
    "kernel_options": [OPTS],
    "esp_path": "/boot/efi",
    "setup_loader": true,
    "manage_mode": true,
    "force_update": false,
    "live_mode": false,
    "config_rev": 3
  }
}
`

// popTree makes a Pop!_OS-like root for the double: kernelstub's configuration with opts, a
// kernel and an initrd; it returns the root and the program (the double, pointed at the root).
func popTree(t *testing.T, opts ...string) (string, string) {
	double := buildKernelstubDouble(t)
	root := t.TempDir()
	for _, d := range []string{"etc/kernelstub", "boot", "proc"} {
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	q := make([]string, len(opts))
	for i, o := range opts {
		q[i] = `"` + o + `"`
	}
	os.WriteFile(filepath.Join(root, KernelstubConfig), []byte(strings.Replace(popConfig, "OPTS", strings.Join(q, ", "), 1)), 0o644)
	os.WriteFile(filepath.Join(root, "boot/vmlinuz"), []byte("kernel"), 0o644)
	os.WriteFile(filepath.Join(root, "boot/initrd.img"), []byte("initrd"), 0o644)
	prog := filepath.Join(root, "kernelstub")
	os.WriteFile(prog, []byte("#!/bin/sh\nKERNELSTUB_DOUBLE_ROOT='"+root+"' exec '"+double+"' \"$@\"\n"), 0o755)
	return root, prog
}

func kernelstubOpts(t *testing.T, root string) string {
	t.Helper()
	got, err := readKernelstubFile(filepath.Join(root, KernelstubConfig))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(got, " ")
}

// TestKernelstubAddApplyVerifyRollback: new options are added with -a; the dry run changes
// nothing; --apply reads back the list (and the loader entry kernelstub writes), "pending
// reboot"; the rollback sets the old list again with -o.
func TestKernelstubAddApplyVerifyRollback(t *testing.T) {
	root, prog := popTree(t, "quiet", "loglevel=0", "systemd.show_status=false", "splash")
	k, err := PlanKernelstub(ToolOptions{Add: []string{"intel_iommu=on", "iommu=pt"}, Program: prog, Root: root, Running: "quiet splash"})
	if err != nil {
		t.Fatal(err)
	}
	if want := prog + "|-a|intel_iommu=on iommu=pt"; strings.Join(k.Argv(), "|") != want {
		t.Errorf("argv %q, want %q", k.Argv(), want)
	}
	plan := strings.Join(k.Plan(), "\n")
	if !strings.Contains(plan, "run: "+prog+" -a 'intel_iommu=on iommu=pt'") || !strings.Contains(plan, "  + quiet loglevel=0 systemd.show_status=false splash intel_iommu=on iommu=pt") {
		t.Errorf("plan:\n%s", plan)
	}
	before := treeFiles(t, root)
	r := &Runner{StateDir: filepath.Join(t.TempDir(), "state"), Out: &bytes.Buffer{}}
	r.Run(context.Background(), k, false)
	sameFiles(t, "after the dry run", before, treeFiles(t, root))
	rec, err := r.Run(context.Background(), k, true)
	if err != nil || rec.State != StatePendingReboot {
		t.Fatalf("%v %+v", err, rec)
	}
	if got := kernelstubOpts(t, root); got != "quiet loglevel=0 systemd.show_status=false splash intel_iommu=on iommu=pt" {
		t.Errorf("kernel_options %q", got)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "boot/efi/loader/entries/Pop_OS-current.conf")); !strings.Contains(string(b), "options root=UUID=0000 ro quiet loglevel=0 systemd.show_status=false splash intel_iommu=on iommu=pt\n") {
		t.Errorf("loader entry:\n%s", b)
	}
	if err := r.Rollback(context.Background(), rec.ID, true); err != nil {
		t.Fatal(err)
	}
	if got := kernelstubOpts(t, root); got != "quiet loglevel=0 systemd.show_status=false splash" {
		t.Errorf("after the rollback: %q", got)
	}
}

// TestKernelstubReplaceKeepsOrder: a changed value (intel_iommu=off -> on) or a removed option
// sets the whole list with -o, so hugepagesz=/hugepages= pairs stay in order; -d would have
// reordered them (shown with the double, which reorders as kernelstub's set difference may).
// The rollback puts back the exact old list.
func TestKernelstubReplaceKeepsOrder(t *testing.T) {
	old := []string{"quiet", "intel_iommu=off", "hugepagesz=1G", "hugepages=4", "hugepagesz=2M", "hugepages=512", "iommu=pt"}
	root, prog := popTree(t, old...)
	k, err := PlanKernelstub(ToolOptions{Add: []string{"intel_iommu=on", "hugepagesz=1G", "hugepages=8"}, Remove: []string{"iommu"}, Program: prog, Root: root})
	if err != nil {
		t.Fatal(err)
	}
	want := "quiet intel_iommu=on hugepagesz=1G hugepages=8 hugepagesz=2M hugepages=512"
	if strings.Join(k.Argv(), "|") != prog+"|-o|"+want {
		t.Errorf("argv %q", k.Argv())
	}
	r := &Runner{StateDir: filepath.Join(t.TempDir(), "state"), Out: &bytes.Buffer{}}
	rec, err := r.Run(context.Background(), k, true)
	if err != nil {
		t.Fatal(err)
	}
	if got := kernelstubOpts(t, root); got != want {
		t.Errorf("kernel_options %q, want %q", got, want)
	}
	if err := r.Rollback(context.Background(), rec.ID, true); err != nil {
		t.Fatal(err)
	}
	if got := kernelstubOpts(t, root); got != strings.Join(old, " ") {
		t.Errorf("after the rollback %q", got)
	}
	// Why not -d: the set difference parts a count from its size.
	if out, err := exec.Command(prog, "-d", "iommu=pt").CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	if got := kernelstubOpts(t, root); strings.Contains(got, "hugepagesz=1G hugepages=4") {
		t.Errorf("-d kept the order (%q); the -o rule may be relaxed", got)
	}
}

// TestKernelstubExitZeroNothingDone: kernelstub exits 0 when it cannot find the kernel, having
// saved nothing (application.py); only the read-back catches it, and the run is rolled back.
func TestKernelstubExitZeroNothingDone(t *testing.T) {
	root, prog := popTree(t, "quiet", "splash")
	os.Remove(filepath.Join(root, "boot/vmlinuz"))
	k, err := PlanKernelstub(ToolOptions{Add: []string{"intel_iommu=on"}, Program: prog, Root: root})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := (&Runner{StateDir: t.TempDir(), Out: &bytes.Buffer{}}).Run(context.Background(), k, true)
	if !errors.Is(err, ErrVerify) || rec.State != StateRolledBack {
		t.Errorf("%v %+v", err, rec)
	}
}

// TestKernelstubInterruptedAndRefusals: an interrupted run blocks the next until rolled back;
// invalid options, a missing or unreadable configuration are refused before anything runs.
func TestKernelstubInterruptedAndRefusals(t *testing.T) {
	root, prog := popTree(t, "quiet", "splash")
	k, _ := PlanKernelstub(ToolOptions{Add: []string{"iommu=pt"}, Program: prog, Root: root})
	r := &Runner{StateDir: filepath.Join(t.TempDir(), "state"), Out: &bytes.Buffer{}}
	snap, _ := k.Snapshot()
	rec := &Record{ID: "kernelstub-20261126T120000Z", Kind: "kernelstub", State: StateApplying, Snapshot: snap}
	r.write(rec)
	k.Apply(context.Background(), &bytes.Buffer{}) // then the process died
	if _, err := r.Run(context.Background(), k, true); !errors.Is(err, ErrInterrupted) {
		t.Fatalf("%v", err)
	}
	if err := r.Rollback(context.Background(), rec.ID, true); err != nil {
		t.Fatal(err)
	}
	if got := kernelstubOpts(t, root); got != "quiet splash" {
		t.Errorf("after the rollback %q", got)
	}
	for _, a := range []string{"amd_iommu=on", "iommu=yes", "splash"} {
		if _, err := PlanKernelstub(ToolOptions{Add: []string{a}, Root: root}); !errors.Is(err, ErrBadOption) {
			t.Errorf("%q: %v", a, err)
		}
	}
	if _, err := PlanKernelstub(ToolOptions{Add: []string{"iommu=pt"}, Root: t.TempDir()}); !errors.Is(err, ErrBadOption) {
		t.Errorf("no configuration: %v", err)
	}
	os.WriteFile(filepath.Join(root, KernelstubConfig), []byte(`{"user": {"kernel_options": ["acpi_osi=\"Windows 2015\""]}}`), 0o644)
	if _, err := PlanKernelstub(ToolOptions{Add: []string{"iommu=pt"}, Root: root}); !errors.Is(err, ErrGrubSyntax) {
		t.Errorf("quoted option: %v", err)
	}
}

// FuzzReadKernelstubOptions: no configuration panics the reader; what it returns has no blanks.
func FuzzReadKernelstubOptions(f *testing.F) {
	f.Add([]byte(strings.Replace(popConfig, "OPTS", `"quiet", "splash"`, 1)))
	f.Add([]byte(`{"default": {"kernel_options": "quiet loglevel=0"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		opts, err := ReadKernelstubOptions(b)
		if err != nil {
			return
		}
		for _, o := range opts {
			if o == "" || strings.ContainsAny(o, " \t\n\"") {
				t.Fatalf("%q", o)
			}
		}
	})
}
