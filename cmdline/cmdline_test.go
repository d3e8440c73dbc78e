package cmdline

import "testing"

func TestParse(t *testing.T) {
	c := Parse(`BOOT_IMAGE=/vmlinuz root="/dev/a b" intel_iommu=on,relax_rmrr iommu=pt quiet hugepagesz=1G hugepages=4 hugepagesz=2M hugepages=512 -- init=x`)
	if v, _ := c.Get("root"); v != "/dev/a b" {
		t.Errorf("root = %q", v)
	}
	if !c.HasOption("intel_iommu", "relax_rmrr") || !c.HasOption("intel_iommu", "on") || c.HasOption("intel_iommu", "off") {
		t.Error("intel_iommu options wrong")
	}
	if _, ok := c.Get("quiet"); !ok {
		t.Error("bare quiet missing")
	}
	if got := c.All("hugepages"); len(got) != 2 || got[1] != "512" {
		t.Errorf("hugepages = %v", got)
	}
	if _, ok := c.Get("init"); ok {
		t.Error("parameters after -- belong to init")
	}
}

func FuzzParse(f *testing.F) {
	f.Add(`a=b "c d"=e -- f`)
	f.Add(`intel_iommu=on,relax_rmrr "`)
	f.Fuzz(func(t *testing.T, s string) {
		c := Parse(s)
		for _, p := range c.Params {
			if p.Key == "" && !p.HasValue {
				t.Fatalf("empty parameter from %q", s)
			}
		}
	})
}
