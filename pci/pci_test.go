package pci

import (
	"encoding/binary"
	"strings"
	"testing"
)

func TestParseAddress(t *testing.T) {
	for in, want := range map[string]string{"0000:03:00.0": "0000:03:00.0", "03:00.1": "0000:03:00.1", "0001:AF:1f.7": "0001:af:1f.7"} {
		a, err := ParseAddress(in)
		if err != nil || a.String() != want {
			t.Errorf("ParseAddress(%q) = %v, %v; want %s", in, a, err, want)
		}
	}
	for _, in := range []string{"", "0000:03:00", "0000:03:20.0", "0000:03:00.8", "000:03:00.0", "0000:3:00.0", "x", "0000:03:00.0;rm -rf /", "../../etc"} {
		if _, err := ParseAddress(in); err == nil || !strings.Contains(err.Error(), in) {
			t.Errorf("ParseAddress(%q): error %v should name the input", in, err)
		}
	}
}

func TestParseConfig(t *testing.T) {
	b := make([]byte, 64)
	binary.LittleEndian.PutUint16(b, 0x8086)
	binary.LittleEndian.PutUint16(b[2:], 0x10fb)
	b[9], b[10], b[11], b[14] = 0x00, 0x04, 0x06, 0x81
	b[0x18], b[0x19], b[0x1a] = 0, 3, 5
	c, err := ParseConfig(b)
	if err != nil || !c.IsBridge() || c.Class != 0x060400 || c.SecondaryBus != 3 || c.Subordinate != 5 {
		t.Errorf("got %+v, %v", c, err)
	}
	if _, err := ParseConfig(b[:10]); err == nil {
		t.Error("short config must fail")
	}
	ff := make([]byte, 64)
	for i := range ff {
		ff[i] = 0xff
	}
	if _, err := ParseConfig(ff); err == nil {
		t.Error("all-ones config must fail")
	}
}

func TestIDsAndAliases(t *testing.T) {
	ids, err := ParseIDs([]byte("# c\n8086  Intel Corporation\n\t10fb  82599ES 10-Gigabit SFI/SFP+ Network Connection\n\t\t8086 000c  Ethernet Server Adapter X520-2\nC 02  Network controller\n\t00  Ethernet controller\n"))
	if err != nil {
		t.Fatal(err)
	}
	if ids.Vendor(0x8086) != "Intel Corporation" || ids.Subsystem(0x8086, 0x10fb, 0x8086, 0x000c) != "Ethernet Server Adapter X520-2" || ids.Class(0x020000) != "Ethernet controller" {
		t.Error("lookups wrong")
	}
	if _, err := ParseIDs([]byte("8086Intel\n")); err == nil {
		t.Error("malformed line must fail")
	}
	al, err := ParseAliases([]byte("alias pci:v00008086d000010FBsv*sd*bc*sc*i* ixgbe\nalias pci:v*d*sv*sd*bc02sc00i* e1000\nalias usb:v* usbcore\n"))
	if err != nil {
		t.Fatal(err)
	}
	d := &Device{Config: Config{VendorID: 0x8086, DeviceID: 0x10fb, SubVendorID: 0x8086, SubDeviceID: 0xc, Class: 0x020000}}
	if got := al.Modules(d.Modalias()); strings.Join(got, ",") != "ixgbe,e1000" {
		t.Errorf("modules %v for %s", got, d.Modalias())
	}
	if _, err := ParseAliases([]byte("alias onlytwo\n")); err == nil {
		t.Error("malformed alias must fail")
	}
}

func FuzzParseAddress(f *testing.F) {
	f.Add("0000:03:00.0")
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAddress(s)
		if err != nil {
			return
		}
		b, err := ParseAddress(a.String())
		if err != nil || b != a {
			t.Fatalf("%q -> %s does not round-trip", s, a)
		}
	})
}

func FuzzParseConfig(f *testing.F) {
	f.Add(make([]byte, 64))
	f.Fuzz(func(t *testing.T, b []byte) { ParseConfig(b) })
}

func FuzzParseIDs(f *testing.F) {
	f.Add([]byte("8086  Intel\n\t10fb  X\n\t\t8086 000c  Y\nC 02  N\n\t00  E\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ids, err := ParseIDs(b)
		if err != nil {
			return
		}
		// Every vendor's lazily parsed block gives the names the eager parser gives.
		e, eerr := parseIDsEager(b)
		for v := range ids.vendors {
			ids.Device(v, 0x10fb)
			if eerr == nil && ids.Vendor(v) != e.vendors[v] {
				t.Fatalf("vendor %04x: lazy %q, eager %q", v, ids.Vendor(v), e.vendors[v])
			}
		}
		if eerr == nil {
			for k, name := range e.devices {
				if got := ids.Device(uint16(k>>16), uint16(k)); got != name && ids.vendors[uint16(k>>16)] != "" {
					t.Fatalf("device %08x: lazy %q, eager %q", k, got, name)
				}
			}
		}
	})
}

func FuzzParseAliases(f *testing.F) {
	f.Add([]byte("alias pci:v00008086d000010FBsv*sd*bc*sc*i* ixgbe\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := ParseAliases(b)
		if err == nil {
			a.Modules("pci:v00008086d000010FBsv00008086sd0000000Cbc02sc00i00")
		}
	})
}
