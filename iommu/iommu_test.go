package iommu

import "testing"

func TestParseRegions(t *testing.T) {
	r, err := ParseRegions([]byte("0x000000007df7f000 0x000000007df82fff direct\n0x00000000fee00000 0x00000000feefffff msi\n"))
	if err != nil || len(r) != 2 || r[0].Type != "direct" || r[0].Start != 0x7df7f000 || r[1].End != 0xfeefffff {
		t.Fatalf("got %+v, %v", r, err)
	}
	for _, bad := range []string{"0x1 0x0 direct", "zz 0x1 msi", "0x1 0x2"} {
		if _, err := ParseRegions([]byte(bad)); err == nil {
			t.Errorf("%q: want an error", bad)
		}
	}
}

func FuzzParseRegions(f *testing.F) {
	f.Add([]byte("0x000000007df7f000 0x000000007df82fff direct-relaxable\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		regs, err := ParseRegions(b)
		if err != nil {
			return
		}
		for _, r := range regs {
			if r.End < r.Start {
				t.Fatalf("end before start: %+v", r)
			}
		}
	})
}
