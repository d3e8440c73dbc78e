package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dpdk-doctor/dpdk-doctor/internal/testenv"
)

// cmdlineTree makes a host tree for fix cmdline: proc/cmdline and the files given.
func cmdlineTree(t *testing.T, files map[string]string) string {
	root := t.TempDir()
	files["proc/cmdline"] = "BOOT_IMAGE=/vmlinuz root=UUID=1234 ro quiet\n"
	for p, s := range files {
		os.MkdirAll(filepath.Join(root, filepath.Dir(p)), 0o755)
		os.WriteFile(filepath.Join(root, p), []byte(s), 0o644)
	}
	return root
}

// snapshotTree reads every file of a tree.
func snapshotTree(root string) map[string]string {
	m := map[string]string{}
	filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			b, _ := os.ReadFile(p)
			m[p] = string(b)
		}
		return nil
	})
	return m
}

func sameTree(t *testing.T, what string, a, b map[string]string) {
	t.Helper()
	if len(a) != len(b) {
		t.Errorf("%s: %d files, was %d", what, len(b), len(a))
	}
	for k, v := range a {
		if b[k] != v {
			t.Errorf("%s: %s is %q, was %q", what, k, b[k], v)
		}
	}
}

// realGrubbyFor installs the vendored real grubby-bls (fix/testdata/third_party/grubby) for the
// tree, its hard-coded /etc/kernel/cmdline rebased into it (fix/grubby_test.go does the same).
func realGrubbyFor(t *testing.T, root string) string {
	t.Helper()
	for _, n := range []string{"bash", "getopt", "sed", "grep", "sort", "mountpoint"} {
		if _, err := exec.LookPath(n); err != nil {
			testenv.Unavailable(t, "%s is required to run the real grubby-bls", n)
		}
	}
	src, err := os.ReadFile("../../fix/testdata/third_party/grubby/grubby-bls")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	script := filepath.Join(dir, "grubby-bls")
	os.WriteFile(script, []byte(strings.ReplaceAll(string(src), "/etc/kernel/cmdline", filepath.Join(root, "etc/kernel/cmdline"))), 0o755)
	prog := filepath.Join(dir, "grubby")
	os.WriteFile(prog, []byte("#!/bin/sh\ngrub_etc_default='"+filepath.Join(root, "etc/default/grub")+"' exec bash '"+script+"' -b '"+
		filepath.Join(root, "boot/loader/entries")+"' --env '"+filepath.Join(root, "boot/grub2/grubenv")+"' \"$@\"\n"), 0o755)
	return prog
}

const cliEntry = "title Fedora Linux (VER) 39\nversion VER\nlinux /vmlinuz-VER\ninitrd /initramfs-VER.img\noptions root=UUID=1234 ro rhgb quiet\ngrub_class fedora\n"

