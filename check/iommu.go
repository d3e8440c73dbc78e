package check

import (
	"fmt"
	"strings"

	"github.com/dpdk-doctor/dpdk-doctor/iommu"
	"github.com/dpdk-doctor/dpdk-doctor/ivrs"
	"github.com/dpdk-doctor/dpdk-doctor/kmsg"
)

// isAMD reports whether the host's IOMMU would be AMD-Vi.
func (f *Facts) isAMD() bool {
	return f.CPU.Vendor == "AuthenticAMD" || f.IOMMU.FirmwareTable == "IVRS"
}

// offParams returns the kernel parameters on the command line that switch the IOMMU off.
func (f *Facts) offParams() []string {
	var out []string
	for _, p := range f.Cmdline.Params {
		v := p.Value
		switch {
		case p.Key == "iommu" && v == "off",
			p.Key == "amd_iommu" && v == "off",
			p.Key == "intel_iommu" && strings.Contains(","+v+",", ",off,"):
			out = append(out, p.Key+"="+v)
		}
	}
	return out
}

// vmIOMMURemedy is the advice for a virtual machine: its IOMMU comes from the hypervisor, not
// from a BIOS menu, or VFIO runs without one.
func vmIOMMURemedy(f *Facts) []string {
	out := []string{
		"# This is a virtual machine (" + f.Platform.Hypervisor + "): the IOMMU comes from the hypervisor. On the host, give the guest a virtual IOMMU:",
		"#   QEMU:    -machine q35,kernel-irqchip=split -device intel-iommu,intremap=on,caching-mode=on",
		"#   libvirt: <features><ioapic driver='qemu'/></features> and <devices><iommu model='intel'><driver intremap='on' caching_mode='on'/></iommu></devices>",
		"# then boot the guest with intel_iommu=on; or, with no IOMMU at all (no DMA isolation, taints the kernel), VFIO's no-IOMMU mode:",
	}
	if f.IOMMU.VFIOKernel == iommu.VFIOAbsent {
		return append(out, "# enable_unsafe_noiommu_mode, once the guest runs a kernel with VFIO (this one has none: see vfio.driver)")
	}
	return append(out, "modprobe vfio enable_unsafe_noiommu_mode=1   # or echo Y > /sys/module/vfio/parameters/enable_unsafe_noiommu_mode")
}

