package fix

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/dpdk-doctor/dpdk-doctor/host"
)

// TestDetectBootloader: the rules, case by case.
func TestDetectBootloader(t *testing.T) {
	for _, c := range []struct {
		name string
		f    BootFacts
		want Bootloader
	}{
		{"Pop!_OS: kernelstub", BootFacts{Kernelstub: "/usr/bin/kernelstub", GrubFileExists: true}, BootKernelstub},
		{"Pop!_OS with grubby too", BootFacts{Kernelstub: "/usr/bin/kernelstub", Grubby: "/usr/sbin/grubby", BLSEntries: 2}, BootKernelstub},
		{"Fedora, RHEL 8+: BLSCFG", BootFacts{Grubby: "/usr/sbin/grubby", GrubFileExists: true, BLSCfg: true, BLSEntries: 3}, BootGrubby},
		{"BLS entries, no grub file", BootFacts{Grubby: "/usr/sbin/grubby", BLSEntries: 1}, BootGrubby},
		{"RHEL 7: grubby, no BLS entries", BootFacts{Grubby: "/usr/sbin/grubby", GrubFileExists: true}, BootGrubFile},
		{"grubby, BLS entries, BLSCFG off", BootFacts{Grubby: "/usr/sbin/grubby", GrubFileExists: true, BLSEntries: 2}, BootGrubFile},
		{"BLSCFG without grubby", BootFacts{GrubFileExists: true, BLSCfg: true, BLSEntries: 2}, BootGrubFile},
		{"Debian, Ubuntu", BootFacts{GrubFileExists: true}, BootGrubFile},
	} {
		got, why, err := DetectBootloader(c.f)
		if err != nil || got != c.want || why == "" {
			t.Errorf("%s: %q (%s) %v, want %q", c.name, got, why, err, c.want)
		}
	}
	if _, _, err := DetectBootloader(BootFacts{Grubby: "/usr/sbin/grubby"}); !errors.Is(err, ErrBadOption) {
		t.Errorf("nothing to edit: %v", err)
	}
}

// TestGatherBootFacts: the facts come from the tree's files and the programs given; on a tree,
// PATH is not searched.
func TestGatherBootFacts(t *testing.T) {
	root := blsTree(t, "ro", "ro")
	files, err := host.Dir(root)
	if err != nil {
		t.Fatal(err)
	}
	f := GatherBootFacts(files, root, filepath.Join(root, DefaultGrubFile), "", "/x/grubby", false)
	if f != (BootFacts{Grubby: "/x/grubby", GrubFileExists: true, BLSCfg: true, BLSEntries: 2}) {
		t.Errorf("%+v", f)
	}
	os.Remove(filepath.Join(root, DefaultGrubFile))
	if f := GatherBootFacts(files, root, filepath.Join(root, DefaultGrubFile), "", "", false); f != (BootFacts{BLSEntries: 2}) {
		t.Errorf("%+v", f)
	}
	for s, want := range map[string]bool{
		"GRUB_ENABLE_BLSCFG=true\n": true, "GRUB_ENABLE_BLSCFG=\"true\" # RHEL\n": true, "export GRUB_ENABLE_BLSCFG='true'\n": true,
		"GRUB_ENABLE_BLSCFG=false\n": false, "#GRUB_ENABLE_BLSCFG=true\n": false, "GRUB_ENABLE_BLSCFG=true\nGRUB_ENABLE_BLSCFG=false\n": false, "": false,
	} {
		if GrubBLSCfg([]byte(s)) != want {
			t.Errorf("%q: want %v", s, want)
		}
	}
}

// TestSameButOptions: a file is put back only when nothing but the managed options changed.
func TestSameButOptions(t *testing.T) {
	m := managedNames([]string{"intel_iommu=on", "hugepages=4"}, []string{"iommu"})
	for _, c := range []struct {
		a, b string
		want bool
	}{
		{"options ro quiet intel_iommu=on\n", "options ro quiet\n", true},
		{"options ro quiet hugepagesz=1G hugepages=4\n", "options quiet ro\n", true},
		{"options ro quiet iommu=pt\n", "options  ro   quiet\n", true},
		{"GRUB_CMDLINE_LINUX=\"intel_iommu=on\"\n", "GRUB_CMDLINE_LINUX=\"\"\n", true},
		{"options ro quiet nomodeset\n", "options ro quiet\n", false},
		{"title X\noptions ro\n", "title Y\noptions ro\n", false},
		{"options ro\nlinux /vmlinuz-2\n", "options ro\n", false},
	} {
		if got := sameButOptions(c.a, c.b, m); got != c.want {
			t.Errorf("%q vs %q: %v", c.a, c.b, got)
		}
	}
}

