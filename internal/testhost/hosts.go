package testhost

import (
	_ "embed"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/dpdk-doctor/dpdk-doctor/dmar"
	"github.com/dpdk-doctor/dpdk-doctor/ivrs"
)

//go:embed pci.ids
var pciIDs []byte

const modulesAlias = `# Aliases from the drivers these hosts use (format of modules.alias).
alias pci:v00008086d000010FBsv*sd*bc*sc*i* ixgbe
alias pci:v00008086d000010EDsv*sd*bc*sc*i* ixgbevf
alias pci:v00008086d00001521sv*sd*bc*sc*i* igb
alias pci:v00008086d00001572sv*sd*bc*sc*i* i40e
alias pci:v000015B3d00001015sv*sd*bc*sc*i* mlx5_core
alias pci:v0000102Bd00000533sv*sd*bc*sc*i* mgag200
alias pci:v0000103Cd00003307sv*sd*bc*sc*i* hpilo
alias pci:v00008086d00001D41sv*sd*bc*sc*i* lpc_ich
alias pci:v*d*sv*sd*bc0Csc03i20* ehci_pci
alias pci:v*d*sv*sd*bc0Csc03i00* uhci_hcd
alias pci:v*d*sv*sd*bc0Csc03i30* xhci_pci
alias pci:v*d*sv*sd*bc01sc06i01* ahci
alias pci:v*d*sv*sd*bc06sc04i00* shpchp
`

// HPE ProLiant DL360e Gen8 with the seed's Intel X520-2 in physical slot 2.
const (
	x520Vendor, x520Device = 0x8086, 0x10fb
)

// Names lists the hosts Catalog makes, in the order tests report them.
var Names = []string{
	"dl360e-gen8", "dl360e-gen8-after-conrep", "dl360e-gen8-relax-rmrr", "no-hugepages",
	"dl360e-gen8-two-slots", "dl380-gen9-hpe-nic",
	"iommu-off-firmware", "iommu-off-kernel", "vfio-noiommu",
	"usb-only-rmrr", "nic-on-ixgbe", "shared-group", "bridge-scope", "amd",
	"amd-iommu-off", "kvm-guest", "dl380p-gen8-hewlett-packard",
	"amd-ivmd-6.1", "amd-ivmd-6.12",
}

// Catalog returns the described test host called name. fixtures is the folder holding the real
// DMAR tables (testdata/fixtures/dmar), some of which the hosts carry.
func Catalog(name, fixtures string) (*Host, error) {
	switch name {
	case "dl360e-gen8":
		return dl360e(true), nil
	case "dl360e-gen8-after-conrep":
		h := dl360e(false)
		h.KernelLog = dl360eLog(h, false)
		return h, nil
	case "dl360e-gen8-relax-rmrr":
		h := dl360e(true)
		h.KernelRelease = "5.15.108-1-pve"
		h.Cmdline = "BOOT_IMAGE=/boot/vmlinuz-5.15.108-1-pve root=/dev/mapper/pve-root ro quiet intel_iommu=on,relax_rmrr iommu=pt"
		h.KernelLog = "[    0.050195] DMAR: Intel-IOMMU: assuming all RMRRs are relaxable. This can lead to instability or data loss\n" + dl360eLog(h, false)
		return h, nil
	case "amd-ivmd-6.1":
		return amdIVMD("6.1.0-18-amd64"), nil
	case "amd-ivmd-6.12":
		return amdIVMD("6.12.12-amd64"), nil
	case "dl360e-gen8-two-slots":
		return DL360e(nil, true), nil
	case "dl380-gen9-hpe-nic":
		h := dl360e(true)
		h.Name = "HPE ProLiant DL380 Gen9"
		h.DMI = DMI{Vendor: "HP", Product: "ProLiant DL380 Gen9", BIOSVendor: "HP", BIOSVersion: "P89", BIOSDate: "10/21/2019"}
		for i := range h.Devices {
			if d := &h.Devices[i]; d.Vendor == x520Vendor && d.Device == x520Device {
				d.SubVendor, d.SubDevice = 0x103c, 0x17d3 // HP Ethernet 10Gb 2-port 560SFP+ Adapter
			}
		}
		return h, nil
	case "no-hugepages":
		h := dl360e(true)
		h.Hugepages, h.HugeMounts = nil, nil
		h.Cmdline = strings.Replace(h.Cmdline, " default_hugepagesz=2M hugepagesz=2M hugepages=2048", "", 1)
		return h, nil
	case "iommu-off-firmware":
		h, err := x10(fixtures)
		h.DMAR, h.IOMMUUnits = nil, nil
		ungroup(h)
		h.KernelLog = "[    0.000000] Command line: " + h.Cmdline + "\n[    0.000000] ACPI: RSDP 0x00000000000F0580 000024 (v02 SUPERM)\n"
		return h, err
	case "iommu-off-kernel":
		h, err := x10(fixtures)
		h.IOMMUUnits = nil
		h.Cmdline = strings.Replace(h.Cmdline, " intel_iommu=on iommu=pt", "", 1)
		ungroup(h)
		h.KernelLog = "[    0.000000] Command line: " + h.Cmdline + "\n[    0.012345] DMAR: Host address width 46\n[    0.012350] DMAR: DRHD base: 0x000000fbffc000 flags: 0x0\n[    0.012501] DMAR: RMRR base: 0x0000007b461000 end: 0x0000007b470fff\n"
		return h, err
	case "vfio-noiommu":
		h, err := x10(fixtures)
		h.IOMMUUnits = nil
		h.Cmdline = strings.Replace(h.Cmdline, " intel_iommu=on iommu=pt", " vfio.enable_unsafe_noiommu_mode=1", 1)
		h.NoIOMMU = true
		ungroup(h)
		h.KernelLog = "[   12.345678] vfio-pci: probe of 0000:02:00.0 failed with error -22\n[   13.000001] vfio-pci 0000:02:00.0: Adding kernel taint for vfio-noiommu group on device\n"
		return h, err
	case "usb-only-rmrr":
		return x10(fixtures)
	case "nic-on-ixgbe":
		h, err := x10(fixtures)
		for i := range h.Devices {
			if d := &h.Devices[i]; d.Vendor == x520Vendor && d.Device == x520Device {
				d.Driver, d.Iface = "ixgbe", fmt.Sprintf("ens1f%d", i%2)
			}
		}
		fixIfaces(h)
		return h, err
	case "shared-group":
		h, err := x10(fixtures)
		for i := range h.Devices {
			if d := &h.Devices[i]; d.Addr == "0000:02:00.1" {
				d.Driver, d.Iface = "ixgbe", "ens1f1"
			}
		}
		// The port left on ixgbe is the host's uplink: binding it to complete the group would
		// cut the host off.
		h.Net = []Link{{Name: "ens1f1", Up: true, Addrs: []string{"198.51.100.20/24"}, Gateway: "198.51.100.1", SSHFrom: "198.51.100.7:60222"}}
		return h, err
	case "bridge-scope":
		return bridgeScope(fixtures)
	case "amd":
		return amd(), nil
	case "amd-iommu-off":
		return amdIOMMUOff(), nil
	case "kvm-guest":
		return kvmGuest(), nil
	case "dl380p-gen8-hewlett-packard":
		// The same Gen8 firmware under the maker's older name, as DL380p Gen8 BIOS P70 reports it.
		h := dl360e(true)
		h.Name = "Hewlett-Packard ProLiant DL380p Gen8"
		h.DMI = DMI{Vendor: "Hewlett-Packard Company", Product: "ProLiant DL380p Gen8", BIOSVendor: "HP", BIOSVersion: "P70", BIOSDate: "07/01/2015"}
		return h, nil
	case "hostile-names":
		return hostileNames(fixtures)
	}
	if f, ok := moreHosts[name]; ok {
		return f(), nil
	}
	return nil, fmt.Errorf("no test host called %q", name)
}

