// Package pci reads the PCI functions of a host from sysfs: addresses, IDs and names, class,
// driver, kernel modules that could drive them, network interfaces, IOMMU group, NUMA node,
// physical slot and place in the bridge topology.
package pci

import (
	"fmt"
	"strconv"
	"strings"
)

// Address is a PCI function's address: segment (domain), bus, device and function.
type Address struct {
	Segment  uint16
	Bus      uint8
	Device   uint8 // 0-31
	Function uint8 // 0-7
}

// ParseAddress parses "dddd:bb:dd.f", or "bb:dd.f" in segment 0. Hex digits may be upper or
// lower case. It is the validation every PCI address typed by a user goes through.
func ParseAddress(s string) (Address, error) {
	bad := func(why string) (Address, error) {
		return Address{}, fmt.Errorf("PCI address %q: %s (want dddd:bb:dd.f, e.g. 0000:03:00.0)", s, why)
	}
	parts := strings.Split(s, ":")
	var a Address
	switch len(parts) {
	case 2:
	case 3:
		if len(parts[0]) != 4 {
			return bad("the segment must have 4 hex digits")
		}
		seg, err := strconv.ParseUint(parts[0], 16, 16)
		if err != nil {
			return bad("bad segment")
		}
		a.Segment = uint16(seg)
		parts = parts[1:]
	default:
		return bad("wrong number of ':'")
	}
	if len(parts[0]) != 2 {
		return bad("the bus must have 2 hex digits")
	}
	bus, err := strconv.ParseUint(parts[0], 16, 8)
	if err != nil {
		return bad("bad bus")
	}
	df := strings.Split(parts[1], ".")
	if len(df) != 2 || len(df[0]) != 2 || len(df[1]) != 1 {
		return bad("device and function must read dd.f")
	}
	dev, err := strconv.ParseUint(df[0], 16, 8)
	if err != nil || dev > 31 {
		return bad("the device must be 00 to 1f")
	}
	fn, err := strconv.ParseUint(df[1], 10, 8)
	if err != nil || fn > 7 {
		return bad("the function must be 0 to 7")
	}
	a.Bus, a.Device, a.Function = uint8(bus), uint8(dev), uint8(fn)
	return a, nil
}

// String formats a as the kernel does: "0000:03:00.0".
func (a Address) String() string {
	const hex = "0123456789abcdef"
	b := [12]byte{
		hex[a.Segment>>12&0xf], hex[a.Segment>>8&0xf], hex[a.Segment>>4&0xf], hex[a.Segment&0xf], ':',
		hex[a.Bus>>4], hex[a.Bus&0xf], ':', hex[a.Device>>4&0xf], hex[a.Device&0xf], '.', '0' + a.Function&7,
	}
	return string(b[:])
}

// SlotAddress is the form sysfs slots use for the device's position: "0000:03:00".
func (a Address) SlotAddress() string {
	return fmt.Sprintf("%04x:%02x:%02x", a.Segment, a.Bus, a.Device)
}
