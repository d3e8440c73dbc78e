// Package testhost writes host trees (sys/, proc/, var/log/, lib/modules/, usr/share/misc/) in
// the layout host.Dir reads, close enough to a real host that `lspci -O sysfs.path=DIR/sys/bus/pci`
// reads them too. The trees in testdata/hosts and the embedded demo are made with it.
package testhost

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/dpdk-doctor/dpdk-doctor/dmar"
	"github.com/dpdk-doctor/dpdk-doctor/ivrs"
	"github.com/dpdk-doctor/dpdk-doctor/pci"
)

// Host describes a host to write.
type Host struct {
	Name          string
	CPUVendor     string // "GenuineIntel", "AuthenticAMD"
	CPUModel      string
	CPUFlags      []string
	CPUs          int
	Nodes         int // NUMA nodes; CPUs are split evenly
	Cmdline       string
	KernelRelease string
	DMI           DMI
	MemKB         uint64
	Hugepages     []Pool // per node; host-wide pools are their sums
	HugeMounts    []string
	IOMMUUnits    []string    // sys/class/iommu entries; empty when the kernel IOMMU is off
	DMAR          *dmar.Table // nil: no DMAR table in firmware
	IVRS          bool
	IVRSTable     *ivrs.Table // the IVRS written when IVRS is set; nil: a header-only table
	VFIO          bool        // vfio-pci loaded
	NoIOMMU       bool        // vfio enable_unsafe_noiommu_mode=Y
	Devices       []Device
	Slots         map[string]string // slot name -> "dddd:bb:dd"
	KernelLog     string
	ModulesAlias  string
	PCIIDs        []byte
	ModulesDep    string            // lib/modules/RELEASE/modules.dep, when set
	Net           []Link            // kernel interfaces that are up or used (proc/net, sys/class/net)
	Extra         map[string]string // more files: relative path -> contents
}

// Link is a kernel network interface and how the host uses it. An interface of a device
// (Device.Iface) that is not listed has only its directory.
type Link struct {
	Name    string
	Up      bool
	Addrs   []string // "10.20.0.15/24", "2001:db8::15/64"
	Gateway string   // next hop of a default route through it, "" for none
	SSHFrom string   // an SSH client ("10.20.0.99:51022") connected to its first address, port 22
}

// DMI is what sys/class/dmi/id says of the machine.
type DMI struct{ Vendor, Product, BIOSVendor, BIOSVersion, BIOSDate string }

// Pool is a huge page pool on one NUMA node.
type Pool struct {
	SizeKB      uint64
	Node        int
	Total, Free uint64
}

// Device is a PCI function.
type Device struct {
	Addr                   string // "0000:03:00.0"
	Parent                 string // the bridge above it, "" on a root bus
	Vendor, Device         uint16
	SubVendor, SubDevice   uint16
	Class                  uint32
	Rev                    uint8
	Bridge                 bool
	Secondary, Subordinate uint8
	MultiFunction          bool
	Driver                 string
	Group                  int // -1: no IOMMU group
	NUMA                   int // -1: unknown
	Iface                  string
	ReservedRegions        string // the group's reserved_regions file, when set
}

// Write writes h under dir, which must not exist yet or be empty.
func (h *Host) Write(dir string) error {
	w := &writer{root: dir}
	w.tree(h)
	return w.err
}

type writer struct {
	root string
	err  error
}

func (w *writer) file(rel string, data any) {
	if w.err != nil {
		return
	}
	p := filepath.Join(w.root, rel)
	if w.err = os.MkdirAll(filepath.Dir(p), 0o755); w.err != nil {
		return
	}
	var b []byte
	switch d := data.(type) {
	case string:
		b = []byte(d)
	case []byte:
		b = d
	}
	w.err = os.WriteFile(p, b, 0o644)
}

func (w *writer) dir(rel string) {
	if w.err == nil {
		w.err = os.MkdirAll(filepath.Join(w.root, rel), 0o755)
	}
}