// TestFixCmdlineGrubbyCLI: on a Fedora-like tree (BLS entries, GRUB_ENABLE_BLSCFG=true) fix
// cmdline chooses grubby and plans its exact command; the dry run and the release binary's
// --apply change nothing; an invalid option is exit 2; the test-hooks build runs the real
// grubby-bls (pending reboot) and the rollback by ID restores every file.
func TestFixCmdlineGrubbyCLI(t *testing.T) {
	files := map[string]string{"etc/default/grub": "GRUB_TIMEOUT=5\nGRUB_CMDLINE_LINUX=\"rhgb quiet\"\nGRUB_ENABLE_BLSCFG=true\n"}
	for _, v := range []string{"6.5.6-300.fc39.x86_64", "6.10.2-200.fc39.x86_64"} {
		files["boot/loader/entries/0123-"+v+".conf"] = strings.ReplaceAll(cliEntry, "VER", v)
	}
	root := cmdlineTree(t, files)
	prog := realGrubbyFor(t, root)
	state := filepath.Join(t.TempDir(), "state")
	orig := snapshotTree(root)
	out, stderr, code := runBin(t, "fix", "cmdline", "--root", root, "--grubby", prog, "--add", "intel_iommu=on", "--add", "iommu=pt", "--state-dir", state)
	for _, s := range []string{"Boot configuration: grubby (grubby is installed, the grub file sets GRUB_ENABLE_BLSCFG=true",
		"run: " + prog + " --update-kernel=ALL '--args=intel_iommu=on iommu=pt'", "  + root=UUID=1234 ro rhgb quiet intel_iommu=on iommu=pt", "nothing was changed"} {
		if code != 0 || !strings.Contains(out, s) {
			t.Errorf("dry run: exit %d, want %q in\n%s%s", code, s, out, stderr)
		}
	}
	if _, stderr, code := runBin(t, "fix", "cmdline", "--root", root, "--grubby", prog, "--add", "amd_iommu=on"); code != 2 || !strings.Contains(stderr, "amd_iommu=on") {
		t.Errorf("amd_iommu=on: exit %d %s", code, stderr)
	}
	if _, stderr, code := runBin(t, "fix", "cmdline", "--root", root, "--grubby", prog, "--add", "iommu=pt", "--apply", "--state-dir", state); code != 2 || !strings.Contains(stderr, "refusing") {
		t.Errorf("release --apply on a tree: exit %d %s", code, stderr)
	}
	sameTree(t, "without a test-hooks --apply", orig, snapshotTree(root))
	out, stderr, code = runHooked(t, "fix", "cmdline", "--root", root, "--grubby", prog, "--add", "intel_iommu=on", "--add", "iommu=pt", "--apply", "--state-dir", state)
	if code != 0 || !strings.Contains(out, "Done: pending reboot") {
		t.Fatalf("apply: exit %d\n%s%s", code, out, stderr)
	}
	for p, s := range snapshotTree(root) {
		if strings.Contains(p, "entries") && !strings.Contains(s, "options root=UUID=1234 ro rhgb quiet intel_iommu=on iommu=pt\n") {
			t.Errorf("%s:\n%s", p, s)
		}
	}
	recs, _ := filepath.Glob(filepath.Join(state, "grubby-*.json"))
	if len(recs) != 1 {
		t.Fatalf("records %v", recs)
	}
	id := strings.TrimSuffix(filepath.Base(recs[0]), ".json")
	if out, stderr, code := runHooked(t, "fix", "--rollback", id, "--apply", "--state-dir", state); code != 0 {
		t.Fatalf("rollback: exit %d %s%s", code, out, stderr)
	}
	sameTree(t, "after the rollback", orig, snapshotTree(root))
}

// TestFixCmdlineKernelstubCLI: on a Pop!_OS-like tree with kernelstub, fix cmdline plans
// `kernelstub -a`, applies it with the test-hooks build (the double, built from
// fix/testdata/kernelstub-double) and rolls it back.
func TestFixCmdlineKernelstubCLI(t *testing.T) {
	root := cmdlineTree(t, map[string]string{
		"etc/kernelstub/configuration": `{"default": {"kernel_options": ["quiet", "splash"], "esp_path": "/boot/efi", "setup_loader": false, "manage_mode": false, "force_update": false, "live_mode": false, "config_rev": 3},
 "user": {"kernel_options": ["quiet", "loglevel=0", "splash"], "esp_path": "/boot/efi", "setup_loader": false, "manage_mode": true, "force_update": false, "live_mode": false, "config_rev": 3}}`,
		"boot/vmlinuz": "k", "boot/initrd.img": "i",
	})
	dir := t.TempDir()
	double := filepath.Join(dir, "kernelstub-double")
	if out, err := exec.Command("go", "build", "-o", double, "../../fix/testdata/kernelstub-double").CombinedOutput(); err != nil {
		t.Fatalf("building the kernelstub double: %v\n%s", err, out)
	}
	prog := filepath.Join(dir, "kernelstub")
	os.WriteFile(prog, []byte("#!/bin/sh\nKERNELSTUB_DOUBLE_ROOT='"+root+"' exec '"+double+"' \"$@\"\n"), 0o755)
	state := filepath.Join(dir, "state")
	orig := snapshotTree(root)
	out, stderr, code := runBin(t, "fix", "cmdline", "--root", root, "--kernelstub", prog, "--add", "intel_iommu=on", "--state-dir", state)
	if code != 0 || !strings.Contains(out, "Boot configuration: kernelstub") || !strings.Contains(out, "run: "+prog+" -a intel_iommu=on") {
		t.Errorf("dry run: exit %d\n%s%s", code, out, stderr)
	}
	sameTree(t, "after the dry run", orig, snapshotTree(root))
	out, stderr, code = runHooked(t, "fix", "cmdline", "--root", root, "--kernelstub", prog, "--add", "intel_iommu=on", "--apply", "--state-dir", state)
	if code != 0 || !strings.Contains(out, "Done: pending reboot") {
		t.Fatalf("apply: exit %d\n%s%s", code, out, stderr)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "etc/kernelstub/configuration")); !strings.Contains(string(b), `"intel_iommu=on"`) {
		t.Errorf("configuration:\n%s", b)
	}
	recs, _ := filepath.Glob(filepath.Join(state, "kernelstub-*.json"))
	if len(recs) != 1 {
		t.Fatalf("records %v", recs)
	}
	id := strings.TrimSuffix(filepath.Base(recs[0]), ".json")
	if out, stderr, code := runHooked(t, "fix", "--rollback", id, "--apply", "--state-dir", state); code != 0 || !strings.Contains(out, `kernel_options "quiet loglevel=0 splash" again`) {
		t.Fatalf("rollback: exit %d %s%s", code, out, stderr)
	}
}

