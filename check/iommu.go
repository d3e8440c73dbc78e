package check

import (
	"fmt"
	"strings"

	"github.com/dpdk-doctor/dpdk-doctor/iommu"
	"github.com/dpdk-doctor/dpdk-doctor/kmsg"
)

// vendorParam is the kernel parameter that switches the IOMMU on for this CPU's vendor.
func (f *Facts) vendorParam() string {
	if f.CPU.Vendor == "AuthenticAMD" || f.IOMMU.FirmwareTable == "IVRS" {
		return "amd_iommu=on"
	}
	return "intel_iommu=on"
}

func checkIOMMU(f *Facts) []Finding {
	var out []Finding
	fw := Finding{ID: "iommu.firmware", Subject: "host"}
	switch f.IOMMU.FirmwareTable {
	case "DMAR":
		fw.Severity, fw.Summary = OK, "the firmware announces Intel VT-d (ACPI DMAR table present)"
		fw.Evidence = []Evidence{{File: f.Root.Path(iommu.DMARTable), Value: "present"}}
		if f.DMAR != nil {
			fw.Evidence[0].Value = fmt.Sprintf("%s %s, host address width %d, %d structures, %d RMRRs",
				strings.TrimSpace(f.DMAR.OEMID), strings.TrimSpace(f.DMAR.OEMTableID), f.DMAR.HostAddressWidth, len(f.DMAR.Structures), len(f.DMAR.RMRRs()))
		}
		if f.DMARErr != nil {
			fw.Severity = Warn
			fw.Summary = "the firmware's DMAR table cannot be decoded: " + f.DMARErr.Error()
			fw.Explanation = "The kernel may still use it, but dpdk-doctor cannot tell which devices its RMRRs cover."
		}
	case "IVRS":
		fw.Severity, fw.Summary = OK, "the firmware announces AMD-Vi (ACPI IVRS table present)"
		fw.Evidence = []Evidence{{File: f.Root.Path(iommu.IVRSTable), Value: "present"}}
	default:
		fw.Severity, fw.Summary = Fail, "the IOMMU is off in firmware: no ACPI DMAR or IVRS table"
		fw.Explanation = "VFIO needs an IOMMU to give a device safely to user space, and the kernel only finds one when " +
			"the firmware describes it in an ACPI table (DMAR for Intel VT-d, IVRS for AMD-Vi). None is there, so the " +
			"IOMMU is disabled in the BIOS/UEFI setup (or the platform has none). No kernel parameter can make up for this."
		fw.Evidence = []Evidence{{File: f.Root.Path("sys/firmware/acpi/tables/"), Value: "no DMAR, no IVRS"}}
		fw.Remedy = []string{"Enable \"Intel(R) VT-d\" / \"AMD IOMMU\" (HPE: System Options > Processor Options > Intel(R) VT-d) in the BIOS/UEFI setup, then reboot"}
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
	switch {
	case f.IOMMU.KernelOn():
		k.Severity = OK
		k.Summary = fmt.Sprintf("the kernel's IOMMU is on (%s, %d IOMMU groups)", units, f.IOMMU.Groups)
		if v, _ := f.Cmdline.Get("iommu"); v != "pt" && !f.Cmdline.HasOption("iommu.passthrough", "1") {
			k.Explanation = "Consider iommu=pt: host drivers then bypass translation, which costs them nothing, while devices given to VFIO are still isolated."
		}
	case f.IOMMU.FirmwareTable == "":
		k.Severity = Fail
		k.Summary = "the kernel has no IOMMU, because the firmware does not announce one (see iommu.firmware)"
		k.Remedy = []string{"Fix the firmware first (iommu.firmware), then make sure " + f.vendorParam() + " is on the kernel command line"}
	default:
		k.Severity = Fail
		k.Summary = "the IOMMU is off in the kernel: the firmware announces it, but the kernel made no IOMMU groups"
		k.Explanation = "The firmware's " + f.IOMMU.FirmwareTable + " table is there, so the hardware is ready, but this kernel did not " +
			"switch the IOMMU on: many distribution kernels leave Intel VT-d off unless intel_iommu=on is on the command line " +
			"(intel_iommu=off or iommu=off switch it off explicitly). Without IOMMU groups vfio-pci cannot take a device."
		k.Remedy = grubRemedy(f.vendorParam() + " iommu=pt")
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
