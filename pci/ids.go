package pci

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"

	"github.com/dpdk-doctor/dpdk-doctor/host"
)

// IDs is the PCI ID database (pci.ids): vendor, device, subsystem and class names.
type IDs struct {
	vendors    map[uint16]string
	devices    map[uint32]string // vendor<<16 | device
	subsystems map[uint64]string // vendor<<48 | device<<32 | subvendor<<16 | subdevice
	classes    map[uint32]string // class<<8 | subclass, and class<<8|0xff for the base class alone
}

// idsFiles are where distributions keep pci.ids, looked for under the host root.
var idsFiles = []string{"usr/share/misc/pci.ids", "usr/share/hwdata/pci.ids", "usr/share/pci.ids"}

// ReadIDs reads the host's pci.ids. A host without one gives an empty database (names then
// print as IDs), not an error.
func ReadIDs(r host.Root) (*IDs, error) {
	for _, f := range idsFiles {
		b, err := r.ReadFile(f)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", r.Path(f), err)
		}
		ids, err := ParseIDs(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", r.Path(f), err)
		}
		return ids, nil
	}
	ids, _ := ParseIDs(nil)
	return ids, nil
}

// ParseIDs parses the pci.ids format. Lines it cannot read are an error naming the line.
func ParseIDs(b []byte) (*IDs, error) {
	ids := &IDs{map[uint16]string{}, map[uint32]string{}, map[uint64]string{}, map[uint32]string{}}
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

// Vendor returns the vendor's name, or "" when unknown.
func (ids *IDs) Vendor(v uint16) string { return ids.vendors[v] }

// Device returns the device's name, or "" when unknown.
func (ids *IDs) Device(v, d uint16) string { return ids.devices[uint32(v)<<16|uint32(d)] }

// Subsystem returns the subsystem's name ("Ethernet Server Adapter X520-2"), or "".
func (ids *IDs) Subsystem(v, d, sv, sd uint16) string {
	return ids.subsystems[uint64(v)<<48|uint64(d)<<32|uint64(sv)<<16|uint64(sd)]
}

// Class returns the name of a class code (0x020000 is "Ethernet controller"), falling back to
// the base class's name, or "".
func (ids *IDs) Class(c uint32) string {
	if s := ids.classes[c>>8]; s != "" {
		return s
	}
	return ids.classes[(c>>16)<<8|0xff]
}
