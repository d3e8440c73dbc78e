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

	"github.com/dpdk-doctor/dpdk-doctor/internal/testenv"
)

// needTool finds a program the real grubby-bls needs; under CI=true its absence fails the test.
func needTool(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			testenv.Unavailable(t, "%s is required to run the real grubby-bls", n)
		}
	}
}

// realGrubby installs the vendored grubby-bls (testdata/third_party/grubby, Fedora's script)
// for the tree root and returns the program to run. The script is run as it is, told where the
// tree is the ways it offers (-b for the entries, --env for grubenv, grub_etc_default from the
// environment), except one path it hard-codes, /etc/kernel/cmdline, rebased into the tree.
func realGrubby(t *testing.T, root string) string {
	t.Helper()
	needTool(t, "bash", "getopt", "sed", "grep", "sort", "mountpoint")
	src, err := os.ReadFile("testdata/third_party/grubby/grubby-bls")
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(src), "/etc/kernel/cmdline"); n != 4 {
		t.Fatalf("grubby-bls names /etc/kernel/cmdline %d times, want 4: the vendored script changed", n)
	}
	script := filepath.Join(root, "grubby-bls")
	os.WriteFile(script, []byte(strings.ReplaceAll(string(src), "/etc/kernel/cmdline", filepath.Join(root, KernelCmdlineFile))), 0o755)
	prog := filepath.Join(root, "grubby")
	wrapper := "#!/bin/sh\ngrub_etc_default='" + filepath.Join(root, DefaultGrubFile) + "' exec bash '" + script + "' -b '" +
		filepath.Join(root, BLSDir) + "' --env '" + filepath.Join(root, "boot/grub2/grubenv") + "' \"$@\"\n"
	os.WriteFile(prog, []byte(wrapper), 0o755)
	return prog
}

const fedoraEntry = `title Fedora Linux (VER) 39 (Server Edition)
version VER
linux /vmlinuz-VER
initrd /initramfs-VER.img
options OPTS
grub_users $grub_users
grub_arg --unrestricted
grub_class fedora
`

// blsTree makes a Fedora-like root: two entries (the older one with its own options), a grub
// file with GRUB_ENABLE_BLSCFG=true, and proc/cmdline.
func blsTree(t *testing.T, older, newer string) string {
	root := t.TempDir()
	for _, d := range []string{BLSDir, "etc/default", "etc/kernel", "boot/grub2", "proc"} {
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	entry := func(ver, opts string) {
		s := strings.NewReplacer("VER", ver, "OPTS", opts).Replace(fedoraEntry)
		os.WriteFile(filepath.Join(root, BLSDir, "0123abcd-"+ver+".conf"), []byte(s), 0o644)
	}
	entry("6.5.6-300.fc39.x86_64", older)
	entry("6.10.2-200.fc39.x86_64", newer)
	os.WriteFile(filepath.Join(root, DefaultGrubFile), []byte("GRUB_TIMEOUT=5\nGRUB_CMDLINE_LINUX=\"rhgb quiet\"\nGRUB_DISABLE_SUBMENU=true\nGRUB_ENABLE_BLSCFG=true\n"), 0o644)
	os.WriteFile(filepath.Join(root, "proc/cmdline"), []byte("BOOT_IMAGE=/vmlinuz-6.10.2-200.fc39.x86_64 root=UUID=1234 ro rhgb quiet\n"), 0o444)
	return root
}

// treeFiles reads every regular file of the tree but the scripts.
func treeFiles(t *testing.T, root string) map[string]string {
	m := map[string]string{}
	filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() && !strings.HasPrefix(filepath.Base(p), "grubby") {
			b, _ := os.ReadFile(p)
			m[strings.TrimPrefix(p, root)] = string(b)
		}
		return nil
	})
	return m
}

func sameFiles(t *testing.T, what string, a, b map[string]string) {
	t.Helper()
	for k, v := range a {
		if b[k] != v {
			t.Errorf("%s: %s is\n%q\nwas\n%q", what, k, b[k], v)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			t.Errorf("%s: %s is new:\n%s", what, k, b[k])
		}
	}
}

