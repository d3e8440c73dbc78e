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

// TestReadAt: a directory's file read from an offset gives the same bytes on a tree on disk,
// in memory (fs.FS), through a link in a tree, and on the live host, shorter at the end of the
// file; a negative offset is refused.
func TestReadAt(t *testing.T) {
	const data = "0123456789"
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "sys/devices/d"), 0o755)
	os.WriteFile(filepath.Join(dir, "sys/devices/d/config"), []byte(data), 0o644)
	os.WriteFile(filepath.Join(dir, "sys/devices/real"), []byte(data), 0o644)
	os.Symlink("../real", filepath.Join(dir, "sys/devices/d/linked"))
	disk, err := Dir(dir)
	if err != nil {
		t.Fatal(err)
	}
	mem := FS(fstest.MapFS{"sys/devices/d/config": {Data: []byte(data)}}, "mem")
	live := Live()
	liveDir := filepath.Join(dir, "sys/devices/d")[1:] // relative to /
	for _, c := range []struct {
		r         Root
		dir, name string
	}{{disk, "sys/devices/d", "config"}, {disk, "sys/devices/d", "linked"}, {mem, "sys/devices/d", "config"}, {live, liveDir, "config"}} {
		d, err := c.r.OpenDir(c.dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range []struct{ off, n int }{{0, 4}, {2, 4}, {8, 4}, {10, 4}, {20, 4}} {
			b := make([]byte, x.n)
			m, err := d.ReadAt(c.name, b, x.off)
			want := data[min(x.off, len(data)):min(x.off+x.n, len(data))]
			if err != nil || string(b[:m]) != want {
				t.Errorf("%s %s: ReadAt(%d bytes at %d) = %q, %v; want %q", c.r, c.name, x.n, x.off, b[:m], err, want)
			}
		}
		if _, err := d.ReadAt(c.name, make([]byte, 4), -1); err == nil {
			t.Errorf("%s: a negative offset must fail", c.r)
		}
		d.Close()
	}
}
