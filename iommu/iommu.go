// Package iommu reads the IOMMU's state as firmware, kernel and VFIO leave it: the ACPI table
// that announces it (DMAR for Intel VT-d, IVRS for AMD-Vi), the units and groups the kernel
// made, the reserved regions of each group, and whether vfio-pci is there and in no-IOMMU mode.
package iommu

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"

	"github.com/dpdk-doctor/dpdk-doctor/host"
)

// Firmware table locations.
const (
	acpiTables = "sys/firmware/acpi/tables"
	DMARTable  = "sys/firmware/acpi/tables/DMAR"
	IVRSTable  = "sys/firmware/acpi/tables/IVRS"
)

// Info is the IOMMU state of a host.
type Info struct {
	FirmwareTable string   // "DMAR", "IVRS" or "" when the firmware announces no IOMMU
	Units         []string // /sys/class/iommu entries ("dmar0", "ivhd0")
	Groups        int      // number of /sys/kernel/iommu_groups entries
	VFIODriver    bool     // sys/bus/pci/drivers/vfio-pci exists: vfio-pci is loaded or built in
	VFIOModule    string   // "loaded", "builtin" or "" (from sys/module and modules.builtin)
	NoIOMMU       bool     // vfio's enable_unsafe_noiommu_mode is Y
	// VFIOKernel says whether the running kernel has vfio-pci at all: VFIOLoaded, VFIOBuiltin,
	// VFIOModuleAvailable (modprobe will load it), VFIOAbsent, or "" when nothing tells.
	VFIOKernel string
	// VFIOEvidence is the file that told VFIOKernel ("/lib/modules/6.1.0-18-amd64/modules.dep").
	VFIOEvidence string
	// FirmwareErr is set when the ACPI tables could not be looked at (not root).
	FirmwareErr error
}

// Values of Info.VFIOKernel.
const (
	VFIOLoaded          = "loaded"
	VFIOBuiltin         = "builtin"
	VFIOModuleAvailable = "module"
	VFIOAbsent          = "absent"
)

// KernelOn reports whether the kernel's IOMMU is in effect: it registered units and made groups.
func (i Info) KernelOn() bool { return len(i.Units) > 0 && i.Groups > 0 }

// Read reads the IOMMU facts of r: ReadState's, then ReadVFIO's.
func Read(r host.Root) (Info, error) {
	i, err := ReadState(r)
	if err == nil {
		i.ReadVFIO(r)
	}
	return i, err
}

// ReadState reads what sysfs says of the IOMMU: the firmware table, the kernel's units and
// groups, vfio-pci's driver and its no-IOMMU mode; everything but what ReadVFIO reads.
func ReadState(r host.Root) (Info, error) {
	var i Info
	switch {
	case r.Exists(DMARTable):
		i.FirmwareTable = "DMAR"
	case r.Exists(IVRSTable):
		i.FirmwareTable = "IVRS"
	default:
		// Neither table: tell "none" from "not allowed to look" (the directory is root-only
		// on some kernels).
		if _, err := r.ReadDir(acpiTables); errors.Is(err, fs.ErrPermission) {
			i.FirmwareErr = fmt.Errorf("reading %s: %w", r.Path(acpiTables), err)
		}
	}
	units, err := r.ReadDir("sys/class/iommu")
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return i, fmt.Errorf("reading %s: %w", r.Path("sys/class/iommu"), err)
	}
	for _, u := range units {
		i.Units = append(i.Units, u.Name())
	}
	groups, err := r.ReadDir("sys/kernel/iommu_groups")
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return i, fmt.Errorf("reading %s: %w", r.Path("sys/kernel/iommu_groups"), err)
	}
	i.Groups = len(groups)
	i.VFIODriver = r.Exists("sys/bus/pci/drivers/vfio-pci")
	if v, err := r.ReadString("sys/module/vfio/parameters/enable_unsafe_noiommu_mode"); err == nil {
		i.NoIOMMU = v == "Y" || v == "1"
	}
	return i, nil
}

// ReadVFIO fills VFIOModule, VFIOKernel and VFIOEvidence: whether the running kernel has
// vfio-pci, from sys/module and, when that does not settle it, the kernel's module lists and
// configuration (files of up to megabytes, proc/config.gz to decompress).
func (i *Info) ReadVFIO(r host.Root) {
	k := &kernelFiles{r: r}
	switch {
	case r.Exists("sys/module/vfio_pci/initstate") || r.Exists("sys/module/vfio_pci/refcnt"):
		i.VFIOModule = "loaded"
	case builtin(k, "vfio-pci.ko") || r.Exists("sys/module/vfio_pci"):
		i.VFIOModule = "builtin"
	}
	i.VFIOKernel, i.VFIOEvidence = vfioKernel(k, *i)
}

func builtin(k *kernelFiles, ko string) bool {
	rel, err := k.release()
	if err != nil || strings.Contains(rel, "/") {
		return false
	}
	b, err := k.file("lib/modules/" + rel + "/modules.builtin")
	return err == nil && bytes.Contains(b, []byte("/"+ko))
}

// kernelFiles reads the kernel's release and module lists for one Read, each file once.
type kernelFiles struct {
	r       host.Root
	rel     *string
	relErr  error
	read    map[string][]byte
	readErr map[string]error
}

// release returns proc/sys/kernel/osrelease.
func (k *kernelFiles) release() (string, error) {
	if k.rel == nil {
		rel, err := k.r.ReadString("proc/sys/kernel/osrelease")
		k.rel, k.relErr = &rel, err
	}
	return *k.rel, k.relErr
}

// file returns the file at rel.
func (k *kernelFiles) file(rel string) ([]byte, error) {
	if b, ok := k.read[rel]; ok {
		return b, k.readErr[rel]
	}
	if k.read == nil {
		k.read, k.readErr = map[string][]byte{}, map[string]error{}
	}
	b, err := k.r.ReadFile(rel)
	k.read[rel], k.readErr[rel] = b, err
	return b, err
}

// Region is one line of an IOMMU group's reserved_regions file.
type Region struct {
	Start, End uint64 // inclusive
	Type       string // "direct" (RMRR, locked), "direct-relaxable", "msi", "reserved", ...
}

// ReadRegions reads sys/kernel/iommu_groups/<group>/reserved_regions. A group without the file
// gives no regions.
func ReadRegions(r host.Root, group int) ([]Region, error) {
	f := "sys/kernel/iommu_groups/" + strconv.Itoa(group) + "/reserved_regions"
	b, err := r.ReadFile(f)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", r.Path(f), err)
	}
	regs, err := ParseRegions(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", r.Path(f), err)
	}
	return regs, nil
}

// ParseRegions reads reserved_regions lines: "0x00000000fee00000 0x00000000feefffff msi".
func ParseRegions(b []byte) ([]Region, error) {
	var out []Region
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if len(f) != 3 {
			return nil, fmt.Errorf("line %d: want \"START END TYPE\", got %q", n, sc.Text())
		}
		s, err1 := strconv.ParseUint(strings.TrimPrefix(f[0], "0x"), 16, 64)
		e, err2 := strconv.ParseUint(strings.TrimPrefix(f[1], "0x"), 16, 64)
		if err1 != nil || err2 != nil || e < s {
			return nil, fmt.Errorf("line %d: bad range in %q", n, sc.Text())
		}
		out = append(out, Region{s, e, f[2]})
	}
	return out, sc.Err()
}