// TestGrubbyUpdateArgsIsTheScripts: the plan's before/after comes from grubbyUpdateArgs, which
// must compute what the real grubby-bls writes (update_args), case by case.
func TestGrubbyUpdateArgsIsTheScripts(t *testing.T) {
	for _, c := range []struct{ opts, remove, add string }{
		{"root=UUID=1 ro rhgb quiet", "", "intel_iommu=on iommu=pt"},
		{"root=UUID=1 ro intel_iommu=off quiet", "", "intel_iommu=on"},
		{"root=UUID=1 ro iommu=pt quiet", "iommu", ""},
		{"root=UUID=1 ro hugepagesz=2M hugepages=512 quiet", "", "hugepagesz=2M hugepages=512 hugepagesz=1G hugepages=4"},
		{"root=UUID=1 ro intel_iommu=on iommu=pt", "intel_iommu=on iommu=pt", "intel_iommu=off"},
		{"root=UUID=1 ro default_hugepagesz=1G hugepagesz=1G hugepages=8", "default_hugepagesz", "hugepages=16"},
	} {
		root := blsTree(t, c.opts, c.opts)
		prog := realGrubby(t, root)
		var remove, add []string
		if c.remove != "" {
			remove = strings.Fields(c.remove)
		}
		if c.add != "" {
			add = strings.Fields(c.add)
		}
		argv := grubbyArgv(prog, remove, add)
		if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v %s", argv, err, out)
		}
		b, _ := os.ReadFile(filepath.Join(root, BLSDir, "0123abcd-6.5.6-300.fc39.x86_64.conf"))
		got, _ := blsOptions(b)
		if want := grubbyUpdateArgs(c.opts, remove, add); got != want {
			t.Errorf("%q -%q +%q: grubby-bls wrote %q, grubbyUpdateArgs says %q", c.opts, c.remove, c.add, got, want)
		}
	}
}

// TestGrubbyPlanApplyVerifyRollback: with the real grubby-bls, the plan names the exact argv and
// every file before and after; the dry run changes nothing; --apply changes every entry,
// creates /etc/kernel/cmdline and rewrites GRUB_CMDLINE_LINUX, reads back "pending reboot"
// (and grubby --info=ALL agrees); the rollback leaves every file as it was, byte for byte.
func TestGrubbyPlanApplyVerifyRollback(t *testing.T) {
	root := blsTree(t, "root=UUID=1234 ro rootflags=subvol=root rhgb quiet intel_iommu=off", "root=UUID=1234 ro rootflags=subvol=root rhgb quiet")
	prog := realGrubby(t, root)
	orig := treeFiles(t, root)
	g, err := PlanGrubby(ToolOptions{Add: []string{"intel_iommu=on", "iommu=pt"}, Program: prog, Root: root, Running: "ro rhgb quiet"})
	if err != nil {
		t.Fatal(err)
	}
	plan := strings.Join(g.Plan(), "\n")
	for _, s := range []string{
		"run: " + prog + " --update-kernel=ALL '--args=intel_iommu=on iommu=pt'",
		"0123abcd-6.5.6-300.fc39.x86_64.conf (options):\n  - root=UUID=1234 ro rootflags=subvol=root rhgb quiet intel_iommu=off\n  + root=UUID=1234 ro rootflags=subvol=root rhgb quiet intel_iommu=on iommu=pt",
		"etc/kernel/cmdline:\n  - (no such file",
		"etc/default/grub (GRUB_CMDLINE_LINUX):\n  - rhgb quiet\n  + rhgb quiet intel_iommu=on iommu=pt",
		"then: reboot",
	} {
		if !strings.Contains(plan, s) {
			t.Errorf("the plan lacks %q:\n%s", s, plan)
		}
	}
	var out bytes.Buffer
	r := &Runner{StateDir: filepath.Join(t.TempDir(), "state"), Out: &out}
	if rec, err := r.Run(context.Background(), g, false); rec != nil || err != nil {
		t.Fatal(rec, err)
	}
	sameFiles(t, "after the dry run", orig, treeFiles(t, root))
	rec, err := r.Run(context.Background(), g, true)
	if err != nil || rec.State != StatePendingReboot {
		t.Fatalf("%v %+v\n%s", err, rec, out.String())
	}
	now := treeFiles(t, root)
	for p, v := range now {
		if strings.HasPrefix(p, "/"+BLSDir[1:]) && !strings.Contains(v, "quiet intel_iommu=on iommu=pt\n") {
			t.Errorf("%s:\n%s", p, v)
		}
	}
	if now["/etc/kernel/cmdline"] != "root=UUID=1234 ro rootflags=subvol=root rhgb quiet intel_iommu=on iommu=pt\n" ||
		!strings.Contains(now["/etc/default/grub"], `GRUB_CMDLINE_LINUX="rhgb quiet intel_iommu=on iommu=pt"`) {
		t.Errorf("kernel/cmdline %q\ngrub %q", now["/etc/kernel/cmdline"], now["/etc/default/grub"])
	}
	info, err := exec.Command(prog, "--info=ALL").Output()
	if err != nil || strings.Count(string(info), `args="ro rootflags=subvol=root rhgb quiet intel_iommu=on iommu=pt"`) != 2 {
		t.Errorf("grubby --info=ALL: %v\n%s", err, info)
	}
	if err := r.Rollback(context.Background(), rec.ID, true); err != nil {
		t.Fatal(err)
	}
	sameFiles(t, "after the rollback", orig, treeFiles(t, root))
}

