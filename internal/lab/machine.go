package lab

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// Machine is a QEMU q35 machine: its devices, whether it has an Intel IOMMU, and its memory.
type Machine struct {
	IOMMU    bool     // an intel-iommu device (intremap=on, caching-mode=on)
	AMD      bool     // an EPYC CPU and QEMU's amd-iommu instead
	MemoryMB int      // default 512
	CPUs     int      // default 1 (the truth tests); more runs TCG multi-threaded
	Devices  []Device // in the order QEMU creates them (parents first)
	Extra    []string // more QEMU arguments (-netdev, -smbios)
}

// Device is one QEMU -device: its model, id, the bus it sits on ("" for the root complex,
// pcie.0) and its properties ("addr=0x2.0", "slot=2").
type Device struct {
	Model string
	ID    string
	Bus   string
	Props []string
}

func (d Device) arg() string {
	parts := []string{d.Model}
	if d.ID != "" {
		parts = append(parts, "id="+d.ID)
	}
	if d.Bus != "" {
		parts = append(parts, "bus="+d.Bus)
	}
	return strings.Join(append(parts, d.Props...), ",")
}

// Args returns QEMU's arguments for the machine's hardware, without kernel, initrd or serial
// ports. Slots get their native names: QEMU's ACPI PCI hotplug is turned off, so the firmware
// grants the kernel native PCIe hotplug and pciehp names each slot by its root or downstream
// port's slot= number (with ACPI hotplug on, acpiphp registers them all as slot "0").
func (m Machine) Args() []string {
	mem := m.MemoryMB
	if mem == 0 {
		mem = 512
	}
	cpus := m.CPUs
	if cpus < 1 {
		cpus = 1
	}
	cpu := "max"
	if m.AMD {
		cpu = "EPYC"
	}
	a := []string{
		"-machine", "q35,kernel-irqchip=split", "-cpu", cpu, "-m", itoa(mem), "-smp", itoa(cpus),
		"-global", "ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off",
		"-vga", "none", "-nic", "none", "-nodefaults",
	}
	if m.IOMMU {
		a = append(a, "-device", "intel-iommu,intremap=on,caching-mode=on")
	}
	if m.AMD {
		a = append(a, "-device", "amd-iommu")
	}
	for _, d := range m.Devices {
		a = append(a, "-device", d.arg())
	}
	return append(a, m.Extra...)
}

// Key names the machine's topology, for caching the DMAR table QEMU builds for it.
func (m Machine) Key() string {
	h := sha256.Sum256([]byte(strings.Join(m.Args(), "\x00")))
	return hex.EncodeToString(h[:8])
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

// Standard is the lab's machine, and the guest addresses SeaBIOS gives its devices (buses are
// numbered depth first in bus-0 slot order):
//
//	00:02.0 root port, slot 2  -> 01:00.0 e1000e             (the seed's "NIC in slot 2")
//	00:03.0 root port, slot 3  -> 02:00.0 e1000e             (for a bridge-scope RMRR)
//	00:04.0 root port, slot 4  -> 03:00.0 switch upstream port
//	                                04:00.0 downstream, slot 5 -> 05:00.0 e1000e
//	                                04:01.0 downstream, slot 6 -> 06:00.0 e1000e
//	00:05.0 root port, slot 7  -> 07:00.0 e1000e function 0, 07:00.1 e1000e function 1
//	00:06.0 root port, slot 8  -> 08:00.0 qemu-xhci (USB)
//	00:07.0 root port, slot 9  -> 09:00.0 bochs-display
//	00:08.0 PCI-PCI bridge     -> 0a:01.0 e1000, 0a:02.0 e1000 (conventional PCI: one group)
func Standard(iommu bool) Machine {
	rp := func(id, addr, slot, chassis string) Device {
		return Device{Model: "pcie-root-port", ID: id, Props: []string{"addr=" + addr, "slot=" + slot, "chassis=" + chassis}}
	}
	nic := func(bus string, props ...string) Device {
		return Device{Model: "e1000e", Bus: bus, Props: append([]string{"romfile="}, props...)}
	}
	return Machine{IOMMU: iommu, Devices: []Device{
		rp("rp2", "0x2.0", "2", "1"), nic("rp2"),
		rp("rp3", "0x3.0", "3", "2"), nic("rp3"),
		rp("rp4", "0x4.0", "4", "3"),
		{Model: "x3130-upstream", ID: "up", Bus: "rp4"},
		{Model: "xio3130-downstream", ID: "dn5", Bus: "up", Props: []string{"addr=0x0.0", "slot=5", "chassis=4"}},
		{Model: "xio3130-downstream", ID: "dn6", Bus: "up", Props: []string{"addr=0x1.0", "slot=6", "chassis=5"}},
		nic("dn5"), nic("dn6"),
		rp("rp7", "0x5.0", "7", "6"),
		nic("rp7", "addr=0x0.0", "multifunction=on"), nic("rp7", "addr=0x0.1"),
		rp("rp8", "0x6.0", "8", "7"), {Model: "qemu-xhci", Bus: "rp8"},
		rp("rp9", "0x7.0", "9", "8"), {Model: "bochs-display", Bus: "rp9"},
		{Model: "pci-bridge", ID: "pb", Props: []string{"addr=0x8.0", "chassis_nr=9"}},
		{Model: "e1000", Bus: "pb", Props: []string{"addr=0x1.0", "romfile="}},
		{Model: "e1000", Bus: "pb", Props: []string{"addr=0x2.0", "romfile="}},
	}}
}