func ungroup(h *Host) {
	for i := range h.Devices {
		h.Devices[i].Group = -1
		h.Devices[i].ReservedRegions = ""
	}
}

func fixIfaces(h *Host) {
	for i := range h.Devices {
		d := &h.Devices[i]
		if d.Iface != "" && strings.HasPrefix(d.Iface, "ens1f") {
			d.Iface = "ens1f" + d.Addr[len(d.Addr)-1:]
		}
	}
}

// dl360e is the seed's machine: an HP ProLiant DL360e Gen8 (two Xeon E5-2400 sockets, ROM
// P73 08/02/2014), Ubuntu 16.04, the Intel X520-2 at 0000:03:00.0/.1 in physical slot 2 bound to
// vfio-pci. Its DMAR table is modelled on the real DL380e Gen8 table in testdata/fixtures/dmar
// (same Gen8 firmware): HP's RMRRs scope the USB controllers, iLO 4, the SATA controller, the
// embedded 366i and, while slot 2's endpoints are included, the X520's two functions.
func dl360e(slot2InRMRR bool) *Host {
	var excluded []string
	if !slot2InRMRR {
		excluded = []string{"2"}
	}
	return dl360eHost(excluded, false)
}

// DL360e returns the seed's host as it boots with the given physical slots excluded from RMRR
// (conrep's RMRDS_Slot<N> = Endpoints_Excluded): the firmware leaves those slots' endpoints out
// of its RMRR scopes. With twoCards, slot 1 holds a second X520 (0000:04:00.0/.1). It is how a
// test "reboots" after the conrep double changed the BIOS.
func DL360e(excluded []string, twoCards bool) *Host {
	h := dl360eHost(excluded, twoCards)
	if len(excluded) > 0 {
		h.KernelLog = dl360eLog(h, false)
	}
	return h
}

