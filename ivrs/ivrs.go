// Package ivrs decodes the ACPI I/O Virtualization Reporting Structure (IVRS) that announces an
// AMD IOMMU, and finds which PCI devices its memory definitions (IVMD) cover: the devices a
// Linux 6.6 or later kernel will refuse to hand to VFIO, as it does for Intel's RMRRs.
//
// The layout follows AMD's I/O Virtualization Technology (IOMMU) Specification (48882), section
// "ACPI Tables", and Linux's drivers/iommu/amd/init.c, which is what decides in the end.
package ivrs

import (
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/dpdk-doctor/dpdk-doctor/internal/acpi"
)

// Block types: the IVRS subtables that follow the header.
const (
	TypeIVHD10      = 0x10 // I/O virtualization hardware definition, fixed-length format
	TypeIVHD11      = 0x11 // IVHD with the EFR image, fixed-length device entries only
	TypeIVHD40      = 0x40 // IVHD with the EFR image, variable-length (ACPI HID) entries too
	TypeIVMDAll     = 0x20 // memory definition for every device
	TypeIVMDDevice  = 0x21 // memory definition for one device
	TypeIVMDRange   = 0x22 // memory definition for a range of device IDs
	ivhd10HeaderLen = 24
	ivhd11HeaderLen = 40
	ivmdLen         = 32
)

// Device entry types inside an IVHD. The type's bits 7:6 give the entry's length (00: 4 bytes,
// 01: 8 bytes, 10: 16 bytes, 11: 32 bytes), except EntryACPIHID, whose length is in the entry.
const (
	EntryPad4            = 0x00 // reserved, 4 bytes, no meaning (padding)
	EntryAll             = 0x01 // every device ID
	EntrySelect          = 0x02 // one device ID
	EntryRangeStart      = 0x03 // first device ID of a range ended by EntryRangeEnd
	EntryRangeEnd        = 0x04 // last device ID of the open range
	EntryPad8            = 0x40 // reserved, 8 bytes, no meaning (padding)
	EntryAliasSelect     = 0x42 // one device ID whose requests carry another (the alias)
	EntryAliasRangeStart = 0x43 // a range whose requests all carry the alias; ended by EntryRangeEnd
	EntryExtSelect       = 0x46 // one device ID with an extended data setting
	EntryExtRangeStart   = 0x47 // a range with an extended data setting; ended by EntryRangeEnd
	EntrySpecial         = 0x48 // an IOAPIC or HPET and the device ID its interrupts carry
	EntryACPIHID         = 0xF0 // an ACPI name-space device (HID, CID, UID); IVHD type 40h only
)

// Special device varieties (EntrySpecial).
const (
	VarietyIOAPIC = 1
	VarietyHPET   = 2
)

// IVMD flags.
const (
	FlagUnity     = 1 << 0 // the range is to be identity (1:1) mapped
	FlagRead      = 1 << 1 // ... readable
	FlagWrite     = 1 << 2 // ... writable
	FlagExclusion = 1 << 3 // exclusion range: DMA to it bypasses translation
)

// UID formats of an ACPI HID entry.
const (
	UIDNone    = 0
	UIDInteger = 1
	UIDString  = 2
)

// Table is a decoded IVRS table.
type Table struct {
	Revision        uint8
	OEMID           string // as stored: padded with spaces or NULs (see Trim)
	OEMTableID      string
	OEMRevision     uint32
	CreatorID       string
	CreatorRevision uint32
	IVinfo          uint32 // I/O virtualization information (address sizes, EFRSup, DMA remap opt-in)
	Reserved        uint64 // bytes 40-47, kept so a table encodes back as it was
	Blocks          []Block
	Warnings        []string // problems that did not stop decoding (a bad checksum)
}

// Block is one IVHD, IVMD or unknown subtable. Fields apply according to Type; unknown types
// keep their bytes in Raw.
type Block struct {
	Type     uint8
	Offset   int    // where it starts in the table
	Flags    uint8  // IVHD: HtTunEn, PassPW, ...; IVMD: FlagUnity, FlagRead, FlagWrite, FlagExclusion
	DeviceID uint16 // IVHD: the IOMMU's own PCI device ID; IVMD 21h/22h: the (first) device ID
	Segment  uint16 // PCI segment group

	// IVHD
	CapOffset uint16 // offset of the IOMMU's capability block in its configuration space
	Base      uint64 // register base address
	Info      uint16 // IOMMU info (MSI number, unit ID)
	Feature   uint32 // 10h: IOMMU feature reporting; 11h/40h: IOMMU attributes
	EFR       uint64 // 11h/40h: image of the extended feature register
	EFR2      uint64 // 11h/40h: image of the second extended feature register
	Entries   []Entry

	// IVMD
	Aux    uint16 // 22h: the last device ID of the range
	Start  uint64 // start address
	Length uint64 // length in bytes
	Tail   []byte // bytes past the 32 an IVMD is specified with, kept for encoding

	Raw []byte // the whole block, for types this package does not decode
}

