package pci

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/dpdk-doctor/dpdk-doctor/host"
)

// Device is one PCI function as sysfs shows it.
type Device struct {
	Address    Address
	Config     Config
	Driver     string   // bound driver, "" when none
	Interfaces []string // kernel network interfaces ("ens2f0"), when a network driver owns it
	IOMMUGroup int      // -1 when the device has no IOMMU group (IOMMU off)
	NUMANode   int      // -1 when unknown or not a NUMA machine
	Slot       string   // physical slot name, "" when not in (or below) a slot
	SlotDirect bool     // the slot's address names this device's own bus and device number
	Parent     *Device  // the bridge above it, nil on a root bus
	SysPath    string   // resolved sysfs directory, relative to the root ("sys/devices/pci0000:00/...")
	// Unreadable says why the config space could not be read ("" when it could): a function in
	// D3cold or gone reads all ones (lspci's "(rev ff)"), a tree may lack the file. Config then
	// holds only the IDs and class the kernel keeps in sysfs, when it has them.
	Unreadable string
}

// IsNetwork reports whether the device is a network controller (class 0x02).
func (d *Device) IsNetwork() bool { return d.Config.Class>>16 == 0x02 }

// Modalias is the modalias the kernel derives from the device's IDs, matched against
// modules.alias to find the modules that could drive it.
func (d *Device) Modalias() string {
	c := d.Config
	return fmt.Sprintf("pci:v%08Xd%08Xsv%08Xsd%08Xbc%02Xsc%02Xi%02X",
		c.VendorID, c.DeviceID, c.SubVendorID, c.SubDeviceID, c.Class>>16, c.Class>>8&0xff, c.Class&0xff)
}

// Ancestors returns the bridges above d, nearest first.
func (d *Device) Ancestors() []*Device {
	var out []*Device
	for p := d.Parent; p != nil; p = p.Parent {
		out = append(out, p)
	}
	return out
}

// Devices is every PCI function on a host, sorted by address, with lookups.
type Devices struct {
	List    []*Device
	byAddr  map[Address]*Device
	byGroup map[int][]*Device
}

// Get returns the device at a, or nil.
func (ds *Devices) Get(a Address) *Device { return ds.byAddr[a] }

// Group returns the devices in IOMMU group g, sorted by address.
func (ds *Devices) Group(g int) []*Device {
	if g < 0 {
		return nil
	}
	return ds.byGroup[g]
}

// OnBus returns the device at bus/device/function in segment seg, or nil.
func (ds *Devices) OnBus(seg uint16, bus, dev, fn uint8) *Device {
	return ds.byAddr[Address{seg, bus, dev, fn}]
}

const devicesDir = "sys/bus/pci/devices"

// Read reads every PCI function under sys/bus/pci/devices. A device whose files cannot be read
// is an error that names it; a host with no PCI bus gives an empty list.
func Read(r host.Root) (*Devices, error) {
	ents, err := r.ReadDir(devicesDir)
	if errors.Is(err, fs.ErrNotExist) {
		return &Devices{byAddr: map[Address]*Device{}, byGroup: map[int][]*Device{}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", r.Path(devicesDir), err)
	}
	slots, err := readSlots(r)
	if err != nil {
		return nil, err
	}
	bus, err := r.OpenDir(devicesDir)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", r.Path(devicesDir), err)
	}
	defer bus.Close()
	list := make([]*Device, len(ents))
	errs := make([]error, len(ents))
	// sysfs reads are system calls; spread them over the CPUs.
	workers := min(runtime.GOMAXPROCS(0), 8)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(ents); i += workers {
				list[i], errs[i] = readDevice(r, bus, ents[i].Name())
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	ds := &Devices{List: list, byAddr: make(map[Address]*Device, len(list)), byGroup: map[int][]*Device{}}
	sort.Slice(list, func(i, j int) bool { return less(list[i].Address, list[j].Address) })
	bySys := make(map[string]*Device, len(list))
	for _, d := range list {
		ds.byAddr[d.Address] = d
		bySys[d.SysPath] = d
		if d.IOMMUGroup >= 0 {
			ds.byGroup[d.IOMMUGroup] = append(ds.byGroup[d.IOMMUGroup], d)
		}
	}
	for _, d := range list {
		// A tree's link can name "." (the root), whose parent is itself: no loop in Ancestors.
		if p := bySys[path.Dir(d.SysPath)]; p != d {
			d.Parent = p
		}
	}
	for _, d := range list {
		if s, ok := slots[d.Address.SlotAddress()]; ok {
			d.Slot, d.SlotDirect = s, true
			continue
		}
		// Behind a switch in a slot: the slot is that of the nearest ancestor sitting in one.
		for _, p := range d.Ancestors() {
			if s, ok := slots[p.Address.SlotAddress()]; ok {
				d.Slot = s
				break
			}
		}
	}
	return ds, nil
}

func less(a, b Address) bool {
	if a.Segment != b.Segment {
		return a.Segment < b.Segment
	}
	if a.Bus != b.Bus {
		return a.Bus < b.Bus
	}
	if a.Device != b.Device {
		return a.Device < b.Device
	}
	return a.Function < b.Function
}

func readDevice(r host.Root, bus *host.OpenedDir, name string) (*Device, error) {
	addr, err := ParseAddress(name)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", r.Path(devicesDir), err)
	}
	link := devicesDir + "/" + name
	d := &Device{Address: addr, IOMMUGroup: -1, NUMANode: -1, SysPath: link}
	if t, err := bus.ReadLink(name); err == nil {
		d.SysPath = path.Join(path.Dir(link), t)
	}
	dir, err := bus.OpenDir(name)
	if err != nil {
		return nil, fmt.Errorf("PCI device %s: %w", name, err)
	}
	defer dir.Close()
	// One unreadable config space does not hide the rest of the host: like lspci, the device is
	// listed and marked.
	if d.Config, err = readConfig(dir); err != nil {
		var pe *fs.PathError
		if !errors.As(err, &pe) {
			err = fmt.Errorf("%s: %w", r.Path(link+"/config"), err)
		}
		d.Unreadable = err.Error()
		d.Config = sysfsIDs(dir)
	}
	if d.Driver, err = dir.LinkBase("driver"); err != nil {
		return nil, fmt.Errorf("PCI device %s: %w", name, err)
	}
	g, err := dir.LinkBase("iommu_group")
	if err != nil {
		return nil, fmt.Errorf("PCI device %s: %w", name, err)
	}
	if g != "" {
		if d.IOMMUGroup, err = strconv.Atoi(g); err != nil {
			return nil, fmt.Errorf("PCI device %s: iommu_group link names %q, not a number", name, g)
		}
	}
	if b, err := dir.ReadHead("numa_node", 16); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && n >= 0 {
			d.NUMANode = n
		}
	}
	// Only a kernel network driver makes interfaces: skip the directory read for the rest.
	if d.IsNetwork() && d.Driver != "" && d.Driver != "vfio-pci" && d.Driver != "uio_pci_generic" && d.Driver != "igb_uio" {
		d.Interfaces = readInterfaces(r, d.SysPath)
	}
	return d, nil
}