func dl360eHost(excluded []string, twoCards bool) *Host {
	scoped := map[uint8][]uint8{} // root port device number -> endpoint functions in its slot
	isExcluded := func(s string) bool {
		for _, e := range excluded {
			if e == s {
				return true
			}
		}
		return false
	}
	if !isExcluded("2") {
		scoped[0x02] = []uint8{0, 1}
	}
	if twoCards && !isExcluded("1") {
		scoped[0x01] = []uint8{0, 1}
	}
	slot2InRMRR := !isExcluded("2")
	h := &Host{
		Name:          "HP ProLiant DL360e Gen8",
		CPUVendor:     "GenuineIntel",
		CPUModel:      "Intel(R) Xeon(R) CPU E5-2420 0 @ 1.90GHz",
		CPUFlags:      strings.Fields("fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush dts acpi mmx fxsr sse sse2 ss ht tm pbe syscall nx pdpe1gb rdtscp lm constant_tsc arch_perfmon pebs bts rep_good nopl xtopology nonstop_tsc aperfmperf pni pclmulqdq dtes64 monitor ds_cpl vmx smx est tm2 ssse3 cx16 xtpr pdcm pcid dca sse4_1 sse4_2 x2apic popcnt tsc_deadline_timer aes xsave avx lahf_lm epb tpr_shadow vnmi flexpriority ept vpid xsaveopt dtherm arat pln pts"),
		CPUs:          24,
		Nodes:         2,
		KernelRelease: "4.4.0-131-generic",
		Cmdline:       "BOOT_IMAGE=/boot/vmlinuz-4.4.0-131-generic root=/dev/mapper/aio1--vg-root ro intel_iommu=on iommu=pt default_hugepagesz=2M hugepagesz=2M hugepages=2048",
		DMI:           DMI{Vendor: "HP", Product: "ProLiant DL360e Gen8", BIOSVendor: "HP", BIOSVersion: "P73", BIOSDate: "08/02/2014"},
		MemKB:         98934712,
		Hugepages:     []Pool{{2048, 0, 1024, 512}, {2048, 1, 1024, 1024}},
		HugeMounts:    []string{"hugetlbfs /dev/hugepages hugetlbfs rw,relatime,pagesize=2M 0 0"},
		IOMMUUnits:    []string{"dmar0"},
		DMAR:          dl360eDMAR(scoped),
		VFIO:          true,
		Slots:         map[string]string{"1": "0000:04:00", "2": "0000:03:00"},
		ModulesAlias:  modulesAlias,
		PCIIDs:        pciIDs,
	}
	h.Devices = []Device{
		{Addr: "0000:00:00.0", Vendor: 0x8086, Device: 0x3c00, SubVendor: 0x103c, SubDevice: 0x18a9, Class: 0x060000, Rev: 0x07, Group: 0, NUMA: 0},
		{Addr: "0000:00:01.0", Vendor: 0x8086, Device: 0x3c02, Class: 0x060400, Rev: 0x07, Bridge: true, Secondary: 4, Subordinate: 4, Driver: "pcieport", Group: 1, NUMA: 0},
		{Addr: "0000:00:02.0", Vendor: 0x8086, Device: 0x3c04, Class: 0x060400, Rev: 0x07, Bridge: true, Secondary: 3, Subordinate: 3, Driver: "pcieport", Group: 2, NUMA: 0},
		{Addr: "0000:00:1a.0", Vendor: 0x8086, Device: 0x1d2d, SubVendor: 0x103c, SubDevice: 0x18a9, Class: 0x0c0320, Rev: 0x05, Driver: "ehci-pci", Group: 3, NUMA: 0},
		{Addr: "0000:00:1c.0", Vendor: 0x8086, Device: 0x1d10, Class: 0x060400, Rev: 0xb5, Bridge: true, Secondary: 5, Subordinate: 5, Driver: "pcieport", Group: 4, NUMA: 0, MultiFunction: true},
		{Addr: "0000:00:1c.4", Vendor: 0x8086, Device: 0x1d18, Class: 0x060400, Rev: 0xb5, Bridge: true, Secondary: 2, Subordinate: 2, Driver: "pcieport", Group: 5, NUMA: 0},
		{Addr: "0000:00:1c.7", Vendor: 0x8086, Device: 0x1d1e, Class: 0x060400, Rev: 0xb5, Bridge: true, Secondary: 1, Subordinate: 1, Driver: "pcieport", Group: 6, NUMA: 0},
		{Addr: "0000:00:1d.0", Vendor: 0x8086, Device: 0x1d26, SubVendor: 0x103c, SubDevice: 0x18a9, Class: 0x0c0320, Rev: 0x05, Driver: "ehci-pci", Group: 7, NUMA: 0},
		{Addr: "0000:00:1f.0", Vendor: 0x8086, Device: 0x1d41, SubVendor: 0x103c, SubDevice: 0x18a9, Class: 0x060100, Rev: 0x05, Driver: "lpc_ich", Group: 8, NUMA: 0, MultiFunction: true},
		{Addr: "0000:00:1f.2", Vendor: 0x8086, Device: 0x1d02, SubVendor: 0x103c, SubDevice: 0x18a9, Class: 0x010601, Rev: 0x05, Driver: "ahci", Group: 8, NUMA: 0},
		{Addr: "0000:01:00.0", Parent: "0000:00:1c.7", Vendor: 0x103c, Device: 0x3306, SubVendor: 0x103c, SubDevice: 0x3381, Class: 0x088000, Rev: 0x05, Group: 9, NUMA: 0, MultiFunction: true},
		{Addr: "0000:01:00.1", Parent: "0000:00:1c.7", Vendor: 0x102b, Device: 0x0533, SubVendor: 0x103c, SubDevice: 0x3381, Class: 0x030000, Driver: "mgag200", Group: 9, NUMA: 0},
		{Addr: "0000:01:00.2", Parent: "0000:00:1c.7", Vendor: 0x103c, Device: 0x3307, SubVendor: 0x103c, SubDevice: 0x3381, Class: 0x088000, Rev: 0x05, Driver: "hpilo", Group: 9, NUMA: 0},
		{Addr: "0000:01:00.4", Parent: "0000:00:1c.7", Vendor: 0x103c, Device: 0x3300, SubVendor: 0x103c, SubDevice: 0x3381, Class: 0x0c0300, Rev: 0x02, Driver: "uhci_hcd", Group: 9, NUMA: 0},
	}
	for f := range 4 {
		h.Devices = append(h.Devices, Device{Addr: fmt.Sprintf("0000:02:00.%d", f), Parent: "0000:00:1c.4", Vendor: 0x8086, Device: 0x1521, SubVendor: 0x103c, SubDevice: 0x3380, Class: 0x020000, Rev: 0x01, Driver: "igb", Group: 10 + f, NUMA: 0, Iface: fmt.Sprintf("eno%d", f+1), MultiFunction: f == 0})
	}
	for f := range 2 {
		h.Devices = append(h.Devices, Device{Addr: fmt.Sprintf("0000:03:00.%d", f), Parent: "0000:00:02.0", Vendor: x520Vendor, Device: x520Device, SubVendor: 0x8086, SubDevice: 0x000c, Class: 0x020000, Rev: 0x01, Driver: "vfio-pci", Group: 14, NUMA: 0, MultiFunction: f == 0})
	}
	if twoCards {
		for f := range 2 {
			h.Devices = append(h.Devices, Device{Addr: fmt.Sprintf("0000:04:00.%d", f), Parent: "0000:00:01.0", Vendor: x520Vendor, Device: x520Device, SubVendor: 0x8086, SubDevice: 0x000c, Class: 0x020000, Rev: 0x01, Driver: "vfio-pci", Group: 15, NUMA: 0, MultiFunction: f == 0})
		}
	}
	h.KernelLog = dl360eLog(h, slot2InRMRR)
	h.Extra = map[string]string{ovsSnapshot: seedOVS(slot2InRMRR)}
	// The on-board 366i's first port carries the management network, the default route and
	// the operator's SSH session; the other ports are down.
	h.Net = []Link{
		{Name: "eno1", Up: true, Addrs: []string{"10.20.0.15/24"}, Gateway: "10.20.0.1", SSHFrom: "10.20.0.99:51022"},
		{Name: "eno2"}, {Name: "eno3"}, {Name: "eno4"},
	}
	return h
}

