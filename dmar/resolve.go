package dmar

import (
	"github.com/dpdk-doctor/dpdk-doctor/pci"
)

// Resolve returns the PCI device a scope names on this host, or nil when it is not present.
// Like the kernel's dmar_insert_dev_scope, it starts on the scope's start bus and follows each
// hop but the last through a bridge, continuing on that bridge's secondary bus as its
// configuration space gives it.
func Resolve(seg uint16, s Scope, ds *pci.Devices) *pci.Device {
	if len(s.Path) == 0 || (s.Type != ScopeEndpoint && s.Type != ScopeBridge) {
		return nil
	}
	bus := s.StartBus
	var d *pci.Device
	for i, p := range s.Path {
		if p.Device > 31 || p.Function > 7 {
			return nil
		}
		d = ds.OnBus(seg, bus, p.Device, p.Function)
		if d == nil {
			return nil
		}
		if i < len(s.Path)-1 {
			if !d.Config.IsBridge() {
				return nil
			}
			bus = d.Config.SecondaryBus
		}
	}
	return d
}

// State says what the kernel will do when a device is handed to VFIO, as far as RMRRs go.
type State string

// RMRR states, as `devices --json` reports them.
const (
	Locked    State = "locked"    // covered by an RMRR: VFIO attach will be refused
	Relaxable State = "relaxable" // covered, but the kernel lets it go (USB, graphics, relax_rmrr)
	Clear     State = "clear"     // no RMRR covers it
	Unknown   State = "unknown"   // no DMAR table to judge by
)

// Cover is one RMRR scope that covers a device.
type Cover struct {
	RMRR    Structure
	Scope   Scope
	Via     *pci.Device // the device the scope resolves to: the device itself or a bridge above it
	Reason  string      // why the kernel relaxes it, "" when locked
	Relaxed bool
}

// Verdict is a device's RMRR state with the scopes that lead to it.
type Verdict struct {
	State  State
	Covers []Cover
}

// Judge decides, for every device, whether an RMRR covers it and whether the kernel will refuse
// it to VFIO, as intel-iommu's device_rmrr_is_relaxable and device_is_rmrr_locked do: a device
// is covered when a scope resolves to it, or to a bridge whose bus range holds its bus; covered
// USB controllers (class 0x0c03) and display devices (class 0x03) are relaxable; relaxRMRR
// (intel_iommu=relax_rmrr) makes every RMRR relaxable. A nil table judges every device Unknown.
func Judge(t *Table, ds *pci.Devices, relaxRMRR bool) map[pci.Address]Verdict {
	out := make(map[pci.Address]Verdict, len(ds.List))
	if t == nil {
		for _, d := range ds.List {
			out[d.Address] = Verdict{State: Unknown}
		}
		return out
	}
	type target struct {
		rmrr  Structure
		scope Scope
		dev   *pci.Device
	}
	var targets []target
	for _, r := range t.RMRRs() {
		for _, s := range r.Scopes {
			if d := Resolve(r.Segment, s, ds); d != nil {
				targets = append(targets, target{r, s, d})
			}
		}
	}
	for _, d := range ds.List {
		v := Verdict{State: Clear}
		for _, tg := range targets {
			if !covers(tg.dev, d) {
				continue
			}
			c := Cover{RMRR: tg.rmrr, Scope: tg.scope, Via: tg.dev}
			switch {
			case d.Config.Class>>8 == 0x0c03:
				c.Reason = "USB controller (the kernel relaxes RMRRs of USB devices)"
			case d.Config.Class>>16 == 0x03:
				c.Reason = "display device (the kernel relaxes RMRRs of graphics devices)"
			case relaxRMRR:
				c.Reason = "intel_iommu=relax_rmrr is on the kernel command line"
			}
			c.Relaxed = c.Reason != ""
			v.Covers = append(v.Covers, c)
		}
		if len(v.Covers) > 0 {
			v.State = Relaxable
			for _, c := range v.Covers {
				if !c.Relaxed {
					v.State = Locked
				}
			}
		}
		out[d.Address] = v
	}
	return out
}

// covers reports whether a scope resolving to via covers d: d is via, or via is a bridge whose
// secondary..subordinate bus range holds d's bus (the kernel's is_downstream_to_pci_bridge).
func covers(via, d *pci.Device) bool {
	if via == d {
		return true
	}
	if !via.Config.IsBridge() || via.Address.Segment != d.Address.Segment {
		return false
	}
	return d.Address.Bus >= via.Config.SecondaryBus && d.Address.Bus <= via.Config.Subordinate
}