// readConfig reads and decodes the header fields Config keeps, and no more of the configuration
// space: its first 16 bytes (IDs, class, header type) and the 4 that hold an endpoint's
// subsystem IDs or a bridge's bus numbers, 5 of the header's 16 reads of the device. A file
// that ends before a field read is decoded whole for ParseConfig's error.
func readConfig(dir *host.OpenedDir) (Config, error) {
	var b [64]byte
	n, err := dir.ReadAt("config", b[:16], 0)
	if err != nil {
		return Config{}, err
	}
	short := n < 16
	tail := 0 // the offset of the 4 bytes ParseConfig reads after the first 16
	switch b[14] & 0x7f {
	case 0:
		tail = 0x2c // subsystem IDs
	case 1:
		tail = 0x18 // primary, secondary and subordinate bus
	}
	if !short && tail > 0 && (b[0] != 0xff || b[1] != 0xff) { // all ones: ParseConfig refuses it as it is
		m, err := dir.ReadAt("config", b[tail:tail+4], tail)
		if err != nil {
			return Config{}, err
		}
		short = m < 4
	}
	if short {
		whole, err := dir.ReadHead("config", 64)
		if err != nil {
			return Config{}, err
		}
		return ParseConfig(whole)
	}
	return ParseConfig(b[:])
}

// readInterfaces lists the kernel network interfaces of the device at dir: under net/, or for
// a virtio device under virtioN/net/ (virtio-pci binds the PCI function, virtio_net the
// virtio device below it).
func readInterfaces(r host.Root, dir string) []string {
	var out []string
	add := func(net string) {
		if ents, err := r.ReadDir(net); err == nil {
			for _, e := range ents {
				out = append(out, e.Name())
			}
		}
	}
	add(dir + "/net")
	if ents, err := r.ReadDir(dir); err == nil {
		for _, e := range ents {
			if n := e.Name(); strings.HasPrefix(n, "virtio") && len(n) > 6 && strings.Trim(n[6:], "0123456789") == "" {
				add(dir + "/" + n + "/net")
			}
		}
	}
	return out
}

// sysfsIDs reads the IDs and class the kernel keeps for a device whose config space cannot be
// read (it read them at enumeration); what is missing stays 0.
func sysfsIDs(dir *host.OpenedDir) Config {
	var c Config
	num := func(name string) uint64 {
		b, err := dir.ReadHead(name, 32)
		if err != nil {
			return 0
		}
		n, err := strconv.ParseUint(strings.TrimPrefix(strings.TrimSpace(string(b)), "0x"), 16, 32)
		if err != nil {
			return 0
		}
		return n
	}
	c.VendorID, c.DeviceID = uint16(num("vendor")), uint16(num("device"))
	c.SubVendorID, c.SubDeviceID = uint16(num("subsystem_vendor")), uint16(num("subsystem_device"))
	c.Class, c.Revision = uint32(num("class"))&0xffffff, uint8(num("revision"))
	return c
}

// readSlots maps "dddd:bb:dd" to the physical slot's name, from sys/bus/pci/slots/*/address.
func readSlots(r host.Root) (map[string]string, error) {
	const dir = "sys/bus/pci/slots"
	out := map[string]string{}
	ents, err := r.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", r.Path(dir), err)
	}
	for _, e := range ents {
		a, err := r.ReadString(dir + "/" + e.Name() + "/address")
		if err != nil || a == "" {
			continue // a hotplug slot with nothing in it may have no address
		}
		if strings.Count(a, ":") == 1 { // old kernels: "bb:dd"
			a = "0000:" + a
		}
		out[strings.ToLower(a)] = e.Name()
	}
	return out, nil
}
