package dmar

import (
	"bytes"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
)

func TestRealTables(t *testing.T) {
	// RMRR counts from testdata/fixtures/SOURCES.md.
	want := map[string]int{
		"hp-proliant-dl380e-gen8": 9, "hp-proliant-dl360-g7": 3, "supermicro-superserver-depo-f84e17b9619b": 2,
		"supermicro-x8dtt": 2, "supermicro-x10dai": 1, "supermicro-x8sil": 2, "hp-z220-cmt-workstation": 1,
		"dell-precision-t7500": 1, "dell-precision-tower-5810": 1, "lenovo-thinkcentre-m93p": 2,
	}
	for name, n := range want {
		b, err := os.ReadFile("../testdata/fixtures/dmar/" + name + ".dmar.bin")
		if err != nil {
			t.Fatal(err)
		}
		tab, err := Parse(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(tab.RMRRs()) != n || len(tab.Warnings) != 0 {
			t.Errorf("%s: %d RMRRs (want %d), warnings %v", name, len(tab.RMRRs()), n, tab.Warnings)
		}
		// Round trip: encoding what was decoded gives the same bytes.
		again, err := tab.MarshalBinary()
		if err != nil || !bytes.Equal(again, b) {
			t.Errorf("%s: MarshalBinary does not reproduce the table (err %v)", name, err)
		}
	}
	b, _ := os.ReadFile("../testdata/fixtures/dmar/hp-proliant-dl380e-gen8.dmar.bin")
	tab, _ := Parse(b)
	r := tab.RMRRs()[1]
	if r.Address != 0x7DFF6000 || r.End != 0x7DFFCFFF || r.Scopes[0].String() != "00:1c.7/00.0" {
		t.Errorf("DL380e RMRR 2 = %#x-%#x %s", r.Address, r.End, r.Scopes[0])
	}
	if tab.HostAddressWidth != 46 || tab.Flags != 3 || Trim(tab.OEMID) != "HP" {
		t.Errorf("header: width %d flags %d oem %q", tab.HostAddressWidth, tab.Flags, tab.OEMID)
	}
}

func TestBadTables(t *testing.T) {
	good, _ := os.ReadFile("../testdata/fixtures/dmar/supermicro-x8sil.dmar.bin")
	mut := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	cases := map[string]struct {
		in   []byte
		want string
	}{
		"empty":        {nil, "shorter than its 48-byte header"},
		"signature":    {mut(func(b []byte) []byte { b[0] = 'X'; return b }), "signature"},
		"truncated":    {good[:100], "truncated"},
		"zero length":  {mut(func(b []byte) []byte { b[50], b[51] = 0, 0; return b }), "offset 0x30"},
		"overrun":      {mut(func(b []byte) []byte { b[50], b[51] = 0xff, 0; return b }), "overrunning"},
		"scope length": {mut(func(b []byte) []byte { b[0x58+1] = 0; return b }), "device scope at offset 0x58"},
	}
	for name, c := range cases {
		_, err := Parse(c.in)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", name, err, c.want)
		}
	}
	bad := mut(func(b []byte) []byte { b[9]++; return b })
	tab, err := Parse(bad)
	if err != nil || len(tab.Warnings) != 1 {
		t.Errorf("bad checksum: %v, warnings %v (want one warning, no error)", err, tab.Warnings)
	}
}

func TestAcpidump(t *testing.T) {
	raw, _ := os.ReadFile("../testdata/fixtures/dmar/hp-proliant-dl380e-gen8.dmar.bin")
	var txt strings.Builder
	txt.WriteString("APIC @ 0x0\n    0000: 41 50 49 43\n\nDMAR @ 0x0000000000000000\n")
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
	if _, err := Decode([]byte("FACP @ 0x0\n")); err == nil {
		t.Error("no DMAR in the text must be an error")
	}
}

func FuzzParse(f *testing.F) {
	for _, n := range []string{"hp-proliant-dl380e-gen8", "supermicro-x8sil", "lenovo-thinkcentre-m93p"} {
		b, _ := os.ReadFile("../testdata/fixtures/dmar/" + n + ".dmar.bin")
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		tab, err := Parse(b)
		if err != nil {
			return
		}
		// Whatever decodes must encode and decode to the same structures.
		out, err := tab.MarshalBinary()
		if err != nil {
			return
		}
		again, err := Parse(out)
		if err != nil {
			t.Fatalf("re-encoded table does not decode: %v", err)
		}
		if len(again.Structures) != len(tab.Structures) || len(again.RMRRs()) != len(tab.RMRRs()) {
			t.Fatalf("round trip changed the structures")
		}
	})
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte("DMAR @ 0x0\n    0000: 44 4D 41 52 30 00 00 00 01 00\n"))
	f.Fuzz(func(t *testing.T, b []byte) { Decode(b) })
}