// ovsSnapshot is where a tree keeps Open vSwitch's state (ovs.SnapshotFile).
const ovsSnapshot = "var/lib/dpdk-doctor/ovs-state.json"

// seedOVS is the seed's `ovs-vsctl show` (OVS 2.9.0 on Ubuntu 16.04) as a snapshot: dpdk-p0 on
// 0000:03:00.0 fails to attach while slot 2 is in the RMRR, and works after the conrep fix.
func seedOVS(failing bool) string {
	dpdk := `{"name": "dpdk-p0", "type": "dpdk", "options": {"dpdk-devargs": "0000:03:00.0"}, "ofport": 2, "link_state": "up"}`
	if failing {
		dpdk = `{"name": "dpdk-p0", "type": "dpdk", "options": {"dpdk-devargs": "0000:03:00.0"}, "error": "Error attaching device '0000:03:00.0' to DPDK", "ofport": -1}`
	}
	return `{
  "ovs_version": "2.9.0",
  "dpdk_init": "true",
  "dpdk_initialized": true,
  "dpdk_version": "DPDK 17.11.3",
  "other_config": {"dpdk-init": "true", "dpdk-socket-mem": "1024,1024", "pmd-cpu-mask": "0x6"},
  "bridges": [
    {"name": "br-provider", "controllers": [{"target": "tcp:127.0.0.1:6633", "is_connected": true}], "fail_mode": "secure", "datapath_type": "netdev", "ports": [
      {"name": "br-provider", "interfaces": [{"name": "br-provider", "type": "internal", "ofport": 65534}]},
      {"name": "dpdk-p0", "interfaces": [` + dpdk + `]},
      {"name": "phy-br-provider", "interfaces": [{"name": "phy-br-provider", "type": "patch", "options": {"peer": "int-br-provider"}, "ofport": 1}]}
    ]}
  ]
}
`
}

func dl360eDMAR(scoped map[uint8][]uint8) *dmar.Table {
	ep := func(bus uint8, path ...uint8) dmar.Scope {
		s := dmar.Scope{Type: dmar.ScopeEndpoint, StartBus: bus}
		for i := 0; i+1 < len(path); i += 2 {
			s.Path = append(s.Path, dmar.PathEntry{Device: path[i], Function: path[i+1]})
		}
		return s
	}
	ilo := []dmar.Scope{ep(0, 0x1c, 7, 0, 0), ep(0, 0x1c, 7, 0, 2)}
	shared := append([]dmar.Scope{}, ilo...)
	for _, port := range []uint8{0x01, 0x02} {
		for _, fn := range scoped[port] {
			shared = append(shared, ep(0, port, 0, 0, fn))
		}
	}
	shared = append(shared, ep(0, 0x1f, 2), ep(0, 0x1c, 4, 0, 0), ep(0, 0x1c, 4, 0, 1), ep(0, 0x1c, 4, 0, 2), ep(0, 0x1c, 4, 0, 3))
	t := &dmar.Table{
		Revision: 1, OEMID: "HP    ", OEMTableID: "ProLiant", OEMRevision: 1, CreatorID: "\xd2?  ", CreatorRevision: 0x162e,
		HostAddressWidth: 46, Flags: dmar.FlagIntrRemap | dmar.FlagX2APICOptOut,
		Structures: []dmar.Structure{
			{Type: dmar.TypeDRHD, Flags: 1, Address: 0xbeffe000, Scopes: []dmar.Scope{
				{Type: dmar.ScopeIOAPIC, EnumerationID: 8, StartBus: 0, Path: []dmar.PathEntry{pe(0x1e, 1)}},
				{Type: dmar.ScopeIOAPIC, EnumerationID: 0, StartBus: 0, Path: []dmar.PathEntry{pe(0x05, 4)}},
				{Type: dmar.ScopeHPET, EnumerationID: 0, StartBus: 0, Path: []dmar.PathEntry{pe(0x1f, 0)}},
			}},
			{Type: dmar.TypeRMRR, Address: 0x7dffd000, End: 0x7dffffff, Scopes: []dmar.Scope{ep(0, 0x1d, 0), ep(0, 0x1a, 0)}},
			{Type: dmar.TypeRMRR, Address: 0x7dff6000, End: 0x7dffcfff, Scopes: []dmar.Scope{ep(0, 0x1c, 7, 0, 0), ep(0, 0x1c, 7, 0, 2), ep(0, 0x1c, 7, 0, 4)}},
			{Type: dmar.TypeRMRR, Address: 0x7df83000, End: 0x7df84fff, Scopes: shared},
			{Type: dmar.TypeRMRR, Address: 0x7df7f000, End: 0x7df82fff, Scopes: shared},
			{Type: dmar.TypeRMRR, Address: 0x7df6f000, End: 0x7df7efff, Scopes: shared},
			{Type: dmar.TypeRMRR, Address: 0x000f4000, End: 0x000f4fff, Scopes: shared},
			{Type: dmar.TypeRMRR, Address: 0x000e8000, End: 0x000e8fff, Scopes: shared},
			{Type: dmar.TypeATSR, Flags: 0, Scopes: []dmar.Scope{{Type: dmar.ScopeBridge, StartBus: 0, Path: []dmar.PathEntry{pe(0x02, 0)}}}},
			{Type: dmar.TypeRHSA, Address: 0xbeffe000, Domain: 0},
		},
	}
	return t
}