// IsIVHD reports whether the block describes an IOMMU.
func (b Block) IsIVHD() bool {
	return b.Type == TypeIVHD10 || b.Type == TypeIVHD11 || b.Type == TypeIVHD40
}

// IsIVMD reports whether the block is a memory definition.
func (b Block) IsIVMD() bool {
	return b.Type == TypeIVMDAll || b.Type == TypeIVMDDevice || b.Type == TypeIVMDRange
}

// End returns the IVMD's last byte address (inclusive), as the table gives it. A zero length
// gives Start-1 wrapped, so callers check Length first.
func (b Block) End() uint64 { return b.Start + b.Length - 1 }

// Entry is one IVHD device entry.
type Entry struct {
	Type     uint8
	Offset   int    // where it starts in the table
	DeviceID uint16 // the device ID (bus<<8 | device<<3 | function) it names
	Setting  uint8  // data setting: INITPass, EIntPass, NMIPass, SysMgt, Lint0Pass, Lint1Pass

	SourceID   uint16 // 42h/43h: the device ID the requests carry (alias); 48h: the IOAPIC/HPET's ID
	ExtSetting uint32 // 46h/47h: extended data setting (bit 31: ATS disabled)
	Handle     uint8  // 48h: IOAPIC ID or HPET number
	Variety    uint8  // 48h: VarietyIOAPIC or VarietyHPET

	HID       string // F0h: ACPI hardware ID, 8 bytes as stored (see Trim)
	CID       uint64 // F0h: ACPI compatible ID, 8 bytes, 0 when none
	UIDFormat uint8  // F0h: UIDNone, UIDInteger or UIDString
	UID       []byte // F0h: the unique ID's bytes

	Raw []byte // the whole entry, for types this package does not decode
}

// EntryLen returns the length of a device entry of type t as the specification encodes it in the
// type's bits 7:6, or 0 for EntryACPIHID, whose length is in the entry itself. Linux's
// ivhd_entry_length knows only the 4- and 8-byte classes and the ACPI HID entry.
func EntryLen(t uint8) int {
	if t == EntryACPIHID {
		return 0
	}
	return 4 << (t >> 6)
}

// UIDString returns an ACPI HID entry's UID for display: the string, the integer in decimal, or
// "" when there is none.
func (e Entry) UIDString() string {
	switch e.UIDFormat {
	case UIDString:
		return Trim(string(e.UID))
	case UIDInteger:
		var v uint64
		for i := len(e.UID) - 1; i >= 0; i-- {
			v = v<<8 | uint64(e.UID[i])
		}
		return fmt.Sprint(v)
	}
	return ""
}

const headerLen = 48 // ACPI header (36) + IVinfo (4) + reserved (8)

