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
