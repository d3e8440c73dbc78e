package pci

import (
	"encoding/binary"
	"fmt"
)

// Config is the part of a function's configuration space header that dpdk-doctor uses.
type Config struct {
	VendorID, DeviceID                    uint16
	Revision                              uint8
	Class                                 uint32 // base class, subclass, programming interface: 0x020000
	HeaderType                            uint8  // 0 endpoint, 1 PCI-to-PCI bridge, 2 CardBus bridge
	SubVendorID, SubDeviceID              uint16 // type 0 only
	PrimaryBus, SecondaryBus, Subordinate uint8  // type 1 only
}

// ParseConfig decodes the standard 64-byte header from a sysfs "config" file's contents.
func ParseConfig(b []byte) (Config, error) {
	if len(b) < 64 {
		return Config{}, fmt.Errorf("config space is %d bytes, want at least 64", len(b))
	}
	le := binary.LittleEndian
	c := Config{
		VendorID:   le.Uint16(b[0:]),
		DeviceID:   le.Uint16(b[2:]),
		Revision:   b[8],
		Class:      uint32(b[11])<<16 | uint32(b[10])<<8 | uint32(b[9]),
		HeaderType: b[14] & 0x7f,
	}
	if c.VendorID == 0xffff {
		return c, fmt.Errorf("config space reads all ones (device absent or powered off)")
	}
	switch c.HeaderType {
	case 0:
		c.SubVendorID, c.SubDeviceID = le.Uint16(b[0x2c:]), le.Uint16(b[0x2e:])
	case 1:
		c.PrimaryBus, c.SecondaryBus, c.Subordinate = b[0x18], b[0x19], b[0x1a]
	}
	return c, nil
}

// IsBridge reports whether the function is a PCI-to-PCI bridge (a root port, a switch port).
func (c Config) IsBridge() bool { return c.HeaderType == 1 }