// link makes rel a relative symbolic link to target (both relative to the root).
func (w *writer) link(rel, target string) {
	if w.err != nil {
		return
	}
	p := filepath.Join(w.root, rel)
	if w.err = os.MkdirAll(filepath.Dir(p), 0o755); w.err != nil {
		return
	}
	t, err := filepath.Rel(filepath.Dir(rel), target)
	if err != nil {
		w.err = err
		return
	}
	w.err = os.Symlink(t, p)
}

func (w *writer) tree(h *Host) {
	w.cpu(h)
	w.file("proc/cmdline", h.Cmdline+"\n")
	w.file("proc/sys/kernel/osrelease", h.KernelRelease+"\n")
	w.file("proc/meminfo", meminfo(h))
	mounts := "sysfs /sys sysfs rw,nosuid,nodev,noexec,relatime 0 0\nproc /proc proc rw,nosuid,nodev,noexec,relatime 0 0\n"
	for _, m := range h.HugeMounts {
		mounts += m + "\n"
	}
	w.file("proc/mounts", mounts)
	for k, v := range map[string]string{"sys_vendor": h.DMI.Vendor, "product_name": h.DMI.Product, "bios_vendor": h.DMI.BIOSVendor, "bios_version": h.DMI.BIOSVersion, "bios_date": h.DMI.BIOSDate} {
		if v != "" {
			w.file("sys/class/dmi/id/"+k, v+"\n")
		}
	}
	w.hugepages(h)
	if h.DMAR != nil {
		b, err := h.DMAR.MarshalBinary()
		if err != nil && w.err == nil {
			w.err = err
		}
		w.file("sys/firmware/acpi/tables/DMAR", b)
	}
	if h.IVRS && h.IVRSTable != nil {
		b, err := h.IVRSTable.MarshalBinary()
		if err != nil && w.err == nil {
			w.err = err
		}
		w.file("sys/firmware/acpi/tables/IVRS", b)
	} else if h.IVRS {
		w.file("sys/firmware/acpi/tables/IVRS", ivrsHeader())
	}
	for _, u := range h.IOMMUUnits {
		// As the kernel shows a unit: its attributes (git keeps no empty directories either).
		if strings.HasPrefix(u, "ivhd") {
			w.file("sys/devices/virtual/iommu/"+u+"/amd-iommu/cap", "0x00190000\n")
		} else {
			w.file("sys/devices/virtual/iommu/"+u+"/intel-iommu/version", "1:0\n")
		}
		w.link("sys/class/iommu/"+u, "sys/devices/virtual/iommu/"+u)
	}
	w.dir("sys/bus/pci/devices")
	w.dir("sys/bus/pci/drivers")
	if h.VFIO {
		for _, f := range []string{"bind", "unbind", "new_id", "remove_id", "uevent"} {
			w.file("sys/bus/pci/drivers/vfio-pci/"+f, "")
		}
		w.file("sys/module/vfio_pci/initstate", "live\n")
		w.file("sys/module/vfio_pci/refcnt", "0\n")
		yn := "N"
		if h.NoIOMMU {
			yn = "Y"
		}
		w.file("sys/module/vfio/parameters/enable_unsafe_noiommu_mode", yn+"\n")
	}
	ifaces := w.devices(h)
	w.net(h, ifaces)
	names := make([]string, 0, len(h.Slots))
	for n := range h.Slots {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		w.file("sys/bus/pci/slots/"+n+"/address", h.Slots[n]+"\n")
	}
	if h.KernelLog != "" {
		w.file("var/log/dmesg", h.KernelLog)
	}
	if h.ModulesDep != "" {
		w.file("lib/modules/"+h.KernelRelease+"/modules.dep", h.ModulesDep)
	}
	if h.ModulesAlias != "" {
		w.file("lib/modules/"+h.KernelRelease+"/modules.alias", h.ModulesAlias)
	}
	if h.PCIIDs != nil {
		w.file("usr/share/misc/pci.ids", h.PCIIDs)
	}
	for rel, v := range h.Extra {
		w.file(rel, v)
	}
}

