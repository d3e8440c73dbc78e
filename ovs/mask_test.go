package ovs

import (
	"slices"
	"strings"
	"testing"
)

func TestParseCPUMask(t *testing.T) {
	cases := []struct {
		mask string
		want []int
	}{
		{"0x2", []int{1}},
		{"6", []int{1, 2}},
		{"0XF0", []int{4, 5, 6, 7}},
		{"0x10000000000000000", []int{64}},                     // 65 bits
		{"0x8" + strings.Repeat("0", 62) + "1", []int{0, 255}}, // 256 CPUs
		{"0x" + strings.Repeat("f", 64), nil},                  // all of 256 (checked below)
		{"00000000000000000000000000000000000000000000000000000000000000000001", []int{0}},
	}
	for _, c := range cases {
		got, err := ParseCPUMask(c.mask)
		if err != nil {
			t.Errorf("%s: %v", c.mask, err)
			continue
		}
		if c.want == nil {
			if len(got) != 256 || got[255] != 255 {
				t.Errorf("%s: %d CPUs", c.mask, len(got))
			}
			continue
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.mask, got, c.want)
		}
	}
	for _, bad := range []string{"", "0x", "0", "0x0", "0x000", "0xg", "12 34", "-1", "0x" + strings.Repeat("1", MaxCPUMaskDigits+1)} {
		if _, err := ParseCPUMask(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestPMDMaskWide: a 256-CPU mask on a host of 256 CPUs is fine; one naming CPU 300 is not.
func TestPMDMaskWide(t *testing.T) {
	fd := pmdMask(nil, "0x8"+strings.Repeat("0", 62)+"1", "test")
	if fd.Severity != "ok" || !strings.Contains(fd.Summary, "2 PMD core(s)") {
		t.Errorf("256-bit mask: %s %s", fd.Severity, fd.Summary)
	}
	fd = pmdMask(nil, "0xzz", "test")
	if fd.Severity != "fail" {
		t.Errorf("invalid mask: %s %s", fd.Severity, fd.Summary)
	}
}

func FuzzParseCPUMask(f *testing.F) {
	for _, s := range []string{"0x2", "ff", "0x" + strings.Repeat("f", 64), "0xg", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		cpus, err := ParseCPUMask(s)
		if err != nil {
			return
		}
		if len(cpus) == 0 {
			t.Fatal("no CPUs and no error")
		}
		for i := 1; i < len(cpus); i++ {
			if cpus[i] <= cpus[i-1] {
				t.Fatalf("not ascending: %v", cpus)
			}
		}
		if cpus[len(cpus)-1] >= 4*MaxCPUMaskDigits {
			t.Fatalf("CPU %d beyond the limit", cpus[len(cpus)-1])
		}
	})
}