func dl360eLog(h *Host, ineligible bool) string {
	raw, _ := h.DMAR.MarshalBinary()
	var b strings.Builder
	fmt.Fprintf(&b, "[    0.000000] Linux version %s (buildd@lgw01-amd64-035) (gcc version 5.4.0 20160609 (Ubuntu 5.4.0-6ubuntu1~16.04.10) ) #157-Ubuntu SMP Mon Jul 2 15:32:19 UTC 2018 (Ubuntu 4.4.0-131.157-generic 4.4.134)\n", h.KernelRelease)
	fmt.Fprintf(&b, "[    0.000000] Command line: %s\n", h.Cmdline)
	fmt.Fprintf(&b, "[    0.000000] ACPI: DMAR 0x00000000BDDAD200 %06X (v01 HP     ProLiant 00000001 \xd2?   0000162E)\n", len(raw))
	b.WriteString("[    0.000000] DMAR: IOMMU enabled\n")
	b.WriteString("[    0.164401] DMAR: Host address width 46\n[    0.164404] DMAR: DRHD base: 0x000000beffe000 flags: 0x1\n[    0.164414] DMAR: dmar0: reg_base_addr beffe000 ver 1:0 cap d2078c106f0466 ecap f020de\n")
	for i, r := range h.DMAR.RMRRs() {
		fmt.Fprintf(&b, "[    0.1644%02d] DMAR: RMRR base: 0x%014x end: 0x%014x\n", 20+i, r.Address, r.End)
	}
	b.WriteString("[    0.164460] DMAR: ATSR flags: 0x0\n[    0.164463] DMAR: RHSA base: 0x000000beffe000 proximity domain: 0x0\n")
	b.WriteString("[    2.306270] DMAR: Intel(R) Virtualization Technology for Directed I/O\n")
	b.WriteString("[    3.418720] ixgbe 0000:03:00.0: Intel(R) 10 Gigabit Network Connection\n[    3.618401] ixgbe 0000:03:00.1: Intel(R) 10 Gigabit Network Connection\n")
	b.WriteString("[  612.447110] VFIO - User Level meta-driver version: 0.3\n")
	if ineligible {
		b.WriteString("[  708.044615] vfio-pci 0000:03:00.0: Device is ineligible for IOMMU domain attach due to platform RMRR requirement.  Contact your platform vendor.\n")
	}
	return b.String()
}

// x10 is a Supermicro X10DAi (Xeon E5 v3) with its real DMAR table, whose one RMRR covers only
// the USB controllers, and an Intel X520-2 in slot 1 (root port 00:02.0, bus 02) on vfio-pci.
func x10(fixtures string) (*Host, error) {
	raw, err := os.ReadFile(filepath.Join(fixtures, "supermicro-x10dai.dmar.bin"))
	if err != nil {
		return nil, err
	}
	t, err := dmar.Parse(raw)
	if err != nil {
		return nil, err
	}
	h := &Host{
		Name:          "Supermicro X10DAi",
		CPUVendor:     "GenuineIntel",
		CPUModel:      "Intel(R) Xeon(R) CPU E5-2630 v3 @ 2.40GHz",
		CPUFlags:      strings.Fields("fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush dts acpi mmx fxsr sse sse2 ss ht tm pbe syscall nx pdpe1gb rdtscp lm constant_tsc pni pclmulqdq vmx smx est ssse3 fma cx16 pcid dca sse4_1 sse4_2 x2apic movbe popcnt aes xsave avx f16c rdrand lahf_lm abm ept vpid fsgsbase bmi1 avx2 smep bmi2 erms invpcid"),
		CPUs:          16,
		Nodes:         2,
		KernelRelease: "6.1.0-18-amd64",
		Cmdline:       "BOOT_IMAGE=/boot/vmlinuz-6.1.0-18-amd64 root=UUID=5f0c0f4c-5d4e-4a8b-9a1e-0b6f5d0c7e11 ro quiet intel_iommu=on iommu=pt default_hugepagesz=1G hugepagesz=1G hugepages=8",
		DMI:           DMI{Vendor: "Supermicro", Product: "X10DAi", BIOSVendor: "American Megatrends Inc.", BIOSVersion: "3.2", BIOSDate: "11/19/2019"},
		MemKB:         65857780,
		Hugepages:     []Pool{{1048576, 0, 4, 4}, {1048576, 1, 4, 4}},
		HugeMounts:    []string{"hugetlbfs /dev/hugepages hugetlbfs rw,relatime,pagesize=1024M 0 0"},
		IOMMUUnits:    []string{"dmar0", "dmar1", "dmar2"},
		DMAR:          t,
		VFIO:          true,
		Slots:         map[string]string{"1": "0000:02:00", "2": "0000:03:00"},
		ModulesAlias:  modulesAlias,
		PCIIDs:        pciIDs,
	}
	usbRegions := "0x000000007b461000 0x000000007b470fff direct-relaxable\n0x00000000fee00000 0x00000000feefffff msi\n"
	h.Devices = []Device{
		{Addr: "0000:00:00.0", Vendor: 0x8086, Device: 0x2f00, Class: 0x060000, Rev: 0x02, Group: 0, NUMA: 0},
		{Addr: "0000:00:02.0", Vendor: 0x8086, Device: 0x2f04, Class: 0x060400, Rev: 0x02, Bridge: true, Secondary: 2, Subordinate: 2, Driver: "pcieport", Group: 1, NUMA: 0},
		{Addr: "0000:00:03.0", Vendor: 0x8086, Device: 0x2f08, Class: 0x060400, Rev: 0x02, Bridge: true, Secondary: 3, Subordinate: 3, Driver: "pcieport", Group: 2, NUMA: 0},
		{Addr: "0000:00:14.0", Vendor: 0x8086, Device: 0x8d31, SubVendor: 0x15d9, SubDevice: 0x0832, Class: 0x0c0330, Rev: 0x05, Driver: "xhci_hcd", Group: 3, NUMA: 0, ReservedRegions: usbRegions},
		{Addr: "0000:00:1a.0", Vendor: 0x8086, Device: 0x8d2d, SubVendor: 0x15d9, SubDevice: 0x0832, Class: 0x0c0320, Rev: 0x05, Driver: "ehci-pci", Group: 4, NUMA: 0, ReservedRegions: usbRegions},
		{Addr: "0000:00:1d.0", Vendor: 0x8086, Device: 0x8d26, SubVendor: 0x15d9, SubDevice: 0x0832, Class: 0x0c0320, Rev: 0x05, Driver: "ehci-pci", Group: 5, NUMA: 0, ReservedRegions: usbRegions},
		{Addr: "0000:02:00.0", Parent: "0000:00:02.0", Vendor: x520Vendor, Device: x520Device, SubVendor: 0x8086, SubDevice: 0x000c, Class: 0x020000, Rev: 0x01, Driver: "vfio-pci", Group: 6, NUMA: 0, MultiFunction: true, ReservedRegions: "0x00000000fee00000 0x00000000feefffff msi\n"},
		{Addr: "0000:02:00.1", Parent: "0000:00:02.0", Vendor: x520Vendor, Device: x520Device, SubVendor: 0x8086, SubDevice: 0x000c, Class: 0x020000, Rev: 0x01, Driver: "vfio-pci", Group: 6, NUMA: 0},
	}
	h.KernelLog = "[    0.000000] Command line: " + h.Cmdline + "\n[    0.012345] DMAR: IOMMU enabled\n[    0.012501] DMAR: RMRR base: 0x0000007b461000 end: 0x0000007b470fff\n[    1.023456] DMAR: Intel(R) Virtualization Technology for Directed I/O\n"
	return h, nil
}

