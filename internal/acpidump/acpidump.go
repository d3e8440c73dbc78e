// Package acpidump reads one ACPI table out of the text that `acpidump` prints (the form in
// which support tickets and public dumps carry firmware tables), for the DMAR and IVRS decoders.
package acpidump

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
)

// Table extracts the raw table with the signature sig ("DMAR", "IVRS") from acpidump's text
// output:
//
//	DMAR @ 0x0000000000000000
//	    0000: 44 4D 41 52 06 05 00 00 01 38 48 50 20 20 20 20  DMAR.....8HP
//
// The table's own length field says where it ends, so the ASCII column is never read as data.
func Table(b []byte, sig string) ([]byte, error) {
	lines := strings.Split(string(b), "\n")
	start := -1
	for i, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), sig+" @") {
			start = i + 1
			break
		}
	}
	if start < 0 {
		return nil, fmt.Errorf("no %s table: input is neither a raw table nor acpidump text holding one", sig)
	}
	var raw []byte
	want := -1
	for i := start; i < len(lines); i++ {
		l := strings.TrimSpace(lines[i])
		if l == "" {
			if len(raw) > 0 {
				break
			}
			continue
		}
		off, rest, ok := strings.Cut(l, ":")
		o, err := strconv.ParseUint(strings.TrimSpace(off), 16, 32)
		if !ok || err != nil {
			break // the next table's header
		}
		if int(o) != len(raw) {
			return nil, fmt.Errorf("acpidump line %d: offset %#x, expected %#x", i+1, o, len(raw))
		}
		for n, tok := range strings.Fields(rest) {
			if n == 16 || len(tok) != 2 || (want >= 0 && len(raw) >= want) {
				break
			}
			v, err := strconv.ParseUint(tok, 16, 8)
			if err != nil {
				break
			}
			raw = append(raw, byte(v))
			if len(raw) == 8 {
				want = int(binary.LittleEndian.Uint32(raw[4:]))
			}
		}
		if want >= 0 && len(raw) >= want {
			break
		}
	}
	if want < 0 || len(raw) < want {
		return nil, fmt.Errorf("acpidump text: %s table cut short (%d bytes read, header says %d)", sig, len(raw), want)
	}
	return raw, nil
}
