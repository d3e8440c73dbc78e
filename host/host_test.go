package host

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"
)

func TestDirErrors(t *testing.T) {
	if _, err := Dir("/nonexistent/x"); err == nil {
		t.Error("missing dir must fail")
	}
	empty := t.TempDir()
	if _, err := Dir(empty); err == nil {
		t.Error("a dir without sys/ or proc/ must fail")
	}
}

// TestRawAndFSAgree reads the same tree through the system-call path (on disk) and through
// fs.FS (in memory) and requires the same answers.
func TestRawAndFSAgree(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "sys/devices/d"), 0o755)
	os.WriteFile(filepath.Join(dir, "sys/devices/d/numa_node"), []byte("1\n"), 0o644)
	os.Symlink("../../bus/drv/vfio-pci", filepath.Join(dir, "sys/devices/d/driver"))
	disk, err := Dir(dir)
	if err != nil {
		t.Fatal(err)
	}
	mem := FS(fstest.MapFS{
		"sys/devices/d/numa_node": {Data: []byte("1\n")},
		"sys/devices/d/driver":    {Data: []byte("../../bus/drv/vfio-pci"), Mode: fs.ModeSymlink},
	}, "mem")
	for _, r := range []Root{disk, mem} {
		b, err := r.ReadHead("sys/devices/d/numa_node", 16)
		if err != nil || string(b) != "1\n" {
			t.Errorf("%s: ReadHead = %q, %v", r, b, err)
		}
		d, err := r.OpenDir("sys/devices/d")
		if err != nil {
			t.Fatal(err)
		}
		if drv, err := d.LinkBase("driver"); err != nil || drv != "vfio-pci" {
			t.Errorf("%s: LinkBase = %q, %v", r, drv, err)
		}
		if none, err := d.LinkBase("iommu_group"); err != nil || none != "" {
			t.Errorf("%s: a missing link should be \"\", nil: %q %v", r, none, err)
		}
		d.Close()
		if _, err := r.ReadHead("../../etc/passwd", 16); err == nil {
			t.Errorf("%s: a path leaving the root must fail", r)
		}
	}
}

func TestKernelLogFromTree(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "var/log"), 0o755)
	os.MkdirAll(filepath.Join(dir, "proc"), 0o755)
	os.WriteFile(filepath.Join(dir, "var/log/kern.log"), []byte("x\n"), 0o644)
	r, _ := Dir(dir)
	b, src, err := r.KernelLog()
	if err != nil || string(b) != "x\n" || src != "/var/log/kern.log" {
		t.Errorf("got %q from %q, %v", b, src, err)
	}
}

// TestZeroRootReadsNothing: a zero Root is not the live host.
func TestZeroRootReadsNothing(t *testing.T) {
	var r Root
	if _, err := r.ReadFile("proc/cmdline"); err == nil {
		t.Error("a zero Root read the live host")
	}
	if r.Exists("proc") {
		t.Error("a zero Root sees the live host")
	}
}
