// Package verdict is dpdk-doctor's single rule-book. From the facts read once from a host it
// decides, for every PCI device, whether the running kernel will give it to VFIO (driver, group,
// firmware-region lock with its kind and source) and which remedies apply, and for the host
// whether VFIO can work at all. check's findings, devices' rmrr column, ovs's explanations,
// fix rmrr and probe read these answers; none of them decides again.
package verdict

import (
	"fmt"
	"strings"

	"github.com/dpdk-doctor/dpdk-doctor/cmdline"
	"github.com/dpdk-doctor/dpdk-doctor/dmar"
	"github.com/dpdk-doctor/dpdk-doctor/iommu"
	"github.com/dpdk-doctor/dpdk-doctor/ivrs"
	"github.com/dpdk-doctor/dpdk-doctor/kmsg"
	"github.com/dpdk-doctor/dpdk-doctor/pci"
	"github.com/dpdk-doctor/dpdk-doctor/platform"
)

// Facts are what the verdict is computed from: every one read from the host before, once.
type Facts struct {
	Devices  *pci.Devices
	DMAR     *dmar.Table // nil when absent or undecodable
	IVRS     *ivrs.Table // nil when absent or undecodable
	Release  string      // the running kernel's release (uname -r), "" when unknown
	Cmdline  cmdline.Cmdline
	IOMMU    iommu.Info
	Platform platform.Info
	AMD      bool // the IOMMU is AMD-Vi (IVRS table, or an AMD CPU)
	Events   []kmsg.Event
	// Regions are the IOMMU groups' reserved_regions, by group number.
	Regions map[int][]iommu.Region
	// Active reports whether the host uses one of d's interfaces (nil: none is in use).
	Active func(d *pci.Device) bool
}

// Kinds of firmware region.
const (
	RMRR = "RMRR" // Intel VT-d: the DMAR table's Reserved Memory Region Reporting structures
	IVMD = "IVMD" // AMD-Vi: the IVRS table's I/O Virtualization Memory Definition blocks
)

// Source is where a lock was seen.
type Source string

// Sources of a lock.
const (
	FromDMAR    Source = "DMAR table"
	FromIVRS    Source = "IVRS table"
	FromRegions Source = "reserved_regions"
	FromLog     Source = "kernel log"
)

// Lock is what the firmware's reserved regions do to a device under the running kernel.
type Lock struct {
	Kind  string     // RMRR or IVMD: the table the host's IOMMU reads regions from
	State dmar.State // Locked (the kernel refuses it to VFIO), Relaxable, Clear or Unknown
	// Sources say where the state was read; the kernel's own views (reserved_regions, its log)
	// decide over the tables.
	Sources []Source
	RMRR    dmar.Verdict // the DMAR's view of the device itself
	IVMD    ivrs.Verdict // the IVRS's view of the device itself
	// Member is the group member whose firmware region locks the device when that is not the
	// device itself: VFIO takes whole groups, so the kernel refuses every member.
	Member  *pci.Device
	Regions []iommu.Region // the group's reserved regions
	Logged  []kmsg.Event   // the kernel's refusals of the device or of its group's members
	Reason  string         // why a covered device is not refused (Relaxable)
	// Disagree says where the tables and the kernel's view differ, "" when they agree.
	Disagree string
	// ReleaseDependent: an IVMD covers the device; kernels from 6.6 refuse it, older ones do not.
	ReleaseDependent bool
}

// Locked reports whether the running kernel refuses the device to VFIO for a firmware region.
func (l Lock) Locked() bool { return l.State == dmar.Locked }

// Remedy is one thing that would help, as a command or a step.
type Remedy struct {
	ID   string // "conrep", "move-slot", "sriov-vf", "relax-rmrr", "bios-option", "firmware", "older-kernel"
	Text string // a command, or a step starting with "#"
}

// Device is the verdict on one PCI device.
type Device struct {
	Device   *pci.Device
	Lock     Lock
	Blockers []*pci.Device // group members whose drivers make the group not viable
	Active   bool          // the host uses one of its interfaces
	// Remedies for a lock, in order of preference (none when not locked; for an IVMD this
	// kernel still allows, what to do before a kernel 6.6 or later).
	Remedies []Remedy
	// Conrep: `fix rmrr` (HPE conrep slot exclusion) can help: locked by an RMRR the DMAR table
	// names, on an HPE ProLiant, in a physical slot. ConrepWhyNot says why not otherwise.
	Conrep       bool
	ConrepWhyNot string
	// Bindable: binding it to vfio-pci would work now: IOMMU on, vfio-pci available, not
	// locked, not in use by the host. BindWhyNot says what stops it, an interface in use aside.
	Bindable   bool
	BindWhyNot []string
}

