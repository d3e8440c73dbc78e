package ivrs_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dpdk-doctor/dpdk-doctor/host"
	"github.com/dpdk-doctor/dpdk-doctor/internal/testhost"
	"github.com/dpdk-doctor/dpdk-doctor/ivrs"
	"github.com/dpdk-doctor/dpdk-doctor/pci"
)

// hostDevices writes a host tree with the given PCI functions and reads them back as the pci
// package does on a real host.
func hostDevices(t testing.TB, devs []testhost.Device) *pci.Devices {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "host")
	h := &testhost.Host{Name: "ivrs test", CPUVendor: "AuthenticAMD", CPUs: 2, Nodes: 1, KernelRelease: "6.12.0-1-amd64", Devices: devs}
	if err := h.Write(dir); err != nil {
		t.Fatal(err)
	}
	r, err := host.Dir(dir)
	if err != nil {
		t.Fatal(err)
	}
	ds, err := pci.Read(r)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

// resolveHost is an AMD host: a NIC behind a root port (01:00.0), a dual-port NIC (02:00.0/.1),
// a NIC behind a PCIe-to-PCI bridge whose requests carry the bridge's ID (03:00.0 -> 00:03.1), a
// device aliased to an ID no device has (04:00.0 -> 00:1e.0) and a device the IOMMU that the
// kernel reads does not list (05:00.0).
func resolveHost(t testing.TB) *pci.Devices {
	nic := func(addr, parent string, group int) testhost.Device {
		return testhost.Device{Addr: addr, Parent: parent, Vendor: 0x8086, Device: 0x1572, Class: 0x020000, Group: group, NUMA: -1}
	}
	bridge := func(addr string, sec uint8, group int) testhost.Device {
		return testhost.Device{Addr: addr, Vendor: 0x1022, Device: 0x1483, Class: 0x060400, Bridge: true, Secondary: sec, Subordinate: sec, Group: group, NUMA: -1}
	}
	return hostDevices(t, []testhost.Device{
		{Addr: "0000:00:00.0", Vendor: 0x1022, Device: 0x1480, Class: 0x060000, Group: 0, NUMA: -1},
		bridge("0000:00:01.1", 1, 1), nic("0000:01:00.0", "0000:00:01.1", 2),
		bridge("0000:00:02.1", 2, 3), nic("0000:02:00.0", "0000:00:02.1", 4), nic("0000:02:00.1", "0000:00:02.1", 5),
		bridge("0000:00:03.1", 3, 6), nic("0000:03:00.0", "0000:00:03.1", 6),
		bridge("0000:00:04.1", 4, 7), nic("0000:04:00.0", "0000:00:04.1", 7),
		bridge("0000:00:05.1", 5, 8), nic("0000:05:00.0", "0000:00:05.1", 9),
	})
}

