package testhost

import (
	"fmt"
	"strings"
)

// Multi-node hosts for `plan`: NICs on every NUMA node, CPU topology with hyper-threads
// numbered as Linux does on two-thread cores (the first threads of all cores, then the second
// threads), isolated CPUs on the command line, and an OVS snapshot naming the NICs.
func init() {
	Names = append(Names, "numa2-xeon", "numa4-epyc")
	moreHosts["numa2-xeon"] = numa2
	moreHosts["numa4-epyc"] = numa4
}

// moreHosts are hosts described outside Catalog's switch.
var moreHosts = map[string]func() *Host{}

// smt fills in sys/devices/system/node/node*/cpulist and cpu*/topology for nodes x cores
// two-thread cores: CPU c (c < nodes*cores) is the first thread of core c%cores on node
// c/cores, CPU c+nodes*cores its second thread.
func smt(h *Host, nodes, cores int) {
	h.Nodes = nodes
	h.CPUs = 2 * nodes * cores
	if h.Extra == nil {
		h.Extra = map[string]string{}
	}
	half := nodes * cores
	for n := range nodes {
		h.Extra[fmt.Sprintf("sys/devices/system/node/node%d/cpulist", n)] = fmt.Sprintf("%d-%d,%d-%d\n", n*cores, n*cores+cores-1, half+n*cores, half+n*cores+cores-1)
	}
	for c := range h.CPUs {
		first := c % half
		d := fmt.Sprintf("sys/devices/system/cpu/cpu%d/topology/", c)
		h.Extra[d+"physical_package_id"] = fmt.Sprintf("%d\n", first/cores)
		h.Extra[d+"core_id"] = fmt.Sprintf("%d\n", first%cores)
		h.Extra[d+"thread_siblings_list"] = fmt.Sprintf("%d,%d\n", first, first+half)
	}
	h.Extra["sys/devices/system/cpu/online"] = fmt.Sprintf("0-%d\n", h.CPUs-1)
}

// snapshot is an OVS snapshot with one dpdk port per PCI address on bridge br-dpdk.
func snapshot(otherConfig string, addrs ...string) string {
	var ports []string
	for i, a := range addrs {
		ports = append(ports, fmt.Sprintf(`{"name": "dpdk%d", "interfaces": [{"name": "dpdk%d", "type": "dpdk", "options": {"dpdk-devargs": %q}, "ofport": %d, "link_state": "up"}]}`, i, i, a, i+1))
	}
	return fmt.Sprintf(`{"ovs_version": "3.1.0", "dpdk_init": "true", "dpdk_initialized": true, "dpdk_version": "DPDK 22.11.1", "other_config": %s, "bridges": [{"name": "br-dpdk", "datapath_type": "netdev", "ports": [%s]}]}`+"\n", otherConfig, strings.Join(ports, ", "))
}

func nic(addr string, node, group int, dev uint16) Device {
	return Device{Addr: addr, Vendor: 0x8086, Device: dev, SubVendor: 0x8086, SubDevice: 0x0000, Class: 0x020000, Driver: "vfio-pci", Group: group, NUMA: node}
}

