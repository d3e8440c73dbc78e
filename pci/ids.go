package pci

import (
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"github.com/dpdk-doctor/dpdk-doctor/host"
)

// IDs is the PCI ID database (pci.ids): vendor, device, subsystem and class names.
//
// It is read lazily: reading it indexes only the top-level lines (vendors and device classes);
// a vendor's block of devices and subsystems is parsed the first time one of its devices is
// looked up, so a host with a few vendors pays for those few out of the 2,500 in the file.
// Its methods are safe for concurrent use.
type IDs struct {
	data    string // the file, copied once: every name is a slice of it
	vendors map[uint16]string
	blocks  map[uint16]int    // where each vendor's indented lines start in data
	more    map[uint16][]int  // the further blocks of a vendor listed more than once
	classes map[uint32]string // class<<8 | subclass, and class<<8|0xff for the base class alone

	mu         sync.Mutex
	parsed     map[uint16]bool
	devices    map[uint32]string // vendor<<16 | device
	subsystems map[uint64]string // vendor<<48 | device<<32 | subvendor<<16 | subdevice
}

// idsFiles are where distributions keep pci.ids, looked for under the host root.
var idsFiles = []string{"usr/share/misc/pci.ids", "usr/share/hwdata/pci.ids", "usr/share/pci.ids"}

// ReadIDs reads the host's pci.ids. A host without one gives an empty database (names then
// print as IDs), not an error. The live host's is read once per process (it does not change
// while dpdk-doctor runs); Gather starts that read early, beside its own.
func ReadIDs(r host.Root) (*IDs, error) {
	if r.IsLive() {
		return liveIDs()
	}
	return readIDs(r)
}

var liveIDs = sync.OnceValues(func() (*IDs, error) { return readIDs(host.Live()) })

func readIDs(r host.Root) (*IDs, error) {
	for _, f := range idsFiles {
		b, err := r.ReadFile(f)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", r.Path(f), err)
		}
		if len(b) == 0 {
			break
		}
		ids, err := parseIDs(unsafe.String(&b[0], len(b))) // b is ours and never written again
		if err != nil {
			return nil, fmt.Errorf("%s: %w", r.Path(f), err)
		}
		return ids, nil
	}
	ids, _ := ParseIDs(nil)
	return ids, nil
}

// ParseIDs indexes text in the pci.ids format, keeping b. A top-level line (vendor or class) it
// cannot read is an error naming the line; an unreadable indented line of a vendor's block is
// skipped when the block is parsed.
func ParseIDs(b []byte) (*IDs, error) { return parseIDs(string(b)) }

func parseIDs(text string) (*IDs, error) {
	// Sized for the file's top-level lines (a vendor line every 500 bytes or so): growing the
	// maps while indexing costs more than the indexing itself.
	top := len(text)/512 + 16
	ids := &IDs{data: text, vendors: make(map[uint16]string, top), blocks: make(map[uint16]int, top),
		more: map[uint16][]int{}, classes: make(map[uint32]string, 512),
		parsed: map[uint16]bool{}, devices: map[uint32]string{}, subsystems: map[uint64]string{}}
	// Indented lines before the first vendor count as vendor 0000's, as they always have.
	ids.blocks[0] = 0
	inClass := false
	var class uint64
	for n, p := 1, 0; p < len(text); n++ {
		line, next := lineAt(text, p)
		p = next
		if len(line) > 0 && line[0] == '\t' && !inClass {
			continue // a vendor's block: parsed on demand
		}
		tabs, id, name, ok := splitIDLine(line)
		if tabs < 0 {
			continue // blank or comment
		}
		if !ok {
			return nil, fmt.Errorf("pci.ids line %d: cannot read %q", n, strings.TrimRight(line, "\r "))
		}
		switch {
		case tabs == 0 && len(id) > 2 && id[0] == 'C' && id[1] == ' ':
			c, ok := parseHex(id[2:], 8)
			if !ok {
				return nil, fmt.Errorf("pci.ids line %d: cannot read %q", n, strings.TrimRight(line, "\r "))
			}
			class, inClass = c, true
			ids.classes[uint32(c)<<8|0xff] = name
		case tabs == 0 && len(id) == 4:
			v, ok := parseHex(id, 16)
			if !ok {
				// Other top-level lists (device classes "C" aside, e.g. "X" or "K") end the vendors.
				inClass = false
				continue
			}
			inClass = false
			ids.vendors[uint16(v)] = name
			if _, dup := ids.blocks[uint16(v)]; dup {
				ids.more[uint16(v)] = append(ids.more[uint16(v)], next)
			} else {
				ids.blocks[uint16(v)] = next
			}
		case tabs == 0:
			inClass = false
		case tabs == 1 && inClass:
			sc, ok := parseHex(id, 8)
			if !ok {
				return nil, fmt.Errorf("pci.ids line %d: cannot read %q", n, strings.TrimRight(line, "\r "))
			}
			ids.classes[uint32(class)<<8|uint32(sc)] = name
		}
	}
	return ids, nil
}