// TestGrubbyPoolsAndLaterKernels: a change of hugepage pools keeps the other pool (grubby drops
// every word of a name given in --args, so the plan passes them all); the old option is
// replaced, a removed one goes; the rollback puts back the old order and values exactly, and
// mends the entry of a kernel installed after the run (through the inverse grubby command).
func TestGrubbyPoolsAndLaterKernels(t *testing.T) {
	opts := "root=UUID=1234 ro hugepagesz=2M hugepages=512 intel_iommu=off iommu=pt quiet"
	root := blsTree(t, opts, opts)
	prog := realGrubby(t, root)
	os.WriteFile(filepath.Join(root, KernelCmdlineFile), []byte(opts+"\n"), 0o644)
	orig := treeFiles(t, root)
	g, err := PlanGrubby(ToolOptions{Add: []string{"intel_iommu=on", "hugepagesz=1G", "hugepages=4"}, Remove: []string{"iommu"}, Program: prog, Root: root})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{prog, "--update-kernel=ALL", "--remove-args=iommu", "--args=hugepagesz=2M hugepages=512 intel_iommu=on hugepagesz=1G hugepages=4"}; strings.Join(g.Argv(), "|") != strings.Join(want, "|") {
		t.Errorf("argv %q, want %q", g.Argv(), want)
	}
	r := &Runner{StateDir: filepath.Join(t.TempDir(), "state"), Out: &bytes.Buffer{}}
	rec, err := r.Run(context.Background(), g, true)
	if err != nil {
		t.Fatal(err)
	}
	want := "root=UUID=1234 ro quiet hugepagesz=2M hugepages=512 intel_iommu=on hugepagesz=1G hugepages=4"
	for p, v := range treeFiles(t, root) {
		if strings.Contains(p, "entries") && !strings.Contains(v, "options "+want+"\n") || p == "/etc/kernel/cmdline" && v != want+"\n" {
			t.Errorf("%s:\n%s", p, v)
		}
	}
	// A kernel installed after the run: kernel-install made its entry from /etc/kernel/cmdline.
	later := filepath.Join(root, BLSDir, "0123abcd-6.11.0-100.fc39.x86_64.conf")
	os.WriteFile(later, []byte(strings.NewReplacer("VER", "6.11.0-100.fc39.x86_64", "OPTS", want).Replace(fedoraEntry)), 0o644)
	if err := r.Rollback(context.Background(), rec.ID, true); err != nil {
		t.Fatal(err)
	}
	now := treeFiles(t, root)
	delete(now, strings.TrimPrefix(later, root))
	sameFiles(t, "after the rollback", orig, now)
	b, _ := os.ReadFile(later)
	if got, _ := blsOptions(b); strings.Join(sortedFields(got), " ") != strings.Join(sortedFields(opts), " ") {
		t.Errorf("the later kernel's entry after the rollback: %q, want the options of %q", got, opts)
	}
}

