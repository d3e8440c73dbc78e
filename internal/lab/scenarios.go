package lab

import (
	"github.com/dpdk-doctor/dpdk-doctor/dmar"
	"github.com/dpdk-doctor/dpdk-doctor/vfio"
)

// Guest addresses of the Standard machine's devices, and their scope paths from bus 0.
const (
	NICSlot2   = "0000:01:00.0" // behind root port 00:02.0, slot 2
	NICSlot3   = "0000:02:00.0" // behind root port 00:03.0, slot 3
	NICSwitchA = "0000:05:00.0" // behind the switch's downstream port in slot 5
	NICSwitchB = "0000:06:00.0" // behind the switch's downstream port in slot 6
	NICMF0     = "0000:07:00.0" // function 0 of a multi-function e1000e, slot 7
	NICMF1     = "0000:07:00.1" // function 1
	USB        = "0000:08:00.0" // qemu-xhci, slot 8
	Display    = "0000:09:00.0" // bochs-display, slot 9
	PCINIC1    = "0000:0a:01.0" // e1000 behind the conventional PCI bridge 00:08.0
	PCINIC2    = "0000:0a:02.0"
)

const (
	rmrrBase = 0xf4000 // e820-reserved under SeaBIOS
	rmrrEnd  = 0xf4fff
)

func every(o vfio.Outcome) map[string]vfio.Outcome { return map[string]vfio.Outcome{"": o} }

