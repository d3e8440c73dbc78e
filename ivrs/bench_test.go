package ivrs_test

import (
	"os"
	"testing"

	"github.com/dpdk-doctor/dpdk-doctor/ivrs"
)

// BenchmarkDecodeAndJudge decodes the largest real table (MECHREVO WUJIE14XA, 568 bytes: IVHD
// 10h, 11h and 40h with 25 device entries, 5 IVMD 22h) and judges a host of 12 PCI functions
// against it.
func BenchmarkDecodeAndJudge(b *testing.B) {
	raw, err := os.ReadFile("../testdata/fixtures/ivrs/mechrevo-wujie14xa.ivrs.bin")
	if err != nil {
		b.Fatal(err)
	}
	ds := resolveHost(b)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		t, err := ivrs.Parse(raw)
		if err != nil {
			b.Fatal(err)
		}
		ivrs.Judge(t, ds)
	}
}

// BenchmarkParse decodes the largest real table alone.
func BenchmarkParse(b *testing.B) {
	raw, err := os.ReadFile("../testdata/fixtures/ivrs/mechrevo-wujie14xa.ivrs.bin")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ivrs.Parse(raw); err != nil {
			b.Fatal(err)
		}
	}
}
