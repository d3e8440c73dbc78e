package lab

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/dpdk-doctor/dpdk-doctor/vfio"
)

// Scenario is one truth test: a machine, its firmware's RMRRs, a kernel command line, and the
// devices handed to vfio-pci and probed. In the guest, `dpdk-doctor devices --json` and
// `check --json` give dpdk-doctor's verdict before any attach, a capture of the guest and the
// other readers' dry runs (fix rmrr, fix bind, ovs show) let Readers compare every reader with
// that verdict; `dpdk-doctor probe --json` then asks the kernel by a real VFIO attach.
type Scenario struct {
	Name    string
	About   string   // what it shows, one sentence
	Machine Machine  // default Standard(true)
	RMRRs   []RMRR   // appended to QEMU's DMAR (ignored without an IOMMU)
	IVMDs   []IVMD   // on an AMD machine: the IVRS's memory definitions
	Cmdline []string // besides BaseCmdline; default intel_iommu=on
	Modules []string // more modules to load (a driver to leave a device on)
	Bind    []string // devices handed to vfio-pci, in order
	Probe   []string // devices probed (default Bind)
	Hold    []string // devices whose IOMMU group a guest process holds open during the probe (as a VM would)
	// Expect is the kernel's outcome per probed device and kernel ("" key: every kernel):
	// vfio.Attached, vfio.Refused, vfio.NotViable, vfio.NoGroup, vfio.NotBound.
	Expect map[string]map[string]vfio.Outcome
	// Known explains, per device, an expected disagreement between dpdk-doctor (check, or the
	// rmrr column of devices --json) and the kernel: a finding about the kernel, or a dpdk-doctor
	// bug owned elsewhere.
	Known map[string]string
	// Slots are physical slot names the guest must show for devices (native pciehp names).
	Slots map[string]string
	// Regions are reserved-region types ("direct", "direct-relaxable") the kernel must list in
	// the IOMMU group of a device (sys/kernel/iommu_groups/N/reserved_regions).
	Regions map[string]string
	// Log are regular expressions the guest's kernel log must match.
	Log []string
	// Findings are check's findings (by id, subject "host") that must appear, with severity.
	Findings map[string]string
}

func (s Scenario) probed() []string {
	if len(s.Probe) > 0 {
		return s.Probe
	}
	return s.Bind
}

func (s Scenario) machine() Machine {
	if len(s.Machine.Devices) == 0 {
		return Standard(true)
	}
	return s.Machine
}

// Script returns the guest's /init for the scenario.
func (s Scenario) Script() string {
	var sc Script
	for _, d := range s.Bind {
		sc.Bind(d)
	}
	devs := s.probed()
	checkArgs := "dpdk-doctor check --json"
	for _, d := range devs {
		checkArgs += " --device " + d
	}
	sc.Step("devices", "dpdk-doctor devices --json --all")
	sc.Step("check", checkArgs)
	readerSteps(&sc, devs)
	sc.Step("regions", "sh -c 'for g in /sys/kernel/iommu_groups/*; do [ -e $g ] && echo ${g##*/}: $(ls $g/devices) && cat $g/reserved_regions; done'")
	for _, d := range s.Hold {
		// fd 3 of the init shell keeps the group open, as QEMU or a DPDK application would.
		sc.Raw("exec 3<>/dev/vfio/$(basename $(readlink /sys/bus/pci/devices/" + d + "/iommu_group))")
	}
	sc.Step("probe", "dpdk-doctor probe --json --device-fd "+strings.Join(devs, " "))
	sc.Step("check-probe", checkArgs+" --probe")
	return sc.String()
}

// Initrd builds the scenario's whole initrd for kernel k: the ACPI upgrade with its DMAR (when
// the machine has an IOMMU) in front of the initramfs holding bin, the dpdk-doctor binary.
func (s Scenario) Initrd(ctx context.Context, cache string, k *Kernel, bin []byte) ([]byte, error) {
	m := s.machine()
	var front []byte
	if m.AMD && len(s.IVMDs) > 0 {
		q, err := QEMUIVRS(ctx, cache, k, m)
		if err != nil {
			return nil, err
		}
		t, err := FirmwareIVRS(q, s.IVMDs)
		if err != nil {
			return nil, err
		}
		if front, err = ACPIUpgrade(map[string][]byte{"ivrs": t}); err != nil {
			return nil, err
		}
	}
	if m.IOMMU && len(s.RMRRs) > 0 {
		q, err := QEMUDMAR(ctx, cache, k, m)
		if err != nil {
			return nil, err
		}
		t, err := FirmwareDMAR(q, s.RMRRs)
		if err != nil {
			return nil, err
		}
		if front, err = ACPIUpgrade(map[string][]byte{"dmar": t}); err != nil {
			return nil, err
		}
	}
	snap, err := OVSSnapshot(s.probed())
	if err != nil {
		return nil, err
	}
	rd, err := Initramfs{Kernel: k, Modules: s.Modules, Init: s.Script(), Files: map[string][]byte{"bin/dpdk-doctor": bin, snap.Path: snap.Data}}.Build(ctx)
	if err != nil {
		return nil, err
	}
	return append(front, rd...), nil
}

