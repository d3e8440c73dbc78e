package check

import (
	"fmt"
	"strings"

	"github.com/dpdk-doctor/dpdk-doctor/internal/quote"
	"github.com/dpdk-doctor/dpdk-doctor/pci"
)

// DeviceRow is one line of `dpdk-doctor devices`: a PCI function with everything a DPDK user
// needs to know before binding it. Its JSON form is a documented contract.
type DeviceRow struct {
	Address      string   `json:"address"`
	VendorID     string   `json:"vendor_id"`
	DeviceID     string   `json:"device_id"`
	SubVendorID  string   `json:"subsystem_vendor_id"`
	SubDeviceID  string   `json:"subsystem_device_id"`
	Class        string   `json:"class"`
	VendorName   string   `json:"vendor_name"`
	DeviceName   string   `json:"device_name"`
	Subsystem    string   `json:"subsystem_name"`
	ClassName    string   `json:"class_name"`
	Driver       string   `json:"driver"`
	DPDKReady    bool     `json:"dpdk_ready"`
	Modules      []string `json:"modules"`
	Interfaces   []string `json:"interfaces"`
	Links        []Use    `json:"links"`  // each interface and how the host uses it
	Active       bool     `json:"active"` // the host uses one of its interfaces (or cannot tell): do not unbind
	IOMMUGroup   *int     `json:"iommu_group"`
	GroupMembers []string `json:"iommu_group_members"`
	NUMANode     *int     `json:"numa_node"`
	Slot         string   `json:"slot"`
	Parent       string   `json:"parent"`
	RMRR         string   `json:"rmrr"`
	Unreadable   string   `json:"unreadable,omitempty"` // why the config space could not be read
}

// Name labels a device from the PCI ID database: "Intel Corporation 82599ES 10-Gigabit SFI/SFP+
// Network Connection (Ethernet Server Adapter X520-2)", or its IDs when unknown.
func Name(ids *pci.IDs, d *pci.Device) string {
	c := d.Config
	v, n := ids.Vendor(c.VendorID), ids.Device(c.VendorID, c.DeviceID)
	if v == "" {
		v = fmt.Sprintf("vendor %04x", c.VendorID)
	}
	if n == "" {
		n = fmt.Sprintf("device %04x", c.DeviceID)
	}
	s := v + " " + n
	if sub := ids.Subsystem(c.VendorID, c.DeviceID, c.SubVendorID, c.SubDeviceID); sub != "" {
		s += " (" + sub + ")"
	}
	return s
}

// DeviceRows lists the devices: network controllers and devices on DPDK drivers, or every
// function when all is set.
func DeviceRows(f *Facts, ids *pci.IDs, al *pci.Aliases, all bool) []DeviceRow {
	out := []DeviceRow{}
	for _, d := range f.Devices.List {
		if !all && !d.IsNetwork() && !IsDPDKDriver(d.Driver) && d.Unreadable == "" {
			continue
		}
		c := d.Config
		r := DeviceRow{
			Address: d.Address.String(), VendorID: fmt.Sprintf("%04x", c.VendorID), DeviceID: fmt.Sprintf("%04x", c.DeviceID),
			SubVendorID: fmt.Sprintf("%04x", c.SubVendorID), SubDeviceID: fmt.Sprintf("%04x", c.SubDeviceID),
			Class: fmt.Sprintf("%06x", c.Class), VendorName: ids.Vendor(c.VendorID), DeviceName: ids.Device(c.VendorID, c.DeviceID),
			Subsystem: ids.Subsystem(c.VendorID, c.DeviceID, c.SubVendorID, c.SubDeviceID), ClassName: ids.Class(c.Class),
			Driver: d.Driver, DPDKReady: IsDPDKDriver(d.Driver), Modules: al.Modules(d.Modalias()),
			Interfaces: append([]string{}, d.Interfaces...), GroupMembers: []string{}, Slot: d.Slot,
			RMRR: string(f.Judged(d).Lock.State), Unreadable: d.Unreadable,
		}
		if r.Modules == nil {
			r.Modules = []string{}
		}
		r.Links = f.Uses(d)
		for _, u := range r.Links {
			r.Active = r.Active || u.Active
		}
		if d.Parent != nil {
			r.Parent = d.Parent.Address.String()
		}
		if d.IOMMUGroup >= 0 {
			g := d.IOMMUGroup
			r.IOMMUGroup = &g
			for _, m := range f.Devices.Group(g) {
				if m != d {
					r.GroupMembers = append(r.GroupMembers, m.Address.String())
				}
			}
		}
		if d.NUMANode >= 0 {
			n := d.NUMANode
			r.NUMANode = &n
		}
		out = append(out, r)
	}
	return out
}

// WriteDeviceTable prints rows the way dpdk-devbind.py --status groups them, with more columns.
func WriteDeviceTable(rows []DeviceRow) string {
	var b strings.Builder
	q := quote.Text // names from pci.ids, drivers and interfaces: no control characters reach the terminal
	section := func(title string, keep func(DeviceRow) bool) {
		fmt.Fprintf(&b, "%s\n%s\n", title, strings.Repeat("=", len(title)))
		n := 0
		for _, r := range rows {
			if !keep(r) {
				continue
			}
			n++
			name := strings.TrimSpace(r.VendorName + " " + r.DeviceName)
			if r.Subsystem != "" {
				name += " (" + r.Subsystem + ")"
			}
			fmt.Fprintf(&b, "%s '%s' [%s:%s] class=%s drv=%s", r.Address, q(name), r.VendorID, r.DeviceID, r.Class, q(orNone(r.Driver)))
			if len(r.Modules) > 0 {
				fmt.Fprintf(&b, " modules=%s", q(strings.Join(r.Modules, ",")))
			}
			if len(r.Links) > 0 {
				fmt.Fprintf(&b, " if=%s", q(usesLabel(r.Links)))
				if r.Active {
					b.WriteString(" *Active*")
				}
			}
			if r.Unreadable != "" {
				fmt.Fprintf(&b, " UNREADABLE (%s)", r.Unreadable)
			}
			b.WriteString("\n   ")
			if r.IOMMUGroup != nil {
				fmt.Fprintf(&b, " iommu_group=%d", *r.IOMMUGroup)
				if len(r.GroupMembers) > 0 {
					fmt.Fprintf(&b, " (with %s)", strings.Join(r.GroupMembers, " "))
				}
			} else {
				b.WriteString(" iommu_group=none")
			}
			if r.NUMANode != nil {
				fmt.Fprintf(&b, " numa_node=%d", *r.NUMANode)
			}
			if r.Slot != "" {
				fmt.Fprintf(&b, " slot=%s", q(r.Slot))
			}
			fmt.Fprintf(&b, " rmrr=%s\n", r.RMRR)
		}
		if n == 0 {
			b.WriteString("<none>\n")
		}
		b.WriteString("\n")
	}
	section("Devices using a DPDK-compatible driver", func(r DeviceRow) bool { return r.DPDKReady })
	section("Devices using a kernel driver", func(r DeviceRow) bool { return !r.DPDKReady && r.Driver != "" })
	section("Other devices (no driver)", func(r DeviceRow) bool { return r.Driver == "" })
	return b.String()
}
