package ovs

import (
	"fmt"
	"strings"

	"github.com/dpdk-doctor/dpdk-doctor/check"
	"github.com/dpdk-doctor/dpdk-doctor/pci"
	"github.com/dpdk-doctor/dpdk-doctor/verdict"
)

// Explanation is an Interface error traced to its root cause on this host.
type Explanation struct {
	Raw    string   `json:"raw"`    // OVS's own text, always shown
	Cause  string   `json:"cause"`  // the root cause, in a sentence
	Detail string   `json:"detail"` // why, for a newcomer
	Remedy []string `json:"remedy"`
	// HostReady is set when the host's facts show nothing that stops the device (vfio-pci,
	// viable group, no RMRR, huge pages): the cause lies elsewhere.
	HostReady bool     `json:"host_ready,omitempty"`
	Kind      Kind     `json:"kind,omitempty"` // the catalog's name for the cause (catalog.go)
	Log       []string `json:"log,omitempty"`  // ovs-vswitchd's log lines about this interface or device
}

var pciAddrShape = lazyRE(`^(?:[0-9a-fA-F]{4}:)?[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]$`)

// Explain traces an Interface's error to its root cause, joining OVS's text with the host's
// facts (nil facts gives OVS-side explanations only). An interface without an error gives nil.
func Explain(st *State, b *Bridge, i *Interface, f *check.Facts) *Explanation {
	return (&explainer{st: st, f: f}).explain(b, i)
}

// explainer explains the interfaces of one State with one host's facts. Made by
// newExplainer, it works out once what many interfaces share: the catalog's match of an error
// text, and the explanation of an entry that depends only on that text and the host (the
// verdict on a device that several ports name, with its remedies). The zero maps (Explain's)
// keep nothing.
type explainer struct {
	st      *State
	f       *check.Facts
	matches map[string]catalogMatch   // by Interface.error
	shared  map[sharedKey]Explanation // by entry and Interface.error, for Entry.hostOnly entries
}

type catalogMatch struct {
	ent *Entry
	m   []string
}

type sharedKey struct {
	ent *Entry
	raw string
}

func newExplainer(st *State, f *check.Facts) *explainer {
	return &explainer{st: st, f: f, matches: map[string]catalogMatch{}, shared: map[sharedKey]Explanation{}}
}

// explain is Explain for one interface of x's state (b is its bridge).
func (x *explainer) explain(b *Bridge, i *Interface) *Explanation {
	if i.Error == "" {
		return nil
	}
	e := &Explanation{Raw: i.Error}
	if !x.catalog(e, b, i) {
		e.Cause = "OVS reports an error dpdk-doctor has no explanation for"
		e.Detail = "The raw text is OVS's own; ovs-vswitchd's log (/var/log/openvswitch/ovs-vswitchd.log) has the lines around it."
	}
	return e
}

