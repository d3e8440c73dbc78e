package pci

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// eagerIDs and parseIDsEager are the parser before the lazy one, kept to prove that the lazy
// one gives the same names.
type eagerIDs struct {
	vendors    map[uint16]string
	devices    map[uint32]string
	subsystems map[uint64]string
	classes    map[uint32]string
}

// ParseIDs parses the pci.ids format. Lines it cannot read are an error naming the line.
func parseIDsEager(b []byte) (*eagerIDs, error) {
	ids := &eagerIDs{map[uint16]string{}, map[uint32]string{}, map[uint64]string{}, map[uint32]string{}}
	var vendor, device, class uint64
	inClass := false
	hex := func(s string, bits int) (uint64, bool) {
		v, err := strconv.ParseUint(s, 16, bits)
		return v, err == nil
	}
	for n := 1; len(b) > 0; n++ {
		var line []byte
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			line, b = b, nil
		}
		s := strings.TrimRight(string(line), "\r ")
		if s == "" || s[0] == '#' {
			continue
		}
		bad := fmt.Errorf("pci.ids line %d: cannot read %q", n, s)
		tabs := len(s) - len(strings.TrimLeft(s, "\t"))
		s = s[tabs:]
		id, name, ok := strings.Cut(s, "  ")
		if !ok {
			return nil, bad
		}
		switch {
		case tabs == 0 && strings.HasPrefix(id, "C "):
			c, ok := hex(id[2:], 8)
			if !ok {
				return nil, bad
			}
			class, inClass = c, true
			ids.classes[uint32(c)<<8|0xff] = name
		case tabs == 0 && len(id) == 4:
			v, ok := hex(id, 16)
			if !ok {
				// Other top-level lists (device classes "C" aside, e.g. "X" or "K") end the vendors.
				inClass = false
				continue
			}
			vendor, inClass = v, false
			ids.vendors[uint16(v)] = name
		case tabs == 0:
			inClass = false
			vendor = 1 << 20 // ignore what follows an unknown list header
		case tabs == 1 && inClass:
			sc, ok := hex(id, 8)
			if !ok {
				return nil, bad
			}
			ids.classes[uint32(class)<<8|uint32(sc)] = name
		case tabs == 1 && vendor < 1<<16:
			d, ok := hex(id, 16)
			if !ok {
				return nil, bad
			}
			device = d
			ids.devices[uint32(vendor<<16|d)] = name
		case tabs == 2 && !inClass && vendor < 1<<16:
			sv, sd, ok2 := strings.Cut(id, " ")
			v1, ok3 := hex(sv, 16)
			v2, ok4 := hex(sd, 16)
			if !ok2 || !ok3 || !ok4 {
				return nil, bad
			}
			ids.subsystems[vendor<<48|device<<32|v1<<16|v2] = name
		}
	}
	return ids, nil
}
