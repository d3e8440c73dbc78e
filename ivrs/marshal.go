package ivrs

import (
	"encoding/binary"
	"fmt"
)

// MarshalBinary encodes t as a raw IVRS table with correct lengths and checksum. Blocks and
// device entries of unknown type are written from Raw; reserved bytes are written as zero. It
// is how the lab's table (see LabTable) and test tables are made, and lets fuzzing check that
// Parse and MarshalBinary agree.
func (t *Table) MarshalBinary() ([]byte, error) {
	le := binary.LittleEndian
	b := make([]byte, headerLen, 512)
	copy(b[0:], "IVRS")
	b[8] = t.Revision
	copy(b[10:16], pad(t.OEMID, 6))
	copy(b[16:24], pad(t.OEMTableID, 8))
	le.PutUint32(b[24:], t.OEMRevision)
	copy(b[28:32], pad(t.CreatorID, 4))
	le.PutUint32(b[32:], t.CreatorRevision)
	le.PutUint32(b[36:], t.IVinfo)
	le.PutUint64(b[40:], t.Reserved)
	for i, blk := range t.Blocks {
		body, err := blk.marshal()
		if err != nil {
			return nil, fmt.Errorf("IVRS: block %d (%s): %w", i, blk.TypeName(), err)
		}
		b = append(b, body...)
	}
	if uint64(len(b)) > 0xffffffff {
		return nil, fmt.Errorf("IVRS: table too long (%d bytes)", len(b))
	}
	le.PutUint32(b[4:], uint32(len(b)))
	var sum byte
	for _, c := range b {
		sum += c
	}
	b[9] = -sum
	return b, nil
}

func (blk Block) marshal() ([]byte, error) {
	le := binary.LittleEndian
	var body []byte
	switch blk.Type {
	case TypeIVHD10, TypeIVHD11, TypeIVHD40:
		hl := ivhd10HeaderLen
		if blk.Type != TypeIVHD10 {
			hl = ivhd11HeaderLen
		}
		body = make([]byte, hl, 256)
		le.PutUint16(body[4:], blk.DeviceID)
		le.PutUint16(body[6:], blk.CapOffset)
		le.PutUint64(body[8:], blk.Base)
		le.PutUint16(body[16:], blk.Segment)
		le.PutUint16(body[18:], blk.Info)
		le.PutUint32(body[20:], blk.Feature)
		if blk.Type != TypeIVHD10 {
			le.PutUint64(body[24:], blk.EFR)
			le.PutUint64(body[32:], blk.EFR2)
		}
		for _, e := range blk.Entries {
			eb, err := e.marshal()
			if err != nil {
				return nil, err
			}
			body = append(body, eb...)
		}
	case TypeIVMDAll, TypeIVMDDevice, TypeIVMDRange:
		body = make([]byte, ivmdLen, ivmdLen+len(blk.Tail))
		le.PutUint16(body[4:], blk.DeviceID)
		le.PutUint16(body[6:], blk.Aux)
		le.PutUint16(body[8:], blk.Segment)
		le.PutUint64(body[16:], blk.Start)
		le.PutUint64(body[24:], blk.Length)
		body = append(body, blk.Tail...)
	default:
		if len(blk.Raw) < 4 {
			return nil, fmt.Errorf("unknown block type %#02x has no raw bytes", blk.Type)
		}
		body = append([]byte(nil), blk.Raw...)
	}
	if len(body) > 0xffff {
		return nil, fmt.Errorf("block too long (%d bytes)", len(body))
	}
	body[0], body[1] = blk.Type, blk.Flags
	le.PutUint16(body[2:], uint16(len(body)))
	return body, nil
}