// bridgeScope is a server whose firmware scopes a whole root port (a bridge scope, type 2)
// with an RMRR: every device below it is locked. Slot 4 holds a PCIe switch (upstream port
// 0000:05:00.0) with two NICs behind it; the kernel is 6.8, so groups carry reserved_regions.
func bridgeScope(fixtures string) (*Host, error) {
	h, err := x10(fixtures)
	if err != nil {
		return nil, err
	}
	h.Name = "bridge-scoped RMRR"
	h.KernelRelease = "6.8.0-45-generic"
	h.Cmdline = strings.Replace(h.Cmdline, "6.1.0-18-amd64", "6.8.0-45-generic", 1)
	h.DMAR.Structures = append(h.DMAR.Structures, dmar.Structure{
		Type: dmar.TypeRMRR, Address: 0x79000000, End: 0x7a437fff,
		Scopes: []dmar.Scope{{Type: dmar.ScopeBridge, StartBus: 0, Path: []dmar.PathEntry{pe(0x03, 0)}}},
	})
	h.DMAR.Structures[0].Scopes = h.DMAR.Structures[0].Scopes[:len(h.DMAR.Structures[0].Scopes):len(h.DMAR.Structures[0].Scopes)]
	h.Slots["4"] = "0000:05:00"
	for i := range h.Devices {
		if h.Devices[i].Addr == "0000:00:03.0" {
			h.Devices[i].Secondary, h.Devices[i].Subordinate = 5, 8
		}
	}
	direct := "0x0000000079000000 0x000000007a437fff direct\n0x00000000fee00000 0x00000000feefffff msi\n"
	h.Devices = append(h.Devices,
		Device{Addr: "0000:05:00.0", Parent: "0000:00:03.0", Vendor: 0x8086, Device: 0x37c0, Class: 0x060400, Rev: 0x09, Bridge: true, Secondary: 6, Subordinate: 8, Driver: "pcieport", Group: 7, NUMA: 0, ReservedRegions: direct},
		Device{Addr: "0000:06:00.0", Parent: "0000:05:00.0", Vendor: 0x8086, Device: 0x37c1, Class: 0x060400, Rev: 0x09, Bridge: true, Secondary: 7, Subordinate: 7, Driver: "pcieport", Group: 8, NUMA: 0, ReservedRegions: direct},
		Device{Addr: "0000:06:01.0", Parent: "0000:05:00.0", Vendor: 0x8086, Device: 0x37c1, Class: 0x060400, Rev: 0x09, Bridge: true, Secondary: 8, Subordinate: 8, Driver: "pcieport", Group: 9, NUMA: 0, ReservedRegions: direct},
		Device{Addr: "0000:07:00.0", Parent: "0000:06:00.0", Vendor: 0x8086, Device: 0x1572, SubVendor: 0x8086, SubDevice: 0x0007, Class: 0x020000, Rev: 0x02, Driver: "vfio-pci", Group: 10, NUMA: 0, ReservedRegions: direct},
		Device{Addr: "0000:08:00.0", Parent: "0000:06:01.0", Vendor: 0x8086, Device: 0x1572, SubVendor: 0x8086, SubDevice: 0x0007, Class: 0x020000, Rev: 0x02, Driver: "i40e", Iface: "ens4f0", Group: 11, NUMA: 0, ReservedRegions: direct},
	)
	h.KernelLog += "[    0.012502] DMAR: RMRR base: 0x00000079000000 end: 0x0000007a437fff\n" +
		"[  431.118822] vfio-pci 0000:07:00.0: Firmware has requested this device have a 1:1 IOMMU mapping, rejecting configuring the device without a 1:1 mapping. Contact your platform vendor.\n"
	return h, nil
}

