package ivrs

import (
	"strconv"
	"strings"

	"github.com/dpdk-doctor/dpdk-doctor/pci"
)

// Kind says how an IVMD reaches a device.
type Kind string

// Kinds of coverage, as `--json` reports them.
const (
	ByDevice Kind = "device" // an IVMD 21h names the device's ID
	ByRange  Kind = "range"  // an IVMD 22h's ID range holds the device's ID
	ByAll    Kind = "all"    // an IVMD 20h: every device the IOMMUs handle
	ByAlias  Kind = "alias"  // an IVMD names the ID the device's requests carry (IVHD alias entry)
)

// EffectiveIVHDType returns the IVHD type the kernel reads the table by, as its
// get_highest_supported_ivhd_type does: walking the blocks while their type is at most 40h, the
// last type seen with the first block's device ID. The kernel ignores IVHDs of other types (a
// table carries 10h and 11h, or 10h, 11h and 40h, describing the same IOMMUs). It returns 0 for
// a table without blocks.
func (t *Table) EffectiveIVHDType() uint8 {
	if len(t.Blocks) == 0 {
		return 0
	}
	last, dev := t.Blocks[0].Type, t.Blocks[0].DeviceID
	for _, b := range t.Blocks {
		if b.Type > TypeIVHD40 {
			break
		}
		if b.DeviceID == dev {
			last = b.Type
		}
	}
	return last
}

// IDRange is a run of device IDs an IVHD's device entries name, with the alias their requests
// carry.
type IDRange struct {
	First, Last uint16
	Alias       uint16 // the requester ID the devices' requests carry, when HasAlias
	HasAlias    bool
	Entry       Entry // the entry that opened the range
}

// IDRanges returns the device IDs an IVHD's entries name, as the kernel's init_iommu_from_acpi
// reads them: EntryAll names every ID, a select entry one ID, a range start entry the IDs up to
// the next EntryRangeEnd; alias entries carry the ID the requests use. Special (IOAPIC, HPET)
// and ACPI HID entries name no PCI device and are left out.
func (b Block) IDRanges() []IDRange {
	var out []IDRange
	var open *IDRange
	for _, e := range b.Entries {
		switch e.Type {
		case EntryAll:
			out = append(out, IDRange{First: 0, Last: 0xffff, Entry: e})
		case EntrySelect, EntryExtSelect:
			out = append(out, IDRange{First: e.DeviceID, Last: e.DeviceID, Entry: e})
		case EntryAliasSelect:
			out = append(out, IDRange{First: e.DeviceID, Last: e.DeviceID, Alias: e.SourceID, HasAlias: true, Entry: e})
		case EntryRangeStart, EntryExtRangeStart:
			open = &IDRange{First: e.DeviceID, Entry: e}
		case EntryAliasRangeStart:
			open = &IDRange{First: e.DeviceID, Alias: e.SourceID, HasAlias: true, Entry: e}
		case EntryRangeEnd:
			if open != nil && e.DeviceID >= open.First {
				open.Last = e.DeviceID
				out = append(out, *open)
			}
			open = nil
		}
	}
	return out
}

// LastID returns the highest device ID the IVHDs of the effective type name in segment seg, as
// the kernel's find_last_devid_from_ivhd computes it (0xffff when one has EntryAll): an IVMD 20h
// covers the IDs up to it. ok is false when no IVHD serves the segment.
func (t *Table) LastID(seg uint16) (last uint16, ok bool) {
	eff := t.EffectiveIVHDType()
	for _, b := range t.Blocks {
		if b.Type != eff || !b.IsIVHD() || b.Segment != seg {
			continue
		}
		ok = true
		for _, e := range b.Entries {
			switch e.Type {
			case EntryAll:
				return 0xffff, true
			case EntrySelect, EntryRangeEnd, EntryAliasSelect, EntryExtSelect:
				last = max(last, e.DeviceID)
			}
		}
	}
	return last, ok
}

