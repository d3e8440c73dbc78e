package ivrs

import (
	"bytes"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
)

// fixture reads a real table from testdata/fixtures/ivrs (see SOURCES.md).
func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("../testdata/fixtures/ivrs/" + name + ".ivrs.bin")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var fixtures = []string{
	"lenovo-ideapad-slim3-15abr8", "lenovo-thinkpad-t14-gen3", "asus-zenbook-s16-um5606wa",
	"mechrevo-wujie14xa", "asus-rog-zenith-ii-extreme-alpha", "gigabyte-990fxa-ud3",
}

func TestRealTables(t *testing.T) {
	// Block types in table order, from testdata/fixtures/SOURCES.md.
	want := map[string]string{
		"lenovo-ideapad-slim3-15abr8":      "10 11 21 40 51",
		"lenovo-thinkpad-t14-gen3":         "10 11 21 40 51",
		"asus-zenbook-s16-um5606wa":        "10 11 21 21 40",
		"mechrevo-wujie14xa":               "10 11 22 22 22 22 22 40",
		"asus-rog-zenith-ii-extreme-alpha": "10 11 10 11 10 11 10 11",
		"gigabyte-990fxa-ud3":              "10",
	}
	for _, name := range fixtures {
		b := fixture(t, name)
		tab, err := Parse(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var types []string
		for _, blk := range tab.Blocks {
			types = append(types, fmt.Sprintf("%02x", blk.Type))
		}
		if got := strings.Join(types, " "); got != want[name] || len(tab.Warnings) != 0 {
			t.Errorf("%s: blocks %s (want %s), warnings %v", name, got, want[name], tab.Warnings)
		}
		// Round trip: encoding what was decoded gives the same bytes.
		again, err := tab.MarshalBinary()
		if err != nil || !bytes.Equal(again, b) {
			t.Errorf("%s: MarshalBinary does not reproduce the table (err %v)", name, err)
		}
	}

	tab, _ := Parse(fixture(t, "lenovo-ideapad-slim3-15abr8"))
	if Trim(tab.OEMID) != "LENOVO" || tab.IVinfo != 0x00203043 {
		t.Errorf("header: oem %q ivinfo %#x", tab.OEMID, tab.IVinfo)
	}
	m := tab.IVMDs()
	if len(m) != 1 || m[0].Type != TypeIVMDDevice || m[0].Flags != FlagExclusion || m[0].DeviceID != ID(3, 0, 0) ||
		m[0].Start != 0xCCD42000 || m[0].Length != 0x26000 || m[0].Offset != 0xD0 {
		t.Errorf("IVMD: %+v", m)
	}
	// The undocumented 51h block is kept whole, not fatal.
	u := tab.Unknown()
	if len(u) != 1 || u[0].Type != 0x51 || len(u[0].Raw) != 32 || u[0].Offset != 0x1C4 {
		t.Errorf("unknown blocks: %+v", u)
	}
	// IVHD 40h with its ACPI HID entries.
	h := tab.Blocks[3]
	if h.Type != TypeIVHD40 || h.Base != 0xFDF00000 || h.EFR != 0x206D73EF22254ADE {
		t.Errorf("IVHD 40h: %+v", h)
	}
	var hids []string
	for _, e := range h.Entries {
		if e.Type == EntryACPIHID {
			hids = append(hids, fmt.Sprintf("%s %s %s", Trim(e.HID), FormatID(e.DeviceID), e.UIDString()))
		}
	}
	if got := strings.Join(hids, ", "); got != `AMDI0020 00:14.5 \_SB.FUR0, AMDI0020 00:14.5 \_SB.FUR1, AMDI0020 00:14.5 \_SB.FUR2, AMDI0020 00:14.5 \_SB.FUR3` {
		t.Errorf("ACPI HID entries: %s", got)
	}
	// Special entries: HPET 0 and IOAPICs 0x20 and 0x21 in the 10h block.
	var sp []string
	for _, e := range tab.Blocks[0].Entries {
		if e.Type == EntrySpecial {
			sp = append(sp, fmt.Sprintf("%d/%#x/%s", e.Variety, e.Handle, FormatID(e.SourceID)))
		}
	}
	if got := strings.Join(sp, " "); got != "2/0x0/00:14.0 1/0x20/00:14.0 1/0x21/00:00.1" {
		t.Errorf("special entries: %s", got)
	}
	// The alias range FF00-FFFF -> 00:14.5.
	e := tab.Blocks[0].Entries[2]
	if e.Type != EntryAliasRangeStart || e.DeviceID != 0xFF00 || e.SourceID != 0x00A5 || e.Offset != 0x50 {
		t.Errorf("alias entry: %+v", e)
	}
}

func TestEntryLen(t *testing.T) {
	for typ, n := range map[uint8]int{0x00: 4, 0x02: 4, 0x3f: 4, 0x40: 8, 0x48: 8, 0x7f: 8, 0x80: 16, 0xbf: 16, 0xc0: 32, 0xff: 32, 0xf0: 0} {
		if got := EntryLen(typ); got != n {
			t.Errorf("EntryLen(%#x) = %d, want %d", typ, got, n)
		}
	}
}

// TestUnknownEntries builds an IVHD holding entries of types no specification names (one of each
// length class) and checks they are kept raw, walked by their encoded length, and written back.
func TestUnknownEntries(t *testing.T) {
	tab := LabTable(2)
	odd := func(typ uint8) Entry {
		raw := make([]byte, EntryLen(typ))
		raw[0] = typ
		for i := 1; i < len(raw); i++ {
			raw[i] = byte(i)
		}
		return Entry{Type: typ, Raw: raw}
	}
	tab.Blocks[0].Entries = append(tab.Blocks[0].Entries, odd(0x05), odd(0x51), odd(0x81), odd(0xc1), Entry{Type: EntrySelect, DeviceID: 0x100})
	b, err := tab.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	got, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	es := got.Blocks[0].Entries
	if len(es) != 7 || es[6].Type != EntrySelect || es[6].DeviceID != 0x100 || es[6].Offset != 48+24+4+8+4+8+16+32 {
		t.Fatalf("entries: %+v", es)
	}
	for i, typ := range []uint8{0x05, 0x51, 0x81, 0xc1} {
		if e := es[2+i]; e.Type != typ || len(e.Raw) != EntryLen(typ) || e.Raw[1] != 1 {
			t.Errorf("unknown entry %#x: %+v", typ, e)
		}
	}
}

func TestBadTables(t *testing.T) {
	good := fixture(t, "lenovo-ideapad-slim3-15abr8")
	mut := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	cases := map[string]struct {
		in   []byte
		want string
	}{
		"empty":         {nil, "shorter than its 48-byte header"},
		"signature":     {mut(func(b []byte) []byte { b[0] = 'X'; return b }), "signature"},
		"truncated":     {good[:100], "truncated"},
		"zero length":   {mut(func(b []byte) []byte { b[50], b[51] = 0, 0; return b }), "offset 0x30"},
		"overrun":       {mut(func(b []byte) []byte { b[50], b[51] = 0xff, 0xff; return b }), "overrunning"},
		"short ivhd":    {mut(func(b []byte) []byte { b[50] = 20; return b }), "IVHD 10h at offset 0x30 is 20 bytes, needs at least 24"},
		"short ivmd":    {mut(func(b []byte) []byte { b[0xD2] = 16; return b }), "IVMD 21h at offset 0xd0"},
		"entry overrun": {mut(func(b []byte) []byte { b[50] = 0x46; return b }), "device entry at offset 0x70 (type 0x48, 8 bytes) overruns its IVHD 10h by 2 bytes"},
		"acpi hid uid":  {mut(func(b []byte) []byte { b[0x148+21] = 200; return b }), "device entry at offset 0x148 (type 0xf0, 222 bytes) overruns its IVHD 40h"},
		"stray bytes":   {append(mut(func(b []byte) []byte { b[4] += 2; return b }), 0, 0), "2 stray bytes at offset 0x1e4"},
	}
	for name, c := range cases {
		_, err := Parse(c.in)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", name, err, c.want)
		}
	}
	bad := mut(func(b []byte) []byte { b[9]++; return b })
	tab, err := Parse(bad)
	if err != nil || len(tab.Warnings) != 1 || !strings.Contains(tab.Warnings[0], "checksum") {
		t.Errorf("bad checksum: %v, warnings %v (want one warning, no error)", err, tab.Warnings)
	}
}