// amd is an AMD EPYC host (IVRS, AMD-Vi) with an Intel X710 on vfio-pci.
func amd() *Host {
	h := &Host{
		Name:          "AMD EPYC server",
		CPUVendor:     "AuthenticAMD",
		CPUModel:      "AMD EPYC 7302P 16-Core Processor",
		CPUFlags:      strings.Fields("fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ht syscall nx mmxext fxsr_opt pdpe1gb rdtscp lm constant_tsc rep_good nopl nonstop_tsc cpuid extd_apicid aperfmperf pni pclmulqdq monitor ssse3 fma cx16 sse4_1 sse4_2 movbe popcnt aes xsave avx f16c rdrand lahf_lm cmp_legacy svm extapic cr8_legacy abm sse4a misalignsse 3dnowprefetch osvw ibs skinit wdt tce topoext perfctr_core"),
		CPUs:          32,
		Nodes:         1,
		KernelRelease: "6.1.0-18-amd64",
		Cmdline:       "BOOT_IMAGE=/boot/vmlinuz-6.1.0-18-amd64 root=/dev/sda2 ro quiet iommu=pt default_hugepagesz=1G hugepagesz=1G hugepages=16",
		DMI:           DMI{Vendor: "Supermicro", Product: "H12SSL-i", BIOSVendor: "American Megatrends Inc.", BIOSVersion: "2.4", BIOSDate: "04/14/2022"},
		MemKB:         131857780,
		Hugepages:     []Pool{{1048576, 0, 16, 12}},
		HugeMounts:    []string{"hugetlbfs /dev/hugepages hugetlbfs rw,relatime,pagesize=1024M 0 0"},
		IOMMUUnits:    []string{"ivhd0"},
		IVRS:          true,
		VFIO:          true,
		Slots:         map[string]string{"3": "0000:41:00"},
		ModulesAlias:  modulesAlias,
		PCIIDs:        pciIDs,
	}
	msi := "0x00000000fee00000 0x00000000feefffff msi\n0x000000fd00000000 0x000000ffffffffff reserved\n"
	h.Devices = []Device{
		{Addr: "0000:40:00.0", Vendor: 0x1022, Device: 0x1480, Class: 0x060000, Group: 20, NUMA: 0, ReservedRegions: msi},
		{Addr: "0000:40:01.1", Vendor: 0x1022, Device: 0x1483, Class: 0x060400, Bridge: true, Secondary: 0x41, Subordinate: 0x41, Driver: "pcieport", Group: 21, NUMA: 0, ReservedRegions: msi},
		{Addr: "0000:41:00.0", Parent: "0000:40:01.1", Vendor: 0x8086, Device: 0x1572, SubVendor: 0x8086, SubDevice: 0x0007, Class: 0x020000, Rev: 0x02, Driver: "vfio-pci", Group: 22, NUMA: 0, MultiFunction: true, ReservedRegions: msi},
		{Addr: "0000:41:00.1", Parent: "0000:40:01.1", Vendor: 0x8086, Device: 0x1572, SubVendor: 0x8086, SubDevice: 0x0007, Class: 0x020000, Rev: 0x02, Driver: "vfio-pci", Group: 23, NUMA: 0, ReservedRegions: msi},
	}
	h.KernelLog = "[    0.000000] Command line: " + h.Cmdline + "\n[    1.412301] pci 0000:40:00.2: AMD-Vi: IOMMU performance counters supported\n[    1.420001] AMD-Vi: Interrupt remapping enabled\n"
	return h
}

// amdIVMD is the AMD host whose firmware's IVRS (the lab's table: one IVHD 10h naming every
// device) carries an IVMD 21h for the X710's function 0 (0000:41:00.0), as consumer boards do
// (the Gigabyte B650 report), on kernel release rel: 6.1 attaches the device to VFIO, 6.12
// refuses it. Function 1 (0000:41:00.1, a group of its own) is the control.
func amdIVMD(rel string) *Host {
	h := amd()
	h.Name = "AMD EPYC server with an IVMD on the X710's function 0, kernel " + rel
	h.Cmdline = strings.ReplaceAll(h.Cmdline, h.KernelRelease, rel)
	h.KernelRelease = rel
	const start, length = 0x7b800000, 0x1000
	h.IVRSTable = ivrs.LabTable(2, ivrs.IVMD(ivrs.TypeIVMDDevice, ivrs.ID(0x41, 0, 0), 0, start, length, false))
	for i := range h.Devices {
		if d := &h.Devices[i]; d.Addr == "0000:41:00.0" {
			d.ReservedRegions = fmt.Sprintf("0x%016x 0x%016x direct\n", uint64(start), uint64(start+length-1)) + d.ReservedRegions
		}
	}
	h.KernelLog = "[    0.000000] Command line: " + h.Cmdline + "\n[    1.412301] pci 0000:40:00.2: AMD-Vi: IOMMU performance counters supported\n[    1.420001] AMD-Vi: Interrupt remapping enabled\n"
	if ivrs.AtLeast(rel, 6, 6) {
		h.KernelLog += "[  312.114501] vfio-pci 0000:41:00.0: Firmware has requested this device have a 1:1 IOMMU mapping, rejecting configuring the device without a 1:1 mapping. Contact your platform vendor.\n"
	}
	return h
}

func pe(dev, fn uint8) dmar.PathEntry { return dmar.PathEntry{Device: dev, Function: fn} }

// amdIOMMUOff is the AMD host booted with amd_iommu=off: the firmware's IVRS is there, the
// kernel made no IOMMU, and this kernel was built without VFIO (no vfio-pci in modules.dep,
// CONFIG_VFIO_PCI not set).
func amdIOMMUOff() *Host {
	h := amd()
	h.Cmdline = strings.Replace(h.Cmdline, " iommu=pt", " amd_iommu=off", 1)
	h.IOMMUUnits, h.VFIO = nil, false
	ungroup(h)
	for i := range h.Devices {
		if h.Devices[i].Driver == "vfio-pci" {
			h.Devices[i].Driver = ""
		}
	}
	h.ModulesDep = "kernel/drivers/net/ethernet/intel/i40e/i40e.ko:\nkernel/drivers/iommu/iommufd/iommufd.ko:\n"
	h.Extra = map[string]string{"boot/config-" + h.KernelRelease: "CONFIG_AMD_IOMMU=y\n# CONFIG_VFIO is not set\n# CONFIG_VFIO_PCI is not set\n"}
	h.KernelLog = "[    0.000000] Command line: " + h.Cmdline + "\n"
	return h
}

