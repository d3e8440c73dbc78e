package demo

import (
	"bytes"
	"io/fs"
	"testing"
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
