package fix

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
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
	f := GatherBootFacts(root, filepath.Join(root, DefaultGrubFile), "", "/x/grubby", false)
	if f != (BootFacts{Grubby: "/x/grubby", GrubFileExists: true, BLSCfg: true, BLSEntries: 2}) {
		t.Errorf("%+v", f)
	}
	os.Remove(filepath.Join(root, DefaultGrubFile))
	if f := GatherBootFacts(root, filepath.Join(root, DefaultGrubFile), "", "", false); f != (BootFacts{BLSEntries: 2}) {
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
