package check

import (
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"github.com/dpdk-doctor/dpdk-doctor/dmar"
	"github.com/dpdk-doctor/dpdk-doctor/iommu"
	"github.com/dpdk-doctor/dpdk-doctor/ivrs"
	"github.com/dpdk-doctor/dpdk-doctor/kmsg"
	"github.com/dpdk-doctor/dpdk-doctor/pci"
	"github.com/dpdk-doctor/dpdk-doctor/verdict"
)

func checkDevices(f *Facts) []Finding { return append(unreadable(f), judgeDevices(f)...) }

func judgeDevices(f *Facts) []Finding {
	const per = 4
	out := make([]Finding, per*len(f.Selected))
	judge := func(i int) {
		d := f.Selected[i]
		out[per*i], out[per*i+1], out[per*i+2], out[per*i+3] = deviceDriver(f, d), deviceGroup(f, d), deviceRMRR(f, d), devicePlace(f, d)
	}
	// Devices are judged independently: spread large hosts over the CPUs.
	workers := runtime.GOMAXPROCS(0)
	if len(f.Selected) < 256 || workers < 2 {
		for i := range f.Selected {
			judge(i)
		}
		return out
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(f.Selected); i += workers {
				judge(i)
			}
		})
	}
	wg.Wait()
	return out
}

// unreadable reports each device whose config space could not be read; the rest is judged.
func unreadable(f *Facts) []Finding {
	var out []Finding
	for _, d := range f.Devices.List {
		if d.Unreadable != "" {
			out = append(out, Finding{ID: "device.unreadable", Severity: Warn, Subject: d.Address.String(),
				Summary:  "config space unreadable (lspci shows such a device as \"rev ff\"); judged from what sysfs still says",
				Evidence: []Evidence{{File: devPath(f, d, "config"), Value: d.Unreadable}}})
		}
	}
	return out
}

func devPath(f *Facts, d *pci.Device, file string) string {
	return f.Root.Path("sys/bus/pci/devices/" + d.Address.String() + "/" + file)
}

func deviceDriver(f *Facts, d *pci.Device) Finding {
	fd := Finding{ID: "device.driver", Subject: d.Address.String(),
		Evidence: []Evidence{{File: devPath(f, d, "driver"), Value: orNone(d.Driver)}}}
	uses := f.Uses(d)
	for _, u := range uses {
		fd.Evidence = append(fd.Evidence, Evidence{File: f.Root.Path("sys/class/net/" + u.Name), Value: u.String()})
	}
	switch {
	case IsDPDKDriver(d.Driver):
		fd.Severity, fd.Summary = OK, "bound to "+d.Driver+", ready for DPDK"
		if d.Driver != "vfio-pci" {
			fd.Explanation = d.Driver + " gives DPDK the device without IOMMU protection; vfio-pci is the safer choice where the IOMMU is on."
		}
	case d.Driver == "mlx5_core" || d.Driver == "mlx4_core":
		fd.Severity, fd.Summary = OK, "on "+d.Driver+": Mellanox/NVIDIA NICs stay on their kernel driver for DPDK (bifurcated driver)"
		fd.Explanation = "DPDK's mlx4/mlx5 drivers work through the kernel driver and rdma-core; do not bind these NICs to vfio-pci."
	case !f.Explicit:
		// Not named by the user: a NIC the host has on a kernel driver (or on none) is
		// information, and no bind recipe is printed for a device nobody asked about.
		fd.Severity = OK
		if d.Driver == "" {
			fd.Summary = "not bound to any driver"
		} else {
			fd.Summary = "on " + d.Driver
			if len(uses) > 0 {
				fd.Summary += " (" + usesLabel(uses) + ")"
			}
		}
		if f.rmrrLocked(d) {
			fd.Summary += "; RMRR-locked, see device.rmrr"
		}
		fd.Summary += ": not for DPDK unless named with --device"
	case d.Driver == "":
		fd.Severity, fd.Summary = Warn, "not bound to any driver"
		fd.Explanation = "DPDK can only use the device once a user-space driver (vfio-pci) owns it."
		fd.Remedy = f.BindRemedy(d)
	default:
		fd.Severity = Warn
		fd.Summary = "on the kernel driver " + d.Driver + ": not bound for DPDK yet"
		if f.rmrrLocked(d) {
			fd.Summary += " (and RMRR-locked: see device.rmrr)"
		}
		if len(uses) > 0 {
			fd.Summary += " (" + usesLabel(uses) + ")"
		}
		fd.Explanation = "While " + d.Driver + " owns the device the kernel uses it as an ordinary network interface, and " +
			"a DPDK port on it fails with \"Error attaching device\". Binding it to vfio-pci gives it to DPDK and takes the " +
			"interface away from the kernel."
		if f.InUse(d) {
			fd.Explanation += " The host uses this interface now: whatever runs over it (routes, addresses, SSH sessions) stops."
		}
		fd.Remedy = f.BindRemedy(d)
	}
	return fd
}