// Host is the verdict on the host as a whole.
type Host struct {
	Kind         string // RMRR (Intel) or IVMD (AMD)
	IOMMUOn      bool   // the kernel's IOMMU is in effect (or VFIO's no-IOMMU mode)
	VFIO         bool   // vfio-pci is loaded, built in, or a module modprobe will load
	RelaxRMRR    bool   // the kernel honours intel_iommu=relax_rmrr (its log says so)
	RelaxIgnored bool   // relax_rmrr is on the command line but this kernel ignores it
	Release      string
	Refuses      bool // AMD: this release refuses IVMD-covered devices (6.6 and later)
}

// Verdict is the verdict on a host and all of its devices.
type Verdict struct {
	Host    Host
	Devices map[pci.Address]*Device
}

// Of returns d's verdict (a Clear one for a device not judged).
func (v *Verdict) Of(d *pci.Device) *Device {
	if x := v.Devices[d.Address]; x != nil {
		return x
	}
	return &Device{Device: d, Lock: Lock{State: dmar.Unknown}}
}

// Compute decides everything from f, once.
func Compute(f Facts) *Verdict {
	v := &Verdict{Devices: make(map[pci.Address]*Device, len(f.Devices.List))}
	h := &v.Host
	h.Release = f.Release
	h.Kind = RMRR
	if f.AMD {
		h.Kind = IVMD
		h.Refuses = ivrs.AtLeast(f.Release, 6, 6)
	}
	h.IOMMUOn = f.IOMMU.KernelOn() || f.IOMMU.NoIOMMU
	h.VFIO = f.IOMMU.VFIODriver || f.IOMMU.VFIOKernel == iommu.VFIOModuleAvailable || f.IOMMU.VFIOKernel == iommu.VFIOBuiltin ||
		f.IOMMU.VFIOKernel == iommu.VFIOLoaded
	relaxAsked := f.Cmdline.HasOption("intel_iommu", "relax_rmrr")
	for _, e := range f.Events {
		if e.Kind == kmsg.RMRRRelaxed {
			h.RelaxRMRR = true
		}
	}
	// The command line alone is no proof: only kernels carrying the Proxmox patch honour
	// relax_rmrr, and they log "assuming all RMRRs are relaxable".
	h.RelaxIgnored = relaxAsked && !h.RelaxRMRR
	var rm map[pci.Address]dmar.Verdict
	if f.DMAR != nil {
		rm = dmar.Judge(f.DMAR, f.Devices, h.RelaxRMRR)
	}
	var iv map[pci.Address]ivrs.Verdict
	if f.IVRS != nil {
		iv = ivrs.Judge(f.IVRS, f.Devices)
	}
	refused := map[string]kmsg.Event{}
	for _, e := range f.Events {
		if e.Kind == kmsg.RMRRIneligible || e.Kind == kmsg.RMRRIdentity {
			refused[e.Device] = e
		}
	}
	for _, d := range f.Devices.List {
		x := &Device{Device: d}
		if f.Active != nil {
			x.Active = f.Active(d)
		}
		x.Lock = lock(f, h, d, rm, iv, refused)
		for _, m := range f.Devices.Group(d.IOMMUGroup) {
			if m != d && !ViableDriver(m.Driver) && !m.Config.IsBridge() {
				x.Blockers = append(x.Blockers, m)
			}
		}
		remedies(f, h, x)
		if !h.IOMMUOn {
			x.BindWhyNot = append(x.BindWhyNot, "the IOMMU is off (see iommu.kernel)")
		}
		if f.IOMMU.VFIOKernel == iommu.VFIOAbsent {
			x.BindWhyNot = append(x.BindWhyNot, "this kernel has no vfio-pci (see vfio.driver)")
		}
		if x.Lock.Locked() {
			x.BindWhyNot = append(x.BindWhyNot, "an "+x.Lock.Kind+" locks it, so the kernel refuses it to VFIO (see device.rmrr)")
		}
		x.Bindable = len(x.BindWhyNot) == 0 && h.VFIO && !x.Active
		v.Devices[d.Address] = x
	}
	return v
}

