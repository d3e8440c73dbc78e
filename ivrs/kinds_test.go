package ivrs

// allKinds is a table holding every block type and device entry kind this package decodes, for
// the iasl cross-check and the encoder round trip.
func allKinds() *Table {
	entries := []Entry{
		{Type: EntryPad4},
		{Type: EntrySelect, DeviceID: ID(0, 0x14, 0), Setting: 0xd7},
		{Type: EntryRangeStart, DeviceID: ID(1, 0, 0), Setting: 0x01},
		{Type: EntryRangeEnd, DeviceID: ID(1, 0x1f, 7)},
		{Type: EntryPad8},
		{Type: EntryAliasSelect, DeviceID: ID(2, 0, 0), SourceID: ID(0, 0x1e, 0)},
		{Type: EntryAliasRangeStart, DeviceID: ID(3, 0, 0), SourceID: ID(0, 0x1c, 0)},
		{Type: EntryRangeEnd, DeviceID: ID(3, 0x1f, 7)},
		{Type: EntryExtSelect, DeviceID: ID(4, 0, 0), ExtSetting: 1 << 31},
		{Type: EntryExtRangeStart, DeviceID: ID(5, 0, 0), ExtSetting: 0x12345678},
		{Type: EntryRangeEnd, DeviceID: ID(5, 0, 7)},
		{Type: EntrySpecial, Handle: 0x21, SourceID: ID(0, 0x14, 0), Variety: VarietyIOAPIC, Setting: 0xd7},
		{Type: EntrySpecial, Handle: 0, SourceID: ID(0, 0x14, 0), Variety: VarietyHPET},
	}
	t := &Table{
		Revision: 2, OEMID: "DPDD  ", OEMTableID: "ALLKINDS", OEMRevision: 7, CreatorID: "DPDD", CreatorRevision: 1,
		IVinfo: 0x00203041,
		Blocks: []Block{
			{Type: TypeIVHD10, Flags: 0xb0, DeviceID: ID(0, 0, 2), CapOffset: 0x40, Base: 0xfd200000, Feature: 0x80048f6e,
				Entries: append([]Entry{{Type: EntryAll, Setting: 0}}, entries...)},
			{Type: TypeIVHD11, Flags: 0x30, DeviceID: ID(0x40, 0, 2), CapOffset: 0x40, Base: 0xfd300000, Segment: 0,
				Feature: 0x40200, EFR: 0x246577efa2254afa, Entries: entries},
			{Type: TypeIVMDAll, Flags: FlagUnity | FlagRead | FlagWrite, Start: 0x9f000000, Length: 0x100000},
			{Type: TypeIVMDDevice, Flags: FlagExclusion, DeviceID: ID(3, 0, 0), Start: 0xccd42000, Length: 0x26000},
			{Type: TypeIVMDRange, Flags: FlagUnity | FlagRead, DeviceID: ID(0, 0, 0), Aux: ID(0x0f, 0x1f, 7), Start: 0x9618e000, Length: 1},
			{Type: TypeIVHD40, Flags: 0x30, DeviceID: ID(0, 0, 2), CapOffset: 0x40, Base: 0xfd200000, Feature: 0x40200, EFR: 0x246577efa2254afa,
				Entries: append(append([]Entry{}, entries...),
					Entry{Type: EntryACPIHID, DeviceID: ID(0, 0x14, 5), Setting: 0x40, HID: "AMDI0020", UIDFormat: UIDString, UID: []byte("\\_SB.FUR0\x00")},
					Entry{Type: EntryACPIHID, DeviceID: ID(0, 0x14, 6), HID: "AMDI0010", CID: 0x1234, UIDFormat: UIDInteger, UID: []byte{3}},
					Entry{Type: EntryACPIHID, DeviceID: ID(0, 0x14, 7), HID: "MSFT0101"},
				)},
		},
	}
	return t
}