func TestAcpidump(t *testing.T) {
	raw := fixture(t, "mechrevo-wujie14xa")
	var txt strings.Builder
	txt.WriteString("APIC @ 0x0\n    0000: 41 50 49 43\n\nIVRS @ 0x0000000000000000\n")
	for off := 0; off < len(raw); off += 16 {
		end := min(off+16, len(raw))
		fmt.Fprintf(&txt, "    %04X:", off)
		for _, c := range raw[off:end] {
			fmt.Fprintf(&txt, " %02X", c)
		}
		txt.WriteString("  AB\n") // an ASCII column that looks like hex must not be read
	}
	txt.WriteString("\nFACP @ 0x0\n")
	tab, err := Decode([]byte(txt.String()))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := Parse(raw)
	if !reflect.DeepEqual(tab, want) {
		t.Error("acpidump text decodes differently from the raw table")
	}
	if _, err := Decode([]byte("FACP @ 0x0\n")); err == nil || !strings.Contains(err.Error(), "no IVRS table") {
		t.Errorf("no IVRS in the text: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	for _, n := range fixtures {
		f.Add(fixture(f, n))
	}
	lab, _ := LabTable(2, IVMD(TypeIVMDDevice, 0x100, 0, 0x1000, 0x1000, false)).MarshalBinary()
	f.Add(lab)
	f.Fuzz(func(t *testing.T, b []byte) {
		tab, err := Parse(b)
		if err != nil {
			return
		}
		// Whatever decodes must encode, and decode again to the same table.
		out, err := tab.MarshalBinary()
		if err != nil {
			t.Fatalf("decoded table does not encode: %v", err)
		}
		again, err := Parse(out)
		if err != nil {
			t.Fatalf("re-encoded table does not decode: %v", err)
		}
		again.Warnings, tab.Warnings = nil, nil
		if !reflect.DeepEqual(again, tab) {
			t.Fatalf("round trip changed the table:\n%+v\n%+v", tab, again)
		}
	})
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte("IVRS @ 0x0\n    0000: 49 56 52 53 30 00 00 00 01 00\n"))
	f.Fuzz(func(t *testing.T, b []byte) { Decode(b) })
}