func (w *writer) cpu(h *Host) {
	var b strings.Builder
	per := max(h.CPUs/max(h.Nodes, 1), 1)
	for i := range h.CPUs {
		fmt.Fprintf(&b, "processor\t: %d\nvendor_id\t: %s\nmodel name\t: %s\nphysical id\t: %d\nflags\t\t: %s\n\n",
			i, h.CPUVendor, h.CPUModel, i/per, strings.Join(h.CPUFlags, " "))
	}
	w.file("proc/cpuinfo", b.String())
	for n := range max(h.Nodes, 1) {
		w.file(fmt.Sprintf("sys/devices/system/node/node%d/cpulist", n), fmt.Sprintf("%d-%d\n", n*per, n*per+per-1))
	}
}

func meminfo(h *Host) string {
	var total, free, size uint64 = 0, 0, 2048
	for _, p := range h.Hugepages {
		if p.SizeKB == 2048 {
			total += p.Total
			free += p.Free
		}
	}
	return fmt.Sprintf("MemTotal:       %d kB\nMemFree:        %d kB\nHugePages_Total:   %d\nHugePages_Free:    %d\nHugePages_Rsvd:        0\nHugePages_Surp:        0\nHugepagesize:       %d kB\n",
		h.MemKB, h.MemKB/2, total, free, size)
}

func (w *writer) hugepages(h *Host) {
	type key struct {
		size uint64
		node int
	}
	sum := map[uint64][2]uint64{}
	for _, size := range []uint64{2048, 1048576} {
		sum[size] = [2]uint64{}
	}
	per := map[key]Pool{}
	for _, p := range h.Hugepages {
		s := sum[p.SizeKB]
		sum[p.SizeKB] = [2]uint64{s[0] + p.Total, s[1] + p.Free}
		per[key{p.SizeKB, p.Node}] = p
	}
	for size, s := range sum {
		d := fmt.Sprintf("sys/kernel/mm/hugepages/hugepages-%dkB/", size)
		w.file(d+"nr_hugepages", fmt.Sprintf("%d\n", s[0]))
		w.file(d+"free_hugepages", fmt.Sprintf("%d\n", s[1]))
		w.file(d+"resv_hugepages", "0\n")
		w.file(d+"surplus_hugepages", "0\n")
		for n := range max(h.Nodes, 1) {
			p := per[key{size, n}]
			d := fmt.Sprintf("sys/devices/system/node/node%d/hugepages/hugepages-%dkB/", n, size)
			w.file(d+"nr_hugepages", fmt.Sprintf("%d\n", p.Total))
			w.file(d+"free_hugepages", fmt.Sprintf("%d\n", p.Free))
			w.file(d+"surplus_hugepages", "0\n")
		}
	}
}