// Boot returns the scenario's boot on kernel k.
func (s Scenario) Boot(ctx context.Context, cache string, k *Kernel, bin []byte) (Boot, error) {
	rd, err := s.Initrd(ctx, cache, k, bin)
	if err != nil {
		return Boot{}, err
	}
	cl := s.Cmdline
	if cl == nil {
		cl = []string{"intel_iommu=on"}
	}
	return Boot{Machine: s.machine(), Kernel: k, Initrd: rd, Cmdline: cl}, nil
}

// Row is one line of the truth table: what the kernel did with a device and what dpdk-doctor
// said beforehand.
type Row struct {
	Scenario, Kernel, Device string
	KernelOutcome            vfio.Outcome
	Step, Errno              string
	KernelLine               string // the kernel's refusal line, shortened
	RMRR                     string // devices --json rmrr
	Verdict                  string // check --json: the worst of device.rmrr and device.iommu_group ("ok", "warn", "fail")
	Summary                  string // the failing finding's summary
	PredictAttach            bool
	Agree                    bool // check's verdict agrees with the kernel
	// DevicesAgree: where the kernel attached or refused, devices --json's rmrr column says
	// "locked" exactly for the refused devices (a non-viable group, a group in use or no group
	// are not RMRR matters; "unknown", no DMAR to judge by, makes no claim).
	DevicesAgree bool
}

// Judge reads a boot's sections into truth-table rows, one per probed device.
func (s Scenario) Judge(kernel string, res *Result) ([]Row, error) {
	var probes []vfio.Result
	if err := json.Unmarshal(res.Sections["probe"].Stdout, &probes); err != nil {
		return nil, fmt.Errorf("probe --json: %w (stderr %q)", err, res.Sections["probe"].Stderr)
	}
	var devs []struct {
		Address, RMRR, Slot string
	}
	if err := json.Unmarshal(res.Sections["devices"].Stdout, &devs); err != nil {
		return nil, fmt.Errorf("devices --json: %w (stderr %q)", err, res.Sections["devices"].Stderr)
	}
	var rep struct {
		Findings []struct{ ID, Severity, Subject, Summary string }
	}
	if err := json.Unmarshal(res.Sections["check"].Stdout, &rep); err != nil {
		return nil, fmt.Errorf("check --json: %w (stderr %q)", err, res.Sections["check"].Stderr)
	}
	var rows []Row
	for _, p := range probes {
		r := Row{Scenario: s.Name, Kernel: kernel, Device: p.Device, KernelOutcome: p.Outcome, Step: p.Step, Errno: p.Errno, Verdict: "ok"}
		if len(p.KernelLog) > 0 {
			r.KernelLine = p.KernelLog[0]
		}
		for _, d := range devs {
			if d.Address == p.Device {
				r.RMRR = d.RMRR
			}
		}
		rank := map[string]int{"ok": 0, "warn": 1, "fail": 2}
		for _, f := range rep.Findings {
			if f.Subject != p.Device || (f.ID != "device.rmrr" && f.ID != "device.iommu_group") {
				continue
			}
			if rank[f.Severity] > rank[r.Verdict] {
				r.Verdict, r.Summary = f.Severity, f.Summary
			}
		}
		r.PredictAttach = r.Verdict != "fail"
		// A group held open elsewhere (in use) was given to user space: the device is usable.
		r.Agree = r.PredictAttach == (p.Outcome == vfio.Attached || p.Outcome == vfio.InUse)
		r.DevicesAgree = true
		if (p.Outcome == vfio.Attached || p.Outcome == vfio.Refused) && r.RMRR != "unknown" {
			r.DevicesAgree = (r.RMRR == "locked") == (p.Outcome == vfio.Refused)
		}
		rows = append(rows, r)
	}
	return rows, nil
}