// TestLabTable checks the lab's table byte for byte where QEMU and the kernel look: header
// identity, the IVHD 10h for 00:02.0 at 0xfed80000, the select-all and IOAPIC entries, the IVMD.
func TestLabTable(t *testing.T) {
	b, err := LabTable(2, IVMD(TypeIVMDDevice, ID(1, 0, 0), 0, 0x7f000000, 0x10000, false)).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 48+24+4+8+32 || string(b[0:4]) != "IVRS" || string(b[10:24]) != "BOCHS BXPC    " || b[24] != 2 || b[8] != 1 {
		t.Fatalf("header: % x", b[:48])
	}
	var sum byte
	for _, c := range b {
		sum += c
	}
	if sum != 0 {
		t.Error("checksum")
	}
	want := "10 d1 24 00 10 00 40 00 00 00 d8 fe 00 00 00 00 00 00 00 00 00 00 00 00" + // IVHD 10h
		" 01 00 00 00" + // select all
		" 48 00 00 00 00 a0 00 01" + // IOAPIC 0 is 00:14.0
		" 21 07 20 00 00 01 00 00 00 00 00 00 00 00 00 00 00 00 00 7f 00 00 00 00 00 00 01 00 00 00 00 00" // IVMD 21h 01:00.0
	if got := fmt.Sprintf("% x", b[48:]); got != want {
		t.Errorf("blocks:\n got %s\nwant %s", got, want)
	}
}