// resolveTable describes resolveHost's IOMMU twice, as firmware does: an IVHD 10h that lists
// every bus, and an IVHD 11h (which the kernel prefers) that leaves bus 5 out.
func resolveTable() *ivrs.Table {
	entries := []ivrs.Entry{
		{Type: ivrs.EntryRangeStart, DeviceID: ivrs.ID(0, 0, 0)},
		{Type: ivrs.EntryRangeEnd, DeviceID: ivrs.ID(2, 0x1f, 7)},
		{Type: ivrs.EntryAliasSelect, DeviceID: ivrs.ID(3, 0, 0), SourceID: ivrs.ID(0, 3, 1)},
		{Type: ivrs.EntryAliasRangeStart, DeviceID: ivrs.ID(4, 0, 0), SourceID: ivrs.ID(0, 0x1e, 0)},
		{Type: ivrs.EntryRangeEnd, DeviceID: ivrs.ID(4, 0x1f, 7)},
		{Type: ivrs.EntrySpecial, Handle: 0x21, SourceID: ivrs.ID(0, 0x14, 0), Variety: ivrs.VarietyIOAPIC},
	}
	t := ivrs.LabTable(2,
		ivrs.IVMD(ivrs.TypeIVMDDevice, ivrs.ID(1, 0, 0), 0, 0x7f000000, 0x10000, false),
		ivrs.IVMD(ivrs.TypeIVMDRange, ivrs.ID(2, 0, 0), ivrs.ID(2, 0, 0), 0x7f100800, 0x100, true),
		ivrs.IVMD(ivrs.TypeIVMDDevice, ivrs.ID(0, 3, 1), 0, 0x7f200000, 0x1000, false),
		ivrs.IVMD(ivrs.TypeIVMDDevice, ivrs.ID(0, 0x1e, 0), 0, 0x7f300000, 0x1000, false),
		ivrs.Block{Type: ivrs.TypeIVMDAll, Flags: ivrs.FlagRead, Start: 0x7f400000, Length: 0x1000}, // neither unity nor exclusion
	)
	t.Blocks[0].Entries = append([]ivrs.Entry{{Type: ivrs.EntrySelect, DeviceID: ivrs.ID(5, 0, 0)}}, entries...)
	ivhd11 := ivrs.Block{Type: ivrs.TypeIVHD11, DeviceID: t.Blocks[0].DeviceID, CapOffset: 0x40, Base: 0xfed80000, Entries: entries}
	t.Blocks = append([]ivrs.Block{t.Blocks[0], ivhd11}, t.Blocks[1:]...)
	return t
}

// summary shows a verdict as "kind[:alias]/refused-on-6.12/refused-on-6.1 ..." per coverage.
func summary(v ivrs.Verdict) string {
	if v.IOMMU == nil {
		return "untranslated"
	}
	var s []string
	for _, c := range v.Covers {
		k := string(c.Kind)
		if c.Kind == ivrs.ByAlias {
			k += ":" + ivrs.FormatID(c.Alias)
		}
		s = append(s, fmt.Sprintf("%s/%v/%v", k, c.Refused("6.12.0-1-amd64"), c.Refused("6.1.0-18-amd64")))
	}
	return strings.Join(s, " ")
}

func TestJudge(t *testing.T) {
	ds := resolveHost(t)
	tab := resolveTable()
	// Through the encoder and decoder, so the resolver judges what a kernel would read.
	b, err := tab.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if tab, err = ivrs.Parse(b); err != nil {
		t.Fatal(err)
	}
	if eff := tab.EffectiveIVHDType(); eff != ivrs.TypeIVHD11 {
		t.Fatalf("effective IVHD type %#x, want 11h", eff)
	}
	v := ivrs.Judge(tab, ds)
	want := map[string]string{
		"0000:00:00.0": "all/false/false",
		"0000:01:00.0": "device/true/false all/false/false",
		"0000:02:00.0": "range/true/false all/false/false",
		"0000:02:00.1": "all/false/false",
		"0000:00:03.1": "device/true/false all/false/false",
		"0000:03:00.0": "alias:00:03.1/true/false all/false/false",
		"0000:04:00.0": "alias:00:1e.0/false/false all/false/false",
		"0000:05:00.0": "untranslated",
	}
	for addr, w := range want {
		a, _ := pci.ParseAddress(addr)
		if got := summary(v[a]); got != w {
			t.Errorf("%s: %s, want %s", addr, got, w)
		}
	}
	a, _ := pci.ParseAddress("0000:02:00.0")
	c := v[a].Covers[0]
	if !c.Exclusion || c.RegionStart != 0x7f101000 || c.RegionEnd != 0x7f101fff || c.IVMD.Start != 0x7f100800 {
		t.Errorf("exclusion range region: %+v", c)
	}
	if !v[a].Refused("6.6.0") || v[a].Refused("6.5.13-arch1") || !v[a].Refused("weird") {
		t.Error("Verdict.Refused does not follow the 6.6 boundary")
	}
	// The alias device's group decides: in another group, it does not take 03:00.0 with it.
	a, _ = pci.ParseAddress("0000:03:00.0")
	c = v[a].Covers[0]
	c.SameGroup = false
	if c.AliasDevice == nil || c.AliasDevice.Address.String() != "0000:00:03.1" || c.Refused("6.12") {
		t.Errorf("alias coverage: %+v", c)
	}
	if len(ivrs.Judge(nil, ds)) != 0 {
		t.Error("a nil table must judge nothing")
	}
}