// ViableDriver reports whether a device bound to drv leaves an IOMMU group usable by VFIO, as
// the kernel's vfio_dev_driver_allowed does: vfio-pci, no driver, pci-stub or pcieport.
func ViableDriver(drv string) bool { return verdict.ViableDriver(drv) }

func deviceGroup(f *Facts, d *pci.Device) Finding {
	fd := Finding{ID: "device.iommu_group", Subject: d.Address.String()}
	if d.IOMMUGroup < 0 {
		fd.Evidence = []Evidence{{File: devPath(f, d, "iommu_group"), Value: "absent"}}
		if f.IOMMU.NoIOMMU {
			fd.Severity, fd.Summary = Warn, "no IOMMU group: only usable in VFIO's unsafe no-IOMMU mode"
		} else {
			fd.Severity, fd.Summary = Fail, "no IOMMU group, so vfio-pci cannot take it (the IOMMU is off: see iommu.kernel)"
			switch {
			case f.intended(d):
			case f.InUse(d):
				fd.Severity = OK // the host's own NIC: it matters only if it is ever given to DPDK
				fd.Summary = "no IOMMU group (the IOMMU is off): matters only if it is given to DPDK"
			default:
				fd.Severity = Warn
			}
		}
		return fd
	}
	g := strconv.Itoa(d.IOMMUGroup)
	var others strings.Builder
	var blockers []string
	for _, m := range f.Devices.Group(d.IOMMUGroup) {
		if m == d {
			continue
		}
		if others.Len() > 0 {
			others.WriteString(", ")
		}
		others.WriteString(m.Address.String())
		others.WriteString(" (")
		others.WriteString(orNone(m.Driver))
		others.WriteString(")")
		if !ViableDriver(m.Driver) && !m.Config.IsBridge() {
			blockers = append(blockers, m.Address.String()+" on "+m.Driver)
		}
	}
	fd.Evidence = []Evidence{{File: f.Root.Path("sys/kernel/iommu_groups/" + g + "/devices/"), Value: "members besides it: " + orNone(others.String())}}
	for _, e := range f.Events {
		if e.Kind == kmsg.GroupNotViable && e.Device == d.Address.String() {
			fd.Evidence = append(fd.Evidence, Evidence{File: f.LogSource, Value: e.Line.Text})
		}
	}
	if len(blockers) == 0 {
		fd.Severity = OK
		fd.Summary = "IOMMU group " + g + " is viable"
		if others.Len() > 0 {
			fd.Summary += " (shared with " + others.String() + ")"
		}
		return fd
	}
	fd.Severity = Fail
	fd.Summary = "IOMMU group " + g + " is not viable: " + strings.Join(blockers, ", ")
	if !f.intended(d) {
		fd.Severity = Warn // matters once it is bound for DPDK
		if f.InUse(d) {
			fd.Severity = OK // the host's own NIC: it matters only if it is ever given to DPDK
			fd.Summary += " (matters only if it is given to DPDK)"
		}
	}
	fd.Explanation = "VFIO hands out whole IOMMU groups. Every other device in the group must be bound to vfio-pci or to no " +
		"driver (bridges aside), or the kernel refuses the group and DPDK reports \"VFIO group is not viable! Not all " +
		"devices in IOMMU group bound to VFIO or unbound\". Bind the other members too, or move the card to a slot whose " +
		"root port supports ACS so it gets a group of its own."
	if !f.intended(d) {
		fd.Remedy = []string{"dpdk-doctor check --device " + d.Address.String() + "   # the commands, once you mean to give it to DPDK"}
		return fd
	}
	for _, m := range f.Devices.Group(d.IOMMUGroup) {
		if m != d && !ViableDriver(m.Driver) && !m.Config.IsBridge() {
			fd.Remedy = append(fd.Remedy, f.BindRemedy(m)...)
		}
	}
	return fd
}