// Coverage is one IVMD that covers a device.
type Coverage struct {
	IVMD  Block
	Index int // the IVMD's place in Table.Blocks
	Kind  Kind
	// For ByAlias: the ID the device's requests carry, and the host's device at that ID (nil
	// when none is present).
	Alias       uint16
	AliasDevice *pci.Device
	// SameGroup: for ByAlias, the alias device shares the device's IOMMU group (or the groups
	// are not known, the IOMMU being off). The kernel puts a device and its IVRS alias in one
	// group (setup_aliases adds the alias as a PCI DMA alias, pci_device_group follows it).
	SameGroup bool
	// Direct: the IVMD asks for a unity map or an exclusion range, so the kernel makes a
	// reserved region of it; an IVMD with neither flag is skipped by init_memory_definitions.
	Direct bool
	// Exclusion: the IVMD is an exclusion range. Since Linux 5.9 init_unity_map_range treats
	// it as a read/write unity map, so it too becomes a direct region.
	Exclusion bool
	// RegionStart and RegionEnd (inclusive) are the reserved region the kernel makes of the
	// IVMD: init_unity_map_range page-aligns the start and the length upwards. With a zero
	// length the region is empty and RegionEnd is RegionStart-1.
	RegionStart, RegionEnd uint64
}

// Refused reports whether a kernel of the given release (uname -r, e.g. "6.12.0-1-amd64") will
// refuse the device to VFIO because of this coverage.
//
// The kernel's path: amd_iommu_get_resv_regions gives a device an IOMMU_RESV_DIRECT region for
// every unity-map entry whose device ID range holds the device's own ID (get_device_sbdf_id; an
// alias ID is not consulted), exclusion ranges included since 5.9;
// iommu_create_device_direct_mappings marks such a device require_direct; and since 6.6 ("iommu:
// Prevent RESV_DIRECT devices from blocking domains") __iommu_device_set_domain refuses to put a
// require_direct device in a blocking or VFIO-owned domain: "Firmware has requested this device
// have a 1:1 IOMMU mapping, rejecting configuring the device without a 1:1 mapping". AMD has no
// relaxable type and no relax option. Before 6.6 the same device attaches (the region is still
// listed as "direct" in reserved_regions).
//
// Coverage through an alias refuses only when the alias ID is a device present on the host that
// shares the device's IOMMU group: that device carries the region, and VFIO takes whole groups.
// A release that cannot be read is taken to be a current kernel (refused), the safe prediction.
func (c Coverage) Refused(kernelRelease string) bool {
	if !c.Direct || !AtLeast(kernelRelease, 6, 6) {
		return false
	}
	if c.Kind == ByAlias {
		return c.AliasDevice != nil && c.SameGroup
	}
	return true
}

// AtLeast reports whether kernel release r ("6.12.0-1-amd64", "5.15.108-1-pve") is at least
// major.minor. A release that does not start with two numbers counts as new enough.
func AtLeast(r string, major, minor int) bool {
	parts := strings.SplitN(r, ".", 3)
	if len(parts) < 2 {
		return true
	}
	num := func(s string) (int, bool) {
		i := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		n, err := strconv.Atoi(s[:i])
		return n, err == nil
	}
	ma, ok1 := num(parts[0])
	mi, ok2 := num(parts[1])
	if !ok1 || !ok2 {
		return true
	}
	return ma > major || ma == major && mi >= minor
}

// Verdict is what the IVRS says of one device.
type Verdict struct {
	// IOMMU is the IVHD (of the type the kernel reads) whose device entries name the device; nil
	// when none does: the kernel then leaves the device untranslated and no IVMD reaches it.
	IOMMU *Block
	// Alias is the ID the device's requests carry, when an IVHD alias entry names it (HasAlias).
	Alias    uint16
	HasAlias bool
	Covers   []Coverage
}

