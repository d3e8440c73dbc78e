// Package dmar decodes the ACPI DMA Remapping (DMAR) table that announces Intel VT-d, and finds
// which PCI devices its Reserved Memory Region Reporting (RMRR) structures cover: the devices
// the kernel will refuse to hand to VFIO.
package dmar

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"

	"github.com/dpdk-doctor/dpdk-doctor/internal/acpi"
)

// Structure types in the DMAR table (VT-d specification, chapter 8).
const (
	TypeDRHD = 0 // DMA Remapping Hardware Unit Definition
	TypeRMRR = 1 // Reserved Memory Region Reporting
	TypeATSR = 2 // Root Port ATS Capability Reporting
	TypeRHSA = 3 // Remapping Hardware Static Affinity
	TypeANDD = 4 // ACPI Name-space Device Declaration
	TypeSATC = 5 // SoC Integrated Address Translation Cache
)

// Device scope types.
const (
	ScopeEndpoint  = 1 // a PCI endpoint
	ScopeBridge    = 2 // a PCI sub-hierarchy: the bridge and everything below it
	ScopeIOAPIC    = 3
	ScopeHPET      = 4 // MSI-capable HPET
	ScopeNamespace = 5 // ACPI name-space device
)

// Table flags.
const (
	FlagIntrRemap    = 1 << 0
	FlagX2APICOptOut = 1 << 1
	FlagDMACtrlOptIn = 1 << 2
)

// Table is a decoded DMAR table.
type Table struct {
	Revision         uint8
	OEMID            string // as stored: padded with spaces or NULs (see Trim)
	OEMTableID       string
	OEMRevision      uint32
	CreatorID        string
	CreatorRevision  uint32
	HostAddressWidth int   // in bits: the table's field plus one
	Flags            uint8 // FlagIntrRemap, FlagX2APICOptOut, FlagDMACtrlOptIn
	Structures       []Structure
	Warnings         []string // problems that did not stop decoding (a bad checksum)
}

// Structure is one remapping structure. Fields apply according to Type; unknown types keep
// their bytes in Raw.
type Structure struct {
	Type    uint16
	Offset  int    // where it starts in the table
	Flags   uint8  // DRHD (bit 0: INCLUDE_PCI_ALL), ATSR (bit 0: ALL_PORTS), SATC
	Segment uint16 // DRHD, RMRR, ATSR, SATC
	Address uint64 // DRHD, RHSA: register base; RMRR: base address
	End     uint64 // RMRR: end address (inclusive limit)
	Domain  uint32 // RHSA: proximity domain
	Size    uint8  // DRHD: register set size (encoded)
	ACPIDev uint8  // ANDD: ACPI device number
	Name    string // ANDD: object name
	Scopes  []Scope
	Raw     []byte // the whole structure, for types this package does not decode
}

// Scope is a device scope entry: a device (or bridge, IOAPIC, HPET) named by the start bus and
// the path of device/function pairs that leads to it through bridges.
type Scope struct {
	Type          uint8
	Offset        int
	Flags         uint8
	EnumerationID uint8
	StartBus      uint8
	Path          []PathEntry
}

// PathEntry is one hop of a scope's path.
type PathEntry struct{ Device, Function uint8 }

// String shows a scope as "00:1c.7/00.0": start bus, then each hop.
func (s Scope) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%02x:", s.StartBus)
	for i, p := range s.Path {
		if i > 0 {
			b.WriteByte('/')
		}
		fmt.Fprintf(&b, "%02x.%d", p.Device, p.Function)
	}
	return b.String()
}

// RMRRs returns the RMRR structures, in table order.
func (t *Table) RMRRs() []Structure {
	var out []Structure
	for _, s := range t.Structures {
		if s.Type == TypeRMRR {
			out = append(out, s)
		}
	}
	return out
}

const headerLen = 48 // ACPI header (36) + host address width, flags, 10 reserved