// TestChooseBootloader: --bootloader overrides detection; --grub-file means the grub file; a
// missing program and an unknown way are told apart.
func TestChooseBootloader(t *testing.T) {
	fedora := BootFacts{Grubby: "/usr/sbin/grubby", GrubFileExists: true, BLSCfg: true, BLSEntries: 2}
	for _, c := range []struct {
		way       string
		grubGiven bool
		want      Bootloader
		err       error
	}{
		{"auto", false, BootGrubby, nil},
		{"auto", true, BootGrubFile, nil},
		{"grub-file", false, BootGrubFile, nil},
		{"grubby", true, BootGrubby, nil},
		{"kernelstub", false, "", ErrNoBootTool},
		{"lilo", false, "", ErrBadOption},
		{"", false, "", ErrBadOption},
	} {
		got, _, err := ChooseBootloader(c.way, c.grubGiven, fedora)
		if got != c.want || !errors.Is(err, c.err) || (c.err == nil) != (err == nil) {
			t.Errorf("%q %v: %q %v", c.way, c.grubGiven, got, err)
		}
	}
}

// TestPlanStaysInTheTree: a tree's boot files that link out of it (absolute links, "..") are
// resolved inside the tree, as in a chroot: planning for a tree never reads this machine's files.
func TestPlanStaysInTheTree(t *testing.T) {
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "grub"), []byte("GRUB_CMDLINE_LINUX=\"outside\"\n"), 0o644)
	os.MkdirAll(filepath.Join(outside, "entries"), 0o755)
	os.WriteFile(filepath.Join(outside, "entries", "x.conf"), []byte("options outside\n"), 0o644)
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "sys"), 0o755)
	os.MkdirAll(filepath.Join(root, "etc/default"), 0o755)
	os.MkdirAll(filepath.Join(root, "boot/loader"), 0o755)
	os.MkdirAll(filepath.Join(root, "etc/kernelstub"), 0o755)
	os.Symlink(filepath.Join(outside, "grub"), filepath.Join(root, DefaultGrubFile))
	os.Symlink("../../../../../../../.."+filepath.Join(outside, "entries"), filepath.Join(root, BLSDir))
	os.Symlink(filepath.Join(outside, "grub"), filepath.Join(root, KernelstubConfig))
	files, err := host.Dir(root)
	if err != nil {
		t.Fatal(err)
	}
	grubFile := filepath.Join(root, DefaultGrubFile)
	if f := GatherBootFacts(files, root, grubFile, "", "/x/grubby", false); f.GrubFileExists || f.BLSEntries != 0 {
		t.Errorf("the facts came from outside the tree: %+v", f)
	}
	if _, err := PlanCmdline(CmdlineOptions{Add: []string{"iommu=pt"}, GrubFile: grubFile, Files: files, Root: root}); err == nil {
		t.Error("the grub file was read through a link out of the tree")
	}
	if _, err := PlanGrubby(ToolOptions{Add: []string{"iommu=pt"}, Root: root, Files: files}); err == nil {
		t.Error("grubby's entries were read through a link out of the tree")
	}
	if _, err := PlanKernelstub(ToolOptions{Add: []string{"iommu=pt"}, Root: root, Files: files}); err == nil {
		t.Error("kernelstub's configuration was read through a link out of the tree")
	}
	// The same tree without the zero Root, as before: the links were followed out of it.
	if f := GatherBootFacts(host.Root{}, root, grubFile, "", "/x/grubby", false); !f.GrubFileExists || f.BLSEntries != 1 {
		t.Errorf("the test's links do not point out of the tree: %+v", f)
	}
}
