package pci_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/dpdk-doctor/dpdk-doctor/host"
	"github.com/dpdk-doctor/dpdk-doctor/internal/testhost"
	"github.com/dpdk-doctor/dpdk-doctor/pci"
)

// BenchmarkRead reads every function of a generated 4,096-function host on tmpfs.
func BenchmarkRead(b *testing.B) {
	base := b.TempDir()
	if d, err := os.MkdirTemp("/dev/shm", "dpdk-doctor-bench"); err == nil {
		base = d
		b.Cleanup(func() { os.RemoveAll(d) })
	}
	dir := filepath.Join(base, "host")
	if err := testhost.Big(4096).Write(dir); err != nil {
		b.Fatal(err)
	}
	r, err := host.Dir(dir)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := pci.Read(r); err != nil {
			b.Fatal(err)
		}
	}
}

// TestReadLargeTree reads a 1,024-function tree (spread over the CPUs) and checks that every
// device found its place: its parent bridge and slot. A race in reading the links once made
// some devices lose theirs; run under -race, as scripts/test.sh does.
func TestReadLargeTree(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "host")
	if err := testhost.Big(1024).Write(dir); err != nil {
		t.Fatal(err)
	}
	r, err := host.Dir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		ds, err := pci.Read(r)
		if err != nil {
			t.Fatal(err)
		}
		if len(ds.List) != 1024 {
			t.Fatalf("%d devices", len(ds.List))
		}
		for _, d := range ds.List {
			if d.Address.Bus == 0 {
				continue
			}
			if d.Parent == nil || d.Parent.Config.SecondaryBus != d.Address.Bus || (d.Address.Device == 0) != (d.Slot != "") {
				t.Fatalf("%s: parent %v, slot %q", d.Address, d.Parent, d.Slot)
			}
		}
	}
}
