package ivrs

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
)

// Decode reads an IVRS table given either raw (as sysfs or `acpidump -b` write it) or as the text
// that `acpidump` prints (the IVRS table is found among the others).
func Decode(b []byte) (*Table, error) {
	if bytes.HasPrefix(b, []byte("IVRS")) {
		return Parse(b)
	}
	raw, err := FromAcpidump(b)
	if err != nil {
		return nil, err
	}
	return Parse(raw)
}

// FromAcpidump extracts the raw IVRS table from acpidump's text output:
//
//	IVRS @ 0x0000000000000000
//	    0000: 49 56 52 53 E4 01 00 00 02 21 4C 45 4E 4F 56 4F  IVRS.....!LENOVO
//
// The table's own length field says where it ends, so the ASCII column is never read as data.
func FromAcpidump(b []byte) ([]byte, error) {
	lines := strings.Split(string(b), "\n")
	start := -1
	for i, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), "IVRS @") {
			start = i + 1
			break
		}
	}
	if start < 0 {
		return nil, fmt.Errorf("no IVRS table: input is neither a raw table nor acpidump text holding one")
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
		return nil, fmt.Errorf("acpidump text: IVRS table cut short (%d bytes read, header says %d)", len(raw), want)
	}
	return raw, nil
}