func devicePlace(f *Facts, d *pci.Device) Finding {
	fd := Finding{ID: "device.placement", Subject: d.Address.String(), Severity: OK,
		Evidence: []Evidence{{File: devPath(f, d, "numa_node"), Value: fmt.Sprint(d.NUMANode)}}}
	var parts []string
	switch {
	case d.Slot != "" && d.SlotDirect:
		parts = append(parts, "in physical slot "+d.Slot)
		fd.Evidence = append(fd.Evidence, Evidence{File: f.Root.Path("sys/bus/pci/slots/" + d.Slot + "/address"), Value: d.Address.SlotAddress()})
	case d.Slot != "":
		parts = append(parts, "behind a switch in physical slot "+d.Slot)
		fd.Evidence = append(fd.Evidence, Evidence{File: f.Root.Path("sys/bus/pci/slots/" + d.Slot + "/address"), Value: "names a bridge above it"})
	default:
		parts = append(parts, "not in a physical slot (on-board or unreported)")
	}
	nodes := 0
	for _, p := range f.Hugepages.Pools {
		if p.Node+1 > nodes {
			nodes = p.Node + 1
		}
	}
	if d.NUMANode >= 0 {
		parts = append(parts, fmt.Sprintf("on NUMA node %d", d.NUMANode))
	} else if nodes > 1 {
		fd.Severity = Warn
		parts = append(parts, "NUMA node unknown on a multi-node host")
		fd.Explanation = "The firmware gives no NUMA node for this device, so DPDK cannot place its memory and polling cores next to it. Pin them by hand to the socket the slot hangs off."
	}
	fd.Summary = strings.Join(parts, ", ")
	return fd
}