func explainAttach(e *Explanation, devargs, reason string, f *check.Facts) {
	dev, _, _ := strings.Cut(devargs, ",")
	if !pciAddrShape.MatchString(dev) {
		e.Cause = fmt.Sprintf("DPDK could not create the virtual device %q", devargs)
		e.Detail = "For a vdev (net_af_packet, net_tap, net_vhost...) the driver's own arguments are wrong or the interface it names does not exist; the ovs-vswitchd log has the EAL line."
		if reason != "" {
			e.Detail += " DPDK says: " + reason + "."
		}
		return
	}
	if f == nil {
		e.Cause = "DPDK could not attach the PCI device " + dev + " (no host facts to say why)"
		return
	}
	a, err := pci.ParseAddress(dev)
	if err != nil {
		e.Cause = err.Error()
		return
	}
	d := f.Devices.Get(a)
	var nics []string
	for _, x := range f.Devices.List {
		if x.IsNetwork() {
			nics = append(nics, x.Address.String())
		}
	}
	switch {
	case d == nil:
		e.Cause = fmt.Sprintf("there is no PCI device %s on this host", a)
		e.Detail = "dpdk-devargs names a PCI address that does not exist here (a typo, a card moved to another slot, or a config copied from another machine). DPDK's EAL logs \"Cannot find device\"."
		e.Remedy = []string{"dpdk-doctor devices   # the network devices here: " + orNone(strings.Join(nics, ", "))}
	case f.Judged(d).Lock.Locked():
		// The device's verdict decides, and its remedies are the ones check offers.
		x := f.Judged(d)
		l := x.Lock
		e.Cause = fmt.Sprintf("%s is %s-locked", a, l.Kind)
		for _, c := range l.RMRR.Covers {
			if !c.Relaxed {
				e.Cause += fmt.Sprintf(" by the firmware's RMRR %#x-%#x (scope %s)", c.RMRR.Address, c.RMRR.End, c.Scope)
				break
			}
		}
		if l.Kind == verdict.IVMD && len(l.IVMD.Covers) > 0 {
			c := l.IVMD.Covers[0]
			e.Cause += fmt.Sprintf(" by the firmware's IVMD %#x-%#x", c.RegionStart, c.RegionEnd)
		}
		if l.Member != nil {
			e.Cause += " through " + l.Member.Address.String() + " in its IOMMU group"
		}
		if d.Slot != "" {
			e.Cause += ", physical slot " + d.Slot
		}
		e.Cause += ": the kernel refuses to give it to VFIO"
		if l.Kind == verdict.IVMD {
			e.Detail = "The firmware's IVRS table asks for memory the device must always reach 1:1 (an IVMD); Linux 6.6+ will not put such a device in a VFIO domain (\"Firmware has requested this device have a 1:1 IOMMU mapping\"), so DPDK cannot attach it and OVS only reports \"Error attaching device\"."
		} else {
			e.Detail = "The firmware reserves memory the device must always be able to reach (an RMRR); Linux 3.17+ will not put such a device in a VFIO domain (\"Device is ineligible for IOMMU domain attach due to platform RMRR requirement\"), so DPDK cannot attach it and OVS only reports \"Error attaching device\"."
		}
		for _, r := range x.Remedies {
			e.Remedy = append(e.Remedy, r.Text)
		}
	case d.Driver == "mlx5_core" || d.Driver == "mlx4_core":
		e.Cause = fmt.Sprintf("%s is a Mellanox/NVIDIA NIC on %s, which DPDK drives through the kernel: the mlx PMD or rdma-core is missing", a, d.Driver)
		e.Detail = "These NICs are not bound to vfio-pci; OVS's DPDK must be built with the mlx5 driver and rdma-core (libibverbs) installed."
		e.Remedy = []string{"apt install rdma-core ibverbs-providers   # or your distribution's equivalent"}
	case !check.IsDPDKDriver(d.Driver):
		drv := d.Driver
		if drv == "" {
			drv = "no driver"
		}
		e.Cause = fmt.Sprintf("%s is on %s, not on vfio-pci", a, drv)
		if len(d.Interfaces) > 0 {
			e.Cause += " (kernel interface " + strings.Join(d.Interfaces, ", ") + ")"
		}
		e.Detail = "DPDK can only attach a device that a user-space driver owns; while a kernel driver has it, EAL skips it."
		e.Remedy = f.BindRemedy(d)
	case d.IOMMUGroup < 0 && d.Driver == "vfio-pci" && !f.IOMMU.NoIOMMU:
		e.Cause = fmt.Sprintf("%s has no IOMMU group: the IOMMU is off (%s)", a, iommuWhy(f))
		e.Detail = "vfio-pci needs the IOMMU to hand the device to user space."
		e.Remedy = []string{"dpdk-doctor check   # see iommu.firmware and iommu.kernel"}
	case groupBlockers(f, d) != "":
		e.Cause = fmt.Sprintf("%s's IOMMU group %d is not viable: %s", a, d.IOMMUGroup, groupBlockers(f, d))
		e.Detail = "VFIO hands out whole groups: every other member must be on vfio-pci or no driver (DPDK logs \"VFIO group is not viable\")."
		e.Remedy = []string{"dpdk-doctor check --device " + a.String() + "   # lists the members and the commands to bind them"}
	case d.NUMANode >= 0 && freeOnNode(f, d.NUMANode) == 0:
		e.Cause = fmt.Sprintf("NUMA node %d, where %s sits, has no free huge pages", d.NUMANode, a)
		e.Detail = "DPDK allocates the port's memory on its own node."
		e.Remedy = check.NodeHugepagesRemedy([]string{a.String()})
	default:
		e.HostReady = true
		e.Cause = fmt.Sprintf("DPDK could not attach %s although the host looks ready for it (vfio-pci, viable group, no RMRR)", a)
		e.Detail = "Look at the EAL lines in ovs-vswitchd's log; common causes are a DPDK build without the NIC's driver, or the device in use by another DPDK process."
	}
	if reason != "" {
		e.Detail += " OVS adds: " + reason + "."
	}
}

func groupBlockers(f *check.Facts, d *pci.Device) string {
	var out []string
	for _, m := range f.Judged(d).Blockers {
		out = append(out, m.Address.String()+" on "+m.Driver)
	}
	return strings.Join(out, ", ")
}

func freeOnNode(f *check.Facts, node int) uint64 {
	var free uint64
	seen := false
	for _, p := range f.Hugepages.Pools {
		if p.Node == node {
			seen = true
			free += p.Free
		}
	}
	if !seen {
		return 1 // no per-node pools reported: do not blame huge pages
	}
	return free
}

func iommuWhy(f *check.Facts) string {
	if f.IOMMU.FirmwareTable == "" {
		return "off in firmware"
	}
	return "off in the kernel"
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