// Parse decodes a raw DMAR table, as in /sys/firmware/acpi/tables/DMAR. It returns an error
// naming the offset for a table it cannot walk safely (truncated, lengths that overrun or are
// too small); a bad checksum is only a warning, as it is for the kernel.
func Parse(b []byte) (*Table, error) {
	h, b, warning, err := acpi.ParseHeader(b, "DMAR", headerLen)
	if err != nil {
		return nil, err
	}
	t := &Table{
		Revision:         h.Revision,
		OEMID:            h.OEMID,
		OEMTableID:       h.OEMTableID,
		OEMRevision:      h.OEMRevision,
		CreatorID:        h.CreatorID,
		CreatorRevision:  h.CreatorRevision,
		HostAddressWidth: int(b[36]) + 1,
		Flags:            b[37],
	}
	if warning != "" {
		t.Warnings = append(t.Warnings, warning)
	}
	typ := func(s []byte) string { return strconv.Itoa(int(binary.LittleEndian.Uint16(s))) }
	err = acpi.Walk(b, "DMAR", headerLen, "structure", typ, func(sub []byte, off int) error {
		s, err := parseStructure(sub, off)
		t.Structures = append(t.Structures, s)
		return err
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

func parseStructure(b []byte, off int) (Structure, error) {
	le := binary.LittleEndian
	s := Structure{Type: le.Uint16(b), Offset: off}
	need := func(n int) error {
		if len(b) < n {
			return fmt.Errorf("DMAR: %s at offset %#x is %d bytes, needs at least %d", typeName(s.Type), off, len(b), n)
		}
		return nil
	}
	scopesAt := 0
	switch s.Type {
	case TypeDRHD:
		if err := need(16); err != nil {
			return s, err
		}
		s.Flags, s.Size, s.Segment, s.Address = b[4], b[5], le.Uint16(b[6:]), le.Uint64(b[8:])
		scopesAt = 16
	case TypeRMRR:
		if err := need(24); err != nil {
			return s, err
		}
		s.Segment, s.Address, s.End = le.Uint16(b[6:]), le.Uint64(b[8:]), le.Uint64(b[16:])
		scopesAt = 24
	case TypeATSR, TypeSATC:
		if err := need(8); err != nil {
			return s, err
		}
		s.Flags, s.Segment = b[4], le.Uint16(b[6:])
		scopesAt = 8
	case TypeRHSA:
		if err := need(20); err != nil {
			return s, err
		}
		s.Address, s.Domain = le.Uint64(b[8:]), le.Uint32(b[16:])
		return s, nil
	case TypeANDD:
		if err := need(8); err != nil {
			return s, err
		}
		s.ACPIDev = b[7]
		name := b[8:]
		if i := strings.IndexByte(string(name), 0); i >= 0 {
			name = name[:i]
		}
		s.Name = string(name)
		return s, nil
	default:
		s.Raw = append([]byte(nil), b...)
		return s, nil
	}
	for p := scopesAt; p < len(b); {
		if len(b)-p < 2 {
			return s, fmt.Errorf("DMAR: device scope at offset %#x is cut short", off+p)
		}
		n := int(b[p+1])
		if n < 6 {
			return s, fmt.Errorf("DMAR: device scope at offset %#x has length %d, less than 6", off+p, n)
		}
		if p+n > len(b) {
			return s, fmt.Errorf("DMAR: device scope at offset %#x has length %d, overrunning its %s (ends at %#x)", off+p, n, typeName(s.Type), off+len(b))
		}
		if (n-6)%2 != 0 {
			return s, fmt.Errorf("DMAR: device scope at offset %#x has length %d: its path is not whole device/function pairs", off+p, n)
		}
		sc := Scope{Type: b[p], Offset: off + p, Flags: b[p+2], EnumerationID: b[p+4], StartBus: b[p+5]}
		for q := p + 6; q < p+n; q += 2 {
			sc.Path = append(sc.Path, PathEntry{b[q], b[q+1]})
		}
		s.Scopes = append(s.Scopes, sc)
		p += n
	}
	return s, nil
}

func typeName(t uint16) string {
	names := [...]string{"DRHD", "RMRR", "ATSR", "RHSA", "ANDD", "SATC"}
	if int(t) < len(names) {
		return names[t]
	}
	return fmt.Sprintf("structure type %d", t)
}

// TypeName returns the structure's short name ("RMRR"), or "type N" for unknown types.
func (s Structure) TypeName() string { return typeName(s.Type) }

// Trim returns an ACPI ID field without its padding, for display.
func Trim(id string) string { return strings.TrimRight(id, " \x00") }