// numa2 is a two-socket Xeon (8 cores x 2 threads per socket, CPUs 0-7,16-23 on node 0) with an
// X710 port on each node, 1 GiB pages (4 on node 0, none on node 1), and CPUs 4-7,20-23
// isolated for virtual machines.
func numa2() *Host {
	h := &Host{
		Name:          "two-socket Xeon, NICs on both nodes",
		CPUVendor:     "GenuineIntel",
		CPUModel:      "Intel(R) Xeon(R) Silver 4110 CPU @ 2.10GHz",
		CPUFlags:      strings.Fields("fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush ht syscall nx pdpe1gb rdtscp lm constant_tsc vmx sse4_2 x2apic avx avx2"),
		KernelRelease: "5.15.0-91-generic",
		Cmdline:       "BOOT_IMAGE=/boot/vmlinuz-5.15.0-91-generic root=/dev/sda1 ro intel_iommu=on iommu=pt isolcpus=4-7,20-23",
		DMI:           DMI{Vendor: "Dell Inc.", Product: "PowerEdge R640", BIOSVendor: "Dell Inc.", BIOSVersion: "2.17.1", BIOSDate: "11/15/2022"},
		MemKB:         196608000,
		Hugepages:     []Pool{{1048576, 0, 4, 4}},
		HugeMounts:    []string{"hugetlbfs /dev/hugepages hugetlbfs rw,relatime,pagesize=1024M 0 0"},
		IOMMUUnits:    []string{"dmar0", "dmar1"},
		DMAR:          dl360eDMAR(map[uint8][]uint8{}), // a DMAR table whose RMRRs scope none of these NICs
		VFIO:          true,
		Slots:         map[string]string{},
		ModulesAlias:  modulesAlias,
		PCIIDs:        pciIDs,
		Devices: []Device{
			{Addr: "0000:00:00.0", Vendor: 0x8086, Device: 0x2020, Class: 0x060000, Group: 0, NUMA: 0},
			nic("0000:18:00.0", 0, 20, 0x1572),
			nic("0000:af:00.0", 1, 40, 0x1572),
		},
	}
	smt(h, 2, 8)
	h.Extra["var/lib/dpdk-doctor/ovs-state.json"] = snapshot(`{"dpdk-init": "true"}`, "0000:18:00.0", "0000:af:00.0")
	return h
}

// numa4 is a four-node EPYC (8 cores x 2 threads per node) with a NIC on every node, 1 GiB
// pages (2 per node but none on node 3), and all of node 3 (CPUs 24-31,56-63) isolated for
// something else.
func numa4() *Host {
	h := &Host{
		Name:          "four-node EPYC, a NIC on every node",
		CPUVendor:     "AuthenticAMD",
		CPUModel:      "AMD EPYC 7302P 16-Core Processor",
		CPUFlags:      strings.Fields("fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ht syscall nx mmxext fxsr_opt pdpe1gb rdtscp lm constant_tsc svm avx avx2"),
		KernelRelease: "6.1.0-18-amd64",
		Cmdline:       "BOOT_IMAGE=/boot/vmlinuz-6.1.0-18-amd64 root=/dev/nvme0n1p2 ro default_hugepagesz=1G hugepagesz=1G hugepages=6 isolcpus=managed_irq,domain,24-31,56-63",
		DMI:           DMI{Vendor: "Supermicro", Product: "AS -1114S-WTRT", BIOSVendor: "American Megatrends Inc.", BIOSVersion: "2.4", BIOSDate: "04/13/2022"},
		MemKB:         263168000,
		Hugepages:     []Pool{{1048576, 0, 2, 2}, {1048576, 1, 2, 2}, {1048576, 2, 2, 2}},
		HugeMounts:    []string{"hugetlbfs /dev/hugepages hugetlbfs rw,relatime,pagesize=1024M 0 0"},
		IOMMUUnits:    []string{"ivhd0", "ivhd1", "ivhd2", "ivhd3"},
		IVRS:          true,
		VFIO:          true,
		Slots:         map[string]string{},
		ModulesAlias:  modulesAlias,
		PCIIDs:        pciIDs,
		Devices: []Device{
			{Addr: "0000:00:00.0", Vendor: 0x1022, Device: 0x1480, Class: 0x060000, Group: 0, NUMA: 0},
			nic("0000:01:00.0", 0, 10, 0x1572),
			nic("0000:41:00.0", 1, 20, 0x1572),
			nic("0000:81:00.0", 2, 30, 0x1572),
			nic("0000:c1:00.0", 3, 40, 0x1572),
		},
	}
	smt(h, 4, 8)
	h.Extra["var/lib/dpdk-doctor/ovs-state.json"] = snapshot(`{"dpdk-init": "true", "dpdk-socket-mem": "1024,1024,1024,1024"}`, "0000:01:00.0", "0000:41:00.0", "0000:81:00.0", "0000:c1:00.0")
	return h
}
