package check

import "github.com/dpdk-doctor/dpdk-doctor/iommu"

func checkVFIO(f *Facts) []Finding {
	v := Finding{ID: "vfio.driver", Subject: "host", Evidence: []Evidence{
		{File: f.Root.Path("sys/bus/pci/drivers/vfio-pci"), Value: map[bool]string{true: "present", false: "absent"}[f.IOMMU.VFIODriver]},
	}}
	if f.IOMMU.VFIOModule != "" {
		v.Evidence = append(v.Evidence, Evidence{File: f.Root.Path("sys/module/vfio_pci"), Value: f.IOMMU.VFIOModule})
	}
	if f.IOMMU.VFIOEvidence != "" {
		v.Evidence = append(v.Evidence, Evidence{File: f.IOMMU.VFIOEvidence, Value: "vfio-pci: " + f.IOMMU.VFIOKernel})
	}
	switch {
	case f.IOMMU.VFIODriver:
		v.Severity, v.Summary = OK, "vfio-pci is available"
	case f.IOMMU.VFIOKernel == iommu.VFIOAbsent:
		v.Severity, v.Summary = Fail, "this kernel has no vfio-pci: it was built without VFIO"
		v.Explanation = "DPDK's recommended way to own a NIC is the vfio-pci driver. The running kernel neither has it built in " +
			"nor ships it as a module, so modprobe cannot load it; a kernel with VFIO is needed."
		v.Remedy = []string{
			"# install and boot a distribution kernel, which has VFIO as modules: Debian linux-image-amd64, Ubuntu linux-generic, RHEL/Fedora kernel-core + kernel-modules",
			"# or rebuild this kernel with CONFIG_VFIO=m CONFIG_VFIO_PCI=m (and CONFIG_VFIO_IOMMU_TYPE1=m)",
		}
	case f.IOMMU.VFIOKernel == iommu.VFIOModuleAvailable:
		v.Severity, v.Summary = Fail, "vfio-pci is not loaded (the kernel has it as a module)"
		v.Explanation = "DPDK's recommended way to own a NIC is the vfio-pci driver; without it devices cannot be bound for DPDK (uio_pci_generic and igb_uio lack IOMMU protection)."
		v.Remedy = []string{"modprobe vfio-pci", "echo vfio-pci > /etc/modules-load.d/vfio-pci.conf   # load it at every boot"}
	default:
		v.Severity, v.Summary = Fail, "vfio-pci is not loaded"
		v.Explanation = "DPDK's recommended way to own a NIC is the vfio-pci driver; without it devices cannot be bound for DPDK. " +
			"Nothing here (modules.dep, modules.builtin, the kernel's config) tells whether this kernel has it."
		v.Remedy = []string{"modprobe vfio-pci   # if it is not found, this kernel lacks VFIO: boot a distribution kernel", "echo vfio-pci > /etc/modules-load.d/vfio-pci.conf   # load it at every boot"}
	}
	out := []Finding{v}
	if f.IOMMU.NoIOMMU {
		out = append(out, Finding{ID: "vfio.noiommu", Subject: "host", Severity: Warn,
			Summary: "VFIO runs in no-IOMMU mode (unsafe)",
			Explanation: "With enable_unsafe_noiommu_mode the device is handed to user space without any DMA isolation: a bug in the " +
				"DPDK application can overwrite any memory of the host, and the kernel is tainted. It is meant for hosts (often VMs) " +
				"without an IOMMU; where the hardware has one, enable it instead.",
			Evidence: []Evidence{{File: f.Root.Path("sys/module/vfio/parameters/enable_unsafe_noiommu_mode"), Value: "Y"}},
			Remedy:   []string{"echo N > /sys/module/vfio/parameters/enable_unsafe_noiommu_mode   # once the IOMMU is on (see iommu.kernel)"},
		})
	}
	return out
}