// Parse decodes a raw IVRS table, as in /sys/firmware/acpi/tables/IVRS. It returns an error
// naming the offset for a table it cannot walk safely (truncated, lengths that overrun or are too
// small, a device entry that overruns its IVHD). A bad checksum is only a warning here, though
// the kernel's check_ivrs_checksum refuses such a table. Blocks and device entries of unknown
// type are kept raw.
func Parse(b []byte) (*Table, error) {
	h, b, warning, err := acpi.ParseHeader(b, "IVRS", headerLen)
	if err != nil {
		return nil, err
	}
	le := binary.LittleEndian
	t := &Table{
		Revision:        h.Revision,
		OEMID:           h.OEMID,
		OEMTableID:      h.OEMTableID,
		OEMRevision:     h.OEMRevision,
		CreatorID:       h.CreatorID,
		CreatorRevision: h.CreatorRevision,
		IVinfo:          le.Uint32(b[36:]),
		Reserved:        le.Uint64(b[40:]),
	}
	if warning != "" {
		t.Warnings = append(t.Warnings, warning+": Linux rejects the table (\"IVRS invalid checksum\") and runs without the IOMMU")
	}
	typ := func(s []byte) string { return fmt.Sprintf("%#02x", s[0]) }
	err = acpi.Walk(b, "IVRS", headerLen, "block", typ, func(sub []byte, off int) error {
		blk, err := parseBlock(sub, off)
		t.Blocks = append(t.Blocks, blk)
		return err
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

func parseBlock(b []byte, off int) (Block, error) {
	le := binary.LittleEndian
	blk := Block{Type: b[0], Offset: off, Flags: b[1]}
	need := func(n int) error {
		if len(b) < n {
			return fmt.Errorf("IVRS: %s at offset %#x is %d bytes, needs at least %d", typeName(blk.Type), off, len(b), n)
		}
		return nil
	}
	switch blk.Type {
	case TypeIVHD10, TypeIVHD11, TypeIVHD40:
		hl := ivhd10HeaderLen
		if blk.Type != TypeIVHD10 {
			hl = ivhd11HeaderLen
		}
		if err := need(hl); err != nil {
			return blk, err
		}
		blk.DeviceID, blk.CapOffset, blk.Base = le.Uint16(b[4:]), le.Uint16(b[6:]), le.Uint64(b[8:])
		blk.Segment, blk.Info, blk.Feature = le.Uint16(b[16:]), le.Uint16(b[18:]), le.Uint32(b[20:])
		if blk.Type != TypeIVHD10 {
			blk.EFR, blk.EFR2 = le.Uint64(b[24:]), le.Uint64(b[32:])
		}
		for p := hl; p < len(b); {
			e, n, err := parseEntry(b[p:], off+p, blk.Type)
			if err != nil {
				return blk, err
			}
			blk.Entries = append(blk.Entries, e)
			p += n
		}
	case TypeIVMDAll, TypeIVMDDevice, TypeIVMDRange:
		if err := need(ivmdLen); err != nil {
			return blk, err
		}
		blk.DeviceID, blk.Aux, blk.Segment = le.Uint16(b[4:]), le.Uint16(b[6:]), le.Uint16(b[8:])
		blk.Start, blk.Length = le.Uint64(b[16:]), le.Uint64(b[24:])
		if len(b) > ivmdLen {
			blk.Tail = append([]byte(nil), b[ivmdLen:]...)
		}
	default:
		blk.Raw = append([]byte(nil), b...)
	}
	return blk, nil
}

// parseEntry decodes the device entry at the start of b (which runs to its IVHD's end) and
// returns it with its length.
func parseEntry(b []byte, off int, ivhd uint8) (Entry, int, error) {
	le := binary.LittleEndian
	e := Entry{Type: b[0], Offset: off}
	n := EntryLen(e.Type)
	if e.Type == EntryACPIHID {
		if len(b) < 22 {
			return e, 0, fmt.Errorf("IVRS: ACPI HID device entry at offset %#x is cut short by the end of its %s (%d bytes left, needs 22)", off, typeName(ivhd), len(b))
		}
		n = 22 + int(b[21])
	}
	if n > len(b) {
		return e, 0, fmt.Errorf("IVRS: device entry at offset %#x (type %#02x, %d bytes) overruns its %s by %d bytes", off, e.Type, n, typeName(ivhd), n-len(b))
	}
	b = b[:n]
	e.DeviceID, e.Setting = le.Uint16(b[1:]), b[3]
	switch e.Type {
	case EntryPad4, EntryAll, EntrySelect, EntryRangeStart, EntryRangeEnd, EntryPad8:
	case EntryAliasSelect, EntryAliasRangeStart:
		e.SourceID = le.Uint16(b[5:])
	case EntryExtSelect, EntryExtRangeStart:
		e.ExtSetting = le.Uint32(b[4:])
	case EntrySpecial:
		e.Handle, e.SourceID, e.Variety = b[4], le.Uint16(b[5:]), b[7]
	case EntryACPIHID:
		e.HID, e.CID, e.UIDFormat = string(b[4:12]), le.Uint64(b[12:]), b[20]
		e.UID = append([]byte(nil), b[22:]...)
	default:
		e.Raw = append([]byte(nil), b...)
	}
	return e, n, nil
}

func typeName(t uint8) string {
	switch t {
	case TypeIVHD10, TypeIVHD11, TypeIVHD40:
		return fmt.Sprintf("IVHD %02Xh", t)
	case TypeIVMDAll, TypeIVMDDevice, TypeIVMDRange:
		return fmt.Sprintf("IVMD %02Xh", t)
	}
	return fmt.Sprintf("block type %#02x", t)
}

// TypeName returns the block's short name ("IVMD 21h"), or "block type 0x51" for unknown types.
func (b Block) TypeName() string { return typeName(b.Type) }

// IVMDs returns the memory definitions, in table order.
func (t *Table) IVMDs() []Block {
	var out []Block
	for _, b := range t.Blocks {
		if b.IsIVMD() {
			out = append(out, b)
		}
	}
	return out
}

// IVHDs returns the IOMMU definitions of every type, in table order.
func (t *Table) IVHDs() []Block {
	var out []Block
	for _, b := range t.Blocks {
		if b.IsIVHD() {
			out = append(out, b)
		}
	}
	return out
}

// Unknown returns the blocks of types this package does not decode (Lenovo's 51h, for one). The
// kernel skips them too: init_memory_definitions hands any block with a unity or exclusion flag
// to init_unity_map_range, whose switch ignores types other than 20h, 21h and 22h.
func (t *Table) Unknown() []Block {
	var out []Block
	for _, b := range t.Blocks {
		if !b.IsIVHD() && !b.IsIVMD() {
			out = append(out, b)
		}
	}
	return out
}

// Trim returns an ACPI ID field without its padding, for display.
func Trim(id string) string { return strings.TrimRight(id, " \x00") }

// ID makes a device ID (requester ID) from a bus, device and function.
func ID(bus, dev, fn uint8) uint16 { return uint16(bus)<<8 | uint16(dev&0x1f)<<3 | uint16(fn&7) }

// FormatID shows a device ID as "bb:dd.f".
func FormatID(id uint16) string {
	return fmt.Sprintf("%02x:%02x.%d", id>>8, id>>3&0x1f, id&7)
}