// Scenarios are the truth tests, each booted on every lab kernel.
var Scenarios = []Scenario{
	{
		Name:  "no-rmrr",
		About: "the baseline: QEMU's own DMAR, no RMRR; NICs in a slot and behind a switch attach, slots carry their native names",
		Bind:  []string{NICSlot2, NICSwitchA},
		Expect: map[string]map[string]vfio.Outcome{
			NICSlot2: every(vfio.Attached), NICSwitchA: every(vfio.Attached),
		},
		Slots: map[string]string{NICSlot2: "2", NICSwitchA: "5", NICSwitchB: "6", USB: "8"},
	},
	{
		Name:  "endpoint-rmrr-slot",
		About: "an endpoint RMRR on the NIC in slot 2 (the seed's DL360e); the NIC in slot 3 is the control",
		RMRRs: []RMRR{{rmrrBase, rmrrEnd, []dmar.Scope{Endpoint("02.0/00.0")}}},
		Bind:  []string{NICSlot2, NICSlot3},
		Expect: map[string]map[string]vfio.Outcome{
			NICSlot2: every(vfio.Refused), NICSlot3: every(vfio.Attached),
		},
		Slots:   map[string]string{NICSlot2: "2", NICSlot3: "3"},
		Regions: map[string]string{NICSlot2: "direct"},
	},
	{
		Name:  "bridge-scope-rmrr",
		About: "a bridge-scope RMRR on root port 00:03.0 covers the NIC below it, not the NIC in slot 2",
		RMRRs: []RMRR{{rmrrBase, rmrrEnd, []dmar.Scope{Bridge("03.0")}}},
		Bind:  []string{NICSlot3, NICSlot2},
		Expect: map[string]map[string]vfio.Outcome{
			NICSlot3: every(vfio.Refused), NICSlot2: every(vfio.Attached),
		},
	},
	{
		Name:  "switch-nic-rmrr",
		About: "an endpoint RMRR on a NIC behind a PCIe switch; its neighbour on the other downstream port has its own group",
		RMRRs: []RMRR{{rmrrBase, rmrrEnd, []dmar.Scope{Endpoint("04.0/00.0/00.0/00.0")}}},
		Bind:  []string{NICSwitchA, NICSwitchB},
		Expect: map[string]map[string]vfio.Outcome{
			NICSwitchA: every(vfio.Refused), NICSwitchB: every(vfio.Attached),
		},
		Slots: map[string]string{NICSwitchA: "5", NICSwitchB: "6"},
	},
	{
		Name:    "usb-rmrr",
		About:   "an RMRR on the USB controller is relaxable: the kernel lets VFIO take it",
		RMRRs:   []RMRR{{rmrrBase, rmrrEnd, []dmar.Scope{Endpoint("06.0/00.0")}}},
		Bind:    []string{USB},
		Expect:  map[string]map[string]vfio.Outcome{USB: every(vfio.Attached)},
		Regions: map[string]string{USB: "direct-relaxable"},
	},
	{
		Name:    "display-rmrr",
		About:   "an RMRR on a display device is relaxable too",
		RMRRs:   []RMRR{{rmrrBase, rmrrEnd, []dmar.Scope{Endpoint("07.0/00.0")}}},
		Bind:    []string{Display},
		Expect:  map[string]map[string]vfio.Outcome{Display: every(vfio.Attached)},
		Regions: map[string]string{Display: "direct-relaxable"},
	},
	{
		Name:  "relaxable-and-direct-regions",
		About: "one RMRR naming the USB controller and a NIC: reserved_regions say direct-relaxable for one group, direct for the other",
		RMRRs: []RMRR{{rmrrBase, rmrrEnd, []dmar.Scope{Endpoint("06.0/00.0"), Endpoint("02.0/00.0")}}},
		Bind:  []string{USB, NICSlot2},
		Expect: map[string]map[string]vfio.Outcome{
			USB: every(vfio.Attached), NICSlot2: every(vfio.Refused),
		},
		Regions: map[string]string{USB: "direct-relaxable", NICSlot2: "direct"},
	},
	{
		Name:  "scope-names-nothing",
		About: "an RMRR whose scopes name devices that are not there (an empty slot's function, a bus with nothing on it) covers nobody",
		RMRRs: []RMRR{{rmrrBase, rmrrEnd, []dmar.Scope{Endpoint("02.0/00.3"), Endpoint("1e.0/00.0")}}},
		Bind:  []string{NICSlot2},
		Expect: map[string]map[string]vfio.Outcome{
			NICSlot2: every(vfio.Attached),
		},
	},
	{
		// Seen on both kernels: the refusal of function 0 is logged for function 1 (the group's
		// member the RMRR names). The verdict reports the group's state, so `devices --json` says
		// rmrr "locked" for function 0 too (it said "clear", judging the DMAR per function, until
		// the verdict package).
		Name:  "multifunction-sibling",
		About: "an RMRR on function 1 of a two-function NIC without ACS: both functions share a group, so the kernel refuses function 0 too",
		RMRRs: []RMRR{{rmrrBase, rmrrEnd, []dmar.Scope{Endpoint("05.0/00.1")}}},
		Bind:  []string{NICMF0, NICMF1},
		Expect: map[string]map[string]vfio.Outcome{
			NICMF0: every(vfio.Refused), NICMF1: every(vfio.Refused),
		},
		Regions: map[string]string{NICMF0: "direct", NICMF1: "direct"},
	},
	{
		Name:    "iommu-off-cmdline",
		About:   "intel_iommu=off: the firmware has an RMRR but no groups exist and vfio-pci cannot take the NIC",
		RMRRs:   []RMRR{{rmrrBase, rmrrEnd, []dmar.Scope{Endpoint("02.0/00.0")}}},
		Cmdline: []string{"intel_iommu=off"},
		Bind:    []string{NICSlot2},
		Expect:  map[string]map[string]vfio.Outcome{NICSlot2: every(vfio.NoGroup)},
	},
	{
		Name:    "no-iommu-in-firmware",
		About:   "a machine without the intel-iommu device: no DMAR at all, no groups",
		Machine: Standard(false),
		Bind:    []string{NICSlot2},
		Expect:  map[string]map[string]vfio.Outcome{NICSlot2: every(vfio.NoGroup)},
	},
	{
		Name:    "group-not-viable",
		About:   "two e1000 behind a conventional PCI bridge share a group; one handed to vfio-pci, the other left on e1000",
		Modules: []string{"e1000"},
		Bind:    []string{PCINIC1},
		Expect:  map[string]map[string]vfio.Outcome{PCINIC1: every(vfio.NotViable)},
	},
	{
		Name:  "rmrr-outside-e820",
		About: "an RMRR at 0xe8000, memory SeaBIOS does not reserve: the kernel logs a firmware bug and still honours the RMRR",
		RMRRs: []RMRR{{0xe8000, 0xe8fff, []dmar.Scope{Endpoint("02.0/00.0")}}},
		Bind:  []string{NICSlot2},
		Expect: map[string]map[string]vfio.Outcome{
			NICSlot2: every(vfio.Refused),
		},
		Log:      []string{`\[Firmware Bug\]: No firmware reserved region can cover this RMRR \[0x0*e8000-0x0*e8fff\]`},
		Findings: map[string]string{"kernellog.rmrr-broken": "warn"},
	},
	{
		Name:   "group-in-use",
		About:  "a process in the guest holds the NIC's group open (as QEMU would for a VM): the probe reports it in use (EBUSY) and takes nothing",
		Bind:   []string{NICSlot2},
		Hold:   []string{NICSlot2},
		Expect: map[string]map[string]vfio.Outcome{NICSlot2: every(vfio.InUse)},
	},
	{
		Name:    "relax-rmrr-not-in-debian",
		About:   "intel_iommu=relax_rmrr is a Proxmox patch: Debian's kernels ignore it and still refuse the RMRR-locked NIC",
		RMRRs:   []RMRR{{rmrrBase, rmrrEnd, []dmar.Scope{Endpoint("02.0/00.0")}}},
		Cmdline: []string{"intel_iommu=on,relax_rmrr"},
		Bind:    []string{NICSlot2},
		Expect:  map[string]map[string]vfio.Outcome{NICSlot2: every(vfio.Refused)},
		Regions: map[string]string{NICSlot2: "direct"},
	},
	{
		// Seen in the lab: kernel 6.1's AMD driver attaches an IVMD-covered device to VFIO; 6.12
		// refuses it (EINVAL, the 6.6+ wording) as Intel kernels refuse an RMRR. On both kernels
		// the group's reserved_regions say "direct", so "direct" alone does not mean refused.
		Name:    "amd-ivmd-device",
		About:   "an AMD host (amd-iommu, IVRS): an IVMD for one device (type 21h) on the NIC in slot 2; the NIC in slot 4 is the control",
		Machine: AMDMachine(),
		IVMDs:   []IVMD{{Type: 0x21, Device: 0x0100, Start: rmrrBase, Len: 0x1000}},
		Bind:    []string{AMDNICSlot2, AMDNICSlot4},
		Expect: map[string]map[string]vfio.Outcome{
			AMDNICSlot2: {"6.1": vfio.Attached, "6.12": vfio.Refused}, AMDNICSlot4: every(vfio.Attached),
		},
		Regions: map[string]string{AMDNICSlot2: "direct"},
	},
	{
		Name:    "amd-ivmd-range",
		About:   "an IVMD for a range of devices (type 22h) covering bus 2 (the NIC in slot 3)",
		Machine: AMDMachine(),
		IVMDs:   []IVMD{{Type: 0x22, Device: 0x0200, End: 0x02ff, Start: rmrrBase, Len: 0x1000}},
		Bind:    []string{AMDNICSlot3, AMDNICSlot2},
		Expect: map[string]map[string]vfio.Outcome{
			AMDNICSlot3: {"6.1": vfio.Attached, "6.12": vfio.Refused}, AMDNICSlot2: every(vfio.Attached),
		},
		Regions: map[string]string{AMDNICSlot3: "direct"},
	},
}

// Guest addresses of AMDMachine's NICs.
const (
	AMDNICSlot2 = "0000:01:00.0"
	AMDNICSlot3 = "0000:02:00.0"
	AMDNICSlot4 = "0000:03:00.0"
)