// TestFixCmdlineDetection: grubby alone does not make a grub-file host a grubby one (no
// GRUB_ENABLE_BLSCFG); --bootloader names the way, and a way whose program is missing is
// refused (exit 1), an unknown one is bad input (exit 2).
func TestFixCmdlineDetection(t *testing.T) {
	root := cmdlineTree(t, map[string]string{
		"etc/default/grub":                    "GRUB_CMDLINE_LINUX=\"quiet\"\n",
		"boot/loader/entries/0123-6.1.0.conf": strings.ReplaceAll(cliEntry, "VER", "6.1.0"),
	})
	out, stderr, code := runBin(t, "fix", "cmdline", "--root", root, "--grubby", "/usr/sbin/grubby", "--add", "iommu=pt")
	if code != 0 || !strings.Contains(out, "Boot configuration: grub-file") || !strings.Contains(out, `+GRUB_CMDLINE_LINUX="quiet iommu=pt"`) {
		t.Errorf("grub file: exit %d\n%s%s", code, out, stderr)
	}
	out, stderr, code = runBin(t, "fix", "cmdline", "--root", root, "--grubby", "/usr/sbin/grubby", "--bootloader", "grubby", "--add", "iommu=pt")
	if code != 0 || !strings.Contains(out, "run: /usr/sbin/grubby --update-kernel=ALL --args=iommu=pt") {
		t.Errorf("--bootloader grubby: exit %d\n%s%s", code, out, stderr)
	}
	if _, stderr, code := runBin(t, "fix", "cmdline", "--root", root, "--bootloader", "kernelstub", "--add", "iommu=pt"); code != 1 || !strings.Contains(stderr, "not installed") {
		t.Errorf("--bootloader kernelstub without it: exit %d %s", code, stderr)
	}
	if _, stderr, code := runBin(t, "fix", "cmdline", "--root", root, "--bootloader", "lilo", "--add", "iommu=pt"); code != 2 || !strings.Contains(stderr, "lilo") {
		t.Errorf("--bootloader lilo: exit %d %s", code, stderr)
	}
	os.Remove(filepath.Join(root, "etc/default/grub"))
	if _, stderr, code := runBin(t, "fix", "cmdline", "--root", root, "--add", "iommu=pt"); code != 2 || !strings.Contains(stderr, "no grub defaults file") {
		t.Errorf("nothing to edit: exit %d %s", code, stderr)
	}
	// The option is checked first: the error names it, whatever the host.
	if _, stderr, code := runBin(t, "fix", "cmdline", "--root", root, "--add", "amd_iommu=on"); code != 2 || !strings.Contains(stderr, "amd_iommu=on") {
		t.Errorf("amd_iommu=on on a host with no way: exit %d %s", code, stderr)
	}
}