func (e Entry) marshal() ([]byte, error) {
	le := binary.LittleEndian
	var b []byte
	switch e.Type {
	case EntryPad4, EntryAll, EntrySelect, EntryRangeStart, EntryRangeEnd, EntryPad8:
		b = make([]byte, EntryLen(e.Type))
	case EntryAliasSelect, EntryAliasRangeStart:
		b = make([]byte, 8)
		le.PutUint16(b[5:], e.SourceID)
	case EntryExtSelect, EntryExtRangeStart:
		b = make([]byte, 8)
		le.PutUint32(b[4:], e.ExtSetting)
	case EntrySpecial:
		b = make([]byte, 8)
		b[4], b[7] = e.Handle, e.Variety
		le.PutUint16(b[5:], e.SourceID)
	case EntryACPIHID:
		if len(e.UID) > 255 {
			return nil, fmt.Errorf("ACPI HID entry: UID of %d bytes is too long", len(e.UID))
		}
		b = make([]byte, 22, 22+len(e.UID))
		copy(b[4:12], pad(e.HID, 8))
		le.PutUint64(b[12:], e.CID)
		b[20], b[21] = e.UIDFormat, byte(len(e.UID))
		b = append(b, e.UID...)
	default:
		if len(e.Raw) != EntryLen(e.Type) || e.Raw[0] != e.Type {
			return nil, fmt.Errorf("device entry of unknown type %#02x needs its %d raw bytes", e.Type, EntryLen(e.Type))
		}
		return append([]byte(nil), e.Raw...), nil
	}
	b[0], b[3] = e.Type, e.Setting
	le.PutUint16(b[1:], e.DeviceID)
	return b, nil
}

func pad(s string, n int) []byte {
	b := []byte(s)
	for len(b) < n {
		b = append(b, ' ')
	}
	return b[:n]
}

// IVMD returns a memory definition block of type typ (TypeIVMDAll, TypeIVMDDevice or
// TypeIVMDRange) for device IDs first..last (first alone for 21h, ignored for 20h), asking for
// length bytes at start to be identity-mapped read/write, or, with exclusion, excluded from
// translation.
func IVMD(typ uint8, first, last uint16, start, length uint64, exclusion bool) Block {
	b := Block{Type: typ, Flags: FlagUnity | FlagRead | FlagWrite, Start: start, Length: length}
	if exclusion {
		b.Flags = FlagExclusion
	}
	switch typ {
	case TypeIVMDDevice:
		b.DeviceID = first
	case TypeIVMDRange:
		b.DeviceID, b.Aux = first, last
	}
	return b
}

// LabTable returns the IVRS the lab hands to a QEMU guest with `-device amd-iommu` by ACPI
// table upgrade: QEMU's own IVRS is built before the firmware numbers the buses, so its device
// ranges miss devices behind root ports. It has one IVHD 10h for QEMU's IOMMU (device 00:02.0,
// capability at 0x40, registers at 0xfed80000, QEMU's flags HtTunEn, IotlbSup, PrefSup, PPRSup)
// holding a select-all device entry and the IOAPIC special entry (IOAPIC ID 0, device 00:14.0),
// then the given IVMDs. Header fields are QEMU's (build_amd_iommu: revision 1, PASize 40, the
// machine's OEM ID "BOCHS " and table ID "BXPC    "), and the OEM revision is oemRevision, to
// be set higher than that of the table it replaces. With only an IVHD 10h in the table, the
// kernel reads that type (EffectiveIVHDType).
func LabTable(oemRevision uint32, ivmds ...Block) *Table {
	t := &Table{
		Revision: 1, OEMID: "BOCHS ", OEMTableID: "BXPC    ", OEMRevision: oemRevision,
		CreatorID: "DPDD", CreatorRevision: 1,
		IVinfo: 40 << 8, // PASize 40
		Blocks: []Block{{
			Type: TypeIVHD10, Flags: 0xd1, // HtTunEn, IotlbSup, PrefSup, PPRSup
			DeviceID: ID(0, 2, 0), CapOffset: 0x40, Base: 0xfed80000,
			Entries: []Entry{
				{Type: EntryAll},
				{Type: EntrySpecial, Handle: 0, SourceID: ID(0, 0x14, 0), Variety: VarietyIOAPIC},
			},
		}},
	}
	t.Blocks = append(t.Blocks, ivmds...)
	return t
}
