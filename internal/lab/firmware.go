package lab

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/dpdk-doctor/dpdk-doctor/dmar"
)

// RMRR is a Reserved Memory Region the lab's firmware reports, and the devices it names.
type RMRR struct {
	Base, End uint64 // inclusive; keep them in e820-reserved memory (0xf0000-0xfffff) unless testing that
	Scopes    []dmar.Scope
}

// Endpoint returns an endpoint device scope for a path from bus 0, "02.0/00.0": through the
// bridge at 00:02.0 to device 00.0 on its secondary bus, as firmware writes them.
func Endpoint(path string) dmar.Scope { return scope(dmar.ScopeEndpoint, path) }

// Bridge returns a bridge (sub-hierarchy) scope for a path from bus 0.
func Bridge(path string) dmar.Scope { return scope(dmar.ScopeBridge, path) }

func scope(t uint8, path string) dmar.Scope {
	s := dmar.Scope{Type: t}
	for _, hop := range strings.Split(path, "/") {
		d, f, _ := strings.Cut(hop, ".")
		dev, err1 := strconv.ParseUint(d, 16, 8)
		fn, err2 := strconv.ParseUint(f, 10, 8)
		if err1 != nil || err2 != nil {
			panic("lab: bad scope path " + path) // lab tables are code; a typo is a programming error
		}
		s.Path = append(s.Path, dmar.PathEntry{Device: uint8(dev), Function: uint8(fn)})
	}
	return s
}

// FirmwareDMAR returns QEMU's own DMAR table with rmrrs appended, its OEM revision raised so
// the kernel's ACPI table upgrade takes it in place of QEMU's, encoded by the project's dmar
// package (which fixes the length and checksum).
func FirmwareDMAR(qemu []byte, rmrrs []RMRR) ([]byte, error) {
	t, err := dmar.Parse(qemu)
	if err != nil {
		return nil, fmt.Errorf("QEMU's DMAR: %w", err)
	}
	t.OEMRevision++
	for _, r := range rmrrs {
		t.Structures = append(t.Structures, dmar.Structure{Type: dmar.TypeRMRR, Address: r.Base, End: r.End, Scopes: r.Scopes})
	}
	return t.MarshalBinary()
}

// ACPIUpgrade returns the uncompressed cpio the kernel reads ACPI table upgrades from
// (kernel/firmware/acpi/NAME.aml); it must come first in the initrd.
func ACPIUpgrade(tables map[string][]byte) ([]byte, error) {
	var files []cpioFile
	for n, b := range tables {
		files = append(files, cpioFile{Name: "kernel/firmware/acpi/" + n + ".aml", Mode: 0o644, Data: b})
	}
	var buf bytes.Buffer
	if err := writeCPIO(&buf, files); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// QEMUDMAR returns the DMAR table QEMU builds for machine m. QEMU's DRHD lists the devices on
// bus 0, so the table depends on the topology: it is read from a first boot
// (/sys/firmware/acpi/tables/DMAR) and cached per topology in cache/dmar/.
func QEMUDMAR(ctx context.Context, cache string, k *Kernel, m Machine) ([]byte, error) {
	return qemuTable(ctx, cache, k, m, "DMAR", func(b []byte) error { _, err := dmar.Parse(b); return err })
}

// QEMUIVRS returns the IVRS table QEMU builds for an AMD machine m, read and cached as QEMUDMAR
// does.
func QEMUIVRS(ctx context.Context, cache string, k *Kernel, m Machine) ([]byte, error) {
	return qemuTable(ctx, cache, k, m, "IVRS", func(b []byte) error {
		if len(b) < 72 || string(b[:4]) != "IVRS" {
			return fmt.Errorf("IVRS: %d bytes, not an IVRS table with an IVHD", len(b))
		}
		return nil
	})
}

func qemuTable(ctx context.Context, cache string, k *Kernel, m Machine, sig string, valid func([]byte) error) ([]byte, error) {
	f := filepath.Join(cache, strings.ToLower(sig), m.Key()+".bin")
	if b, err := os.ReadFile(f); err == nil && valid(b) == nil {
		return b, nil
	}
	var s Script
	s.Step("table", "cat /sys/firmware/acpi/tables/"+sig)
	initrd, err := Initramfs{Kernel: k, Init: s.String()}.Build(ctx)
	if err != nil {
		return nil, err
	}
	res, err := Run(ctx, Boot{Machine: m, Kernel: k, Initrd: initrd, Cmdline: []string{"intel_iommu=on"}})
	if err != nil {
		return nil, fmt.Errorf("reading QEMU's %s from a first boot: %w", sig, err)
	}
	sec, ok := res.Sections["table"]
	if !ok || sec.RC != 0 {
		return nil, fmt.Errorf("reading QEMU's %s from a first boot: the guest has no /sys/firmware/acpi/tables/%s: %s", sig, sig, sec.Stderr)
	}
	if err := valid(sec.Stdout); err != nil {
		return nil, fmt.Errorf("QEMU's %s from the first boot: %w", sig, err)
	}
	if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
		return nil, err
	}
	tmp := f + ".tmp" + strconv.Itoa(os.Getpid())
	if err := os.WriteFile(tmp, sec.Stdout, 0o644); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, f); err != nil {
		os.Remove(tmp)
		return nil, err
	}
	return sec.Stdout, nil
}
