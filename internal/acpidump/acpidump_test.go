package acpidump

import (
	"bytes"
	"strings"
	"testing"
)

const dump = `DSDT @ 0x0000000000000000
    0000: 44 53 44 54 24 00 00 00 02 00 42 4F 43 48 53 20  DSDT$.....BOCHS

IVRS @ 0x0000000000000000
    0000: 49 56 52 53 0A 00 00 00 02 21                    IVRS.....!
`

func TestTable(t *testing.T) {
	b, err := Table([]byte(dump), "IVRS")
	if err != nil || !bytes.Equal(b, []byte{0x49, 0x56, 0x52, 0x53, 0x0a, 0, 0, 0, 2, 0x21}) {
		t.Fatalf("Table = % x, %v", b, err)
	}
	if _, err := Table([]byte(dump), "DMAR"); err == nil || !strings.Contains(err.Error(), "no DMAR table") {
		t.Errorf("missing table: %v", err)
	}
	if _, err := Table([]byte(strings.Replace(dump, "0A 00 00 00", "40 00 00 00", 1)), "IVRS"); err == nil || !strings.Contains(err.Error(), "cut short") {
		t.Errorf("short table: %v", err)
	}
}

// FuzzTable: any text gives a table as long as its header says, or an error; never a panic.
func FuzzTable(f *testing.F) {
	f.Add([]byte(dump), "IVRS")
	f.Add([]byte(dump), "DSDT")
	f.Fuzz(func(t *testing.T, b []byte, sig string) {
		raw, err := Table(b, sig)
		if err == nil && len(raw) < 8 {
			t.Fatalf("a table without a header: % x", raw)
		}
	})
}
