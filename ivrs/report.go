package ivrs

import (
	"fmt"
	"io"
	"strings"

	"github.com/dpdk-doctor/dpdk-doctor/pci"
)

// Report is the IVMD listing `dpdk-doctor reserved` prints: the table's header facts, its IOMMUs
// and every IVMD with the host's devices it covers. Addresses and IDs are strings ("0x7f000000",
// "01:00.0") so JSON readers need no 64-bit integers.
type Report struct {
	OEMID         string          `json:"oem_id"`
	OEMTableID    string          `json:"oem_table_id"`
	Revision      uint8           `json:"revision"`
	IVinfo        string          `json:"ivinfo"`
	IVHDType      string          `json:"ivhd_type"` // the IVHD type the kernel reads the table by, "" when none
	KernelRelease string          `json:"kernel_release"`
	IOMMUs        []ReportIOMMU   `json:"iommus"`
	IVMD          []ReportIVMD    `json:"ivmd"`
	Unknown       []ReportUnknown `json:"unknown_blocks"`
	Warnings      []string        `json:"warnings"`
}

// ReportIOMMU is one IVHD.
type ReportIOMMU struct {
	Offset  int    `json:"offset"`
	Type    string `json:"type"` // "0x10", "0x11", "0x40"
	Read    bool   `json:"read_by_kernel"`
	Device  string `json:"device"` // the IOMMU's own PCI function, "00:00.2"
	Segment uint16 `json:"segment"`
	Base    string `json:"base"`
	Flags   string `json:"flags"`
	Entries int    `json:"entries"`
}

// ReportIVMD is one IVMD and the host's devices it covers.
type ReportIVMD struct {
	Offset      int            `json:"offset"`
	Type        string         `json:"type"` // "0x20", "0x21", "0x22"
	Kind        Kind           `json:"kind"` // all, device, range
	Segment     uint16         `json:"segment"`
	First       string         `json:"first,omitempty"` // device ID named (21h) or first of the range (22h)
	Last        string         `json:"last,omitempty"`  // last device ID of the range (22h)
	Flags       ReportFlags    `json:"flags"`
	Start       string         `json:"start"`
	End         string         `json:"end"` // inclusive, "" for a zero length
	Length      string         `json:"length"`
	Direct      bool           `json:"direct"`       // the kernel makes a direct-mapped reserved region of it
	RegionStart string         `json:"region_start"` // that region, page-aligned as the kernel does
	RegionEnd   string         `json:"region_end"`
	Devices     []ReportDevice `json:"devices"`
}

// ReportFlags are an IVMD's flags, decoded.
type ReportFlags struct {
	Value     uint8 `json:"value"`
	Unity     bool  `json:"unity"`
	Read      bool  `json:"read"`
	Write     bool  `json:"write"`
	Exclusion bool  `json:"exclusion"`
}

// ReportDevice is a device an IVMD covers.
type ReportDevice struct {
	Address string `json:"address"`
	Name    string `json:"name,omitempty"`
	Driver  string `json:"driver,omitempty"`
	Slot    string `json:"slot,omitempty"`
	Via     Kind   `json:"via"`             // device, range, all, alias
	Alias   string `json:"alias,omitempty"` // for via alias: the ID its requests carry
	Refused bool   `json:"refused"`         // the kernel release refuses it to VFIO (Coverage.Refused)
}

// ReportUnknown is a block of a type this package does not decode.
type ReportUnknown struct {
	Offset int    `json:"offset"`
	Type   string `json:"type"`
	Length int    `json:"length"`
}

func hex(v uint64) string { return fmt.Sprintf("%#x", v) }