func checkIOMMU(f *Facts) []Finding {
	var out []Finding
	vm := f.Platform.IsVM()
	fw := Finding{ID: "iommu.firmware", Subject: "host"}
	switch f.IOMMU.FirmwareTable {
	case "DMAR":
		fw.Severity, fw.Summary = OK, "the firmware announces Intel VT-d (ACPI DMAR table present)"
		fw.Evidence = []Evidence{{File: f.Root.Path(iommu.DMARTable), Value: "present"}}
		if f.DMAR != nil {
			fw.Evidence[0].Value = fmt.Sprintf("%s %s, host address width %d, %d structures, %d RMRRs",
				strings.TrimSpace(f.DMAR.OEMID), strings.TrimSpace(f.DMAR.OEMTableID), f.DMAR.HostAddressWidth, len(f.DMAR.Structures), len(f.DMAR.RMRRs()))
		}
		switch {
		case f.DMARErr != nil && denied(f.DMARErr):
			fw.Severity = Warn
			fw.Summary = "the firmware's DMAR table is there but readable only by root: run as root to judge its RMRRs"
			fw.Evidence = append(fw.Evidence, Evidence{File: f.Root.Path(iommu.DMARTable), Value: f.DMARErr.Error()})
		case f.DMARErr != nil:
			fw.Severity = Warn
			fw.Summary = "the firmware's DMAR table cannot be decoded: " + f.DMARErr.Error()
			fw.Explanation = "The kernel may still use it, but dpdk-doctor cannot tell which devices its RMRRs cover."
		}
	case "IVRS":
		fw.Severity, fw.Summary = OK, "the firmware announces AMD-Vi (ACPI IVRS table present)"
		fw.Evidence = []Evidence{{File: f.Root.Path(iommu.IVRSTable), Value: "present"}}
		switch t := f.IVRS; {
		case t != nil:
			var units []string
			eff := t.EffectiveIVHDType()
			for _, b := range t.IVHDs() {
				if b.Type == eff {
					units = append(units, fmt.Sprintf("IOMMU %04x:%s at %#x", b.Segment, ivrs.FormatID(b.DeviceID), b.Base))
				}
			}
			fw.Summary = fmt.Sprintf("the firmware announces AMD-Vi: %d IOMMU(s) in the IVRS table, %d IVMD(s)", len(units), len(t.IVMDs()))
			if len(units) == 0 {
				fw.Summary = "the firmware announces AMD-Vi (ACPI IVRS table present, but it describes no IOMMU: the kernel may still find one)"
			}
			fw.Evidence[0].Value = fmt.Sprintf("%s %s, IVHD type %#x read by the kernel: %s; %d IVMD(s) (see device.rmrr and `dpdk-doctor reserved`)",
				strings.TrimSpace(ivrs.Trim(t.OEMID)), strings.TrimSpace(ivrs.Trim(t.OEMTableID)), eff, orNone(strings.Join(units, ", ")), len(t.IVMDs()))
		case f.IVRSErr != nil && denied(f.IVRSErr):
			fw.Severity = Warn
			fw.Summary = "the firmware's IVRS table is there but readable only by root: run as root to judge its IVMDs"
			fw.Evidence = append(fw.Evidence, Evidence{File: f.Root.Path(iommu.IVRSTable), Value: f.IVRSErr.Error()})
		case f.IVRSErr != nil:
			fw.Severity = Warn
			fw.Summary = "the firmware's IVRS table cannot be decoded: " + f.IVRSErr.Error()
			fw.Explanation = "The kernel may still use it, but dpdk-doctor cannot tell which devices its IVMDs cover."
		}
	default:
		if f.IOMMU.FirmwareErr != nil {
			fw.Severity, fw.Summary = Warn, "cannot look at the ACPI tables: run as root"
			fw.Evidence = []Evidence{{File: f.Root.Path("sys/firmware/acpi/tables/"), Value: f.IOMMU.FirmwareErr.Error()}}
			break
		}
		fw.Severity = Fail
		fw.Evidence = []Evidence{{File: f.Root.Path("sys/firmware/acpi/tables/"), Value: "no DMAR, no IVRS"}}
		if vm {
			fw.Summary = "this virtual machine has no IOMMU: its hypervisor gives it none (no ACPI DMAR or IVRS table)"
			fw.Explanation = "VFIO needs an IOMMU to give a device safely to user space. A guest only has one when the " +
				"hypervisor emulates it (QEMU's intel-iommu device, libvirt's <iommu model='intel'/>); there is no firmware " +
				"setting inside the guest for it."
			fw.Evidence = append(fw.Evidence, Evidence{File: "platform", Value: f.Platform.Evidence})
			fw.Remedy = vmIOMMURemedy(f)
			break
		}
		fw.Summary = "the IOMMU is off in firmware: no ACPI DMAR or IVRS table"
		fw.Explanation = "VFIO needs an IOMMU to give a device safely to user space, and the kernel only finds one when " +
			"the firmware describes it in an ACPI table (DMAR for Intel VT-d, IVRS for AMD-Vi). None is there, so the " +
			"IOMMU is disabled in the BIOS/UEFI setup (or the platform has none). No kernel parameter can make up for this."
		switch {
		case f.isAMD():
			fw.Remedy = []string{"Enable \"IOMMU\" (often under AMD CBS > NBIO Common Options) in the BIOS/UEFI setup, then reboot"}
		case f.Platform.IsHPEProLiant():
			fw.Remedy = []string{"Enable \"Intel(R) VT-d\" in the BIOS/UEFI setup (RBSU: System Options > Processor Options > Intel(R) VT-d), then reboot"}
		default:
			fw.Remedy = []string{"Enable \"Intel(R) VT-d\" (sometimes \"Intel Virtualization Technology for Directed I/O\") in the BIOS/UEFI setup, then reboot"}
		}
	}
	out = append(out, fw)

	k := Finding{ID: "iommu.kernel", Subject: "host"}
	units := strings.Join(f.IOMMU.Units, " ")
	if units == "" {
		units = "(none)"
	}
	k.Evidence = []Evidence{
		{File: f.Root.Path("sys/class/iommu"), Value: units},
		{File: f.Root.Path("sys/kernel/iommu_groups"), Value: fmt.Sprintf("%d groups", f.IOMMU.Groups)},
		{File: f.Root.Path("proc/cmdline"), Value: iommuParams(f)},
	}
	for _, e := range f.Events {
		if e.Kind == kmsg.IOMMUDisabled || e.Kind == kmsg.IOMMUEnabled {
			k.Evidence = append(k.Evidence, Evidence{File: f.LogSource, Value: e.Line.Text})
		}
	}
	off := f.offParams()
	switch {
	case f.IOMMU.KernelOn():
		k.Severity = OK
		k.Summary = fmt.Sprintf("the kernel's IOMMU is on (%s, %d IOMMU groups)", units, f.IOMMU.Groups)
		if v, _ := f.Cmdline.Get("iommu"); v != "pt" && !f.Cmdline.HasOption("iommu.passthrough", "1") {
			k.Explanation = "Consider iommu=pt: host drivers then bypass translation, which costs them nothing, while devices given to VFIO are still isolated."
		}
	case f.IOMMU.FirmwareTable == "" && f.IOMMU.FirmwareErr != nil:
		k.Severity = Fail
		k.Summary = "the kernel made no IOMMU groups (run as root to see whether the firmware announces an IOMMU)"
	case f.IOMMU.FirmwareTable == "" && vm:
		k.Severity = Fail
		k.Summary = "the kernel has no IOMMU, because the hypervisor gives this VM none (see iommu.firmware)"
		k.Remedy = []string{"# give the VM a virtual IOMMU or use VFIO's no-IOMMU mode: see iommu.firmware"}
	case f.IOMMU.FirmwareTable == "":
		k.Severity = Fail
		k.Summary = "the kernel has no IOMMU, because the firmware does not announce one (see iommu.firmware)"
		if f.isAMD() {
			k.Remedy = []string{"Fix the firmware first (iommu.firmware): the kernel turns AMD-Vi on by itself once the IVRS table is there"}
		} else {
			k.Remedy = []string{"Fix the firmware first (iommu.firmware), then make sure intel_iommu=on is on the kernel command line"}
		}
	case f.amdRegions(): // the table decides: VT-d under an AMD CPU (a QEMU guest) is Intel
		k.Severity = Fail
		k.Summary = "the IOMMU is off in the kernel: the firmware announces AMD-Vi, but the kernel made no IOMMU groups"
		k.Explanation = "On AMD the kernel turns AMD-Vi on whenever the firmware's IVRS table is there; only amd_iommu=off " +
			"or iommu=off on the command line (or a kernel built without CONFIG_AMD_IOMMU) keeps it off. " +
			"amd_iommu=on is not an option the kernel knows: there is nothing to add."
		if len(off) > 0 {
			k.Summary += " (" + strings.Join(off, " ") + " is on the command line)"
			k.Remedy = grubRemoveRemedy(off)
		} else {
			k.Remedy = []string{"# no parameter turns it off here: look for AMD-Vi errors (dmesg | grep -i -e AMD-Vi -e IVRS) and check that the kernel has CONFIG_AMD_IOMMU=y"}
		}
	default:
		k.Severity = Fail
		k.Summary = "the IOMMU is off in the kernel: the firmware announces it, but the kernel made no IOMMU groups"
		k.Explanation = "The firmware's " + f.IOMMU.FirmwareTable + " table is there, so the hardware is ready, but this kernel did not " +
			"switch the IOMMU on: many distribution kernels leave Intel VT-d off unless intel_iommu=on is on the command line " +
			"(intel_iommu=off or iommu=off switch it off explicitly). Without IOMMU groups vfio-pci cannot take a device."
		if len(off) > 0 {
			k.Summary += " (" + strings.Join(off, " ") + " is on the command line)"
			k.Remedy = grubRemoveRemedy(off)
		}
		k.Remedy = append(k.Remedy, grubRemedy("intel_iommu=on iommu=pt")...)
	}
	out = append(out, k)
	return out
}