func deviceRMRR(f *Facts, d *pci.Device) Finding {
	a := d.Address.String()
	fd := Finding{ID: "device.rmrr", Subject: a}
	x := f.Judged(d)
	l := x.Lock
	if l.Kind == verdict.IVMD {
		fd.Evidence = append(fd.Evidence, ivmdEvidence(f, d, l)...)
	} else {
		fd.Evidence = append(fd.Evidence, coverEvidence(f, l.RMRR.Covers)...)
		if l.Member != nil {
			fd.Evidence = append(fd.Evidence, coverEvidence(f, f.Judged(l.Member).Lock.RMRR.Covers)...)
		}
	}
	if len(l.Regions) > 0 {
		var rs []string
		for _, r := range l.Regions {
			rs = append(rs, fmt.Sprintf("%#x-%#x %s", r.Start, r.End, r.Type))
		}
		fd.Evidence = append(fd.Evidence, Evidence{File: f.Root.Path(fmt.Sprintf("sys/kernel/iommu_groups/%d/reserved_regions", d.IOMMUGroup)), Value: strings.Join(rs, "; ")})
	}
	for _, e := range l.Logged {
		fd.Evidence = append(fd.Evidence, Evidence{File: f.LogSource, Value: e.Line.Text})
	}
	kind := l.Kind
	switch l.State {
	case dmar.Locked:
		fd.Severity = Fail
		fd.Summary = kind + "-locked"
		switch c := firstLocked(l.RMRR); {
		case c != nil:
			fd.Summary = fmt.Sprintf("RMRR-locked by RMRR %#x-%#x (%s scope %s)", c.RMRR.Address, c.RMRR.End, scopeTypeName(c.Scope.Type), c.Scope)
		case kind == verdict.IVMD && len(l.IVMD.Covers) > 0:
			c := l.IVMD.Covers[0]
			fd.Summary = fmt.Sprintf("IVMD-locked by IVMD %#x-%#x (%s)", c.RegionStart, c.RegionEnd, ivmdKind(c))
		}
		if l.Member != nil {
			fd.Summary += " through " + l.Member.Address.String() + ", which shares its IOMMU group"
		}
		if d.Slot != "" {
			fd.Summary += ", physical slot " + d.Slot
		}
		switch {
		case f.intended(d):
			fd.Summary += ": the kernel will refuse it to VFIO"
		case f.InUse(d):
			// The host's own NIC, in use and not targeted: information.
			fd.Severity = OK
			fd.Summary += ", but not used for DPDK (the host uses it): the kernel would refuse it to VFIO"
		default:
			fd.Severity = Warn // on a kernel driver: only a problem once bound for DPDK
			fd.Summary += ": the kernel would refuse it to VFIO if it were given to DPDK"
		}
		if kind == verdict.IVMD {
			fd.Explanation = "The firmware's IVRS table has an I/O Virtualization Memory Definition (IVMD) that covers this device: " +
				"memory the firmware asks to stay mapped 1:1 for it. Since Linux 6.6 the IOMMU core refuses VFIO for any device " +
				"with such a direct-mapped region (\"Firmware has requested this device have a 1:1 IOMMU mapping\"), on AMD as on " +
				"Intel; AMD has no relaxable type and no relax option. Kernel " + orNone(f.Release) + " is one that refuses." + l.Disagree
		} else {
			fd.Explanation = "The firmware's DMAR table has a Reserved Memory Region (RMRR) that covers this device: memory the " +
				"platform (on HPE servers, the iLO management controller's shared-memory features) expects the device to reach " +
				"by DMA at any time. Since Linux 3.17 the kernel refuses to put such a device in a VFIO domain, logging \"Device is " +
				"ineligible for IOMMU domain attach due to platform RMRR requirement\" (from 6.6: \"Firmware has requested this " +
				"device have a 1:1 IOMMU mapping\"), and DPDK and OVS then only say \"Error attaching device\"." + l.Disagree
			if l.Member != nil {
				fd.Explanation += " VFIO takes whole IOMMU groups, so the region of " + l.Member.Address.String() + " locks this device too."
			}
			if f.Verdict.Host.RelaxIgnored {
				fd.Explanation += " intel_iommu=relax_rmrr is on the command line, but this kernel ignores it (its log has no \"assuming all RMRRs are relaxable\"): only kernels carrying the Proxmox patch honour it."
			}
		}
		for _, r := range x.Remedies {
			fd.Remedy = append(fd.Remedy, r.Text)
		}
	case dmar.Relaxable:
		fd.Severity = OK
		reason := "the kernel relaxes it"
		if l.Reason != "" {
			reason = l.Reason
		}
		fd.Summary = "covered by an " + kind + ", but relaxable: " + reason
		if kind == verdict.IVMD {
			fd.Severity = Warn
			fd.Summary = "covered by an IVMD, allowed by this kernel: " + reason
			fd.Explanation = "Kernels from 6.6 refuse a device with a direct-mapped reserved region to VFIO; this one does not yet. An upgrade will lock it."
			for _, r := range x.Remedies {
				fd.Remedy = append(fd.Remedy, r.Text)
			}
		} else if f.Verdict.Host.RelaxRMRR && d.Config.Class>>8 != 0x0c03 && d.Config.Class>>16 != 0x03 {
			fd.Severity = Warn
			fd.Explanation = "relax_rmrr lets VFIO take the device, but the platform may still DMA into the RMRR region while a guest or DPDK owns it: the kernel itself warns this \"can lead to instability or data loss\"."
		}
		fd.Summary += "." + l.Disagree
	case dmar.Clear:
		fd.Severity, fd.Summary = OK, "no "+kind+" covers it"+l.Disagree
		switch {
		case kind == verdict.RMRR && f.DMAR != nil:
			fd.Evidence = append(fd.Evidence, Evidence{File: f.Root.Path(iommu.DMARTable), Value: fmt.Sprintf("%d RMRRs, none scoping it or a bridge above it", f.rmrrCount)})
		case kind == verdict.IVMD && f.IVRS != nil:
			fd.Evidence = append(fd.Evidence, Evidence{File: f.Root.Path(iommu.IVRSTable), Value: fmt.Sprintf("%d IVMDs, none reaching it", len(f.IVRS.IVMDs()))})
		}
	default:
		if kind == verdict.IVMD {
			fd.Severity, fd.Summary = OK, "no IVRS table to judge IVMDs by"
			if f.IOMMU.FirmwareTable == "IVRS" {
				fd.Severity, fd.Summary = Warn, "unknown: the IVRS table could not be decoded"
				if denied(f.IVRSErr) {
					fd.Summary = "unknown: the IVRS table is readable only by root (run as root)"
				}
			}
			break
		}
		fd.Severity, fd.Summary = OK, "no DMAR table to judge RMRRs by"
		if f.IOMMU.FirmwareTable == "DMAR" {
			fd.Severity, fd.Summary = Warn, "unknown: the DMAR table could not be decoded"
			if denied(f.DMARErr) {
				fd.Summary = "unknown: the DMAR table is readable only by root (run as root)"
			}
		}
	}
	return fd
}

