package demo

import (
	"archive/tar"
	"bytes"
	"errors"
	"io/fs"
	"syscall"
	"testing"

	"github.com/dpdk-doctor/dpdk-doctor/host"
)

func TestEmbeddedDemo(t *testing.T) {
	r, err := Root()
	if err != nil {
		t.Fatal(err)
	}
	// Links survive: sysfs is made of them.
	if drv, err := r.LinkBase("sys/bus/pci/devices/0000:03:00.0/driver"); err != nil || drv != "vfio-pci" {
		t.Errorf("driver link: %q %v", drv, err)
	}
	if v, _ := r.ReadString("sys/class/dmi/id/product_name"); v != "ProLiant DL360e Gen8" {
		t.Errorf("product %q", v)
	}
}

func TestPackLoadRoundTrip(t *testing.T) {
	fsys, err := Load(tree)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := Pack(fsys, &b); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b.Bytes(), tree) {
		t.Error("Load then Pack does not give the embedded tar back")
	}
}

func FuzzLoad(f *testing.F) {
	f.Add(tree[:4096])
	f.Fuzz(func(t *testing.T, b []byte) {
		fsys, err := Load(b)
		if err != nil {
			return
		}
		fs.WalkDir(fsys, ".", func(string, fs.DirEntry, error) error { return nil })
	})
}

// TestLoadHostileTar: a tar whose links are absolute, climb past the root or loop is read by
// the tree's rules: inside the tree, ELOOP for a loop (fstest.MapFS alone recursed until the
// stack overflowed).
func TestLoadHostileTar(t *testing.T) {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	add := func(h *tar.Header, data string) {
		h.Size = int64(len(data))
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(data))
	}
	add(&tar.Header{Name: "proc/", Typeflag: tar.TypeDir, Mode: 0o755}, "")
	add(&tar.Header{Name: "etc/passwd", Typeflag: tar.TypeReg, Mode: 0o644}, "the tree's own\n")
	add(&tar.Header{Name: "proc/abs", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"}, "")
	add(&tar.Header{Name: "proc/climb", Typeflag: tar.TypeSymlink, Linkname: "../../../../../../etc/passwd"}, "")
	add(&tar.Header{Name: "proc/loop1", Typeflag: tar.TypeSymlink, Linkname: "loop2"}, "")
	add(&tar.Header{Name: "proc/loop2", Typeflag: tar.TypeSymlink, Linkname: "loop1"}, "")
	add(&tar.Header{Name: "proc/fifo", Typeflag: tar.TypeFifo, Mode: 0o644}, "")
	tw.Close()
	fsys, err := Load(b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	r := host.FS(fsys, "hostile")
	for _, p := range []string{"proc/abs", "proc/climb"} {
		if s, err := r.ReadString(p); err != nil || s != "the tree's own" {
			t.Errorf("%s = %q, %v", p, s, err)
		}
	}
	if _, err := r.ReadFile("proc/loop1"); !errors.Is(err, syscall.ELOOP) {
		t.Errorf("a loop: %v, want ELOOP", err)
	}
	if r.Exists("proc/fifo") {
		t.Error("a FIFO in a tar is not part of the tree")
	}
}
