package acpi

import (
	"encoding/binary"
	"strings"
	"testing"
)

// table makes a table of signature sig, n bytes long, whose checksum adds up.
func table(sig string, n int) []byte {
	b := make([]byte, n)
	copy(b, sig)
	binary.LittleEndian.PutUint32(b[4:], uint32(n))
	b[8] = 1
	copy(b[10:], "HPQOEM")
	copy(b[16:], "ProLiant")
	copy(b[28:], "INTL")
	var sum byte
	for _, c := range b {
		sum += c
	}
	b[9] = -sum
	return b
}

func TestParseHeader(t *testing.T) {
	b := append(table("DMAR", 48), 0xAA, 0xBB) // bytes past the table's length are cut off
	h, tb, warn, err := ParseHeader(b, "DMAR", 48)
	if err != nil || warn != "" || len(tb) != 48 || h.Length != 48 || h.Revision != 1 || h.OEMID != "HPQOEM" || h.OEMTableID != "ProLiant" || h.CreatorID != "INTL" {
		t.Fatalf("%+v %d %q %v", h, len(tb), warn, err)
	}
	b[20]++
	if _, _, warn, _ := ParseHeader(b, "DMAR", 48); !strings.Contains(warn, "checksum") {
		t.Errorf("a bad checksum is not warned about: %q", warn)
	}
	for name, c := range map[string]struct {
		b    []byte
		want string
	}{
		"short":     {table("DMAR", 40), "shorter than its 48-byte header"},
		"signature": {table("IVRS", 48), `signature is "IVRS", not "DMAR"`},
		"length":    {func() []byte { b := table("DMAR", 64); binary.LittleEndian.PutUint32(b[4:], 40); return b }(), "header length 40"},
		"truncated": {func() []byte { b := table("DMAR", 64); binary.LittleEndian.PutUint32(b[4:], 80); return b }(), "truncated"},
	} {
		if _, _, _, err := ParseHeader(c.b, "DMAR", 48); err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "DMAR: ") {
			t.Errorf("%s: %v, want an error naming the table and %q", name, err, c.want)
		}
	}
}

// FuzzParseHeader: no input panics the reader, and a table it accepts is cut to its length,
// at least the fixed part, never past the input.
func FuzzParseHeader(f *testing.F) {
	f.Add(table("DMAR", 48))
	f.Add(table("DMAR", 200)[:100])
	f.Fuzz(func(t *testing.T, b []byte) {
		h, tb, _, err := ParseHeader(b, "DMAR", 48)
		if err != nil {
			return
		}
		if len(tb) != h.Length || h.Length < 48 || h.Length > len(b) {
			t.Errorf("length %d, table %d bytes, input %d", h.Length, len(tb), len(b))
		}
	})
}

// TestWalk: subtables are handed out by their own length; one shorter than its header, one
// overrunning the table and stray bytes at the end are errors naming the table and the offset.
func TestWalk(t *testing.T) {
	typ := func(s []byte) string { return "x" }
	tb := append(make([]byte, 8), 1, 0, 6, 0, 9, 9, 2, 0, 4, 0)
	var got []int
	if err := Walk(tb, "TEST", 8, "block", typ, func(s []byte, off int) error { got = append(got, off, len(s)); return nil }); err != nil || len(got) != 4 || got[0] != 8 || got[1] != 6 || got[2] != 14 || got[3] != 4 {
		t.Fatalf("%v %v", got, err)
	}
	for name, c := range map[string]struct {
		b    []byte
		want string
	}{
		"short":   {append(make([]byte, 8), 1, 0, 2, 0), "TEST: block at offset 0x8 (type x) has length 2, less than its own header"},
		"overrun": {append(make([]byte, 8), 1, 0, 9, 0), "TEST: block at offset 0x8 (type x) has length 9, overrunning the table's 12 bytes"},
		"stray":   {append(make([]byte, 8), 1, 0), "TEST: 2 stray bytes at offset 0x8, too few for a block header"},
	} {
		if err := Walk(c.b, "TEST", 8, "block", typ, func([]byte, int) error { return nil }); err == nil || err.Error() != c.want {
			t.Errorf("%s: %v, want %q", name, err, c.want)
		}
	}
}