// Refused reports whether any coverage makes the kernel of that release refuse the device to
// VFIO (see Coverage.Refused).
func (v Verdict) Refused(kernelRelease string) bool {
	for _, c := range v.Covers {
		if c.Refused(kernelRelease) {
			return true
		}
	}
	return false
}

// Judge decides, for every device, whether an IVMD covers it and how: by device (21h), by range
// (22h), all devices (20h), or through the alias its requests carry. It follows the kernel:
// only IVHDs of the effective type count (EffectiveIVHDType); a device no IVHD names is not
// translated and gets no coverage; an IVMD 20h covers the IDs up to LastID; IVMDs match the
// device's segment. A nil table gives an empty map.
func Judge(t *Table, ds *pci.Devices) map[pci.Address]Verdict {
	out := make(map[pci.Address]Verdict, len(ds.List))
	if t == nil {
		return out
	}
	eff := t.EffectiveIVHDType()
	type served struct {
		blk    *Block
		ranges []IDRange
	}
	var ivhds []served
	for i := range t.Blocks {
		if b := &t.Blocks[i]; b.IsIVHD() && b.Type == eff {
			ivhds = append(ivhds, served{b, b.IDRanges()})
		}
	}
	lastIDs := map[uint16]uint16{}
	for _, d := range ds.List {
		id := ID(d.Address.Bus, d.Address.Device, d.Address.Function)
		var v Verdict
		for _, s := range ivhds {
			if s.blk.Segment != d.Address.Segment {
				continue
			}
			for _, r := range s.ranges {
				if id >= r.First && id <= r.Last {
					if v.IOMMU == nil {
						v.IOMMU = s.blk
					}
					if r.HasAlias && r.Alias != id {
						v.Alias, v.HasAlias = r.Alias, true
					}
				}
			}
		}
		if v.IOMMU == nil {
			out[d.Address] = v
			continue
		}
		last, ok := lastIDs[d.Address.Segment]
		if !ok {
			last, _ = t.LastID(d.Address.Segment)
			lastIDs[d.Address.Segment] = last
		}
		for i, m := range t.Blocks {
			if !m.IsIVMD() || m.Segment != d.Address.Segment {
				continue
			}
			if k, ok := reaches(m, id, last); ok {
				c := cover(m, k)
				c.Index = i
				v.Covers = append(v.Covers, c)
				continue
			}
			if v.HasAlias {
				if _, ok := reaches(m, v.Alias, last); ok {
					c := cover(m, ByAlias)
					c.Index = i
					c.Alias = v.Alias
					c.AliasDevice = ds.OnBus(d.Address.Segment, uint8(v.Alias>>8), uint8(v.Alias>>3&0x1f), uint8(v.Alias&7))
					if a := c.AliasDevice; a != nil {
						c.SameGroup = a.IOMMUGroup < 0 || d.IOMMUGroup < 0 || a.IOMMUGroup == d.IOMMUGroup
					}
					v.Covers = append(v.Covers, c)
				}
			}
		}
		out[d.Address] = v
	}
	return out
}

// reaches reports whether IVMD m names device ID id, and how.
func reaches(m Block, id, last uint16) (Kind, bool) {
	switch m.Type {
	case TypeIVMDDevice:
		return ByDevice, id == m.DeviceID
	case TypeIVMDRange:
		return ByRange, id >= m.DeviceID && id <= m.Aux
	case TypeIVMDAll:
		return ByAll, id <= last
	}
	return "", false
}

func cover(m Block, k Kind) Coverage {
	const page = 4096
	align := func(x uint64) uint64 { return (x + page - 1) &^ (page - 1) }
	c := Coverage{IVMD: m, Kind: k, Direct: m.Flags&(FlagUnity|FlagExclusion) != 0, Exclusion: m.Flags&FlagExclusion != 0}
	c.RegionStart = align(m.Start)
	c.RegionEnd = c.RegionStart + align(m.Length) - 1
	return c
}