func sortedFields(s string) []string {
	f := strings.Fields(s)
	sortStrings(f)
	return f
}

// TestGrubbyNothingToDoAndRefusals: options already set plan nothing; an invalid option is never
// planned; $kernelopts entries (grubenv) and a grub file with GRUB_CMDLINE_LINUX_DEFAULT are
// refused, the latter because the real grubby-bls would overwrite that line (shown here).
func TestGrubbyNothingToDoAndRefusals(t *testing.T) {
	root := blsTree(t, "root=UUID=1 ro intel_iommu=on", "root=UUID=1 ro intel_iommu=on")
	os.WriteFile(filepath.Join(root, KernelCmdlineFile), []byte("root=UUID=1 ro intel_iommu=on\n"), 0o644)
	os.WriteFile(filepath.Join(root, DefaultGrubFile), []byte("GRUB_CMDLINE_LINUX=\"intel_iommu=on\"\n"), 0o644)
	g, err := PlanGrubby(ToolOptions{Add: []string{"intel_iommu=on"}, Program: "/nonexistent/grubby", Root: root})
	if err != nil || g.changed() || !strings.Contains(g.Plan()[0], "nothing to change") {
		t.Fatalf("%v %v", err, g.Plan())
	}
	if _, err := (&Runner{StateDir: t.TempDir(), Out: &bytes.Buffer{}}).Run(context.Background(), g, true); err != nil {
		t.Errorf("nothing to do must not run grubby: %v", err)
	}
	for _, a := range []string{"amd_iommu=on", "intel_iommu=yes", "hugepagesz=4M", "quiet", "init=/bin/sh"} {
		if _, err := PlanGrubby(ToolOptions{Add: []string{a}, Root: root}); !errors.Is(err, ErrBadOption) {
			t.Errorf("%q: %v", a, err)
		}
	}
	if _, err := PlanGrubby(ToolOptions{Remove: []string{"root"}, Root: root}); !errors.Is(err, ErrBadOption) {
		t.Errorf("--remove root: %v", err)
	}
	rhel8 := blsTree(t, "$kernelopts", "$kernelopts")
	if _, err := PlanGrubby(ToolOptions{Add: []string{"iommu=pt"}, Root: rhel8}); err == nil || !strings.Contains(err.Error(), "$kernelopts") {
		t.Errorf("$kernelopts: %v", err)
	}
	dflt := blsTree(t, "root=UUID=1 ro", "root=UUID=1 ro")
	grubPath := filepath.Join(dflt, DefaultGrubFile)
	os.WriteFile(grubPath, []byte("GRUB_CMDLINE_LINUX=\"rhgb\"\nGRUB_CMDLINE_LINUX_DEFAULT=\"quiet splash\"\nGRUB_ENABLE_BLSCFG=true\n"), 0o644)
	if _, err := PlanGrubby(ToolOptions{Add: []string{"iommu=pt"}, Root: dflt}); err == nil || !strings.Contains(err.Error(), "GRUB_CMDLINE_LINUX_DEFAULT") {
		t.Errorf("GRUB_CMDLINE_LINUX_DEFAULT: %v", err)
	}
	prog := realGrubby(t, dflt)
	if out, err := exec.Command(prog, "--update-kernel=ALL", "--args=iommu=pt").CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	if b, _ := os.ReadFile(grubPath); strings.Contains(string(b), "quiet splash") {
		t.Errorf("the real grubby-bls kept GRUB_CMDLINE_LINUX_DEFAULT; the refusal may be lifted:\n%s", b)
	}
}

