package fix

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/grub")

// TestCmdlineGolden: the diff for each sample grub file (quoted values, continuation lines,
// GRUB_CMDLINE_LINUX_DEFAULT vs GRUB_CMDLINE_LINUX, conflicting options replaced, not
// duplicated) matches its golden file.
func TestCmdlineGolden(t *testing.T) {
	ins, _ := filepath.Glob("testdata/grub/*.grub")
	if len(ins) < 5 {
		t.Fatalf("samples: %v", ins)
	}
	for _, in := range ins {
		name := strings.TrimSuffix(in, ".grub")
		args, _ := os.ReadFile(name + ".args")
		c, err := PlanCmdline(CmdlineOptions{GrubFile: in, Add: strings.Fields(string(args))})
		if err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		got := strings.Join(c.Diff(), "\n") + "\n--- the new file:\n" + string(c.New())
		golden := name + ".golden"
		if *update {
			os.WriteFile(golden, []byte(got), 0o644)
		}
		want, _ := os.ReadFile(golden)
		if got != string(want) {
			t.Errorf("%s:\n%s\nwant:\n%s", in, got, want)
		}
		// The new file parses, and has every option once in GRUB_CMDLINE_LINUX.
		g, err := ParseGrub(c.New())
		if err != nil {
			t.Errorf("%s: the new file: %v", in, err)
			continue
		}
		for _, a := range strings.Fields(string(args)) {
			if n := strings.Count(" "+g.Value("GRUB_CMDLINE_LINUX")+" ", " "+a+" "); n != 1 && !strings.HasPrefix(a, "hugepages") {
				t.Errorf("%s: %s appears %d times in %q", in, a, n, g.Value("GRUB_CMDLINE_LINUX"))
			}
		}
	}
}

// TestCmdlineOptionsChecked: invalid options are never written: unknown names, amd_iommu=on
// (no such value), bad sizes.
func TestCmdlineOptionsChecked(t *testing.T) {
	for _, a := range []string{"amd_iommu=on", "intel_iommu=yes", "hugepagesz=4M", "hugepages=many", "rm -rf", "quiet", "init=/bin/sh"} {
		if _, err := PlanCmdline(CmdlineOptions{GrubFile: "testdata/grub/debian.grub", Add: []string{a}}); !errors.Is(err, ErrBadOption) {
			t.Errorf("%q: %v", a, err)
		}
	}
	for _, s := range []string{"GRUB_CMDLINE_LINUX=\"unterminated\n", "GRUB_CMDLINE_LINUX=\"$(reboot)\"\n", "GRUB_CMDLINE_LINUX=a\nGRUB_CMDLINE_LINUX=b\n", "GRUB_CMDLINE_LINUX=a b\n"} {
		if _, err := ParseGrub([]byte(s)); !errors.Is(err, ErrGrubSyntax) {
			t.Errorf("%q: %v", s, err)
		}
	}
}

// TestCmdlineApplyVerifyRollback: apply writes the file (mode kept), reports pending reboot,
// and the rollback restores it byte for byte; the dry run writes nothing.
func TestCmdlineApplyVerifyRollback(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "grub")
	orig, _ := os.ReadFile("testdata/grub/conflict.grub")
	os.WriteFile(p, orig, 0o644)
	c, err := PlanCmdline(CmdlineOptions{GrubFile: p, Add: []string{"intel_iommu=on", "iommu=pt"}, Running: "BOOT_IMAGE=/vmlinuz intel_iommu=off"})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	r := &Runner{StateDir: filepath.Join(dir, "state"), Out: &out}
	r.Run(context.Background(), c, false)
	if b, _ := os.ReadFile(p); !bytes.Equal(b, orig) {
		t.Fatal("the dry run changed the file")
	}
	rec, err := r.Run(context.Background(), c, true)
	if err != nil || rec.State != StatePendingReboot {
		t.Fatalf("%v %+v\n%s", err, rec, out.String())
	}
	b, _ := os.ReadFile(p)
	if !strings.Contains(string(b), `GRUB_CMDLINE_LINUX="console=ttyS0,115200 intel_iommu=on hugepagesz=1G hugepages=4 hugepagesz=2M hugepages=512 iommu=pt"`) ||
		!strings.Contains(string(b), `GRUB_CMDLINE_LINUX_DEFAULT="quiet splash"`) {
		t.Errorf("new file:\n%s", b)
	}
	if st, _ := os.Stat(p); st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v", st.Mode())
	}
	if err := r.Rollback(context.Background(), rec.ID, true); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); !bytes.Equal(b, orig) {
		t.Errorf("after the rollback:\n%s", b)
	}
	// Already on the running kernel: verified ok, no reboot pending.
	c, _ = PlanCmdline(CmdlineOptions{GrubFile: p, Add: []string{"iommu=pt"}, Running: "ro iommu=pt quiet"})
	if rec, err := r.Run(context.Background(), c, true); err != nil || rec.State != StateApplied {
		t.Errorf("%v %+v", err, rec)
	}
}

// TestCmdlineInterrupted: a run that died after writing its record blocks the next one until
// it is rolled back, and the rollback restores the file.
func TestCmdlineInterrupted(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "grub")
	orig, _ := os.ReadFile("testdata/grub/debian.grub")
	os.WriteFile(p, orig, 0o644)
	c, _ := PlanCmdline(CmdlineOptions{GrubFile: p, Add: []string{"intel_iommu=on"}})
	r := &Runner{StateDir: filepath.Join(dir, "state"), Out: &bytes.Buffer{}}
	snap, _ := c.Snapshot()
	rec := &Record{ID: "cmdline-20261126T120000Z", Kind: "cmdline", State: StateApplying, Snapshot: snap}
	r.write(rec)
	os.WriteFile(p, c.New(), 0o644) // the change was made, the process died before verifying
	if _, err := r.Run(context.Background(), c, true); !errors.Is(err, ErrInterrupted) {
		t.Fatalf("%v", err)
	}
	if err := r.Rollback(context.Background(), rec.ID, true); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); !bytes.Equal(b, orig) {
		t.Errorf("after the rollback:\n%s", b)
	}
}

// FuzzParseGrub: no input panics the parser; what parses, edited, parses again with the option.
func FuzzParseGrub(f *testing.F) {
	ins, _ := filepath.Glob("testdata/grub/*.grub")
	for _, in := range ins {
		b, _ := os.ReadFile(in)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		g, err := ParseGrub(b)
		if err != nil {
			return
		}
		g.Set("GRUB_CMDLINE_LINUX", EditCmdline(g.Value("GRUB_CMDLINE_LINUX"), []string{"intel_iommu=on"}, nil))
		g2, err := ParseGrub(g.Bytes())
		if err != nil {
			t.Fatalf("the edited file does not parse: %v\n%q", err, g.Bytes())
		}
		if !strings.Contains(" "+g2.Value("GRUB_CMDLINE_LINUX")+" ", " intel_iommu=on ") {
			t.Fatalf("the option is lost: %q", g.Bytes())
		}
	})
}