func iommuParams(f *Facts) string {
	var ps []string
	for _, p := range f.Cmdline.Params {
		switch p.Key {
		case "intel_iommu", "amd_iommu", "iommu", "iommu.passthrough", "iommu.strict", "vfio.enable_unsafe_noiommu_mode":
			ps = append(ps, p.Key+"="+p.Value)
		}
	}
	if len(ps) == 0 {
		return "no IOMMU parameters"
	}
	return strings.Join(ps, " ")
}

// grubRemedy returns the commands that add parameters to the kernel command line on Debian and
// Ubuntu (update-grub) and on RHEL and Fedora (grubby).
func grubRemedy(params string) []string {
	return []string{
		"# Debian/Ubuntu: add to GRUB_CMDLINE_LINUX in /etc/default/grub: " + params,
		"update-grub && reboot",
		"# RHEL/Fedora:",
		"grubby --update-kernel=ALL --args=\"" + params + "\" && reboot",
	}
}

// grubRemoveRemedy returns the commands that take parameters off the kernel command line.
func grubRemoveRemedy(params []string) []string {
	p := strings.Join(params, " ")
	return []string{
		"# Debian/Ubuntu: remove from GRUB_CMDLINE_LINUX in /etc/default/grub: " + p,
		"update-grub && reboot",
		"# RHEL/Fedora:",
		"grubby --update-kernel=ALL --remove-args=\"" + p + "\" && reboot",
	}
}