// TestGrubbyFailsRollsBack: grubby exiting non-zero is rolled back (the files were not touched,
// so nothing is left changed), and the error names the command.
func TestGrubbyFailsRollsBack(t *testing.T) {
	root := blsTree(t, "root=UUID=1 ro", "root=UUID=1 ro")
	orig := treeFiles(t, root)
	g, err := PlanGrubby(ToolOptions{Add: []string{"iommu=pt"}, Program: "false", Root: root})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := (&Runner{StateDir: t.TempDir(), Out: &bytes.Buffer{}}).Run(context.Background(), g, true)
	if err == nil || !strings.Contains(err.Error(), "false --update-kernel=ALL --args=iommu=pt") || rec.State != StateRolledBack {
		t.Errorf("%v %+v", err, rec)
	}
	sameFiles(t, "after a failed grubby", orig, treeFiles(t, root))
}

// TestGrubbyInterrupted: a run that died after grubby ran blocks the next one until it is
// rolled back, and the rollback restores every file.
func TestGrubbyInterrupted(t *testing.T) {
	root := blsTree(t, "root=UUID=1 ro quiet", "root=UUID=1 ro quiet")
	prog := realGrubby(t, root)
	orig := treeFiles(t, root)
	g, _ := PlanGrubby(ToolOptions{Add: []string{"intel_iommu=on"}, Program: prog, Root: root})
	r := &Runner{StateDir: filepath.Join(t.TempDir(), "state"), Out: &bytes.Buffer{}}
	snap, err := g.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	rec := &Record{ID: "grubby-20261126T120000Z", Kind: "grubby", State: StateApplying, Snapshot: snap}
	r.write(rec)
	if err := g.Apply(context.Background(), &bytes.Buffer{}); err != nil { // then the process died
		t.Fatal(err)
	}
	if _, err := r.Run(context.Background(), g, true); !errors.Is(err, ErrInterrupted) {
		t.Fatalf("%v", err)
	}
	if err := r.Rollback(context.Background(), rec.ID, true); err != nil {
		t.Fatal(err)
	}
	sameFiles(t, "after the rollback", orig, treeFiles(t, root))
}

// FuzzBLSOptions: no entry panics the reader, and what it reads has no line breaks.
func FuzzBLSOptions(f *testing.F) {
	f.Add([]byte(fedoraEntry))
	f.Add([]byte("options\t$kernelopts\noptions x\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if o, ok := blsOptions(b); ok && strings.ContainsAny(o, "\n\t") {
			t.Fatalf("%q", o)
		}
		grubbyUpdateArgs(string(b), []string{"iommu", "intel_iommu=on"}, []string{"iommu=pt"})
	})
}

// TestGrubbyChecksPassedBackPools: a pool already on the command line is passed back to grubby
// with a new one; an invalid one there is refused, not written again.
func TestGrubbyChecksPassedBackPools(t *testing.T) {
	root := blsTree(t, "ro hugepagesz=3M hugepages=4", "ro")
	if _, err := PlanGrubby(ToolOptions{Add: []string{"hugepagesz=1G", "hugepages=2"}, Root: root}); !errors.Is(err, ErrBadOption) || !strings.Contains(err.Error(), "hugepagesz=3M") {
		t.Errorf("%v", err)
	}
}

// TestGrubbySnapshotBounded: entries too large to keep in a record are refused before anything
// changes (a record that cannot be read back could not be rolled back).
func TestGrubbySnapshotBounded(t *testing.T) {
	root := blsTree(t, "ro", "ro")
	big := strings.Repeat("# a comment line of a very large entry\n", 2000)
	os.WriteFile(filepath.Join(root, BLSDir, "0123abcd-6.1.0.conf"), []byte(big+"options ro\n"), 0o644)
	orig := treeFiles(t, root)
	g, err := PlanGrubby(ToolOptions{Add: []string{"iommu=pt"}, Program: "false", Root: root})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (&Runner{StateDir: t.TempDir(), Out: &bytes.Buffer{}}).Run(context.Background(), g, true); err == nil || !strings.Contains(err.Error(), "nothing was changed") {
		t.Errorf("%v", err)
	}
	sameFiles(t, "after the refusal", orig, treeFiles(t, root))
}