func ivmdKind(c ivrs.Coverage) string {
	switch c.Kind {
	case ivrs.ByDevice:
		return "a device entry (21h) naming it"
	case ivrs.ByRange:
		return "a device range (22h) holding it"
	case ivrs.ByAll:
		return "all devices (20h)"
	case ivrs.ByAlias:
		return "through its alias " + ivrs.FormatID(c.Alias)
	}
	return string(c.Kind)
}

// ivmdEvidence gives one line per IVMD that reaches d or, through the group, a member of it.
func ivmdEvidence(f *Facts, d *pci.Device, l verdict.Lock) []Evidence {
	var out []Evidence
	add := func(m *pci.Device, covers []ivrs.Coverage) {
		for _, c := range covers {
			v := fmt.Sprintf("IVMD type %#x at offset %d, %s: %#x-%#x", c.IVMD.Type, c.IVMD.Offset, ivmdKind(c), c.RegionStart, c.RegionEnd)
			if m != d {
				v = m.Address.String() + " (same IOMMU group): " + v
			}
			if !c.Direct {
				v += " (neither unity nor exclusion: the kernel skips it)"
			}
			out = append(out, Evidence{File: f.Root.Path(iommu.IVRSTable), Value: v})
		}
	}
	add(d, l.IVMD.Covers)
	if l.Member != nil {
		add(l.Member, f.Judged(l.Member).Lock.IVMD.Covers)
	}
	if l.ReleaseDependent {
		out = append(out, Evidence{File: f.Root.Path("proc/sys/kernel/osrelease"), Value: orNone(f.Release) + map[bool]string{true: " (6.6 or later: refuses)", false: " (before 6.6: attaches)"}[f.Verdict.Host.Refuses]})
	}
	return out
}

func firstLocked(v dmar.Verdict) *dmar.Cover {
	for i := range v.Covers {
		if !v.Covers[i].Relaxed {
			return &v.Covers[i]
		}
	}
	return nil
}

func scopeTypeName(t uint8) string {
	switch t {
	case dmar.ScopeEndpoint:
		return "endpoint"
	case dmar.ScopeBridge:
		return "bridge"
	}
	return fmt.Sprintf("type %d", t)
}

// coverEvidence gives one line per covering scope, listing every RMRR that holds it.
func coverEvidence(f *Facts, covers []dmar.Cover) []Evidence {
	var out []Evidence
	idx := map[string]int{}
	for _, c := range covers {
		key := fmt.Sprintf("%s scope %s -> %s", scopeTypeName(c.Scope.Type), c.Scope, c.Via.Address)
		if c.Relaxed {
			key += " (relaxable: " + c.Reason + ")"
		}
		region := fmt.Sprintf("%#x-%#x (%s)", c.RMRR.Address, c.RMRR.End, size(c.RMRR.End-c.RMRR.Address+1))
		if i, ok := idx[key]; ok {
			out[i].Value += ", " + region
			continue
		}
		idx[key] = len(out)
		out = append(out, Evidence{File: f.Root.Path(iommu.DMARTable), Value: key + " in RMRR " + region})
	}
	return out
}

func size(n uint64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