func TestAtLeast(t *testing.T) {
	for r, want := range map[string]bool{"6.6.0": true, "6.12.0-1-amd64": true, "6.5.13": false, "5.15.108-1-pve": false,
		"7.0": true, "4.4.0-131-generic": false, "6.6": true, "6": true, "": true, "x.y": true, "6.1rc": false} {
		if got := ivrs.AtLeast(r, 6, 6); got != want {
			t.Errorf("AtLeast(%q, 6, 6) = %v, want %v", r, got, want)
		}
	}
}

// TestJudgeRealTable judges the MECHREVO WUJIE14XA's table, whose five IVMD 22h exclusion
// ranges cover device IDs 00:00.0-0f:1f.7, against devices like that laptop's: every device on
// buses 0-15 is refused from 6.6 on; bus 16 is not covered.
func TestJudgeRealTable(t *testing.T) {
	raw, err := os.ReadFile("../testdata/fixtures/ivrs/mechrevo-wujie14xa.ivrs.bin")
	if err != nil {
		t.Fatal(err)
	}
	tab, err := ivrs.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	ds := hostDevices(t, []testhost.Device{
		{Addr: "0000:00:00.0", Vendor: 0x1022, Device: 0x14e8, Class: 0x060000, Group: 0, NUMA: -1},
		{Addr: "0000:00:02.4", Vendor: 0x1022, Device: 0x14ee, Class: 0x060400, Bridge: true, Secondary: 2, Subordinate: 2, Group: 1, NUMA: -1},
		{Addr: "0000:02:00.0", Parent: "0000:00:02.4", Vendor: 0x10ec, Device: 0x8168, Class: 0x020000, Group: 2, NUMA: -1},
		{Addr: "0000:10:00.0", Vendor: 0x10ec, Device: 0x8168, Class: 0x020000, Group: 3, NUMA: -1},
	})
	v := ivrs.Judge(tab, ds)
	a, _ := pci.ParseAddress("0000:02:00.0")
	if got := v[a]; got.IOMMU == nil || len(got.Covers) != 5 || got.Covers[0].Kind != ivrs.ByRange || !got.Covers[0].Exclusion ||
		got.Covers[0].RegionStart != 0x9618e000 || got.Covers[0].RegionEnd != 0x9618efff || !got.Refused("6.8.0-45-generic") || got.Refused("6.1.0-18-amd64") {
		t.Errorf("02:00.0: %+v", got)
	}
	a, _ = pci.ParseAddress("0000:10:00.0")
	if got := v[a]; got.IOMMU == nil || len(got.Covers) != 0 {
		t.Errorf("10:00.0: %+v", got)
	}
}

func TestRead(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "proc"), 0o755)
	r, err := host.Dir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if tab, err := ivrs.Read(r); tab != nil || err != nil {
		t.Errorf("no table: %v, %v", tab, err)
	}
	p := filepath.Join(dir, filepath.FromSlash(ivrs.TablePath))
	os.MkdirAll(filepath.Dir(p), 0o755)
	os.WriteFile(p, []byte("IVRS short"), 0o644)
	if _, err := ivrs.Read(r); err == nil || !strings.Contains(err.Error(), "/sys/firmware/acpi/tables/IVRS: IVRS: table is 10 bytes") {
		t.Errorf("bad table: %v", err)
	}
	raw, _ := os.ReadFile("../testdata/fixtures/ivrs/asus-zenbook-s16-um5606wa.ivrs.bin")
	os.WriteFile(p, raw, 0o644)
	if tab, err := ivrs.Read(r); err != nil || len(tab.IVMDs()) != 2 {
		t.Errorf("real table: %v", err)
	}
}
