package dmar

import (
	"fmt"
	"io"
	"strings"

	"github.com/dpdk-doctor/dpdk-doctor/internal/quote"
	"github.com/dpdk-doctor/dpdk-doctor/pci"
)

// Report is the RMRR listing `dpdk-doctor rmrr` prints: the table's header facts and every
// RMRR with its scopes resolved to this host's devices.
type Report struct {
	OEMID            string       `json:"oem_id"`
	OEMTableID       string       `json:"oem_table_id"`
	HostAddressWidth int          `json:"host_address_width"`
	Flags            ReportFlags  `json:"flags"`
	RMRR             []ReportRMRR `json:"rmrr"`
	Warnings         []string     `json:"warnings"`
}

// ReportFlags are the table's flags, decoded.
type ReportFlags struct {
	Value        uint8 `json:"value"`
	IntrRemap    bool  `json:"intr_remap"`
	X2APICOptOut bool  `json:"x2apic_opt_out"`
	DMACtrlOptIn bool  `json:"dma_ctrl_platform_opt_in"`
}

// ReportRMRR is one RMRR.
type ReportRMRR struct {
	Offset  int           `json:"offset"`
	Segment uint16        `json:"segment"`
	Base    uint64        `json:"base"`
	End     uint64        `json:"end"` // inclusive limit
	Size    uint64        `json:"size"`
	Scopes  []ReportScope `json:"scopes"`
}

// ReportScope is one RMRR scope and what it names on this host.
type ReportScope struct {
	Type          uint8      `json:"-"` // by name and number, see MarshalJSON
	EnumerationID uint8      `json:"enumeration_id"`
	StartBus      uint8      `json:"start_bus"`
	Path          [][2]uint8 `json:"path"`
	Address       string     `json:"address"` // the resolved device, "" when not present
	Name          string     `json:"name,omitempty"`
	Driver        string     `json:"driver,omitempty"`
	Slot          string     `json:"slot,omitempty"`
	Below         []string   `json:"below,omitempty"` // for a bridge: the devices it covers
}

// NewReport resolves t's RMRRs against ds (which may be empty, for a table read from a file).
// name labels a device, and may be nil.
func NewReport(t *Table, ds *pci.Devices, name func(*pci.Device) string) *Report {
	r := &Report{OEMID: Trim(t.OEMID), OEMTableID: Trim(t.OEMTableID), HostAddressWidth: t.HostAddressWidth,
		Flags: ReportFlags{t.Flags, t.Flags&FlagIntrRemap != 0, t.Flags&FlagX2APICOptOut != 0, t.Flags&FlagDMACtrlOptIn != 0},
		RMRR:  []ReportRMRR{}, Warnings: append([]string{}, t.Warnings...)}
	for _, s := range t.RMRRs() {
		rr := ReportRMRR{Offset: s.Offset, Segment: s.Segment, Base: s.Address, End: s.End, Size: s.End - s.Address + 1, Scopes: []ReportScope{}}
		if s.End < s.Address {
			rr.Size = 0
			r.Warnings = append(r.Warnings, fmt.Sprintf("RMRR at offset %#x ends (%#x) before it starts (%#x)", s.Offset, s.End, s.Address))
		}
		for _, sc := range s.Scopes {
			rs := ReportScope{Type: sc.Type, EnumerationID: sc.EnumerationID, StartBus: sc.StartBus, Path: [][2]uint8{}}
			for _, p := range sc.Path {
				rs.Path = append(rs.Path, [2]uint8{p.Device, p.Function})
			}
			if d := Resolve(s.Segment, sc, ds); d != nil {
				rs.Address, rs.Driver, rs.Slot = d.Address.String(), d.Driver, d.Slot
				if name != nil {
					rs.Name = name(d)
				}
				if d.Config.IsBridge() {
					for _, x := range ds.List {
						if x != d && covers(d, x) {
							rs.Below = append(rs.Below, x.Address.String())
						}
					}
				}
			}
			rr.Scopes = append(rr.Scopes, rs)
		}
		r.RMRR = append(r.RMRR, rr)
	}
	return r
}

// WriteText prints the report for a person.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "DMAR %s %s: host address width %d, flags %#02x", quote.Text(r.OEMID), quote.Text(r.OEMTableID), r.HostAddressWidth, r.Flags.Value)
	var fl []string
	if r.Flags.IntrRemap {
		fl = append(fl, "INTR_REMAP")
	}
	if r.Flags.X2APICOptOut {
		fl = append(fl, "X2APIC_OPT_OUT")
	}
	if r.Flags.DMACtrlOptIn {
		fl = append(fl, "DMA_CTRL_PLATFORM_OPT_IN")
	}
	if len(fl) > 0 {
		fmt.Fprintf(&b, " (%s)", strings.Join(fl, ", "))
	}
	fmt.Fprintf(&b, "\n%d RMRRs\n", len(r.RMRR))
	for i, rr := range r.RMRR {
		fmt.Fprintf(&b, "\nRMRR %d  segment %04x  base %#014x  end %#014x  size %s\n", i+1, rr.Segment, rr.Base, rr.End, human(rr.Size))
		for _, s := range rr.Scopes {
			path := make([]string, len(s.Path))
			for j, p := range s.Path {
				path[j] = fmt.Sprintf("%02x.%d", p[0], p[1])
			}
			kind := map[uint8]string{ScopeEndpoint: "endpoint", ScopeBridge: "bridge"}[s.Type]
			if kind == "" {
				kind = fmt.Sprintf("type %d", s.Type)
			}
			fmt.Fprintf(&b, "  %-8s %02x:%s", kind, s.StartBus, strings.Join(path, "/"))
			if s.Address == "" {
				b.WriteString("  -> not present on this host\n")
				continue
			}
			fmt.Fprintf(&b, "  -> %s", s.Address)
			if s.Name != "" {
				fmt.Fprintf(&b, "  %s", quote.Text(s.Name)) // names from pci.ids and the tree: escaped
			}
			if s.Driver != "" {
				fmt.Fprintf(&b, "  [%s]", quote.Text(s.Driver))
			}
			if s.Slot != "" {
				fmt.Fprintf(&b, "  slot %s", quote.Text(s.Slot))
			}
			b.WriteString("\n")
			if len(s.Below) > 0 {
				fmt.Fprintf(&b, "           covers below it: %s\n", strings.Join(s.Below, ", "))
			}
		}
	}
	for _, wng := range r.Warnings {
		fmt.Fprintf(&b, "warning: %s\n", wng)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func human(n uint64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}