// ViableDriver reports whether a device bound to drv leaves an IOMMU group usable by VFIO, as
// the kernel's vfio_dev_driver_allowed does: vfio-pci, no driver, pci-stub or pcieport.
func ViableDriver(drv string) bool {
	return drv == "" || drv == "vfio-pci" || drv == "pci-stub" || drv == "pcieport"
}

func lock(f Facts, h *Host, d *pci.Device, rm map[pci.Address]dmar.Verdict, iv map[pci.Address]ivrs.Verdict, refused map[string]kmsg.Event) Lock {
	l := Lock{Kind: h.Kind, State: dmar.Unknown, RMRR: dmar.Verdict{State: dmar.Unknown}}
	members := []*pci.Device{d}
	if d.IOMMUGroup >= 0 {
		l.Regions = f.Regions[d.IOMMUGroup]
		for _, m := range f.Devices.Group(d.IOMMUGroup) {
			if m != d {
				members = append(members, m)
			}
		}
	}
	for _, m := range members {
		if e, ok := refused[m.Address.String()]; ok {
			l.Logged = append(l.Logged, e)
		}
	}
	// The tables' view, for the device and its group.
	if h.Kind == RMRR && rm != nil {
		l.RMRR = rm[d.Address]
		l.State = l.RMRR.State
		l.Sources = append(l.Sources, FromDMAR)
		if l.State != dmar.Locked {
			for _, m := range members[1:] {
				if rm[m.Address].State == dmar.Locked {
					l.State, l.Member = dmar.Locked, m
					break
				}
			}
		}
		if l.State == dmar.Relaxable {
			for _, c := range l.RMRR.Covers {
				if c.Reason != "" {
					l.Reason = c.Reason
					break
				}
			}
		}
	}
	if h.Kind == IVMD && iv != nil {
		l.IVMD = iv[d.Address]
		l.State = dmar.Clear
		l.Sources = append(l.Sources, FromIVRS)
		for _, m := range members {
			mv := iv[m.Address]
			for _, c := range mv.Covers {
				if !c.Direct {
					continue
				}
				l.ReleaseDependent = true
				if c.Refused(f.Release) {
					l.State = dmar.Locked
					if m != d {
						l.Member = m
					}
				} else if l.State != dmar.Locked {
					l.State = dmar.Relaxable
					l.Reason = releaseReason(f.Release)
				}
			}
		}
	}
	// The kernel's own view: its reserved_regions for the group, then its log.
	if len(l.Regions) > 0 {
		direct, relaxable := 0, 0
		for _, r := range l.Regions {
			switch r.Type {
			case "direct":
				direct++
			case "direct-relaxable":
				relaxable++
			}
		}
		kernel := dmar.Clear
		switch {
		case direct > 0 && h.Kind == IVMD && !h.Refuses:
			// Before 6.6 AMD lists IVMDs as "direct" and still attaches the device.
			kernel = dmar.Relaxable
			if l.Reason == "" {
				l.Reason = releaseReason(f.Release)
			}
			l.ReleaseDependent = true
		case direct > 0:
			kernel = dmar.Locked
		case relaxable > 0:
			kernel = dmar.Relaxable
			if l.Reason == "" {
				l.Reason = "the kernel lists the region as direct-relaxable"
			}
		}
		if l.State != dmar.Unknown && kernel != l.State {
			table := "DMAR"
			if h.Kind == IVMD {
				table = "IVRS"
			}
			l.Disagree = fmt.Sprintf(" The %s table says %s but the kernel's reserved_regions say %s; the kernel's view decides what VFIO does.", table, l.State, kernel)
		}
		l.State = kernel
		l.Sources = append(l.Sources, FromRegions)
	}
	if len(l.Logged) > 0 {
		if l.State != dmar.Locked {
			l.Disagree += " The kernel log shows the kernel refusing it already."
			l.State = dmar.Locked
		}
		l.Sources = append(l.Sources, FromLog)
	}
	if l.State != dmar.Relaxable {
		l.Reason = ""
	}
	return l
}

func releaseReason(release string) string {
	if release == "" {
		release = "of unknown release"
	}
	return "kernel " + release + " predates 6.6, which refuses IVMD-covered devices to VFIO: allowed now, refused after an upgrade"
}

