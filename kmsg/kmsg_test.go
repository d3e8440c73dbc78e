package kmsg

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestParseForms(t *testing.T) {
	in := "[  708.044615] vfio-pci 0000:03:00.0: Device is ineligible for IOMMU domain attach due to platform RMRR requirement.  Contact your platform vendor.\n" +
		"Jan 23 17:54:48 dcache01 kernel: vfio-pci 0000:07:00.0: DMAR: Device is ineligible for IOMMU domain attach due to platform RMRR requirement.  Contact your platform vendor.\n" +
		"6,1234,50195,-;DMAR: Intel-IOMMU: assuming all RMRRs are relaxable. This can lead to instability or data loss\n" +
		" SUBSYSTEM=pci\n" +
		"DMAR: RMRR base: 0x000000771e3000 end: 0x00000077202fff\n" +
		"[    0.1] vfio-pci 0000:04:00.1: Firmware has requested this device have a 1:1 IOMMU mapping, rejecting configuring the device without a 1:1 mapping. Contact your platform vendor.\n" +
		"2022-11-25T01:10:52.810Z|00093|dpdk|ERR|EAL: 0000:01:00.1 VFIO group is not viable! Not all devices in IOMMU group bound to VFIO or unbound\n"
	lines := Parse([]byte(in))
	if len(lines) != 6 {
		t.Fatalf("got %d lines, want 6 (dictionary line dropped): %+v", len(lines), lines)
	}
	if lines[0].Time != 708.044615 || lines[2].Time != 0.050195 || lines[3].Time != -1 {
		t.Errorf("times: %v %v %v", lines[0].Time, lines[2].Time, lines[3].Time)
	}
	evs := Events(lines)
	want := []struct {
		k   Kind
		dev string
	}{
		{RMRRIneligible, "0000:03:00.0"},
		{RMRRIneligible, "0000:07:00.0"},
		{RMRRRelaxed, ""},
		{RMRRBase, ""},
		{RMRRIdentity, "0000:04:00.1"},
		{GroupNotViable, "0000:01:00.1"},
	}
	if len(evs) != len(want) {
		t.Fatalf("got %d events, want %d: %+v", len(evs), len(want), evs)
	}
	for i, w := range want {
		if evs[i].Kind != w.k || evs[i].Device != w.dev {
			t.Errorf("event %d = %s %q, want %s %q", i, evs[i].Kind, evs[i].Device, w.k, w.dev)
		}
	}
	if evs[3].Base != 0x771e3000 || evs[3].End != 0x77202fff {
		t.Errorf("RMRR base/end = %#x %#x", evs[3].Base, evs[3].End)
	}
}

// TestRealLogs reads the real-world kernel log excerpts in testdata/fixtures/dmesg (see its
// SOURCES.md) and counts what they are known to hold.
func TestRealLogs(t *testing.T) {
	dir := filepath.Join("..", "testdata", "fixtures", "dmesg")
	counts := map[string]map[Kind]int{
		"hp-proliant-dl360e-gen8.ineligible.dmesg.txt":        {RMRRIneligible: 1},
		"hpe-dcache01.journal-ineligible.txt":                 {RMRRIneligible: 1},
		"relax-intel-rmrr-readme.ineligible.txt":              {RMRRIneligible: 1},
		"relax-intel-rmrr-readme.relaxable-patched.dmesg.txt": {RMRRRelaxed: 1},
		"hp-proliant-dl388p-gen8.console-dmar.excerpt.log":    {RMRRBase: 9},
		"desktop-no-timestamps.dmesg.excerpt.txt":             {RMRRBase: 2},
		"desktop-4x-format-rmrr-base.dmesg.excerpt.txt":       {RMRRBase: 2},
	}
	for name, want := range counts {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		got := map[Kind]int{}
		for _, e := range Events(Parse(b)) {
			got[e.Kind]++
		}
		for k, n := range want {
			if got[k] != n {
				t.Errorf("%s: %d %s events, want %d (all: %v)", name, got[k], k, n, got)
			}
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("[  708.044615] vfio-pci 0000:03:00.0: Device is ineligible for IOMMU domain attach due to platform RMRR requirement."))
	f.Add([]byte("6,1,2,-;DMAR: RMRR base: 0x1 end: 0xffffffffffffffffff\n x=y\n"))
	f.Add([]byte("Jan  1 00:00:00 h kernel: [ 1.0] EAL: 0000:01:00.1 VFIO group is not viable"))
	f.Add([]byte("2024-01-23T17:54:48.123456+01:00 h kernel: [ 9.5]\tx\n2024-01-23T17:54:48+0100 h kernel: y\n2024-01-23T1Z h\vx kernel: z\r\n12,3,99999999999999999999,c;t\n1,2,3;x\n[ 1.]\n[\t1.5]"))
	f.Add([]byte("Jan  1 00:00:00 h kernel: \nFeb 31 99:99:99 \xff kernel: [ 0.0]\n  SUBSYSTEM=pci\n x=y:z\n"))
	f.Add([]byte("[\f1.5]\fx\nJan  1 00:00:00 h\fx kernel: y\n2024-01-23T17:54:48+01:3 h kernel: z\n2024-01-23T17:54:48-01:30 h kernel: w\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		lines := Parse(b)
		if old := parseRegexpOnly(b); !reflect.DeepEqual(lines, old) {
			t.Fatalf("Parse differs from the regexp parser:\nnew %+v\nold %+v", lines, old)
		}
		for _, l := range lines {
			if l.N < 1 {
				t.Fatalf("line number %d", l.N)
			}
		}
		for _, e := range Events(lines) {
			if e.Device != "" && len(e.Device) != len("0000:00:00.0") {
				t.Fatalf("bad device %q", e.Device)
			}
		}
	})
}