// lineAt returns the line starting at p (without its newline) and where the next one starts.
func lineAt(b string, p int) (line string, next int) {
	if i := strings.IndexByte(b[p:], '\n'); i >= 0 {
		return b[p : p+i], p + i + 1
	}
	return b[p:], len(b)
}

// splitIDLine splits a pci.ids line into its indentation, ID and name. tabs is -1 for a blank
// or comment line; ok is false when the line has no two-space separator.
func splitIDLine(line string) (tabs int, id, name string, ok bool) {
	line = strings.TrimRight(line, "\r ")
	if len(line) == 0 || line[0] == '#' {
		return -1, "", "", true
	}
	for tabs < len(line) && line[tabs] == '\t' {
		tabs++
	}
	line = line[tabs:]
	i := strings.Index(line, "  ")
	if i < 0 {
		return tabs, "", "", false
	}
	return tabs, line[:i], line[i+2:], true
}

// parseHex parses a hexadecimal ID of at most bits bits, without allocating.
func parseHex(s string, bits int) (uint64, bool) {
	if len(s) == 0 || len(s) > bits/4 {
		// strconv accepts leading zeros beyond the width; keep its answer for odd inputs.
		v, err := strconv.ParseUint(s, 16, bits)
		return v, err == nil
	}
	var v uint64
	for _, c := range s {
		switch {
		case c >= '0' && c <= '9':
			v = v<<4 | uint64(c-'0')
		case c >= 'a' && c <= 'f':
			v = v<<4 | uint64(c-'a'+10)
		case c >= 'A' && c <= 'F':
			v = v<<4 | uint64(c-'A'+10)
		default:
			return 0, false
		}
	}
	return v, true
}

// parseVendor parses vendor v's blocks of devices and subsystems once. ids.mu is held.
func (ids *IDs) parseVendor(v uint16) {
	if ids.parsed[v] {
		return
	}
	ids.parsed[v] = true
	vendor := uint64(v)
	first, ok := ids.blocks[v]
	if !ok {
		return
	}
	for _, p := range append([]int{first}, ids.more[v]...) {
		var device uint64
	block:
		for p < len(ids.data) {
			line, next := lineAt(ids.data, p)
			p = next
			tabs, id, name, ok := splitIDLine(line)
			if tabs < 0 || !ok {
				continue
			}
			switch {
			case tabs == 0 && len(id) == 4 && !(id[0] == 'C' && id[1] == ' '):
				if _, isHex := parseHex(id, 16); isHex {
					break block // the next vendor
				}
				// A list header that is not a vendor: its indented lines stayed with this vendor.
			case tabs == 0:
				break block
			case tabs == 1:
				d, ok := parseHex(id, 16)
				if !ok {
					continue
				}
				device = d
				ids.devices[uint32(vendor<<16|d)] = name
			case tabs == 2:
				sv, sd, ok2 := strings.Cut(id, " ")
				v1, ok3 := parseHex(sv, 16)
				v2, ok4 := parseHex(sd, 16)
				if ok2 && ok3 && ok4 {
					ids.subsystems[vendor<<48|device<<32|v1<<16|v2] = name
				}
			}
		}
	}
}

// Vendor returns the vendor's name, or "" when unknown.
func (ids *IDs) Vendor(v uint16) string { return ids.vendors[v] }

// Device returns the device's name, or "" when unknown.
func (ids *IDs) Device(v, d uint16) string {
	ids.mu.Lock()
	defer ids.mu.Unlock()
	ids.parseVendor(v)
	return ids.devices[uint32(v)<<16|uint32(d)]
}

// Subsystem returns the subsystem's name ("Ethernet Server Adapter X520-2"), or "".
func (ids *IDs) Subsystem(v, d, sv, sd uint16) string {
	ids.mu.Lock()
	defer ids.mu.Unlock()
	ids.parseVendor(v)
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
