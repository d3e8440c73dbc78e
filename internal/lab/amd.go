package lab

import (
	"encoding/binary"
	"fmt"
)

// AMDMachine is the lab's AMD host: q35 with QEMU's amd-iommu (created first, so that its PCI
// function takes 00:02.0) and e1000e NICs in root ports with slots:
//
//	00:03.0 root port, slot 2 -> 01:00.0 e1000e
//	00:04.0 root port, slot 3 -> 02:00.0 e1000e
//	00:05.0 root port, slot 4 -> 03:00.0 e1000e
func AMDMachine() Machine {
	rp := func(id, addr, slot, chassis string) Device {
		return Device{Model: "pcie-root-port", ID: id, Props: []string{"addr=" + addr, "slot=" + slot, "chassis=" + chassis}}
	}
	nic := func(bus string) Device { return Device{Model: "e1000e", Bus: bus, Props: []string{"romfile="}} }
	return Machine{AMD: true, MemoryMB: 1024, Devices: []Device{
		rp("rp2", "0x3.0", "2", "1"), nic("rp2"),
		rp("rp3", "0x4.0", "3", "2"), nic("rp3"),
		rp("rp4", "0x5.0", "4", "3"), nic("rp4"),
	}}
}

// IVMD is an AMD I/O Virtualization Memory Definition: memory a device (type 0x21), a range of
// devices (0x22) or every device (0x20) must reach by DMA at any time, AMD's RMRR.
type IVMD struct {
	Type       uint8  // 0x20 all, 0x21 one device, 0x22 a range
	Device     uint16 // bus<<8 | dev<<3 | fn (0x21, and the start of 0x22)
	End        uint16 // end of the range (0x22)
	Start, Len uint64
}

// FirmwareIVRS returns an IVRS table for the lab's AMD machine: QEMU's own header and its first
// IVHD's fixed fields (QEMU's device entries are built before the firmware numbers the buses, so
// they are wrong behind root ports) with a select-all device entry and the IOAPIC special entry,
// then ivmds; the OEM revision raised so the kernel's ACPI table upgrade takes it.
func FirmwareIVRS(qemu []byte, ivmds []IVMD) ([]byte, error) {
	le := binary.LittleEndian
	if len(qemu) < 48+24 || string(qemu[:4]) != "IVRS" {
		return nil, fmt.Errorf("QEMU's IVRS: %d bytes, not an IVRS table with an IVHD", len(qemu))
	}
	ivhd := qemu[48:]
	if ivhd[0] != 0x10 && ivhd[0] != 0x11 && ivhd[0] != 0x40 {
		return nil, fmt.Errorf("QEMU's IVRS: first block has type %#x, not an IVHD", ivhd[0])
	}
	fixed := 24
	if ivhd[0] != 0x10 {
		fixed = 40
	}
	if len(ivhd) < fixed {
		return nil, fmt.Errorf("QEMU's IVRS: IVHD of type %#x cut short (%d bytes)", ivhd[0], len(ivhd))
	}
	b := append([]byte{}, qemu[:48]...)
	h := append([]byte{}, ivhd[:fixed]...)
	h[0] = ivhd[0]
	h = append(h, 0x01, 0, 0, 0) // select all, no settings
	// special: IOAPIC handle 0 at 00:14.0 (variety 1)
	h = append(h, 0x48, 0, 0, 0, 0, 0xa0, 0, 0x01)
	le.PutUint16(h[2:], uint16(len(h)))
	b = append(b, h...)
	for _, m := range ivmds {
		e := make([]byte, 32)
		e[0], e[1] = m.Type, 0x07 // unity mapped, readable, writable
		le.PutUint16(e[2:], 32)
		le.PutUint16(e[4:], m.Device)
		if m.Type == 0x22 {
			le.PutUint16(e[6:], m.End)
		}
		le.PutUint64(e[16:], m.Start)
		le.PutUint64(e[24:], m.Len)
		b = append(b, e...)
	}
	le.PutUint32(b[4:], uint32(len(b)))
	le.PutUint32(b[24:], le.Uint32(b[24:])+1)
	b[9] = 0
	var sum byte
	for _, c := range b {
		sum += c
	}
	b[9] = -sum
	return b, nil
}
