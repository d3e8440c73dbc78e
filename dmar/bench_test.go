package dmar_test

import (
	"os"
	"testing"

	"github.com/dpdk-doctor/dpdk-doctor/dmar"
	"github.com/dpdk-doctor/dpdk-doctor/host"
	"github.com/dpdk-doctor/dpdk-doctor/pci"
)

// BenchmarkDecodeAndJudge decodes the largest real table (HP ProLiant DL380e Gen8, 1,286 bytes,
// 9 RMRRs) and judges every device of the seed's host against it.
func BenchmarkDecodeAndJudge(b *testing.B) {
	raw, err := os.ReadFile("../testdata/fixtures/dmar/hp-proliant-dl380e-gen8.dmar.bin")
	if err != nil {
		b.Fatal(err)
	}
	r, err := host.Dir("../testdata/hosts/dl360e-gen8")
	if err != nil {
		b.Fatal(err)
	}
	ds, err := pci.Read(r)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		t, err := dmar.Parse(raw)
		if err != nil {
			b.Fatal(err)
		}
		dmar.Judge(t, ds, false)
	}
}