// devices writes the PCI functions and returns where each interface's directory is.
func (w *writer) devices(h *Host) map[string]string {
	ifaces := map[string]string{}
	virtio := 0
	byAddr := map[string]*Device{}
	for i := range h.Devices {
		byAddr[h.Devices[i].Addr] = &h.Devices[i]
	}
	var sysDir func(d *Device) string
	sysDir = func(d *Device) string {
		if d.Parent == "" {
			a, _ := pci.ParseAddress(d.Addr)
			return fmt.Sprintf("sys/devices/pci%04x:%02x/%s", a.Segment, a.Bus, d.Addr)
		}
		p := byAddr[d.Parent]
		if p == nil {
			if w.err == nil {
				w.err = fmt.Errorf("device %s: parent %s not described", d.Addr, d.Parent)
			}
			return "sys/devices/missing/" + d.Addr
		}
		return sysDir(p) + "/" + d.Addr
	}
	for i := range h.Devices {
		d := &h.Devices[i]
		dir := sysDir(d)
		w.file(dir+"/config", config(d))
		w.file(dir+"/vendor", fmt.Sprintf("0x%04x\n", d.Vendor))
		w.file(dir+"/device", fmt.Sprintf("0x%04x\n", d.Device))
		w.file(dir+"/subsystem_vendor", fmt.Sprintf("0x%04x\n", d.SubVendor))
		w.file(dir+"/subsystem_device", fmt.Sprintf("0x%04x\n", d.SubDevice))
		w.file(dir+"/class", fmt.Sprintf("0x%06x\n", d.Class))
		w.file(dir+"/revision", fmt.Sprintf("0x%02x\n", d.Rev))
		w.file(dir+"/irq", "0\n")
		w.file(dir+"/enable", "1\n")
		w.file(dir+"/numa_node", fmt.Sprintf("%d\n", d.NUMA))
		w.file(dir+"/resource", strings.Repeat("0x0000000000000000 0x0000000000000000 0x0000000000000000\n", 13))
		dev := &pci.Device{Config: pci.Config{VendorID: d.Vendor, DeviceID: d.Device, SubVendorID: d.SubVendor, SubDeviceID: d.SubDevice, Class: d.Class}}
		w.file(dir+"/modalias", dev.Modalias()+"\n")
		w.link("sys/bus/pci/devices/"+d.Addr, dir)
		if d.Driver != "" {
			drv := "sys/bus/pci/drivers/" + d.Driver
			w.link(dir+"/driver", drv)
			w.link(drv+"/"+d.Addr, dir)
		}
		if d.Group >= 0 {
			g := fmt.Sprintf("sys/kernel/iommu_groups/%d", d.Group)
			w.link(dir+"/iommu_group", g)
			w.link(g+"/devices/"+d.Addr, dir)
			if d.ReservedRegions != "" {
				w.file(g+"/reserved_regions", d.ReservedRegions)
			} else {
				w.file(g+"/type", "DMA\n")
			}
		}
		if d.Iface != "" {
			// virtio-pci binds the PCI function; virtio_net makes the interface on the virtio
			// device below it.
			net := dir + "/net/" + d.Iface
			if d.Driver == "virtio-pci" {
				net = fmt.Sprintf("%s/virtio%d/net/%s", dir, virtio, d.Iface)
				virtio++
			}
			ifaces[d.Iface] = net
			w.file(net+"/address", "00:00:00:00:00:00\n")
		}
	}
	return ifaces
}

// config builds a 256-byte configuration space with a standard header and no capabilities.
func config(d *Device) []byte {
	b := make([]byte, 256)
	le := binary.LittleEndian
	le.PutUint16(b[0:], d.Vendor)
	le.PutUint16(b[2:], d.Device)
	le.PutUint16(b[4:], 0x0406) // memory space, bus master, parity error response
	b[8] = d.Rev
	b[9], b[10], b[11] = byte(d.Class), byte(d.Class>>8), byte(d.Class>>16)
	if d.Bridge {
		b[14] = 1
		a, _ := pci.ParseAddress(d.Addr)
		b[0x18], b[0x19], b[0x1a] = a.Bus, d.Secondary, d.Subordinate
	} else {
		le.PutUint16(b[0x2c:], d.SubVendor)
		le.PutUint16(b[0x2e:], d.SubDevice)
	}
	if d.MultiFunction {
		b[14] |= 0x80
	}
	return b
}

// ivrs is a minimal AMD IOMMU table: the ACPI header and IVinfo, no IVHD blocks decoded here.
func ivrsHeader() []byte {
	b := make([]byte, 48)
	copy(b, "IVRS")
	binary.LittleEndian.PutUint32(b[4:], 48)
	b[8] = 2
	copy(b[10:], "AMD   ")
	copy(b[16:], "AMDIOMMU")
	var sum byte
	for _, c := range b {
		sum += c
	}
	b[9] = -sum
	return b
}
