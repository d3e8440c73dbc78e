package testhost

import "fmt"

// Big describes a host with n PCI functions (n >= 16): 16 root ports on bus 0, each with a bus
// of 32 devices of 8 functions below it, filled in order; network controllers on vfio-pci in
// groups of 8 (one per device), with a DMAR table whose RMRR scopes the first endpoint. It is
// for benchmarks that must grow with the device count.
func Big(n int) *Host {
	h := dl360e(true)
	h.Devices = nil
	h.Slots = map[string]string{}
	ports := 16
	for p := range ports {
		h.Devices = append(h.Devices, Device{Addr: fmt.Sprintf("0000:00:%02x.0", p+1), Vendor: 0x8086, Device: 0x3c04, Class: 0x060400,
			Bridge: true, Secondary: uint8(p + 1), Subordinate: uint8(p + 1), Driver: "pcieport", Group: p, NUMA: p % 2})
		h.Slots[fmt.Sprint(p+1)] = fmt.Sprintf("0000:%02x:00", p+1)
	}
	for i := 0; len(h.Devices) < n; i++ {
		bus, dev, fn := 1+i/256, (i/8)%32, i%8
		h.Devices = append(h.Devices, Device{Addr: fmt.Sprintf("0000:%02x:%02x.%d", bus, dev, fn), Parent: fmt.Sprintf("0000:00:%02x.0", bus),
			Vendor: x520Vendor, Device: x520Device, SubVendor: 0x8086, SubDevice: 0x000c, Class: 0x020000, Driver: "vfio-pci",
			Group: ports + i/8, NUMA: bus % 2, MultiFunction: fn == 0})
	}
	return h
}