// remedies fills x's remedies for a lock: the single list check, ovs and fix read.
func remedies(f Facts, h *Host, x *Device) {
	d := x.Device
	l := x.Lock
	hpe := f.Platform.IsHPEProLiant()
	switch {
	case !l.Locked():
		x.ConrepWhyNot = "it is not locked by a firmware region"
	case l.Kind != RMRR:
		x.ConrepWhyNot = "conrep excludes RMRRs on HPE ProLiant; this host's regions are AMD IVMDs"
	case !hpe:
		x.ConrepWhyNot = fmt.Sprintf("this host is not an HPE ProLiant (sys_vendor %q, product_name %q), and only ProLiant firmware has conrep's RMRDS slot settings", f.Platform.SysVendor, f.Platform.Product)
	case l.RMRR.State == dmar.Unknown:
		// The kernel's word alone: no table to say which RMRR, so no change is made on it.
		x.ConrepWhyNot = "no DMAR table could be read, so which RMRR locks it cannot be told (run as root; `dpdk-doctor check` shows what is missing)"
	case d.Slot == "":
		x.ConrepWhyNot = "it is not in a physical slot (an on-board device): conrep excludes slots only"
	default:
		x.Conrep = true
	}
	covered := l.Kind == IVMD && l.ReleaseDependent && l.State == dmar.Relaxable
	if !l.Locked() && !covered {
		return
	}
	a := d.Address.String()
	add := func(id, text string) { x.Remedies = append(x.Remedies, Remedy{id, text}) }
	if covered {
		// Allowed by this kernel, refused from 6.6: the same ways out, before an upgrade.
		add("bios-option", "# before upgrading to a kernel 6.6 or later, turn off the BIOS/UEFI option that makes the firmware add the IVMD: \"Kernel DMA Protection Indicator\" is the one documented (Gigabyte B650 boards)")
		add("move-slot", "# or move the card to a slot (or bus) no IVMD covers (see `dpdk-doctor reserved`)")
		add("older-kernel", "# or stay on a kernel older than 6.6, as this one is: 6.6 and later refuse the device to VFIO")
		return
	}
	if l.Kind == IVMD {
		add("bios-option", "# in the BIOS/UEFI setup, turn off the option that makes the firmware add the IVMD, then reboot: \"Kernel DMA Protection Indicator\" is the one documented (Gigabyte B650 boards; the same IVMDs are reported on X870E boards); on other boards look for a \"DMA Protection\" or \"Pre-boot DMA Protection\" option")
		add("move-slot", "# or move the card to a slot (or bus) no IVMD covers (see `dpdk-doctor reserved`)")
		add("firmware", "# or ask the board vendor for firmware without the IVMD for this device")
		add("older-kernel", "# last resort: boot a kernel older than 6.6 (e.g. Debian 12's 6.1), which still gives IVMD-covered devices to VFIO; it loses every later fix, and the firmware's request for the 1:1 mapping is then ignored")
		return
	}
	switch {
	case x.Conrep:
		add("conrep", "dpdk-doctor fix rmrr "+a+"   # HPE: exclude slot "+d.Slot+" from RMRR with conrep (dry run; add --apply), then reboot")
	case hpe && l.RMRR.State == dmar.Unknown:
		add("conrep", "# HPE: conrep may exclude the device's slot from RMRR, but without the DMAR table dpdk-doctor cannot tell which RMRR locks it: run check as root to read the table")
	case hpe:
		add("conrep", "# HPE: an on-board device has no slot to exclude with conrep; use an add-in card in a PCIe slot, or an SR-IOV VF")
	}
	add("move-slot", "# or move the card to a slot that no RMRR covers (see `dpdk-doctor rmrr`)")
	add("sriov-vf", "# or use an SR-IOV virtual function of it: VFs are not named in RMRRs")
	// relax_rmrr is a Proxmox patch: offered only where the kernel may honour it, never where
	// it is on the command line and ignored.
	switch {
	case h.RelaxIgnored:
	case strings.Contains(h.Release, "-pve"):
		add("relax-rmrr", "# or boot with intel_iommu=relax_rmrr: this Proxmox kernel carries the patch (unsafe: the platform may still DMA there)")
	case h.Release == "":
		add("relax-rmrr", "# or, on kernels that carry it (Proxmox; not Debian, Ubuntu or RHEL), boot with intel_iommu=relax_rmrr (unsafe: the platform may still DMA there)")
	}
	add("firmware", "# or ask the platform vendor for firmware that drops the RMRR for this device")
}