// NewReport resolves t's IVMDs against ds (which may be empty, for a table read from a file),
// judging refusals for kernelRelease ("" judges as a current kernel). name labels a device, and
// may be nil.
func NewReport(t *Table, ds *pci.Devices, name func(*pci.Device) string, kernelRelease string) *Report {
	eff := t.EffectiveIVHDType()
	effName := hex(uint64(eff))
	if len(t.IVHDs()) == 0 {
		effName = ""
	}
	r := &Report{OEMID: Trim(t.OEMID), OEMTableID: Trim(t.OEMTableID), Revision: t.Revision, IVinfo: hex(uint64(t.IVinfo)),
		IVHDType: effName, KernelRelease: kernelRelease,
		IOMMUs: []ReportIOMMU{}, IVMD: []ReportIVMD{}, Unknown: []ReportUnknown{}, Warnings: append([]string{}, t.Warnings...)}
	verdicts := map[pci.Address]Verdict{}
	if ds != nil {
		verdicts = Judge(t, ds)
	}
	for i, b := range t.Blocks {
		switch {
		case b.IsIVHD():
			r.IOMMUs = append(r.IOMMUs, ReportIOMMU{Offset: b.Offset, Type: hex(uint64(b.Type)), Read: b.Type == eff, Device: FormatID(b.DeviceID),
				Segment: b.Segment, Base: hex(b.Base), Flags: hex(uint64(b.Flags)), Entries: len(b.Entries)})
		case b.IsIVMD():
			c := cover(b, "")
			m := ReportIVMD{Offset: b.Offset, Type: hex(uint64(b.Type)), Segment: b.Segment,
				Flags: ReportFlags{b.Flags, b.Flags&FlagUnity != 0, b.Flags&FlagRead != 0, b.Flags&FlagWrite != 0, b.Flags&FlagExclusion != 0},
				Start: hex(b.Start), Length: hex(b.Length), Direct: c.Direct,
				RegionStart: hex(c.RegionStart), RegionEnd: hex(c.RegionEnd), Devices: []ReportDevice{}}
			if b.Length > 0 {
				m.End = hex(b.End())
			} else {
				m.RegionEnd = ""
				r.Warnings = append(r.Warnings, fmt.Sprintf("%s at offset %#x has length 0", b.TypeName(), b.Offset))
			}
			switch b.Type {
			case TypeIVMDAll:
				m.Kind = ByAll
			case TypeIVMDDevice:
				m.Kind, m.First = ByDevice, FormatID(b.DeviceID)
			case TypeIVMDRange:
				m.Kind, m.First, m.Last = ByRange, FormatID(b.DeviceID), FormatID(b.Aux)
				if b.Aux < b.DeviceID {
					r.Warnings = append(r.Warnings, fmt.Sprintf("IVMD 22h at offset %#x ends (%s) before it starts (%s)", b.Offset, m.Last, m.First))
				}
			}
			if ds != nil {
				for _, d := range ds.List {
					for _, cv := range verdicts[d.Address].Covers {
						if cv.Index != i {
							continue
						}
						rd := ReportDevice{Address: d.Address.String(), Driver: d.Driver, Slot: d.Slot, Via: cv.Kind, Refused: cv.Refused(kernelRelease)}
						if name != nil {
							rd.Name = name(d)
						}
						if cv.Kind == ByAlias {
							rd.Alias = FormatID(cv.Alias)
						}
						m.Devices = append(m.Devices, rd)
					}
				}
			}
			r.IVMD = append(r.IVMD, m)
		default:
			end := len(b.Raw)
			if end == 0 && i+1 < len(t.Blocks) {
				end = t.Blocks[i+1].Offset - b.Offset
			}
			r.Unknown = append(r.Unknown, ReportUnknown{Offset: b.Offset, Type: hex(uint64(b.Type)), Length: end})
		}
	}
	return r
}

// WriteText prints the report for a person.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	if r.IVHDType == "" {
		fmt.Fprintf(&b, "IVRS %s %s: revision %d, IVinfo %s, no IOMMU definition (the kernel finds no IOMMU in it)\n",
			r.OEMID, r.OEMTableID, r.Revision, r.IVinfo)
	} else {
		fmt.Fprintf(&b, "IVRS %s %s: revision %d, IVinfo %s, %d IOMMU definitions (the kernel reads type %s)\n",
			r.OEMID, r.OEMTableID, r.Revision, r.IVinfo, len(r.IOMMUs), strings.TrimPrefix(r.IVHDType, "0x")+"h")
	}
	for _, m := range r.IOMMUs {
		if m.Read {
			fmt.Fprintf(&b, "  IOMMU %s  segment %04x  registers %s\n", m.Device, m.Segment, m.Base)
		}
	}
	fmt.Fprintf(&b, "%d IVMDs\n", len(r.IVMD))
	for i, m := range r.IVMD {
		who := "all devices"
		switch m.Kind {
		case ByDevice:
			who = "device " + m.First
		case ByRange:
			who = "devices " + m.First + " to " + m.Last
		}
		var fl []string
		for _, f := range []struct {
			on   bool
			name string
		}{{m.Flags.Unity, "unity"}, {m.Flags.Read, "read"}, {m.Flags.Write, "write"}, {m.Flags.Exclusion, "exclusion"}} {
			if f.on {
				fl = append(fl, f.name)
			}
		}
		if len(fl) == 0 {
			fl = append(fl, "none")
		}
		fmt.Fprintf(&b, "\nIVMD %d (%sh)  segment %04x  %s  %s-%s  (%s)\n", i+1, strings.TrimPrefix(m.Type, "0x"), m.Segment, who, m.Start, m.End, strings.Join(fl, ", "))
		if !m.Direct {
			b.WriteString("  neither unity nor exclusion: the kernel ignores it\n")
		} else {
			fmt.Fprintf(&b, "  the kernel reserves %s-%s as a direct (1:1) region for the devices it names\n", m.RegionStart, m.RegionEnd)
		}
		for _, d := range m.Devices {
			fmt.Fprintf(&b, "  -> %s", d.Address)
			if d.Name != "" {
				fmt.Fprintf(&b, "  %s", d.Name)
			}
			if d.Driver != "" {
				fmt.Fprintf(&b, "  [%s]", d.Driver)
			}
			if d.Slot != "" {
				fmt.Fprintf(&b, "  slot %s", d.Slot)
			}
			if d.Via == ByAlias {
				fmt.Fprintf(&b, "  (its requests carry %s)", d.Alias)
			}
			if d.Refused {
				b.WriteString("  REFUSED to VFIO")
				if r.KernelRelease != "" {
					fmt.Fprintf(&b, " by %s", r.KernelRelease)
				}
			}
			b.WriteString("\n")
		}
	}
	for _, u := range r.Unknown {
		fmt.Fprintf(&b, "unknown block type %s at offset %#x (%d bytes), kept as is\n", u.Type, u.Offset, u.Length)
	}
	for _, wng := range r.Warnings {
		fmt.Fprintf(&b, "warning: %s\n", wng)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
