package conrep

import (
	"os"
	"strings"
	"testing"
)

func fixture(t testing.TB, name string) []byte {
	b, err := os.ReadFile("../testdata/fixtures/conrep/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRealFiles(t *testing.T) {
	// The real RMRDS section definitions (a fragment: wrapped in a root element here).
	defs, err := ParseDefinitions(append(append([]byte("<Conrep>"), fixture(t, "hpe-conrep-rmrds-section-definitions.fragment.xml")...), "</Conrep>"...))
	if err != nil {
		t.Fatal(err)
	}
	if len(defs) != 16 || defs["RMRDS_Slot2"].NVRAM != 0x26a || defs["RMRDS_Slot2"].Mask != 0x02 || defs["RMRDS_Slot9"].NVRAM != 0x26b || defs["RMRDS_Slot2"].Values[Excluded] != 0x02 {
		t.Errorf("definitions: %+v", defs["RMRDS_Slot2"])
	}
	// The seed's verify.dat.
	d, err := ParseData(fixture(t, "hp-proliant-dl360e-gen8.verify.dat"))
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := d.Get("RMRDS_Slot2"); v != Excluded || d.Platform != "ProLiant DL360e Gen8" || d.Version != "5.2.0.0" || len(d.RMRDS()) != 16 {
		t.Errorf("verify.dat: %+v", d)
	}
	// Save writes what the seed shows, and reads back the same.
	again, err := ParseData(Save(d))
	if err != nil || len(again.Sections) != 16 || again.Family != "P73" {
		t.Errorf("Save round trip: %v %+v", err, again)
	}
	// The exclusion file is the seed's, byte for byte (but the newline).
	if got, want := strings.TrimSpace(string(Exclusion([]string{"2"}))), strings.TrimSpace(string(fixture(t, "hp-proliant-dl360e-gen8.exclude.dat"))); got != want {
		t.Errorf("exclusion:\n%s\nwant\n%s", got, want)
	}
	// The verify.dat as posted (with the author's marker) is not well-formed.
	if _, err := ParseData(fixture(t, "hp-proliant-dl360e-gen8.verify.dat.as-posted.txt")); err == nil {
		t.Error("the as-posted verify.dat must not parse")
	}
}

func TestParseOutput(t *testing.T) {
	o := ParseOutput(fixture(t, "hp-proliant-dl360e-gen8.conrep-load.out.txt"))
	if o.SystemType != "ProLiant DL360e Gen8" || o.ROMFamily != "P73" || o.ROMDate != "08/02/2014" || o.ReturnCode != 0 || len(o.Errors) != 0 {
		t.Errorf("%+v", o)
	}
}

func TestBadDefinitions(t *testing.T) {
	for _, in := range []string{"", "<a>", "<C></C>", `<C><Section name="x"><nvram>zz</nvram><mask>1</mask><value id="0">A</value></Section></C>`,
		`<C><Section name="x"><nvram>0x26A</nvram><mask>0x01</mask><value id="0x02">A</value></Section></C>`} {
		if _, err := ParseDefinitions([]byte(in)); err == nil {
			t.Errorf("%q: want an error", in)
		}
	}
}

func TestValidSlot(t *testing.T) {
	for s, ok := range map[string]bool{"2": true, "16": true, "0": false, "": false, "2;reboot": false, "../1": false, "100": false} {
		if ValidSlot(s) != ok {
			t.Errorf("ValidSlot(%q) != %v", s, ok)
		}
	}
}

func FuzzParseDefinitions(f *testing.F) {
	f.Add(append(append([]byte("<Conrep>"), fixture(f, "hpe-conrep-rmrds-section-definitions.fragment.xml")...), "</Conrep>"...))
	f.Fuzz(func(t *testing.T, b []byte) {
		defs, err := ParseDefinitions(b)
		if err != nil {
			return
		}
		for _, d := range defs {
			for _, v := range d.Values {
				if v&^d.Mask != 0 {
					t.Fatal("value outside mask accepted")
				}
			}
		}
	})
}

func FuzzParseData(f *testing.F) {
	f.Add(fixture(f, "hp-proliant-dl360e-gen8.verify.dat"))
	f.Add(fixture(f, "hp-proliant-dl360e-gen8.exclude.dat"))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := ParseData(b)
		if err != nil {
			return
		}
		// What parses must survive Save and parse to the same settings.
		again, err := ParseData(Save(d))
		if err != nil || len(again.Sections) != len(d.Sections) {
			t.Fatalf("Save/ParseData round trip failed: %v", err)
		}
		for i := range d.Sections {
			if again.Sections[i] != d.Sections[i] {
				t.Fatalf("section %d changed: %+v -> %+v", i, d.Sections[i], again.Sections[i])
			}
		}
	})
}

func FuzzParseOutput(f *testing.F) {
	f.Add(fixture(f, "hp-proliant-dl360e-gen8.conrep-load.out.txt"))
	f.Fuzz(func(t *testing.T, b []byte) { ParseOutput(b) })
}