// kvmGuest is a Debian 12 KVM guest on QEMU's q35 machine with two virtio-net NICs, no virtual
// IOMMU, and vfio-pci available as a module but not loaded. enp1s0 carries the default route and
// the SSH session; enp2s0 is down.
func kvmGuest() *Host {
	h := &Host{
		Name:          "QEMU KVM guest",
		CPUVendor:     "GenuineIntel",
		CPUModel:      "Intel Xeon Processor (Icelake)",
		CPUFlags:      strings.Fields("fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ss syscall nx pdpe1gb rdtscp lm constant_tsc rep_good nopl xtopology cpuid tsc_known_freq pni pclmulqdq ssse3 fma cx16 pcid sse4_1 sse4_2 x2apic movbe popcnt tsc_deadline_timer aes xsave avx f16c rdrand hypervisor lahf_lm abm 3dnowprefetch arat"),
		CPUs:          4,
		Nodes:         1,
		KernelRelease: "6.1.0-18-amd64",
		Cmdline:       "BOOT_IMAGE=/boot/vmlinuz-6.1.0-18-amd64 root=/dev/vda1 ro console=ttyS0 default_hugepagesz=2M hugepagesz=2M hugepages=512",
		DMI:           DMI{Vendor: "QEMU", Product: "Standard PC (Q35 + ICH9, 2009)", BIOSVendor: "SeaBIOS", BIOSVersion: "1.16.2-debian-1.16.2-1", BIOSDate: "04/01/2014"},
		MemKB:         8131180,
		Hugepages:     []Pool{{2048, 0, 512, 512}},
		HugeMounts:    []string{"hugetlbfs /dev/hugepages hugetlbfs rw,relatime,pagesize=2M 0 0"},
		ModulesAlias:  modulesAlias + "alias pci:v00001AF4d00001041sv*sd*bc*sc*i* virtio_pci\n",
		ModulesDep:    "kernel/drivers/vfio/pci/vfio-pci.ko: kernel/drivers/vfio/pci/vfio-pci-core.ko kernel/drivers/vfio/vfio.ko\nkernel/drivers/vfio/vfio.ko:\n",
		PCIIDs:        pciIDs,
	}
	h.Devices = []Device{
		{Addr: "0000:00:00.0", Vendor: 0x8086, Device: 0x29c0, SubVendor: 0x1af4, SubDevice: 0x1100, Class: 0x060000, Group: -1, NUMA: -1},
		{Addr: "0000:00:02.0", Vendor: 0x1b36, Device: 0x000c, Class: 0x060400, Bridge: true, Secondary: 1, Subordinate: 1, Driver: "pcieport", Group: -1, NUMA: -1, MultiFunction: true},
		{Addr: "0000:00:02.1", Vendor: 0x1b36, Device: 0x000c, Class: 0x060400, Bridge: true, Secondary: 2, Subordinate: 2, Driver: "pcieport", Group: -1, NUMA: -1},
		{Addr: "0000:01:00.0", Parent: "0000:00:02.0", Vendor: 0x1af4, Device: 0x1041, SubVendor: 0x1af4, SubDevice: 0x1100, Class: 0x020000, Rev: 0x01, Driver: "virtio-pci", Iface: "enp1s0", Group: -1, NUMA: -1},
		{Addr: "0000:02:00.0", Parent: "0000:00:02.1", Vendor: 0x1af4, Device: 0x1041, SubVendor: 0x1af4, SubDevice: 0x1100, Class: 0x020000, Rev: 0x01, Driver: "virtio-pci", Iface: "enp2s0", Group: -1, NUMA: -1},
	}
	h.Net = []Link{
		{Name: "enp1s0", Up: true, Addrs: []string{"192.168.122.50/24", "2001:db8:122::50/64"}, Gateway: "192.168.122.1", SSHFrom: "192.168.122.1:40022"},
		{Name: "enp2s0"},
	}
	h.KernelLog = "[    0.000000] Command line: " + h.Cmdline + "\n[    0.000000] Hypervisor detected: KVM\n[    0.000000] DMI: QEMU Standard PC (Q35 + ICH9, 2009), BIOS 1.16.2-debian-1.16.2-1 04/01/2014\n"
	return h
}

// hostileNames is a host whose names were chosen to attack the terminal and the shell: its DMI
// product and its NIC's interface name hold an escape sequence and ";rm -rf". Tests make it in a
// temporary directory (it is not in Names: such file names have no place in a repository).
func hostileNames(fixtures string) (*Host, error) {
	h, err := x10(fixtures)
	if err != nil {
		return nil, err
	}
	h.DMI.Product = "X10\x1b[2J\x1b[31m;rm -rf ~"
	const iface = "e\x1b[2J;rm -rf"
	for i := range h.Devices {
		if d := &h.Devices[i]; d.Addr == "0000:02:00.1" {
			d.Driver, d.Iface = "ixgbe\x1b]0;pwned\x07", iface
		}
	}
	h.Net = []Link{{Name: iface}}
	h.Extra = map[string]string{ovsSnapshot: `{"ovs_version": "3.1.0", "dpdk_init": "true", "dpdk_initialized": true, "bridges": [
  {"name": "br\u001b[2J", "datapath_type": "netdev\u001b[31m", "ports": [
    {"name": "p\u001b]0;x\u0007", "interfaces": [{"name": "p\u001b]0;x\u0007", "type": "dpdk\u001b[5m", "options": {"dpdk-devargs": "0000:02:00.1"}, "error": "Error attaching device '0000:02:00.1' to DPDK", "ofport": -1}]}
  ]}
]}
`}
	return h, nil
}
