package check

import "fmt"

func checkCPU(f *Facts) []Finding {
	ev := []Evidence{{File: "/proc/cpuinfo", Value: "flags: vmx=" + yn(f.CPU.Flags["vmx"]) + " svm=" + yn(f.CPU.Flags["svm"])}}
	if f.CPUErr != nil {
		return []Finding{{ID: "cpu.virtualization", Severity: Warn, Subject: "host",
			Summary: "cannot read the CPU's features: " + f.CPUErr.Error(), Evidence: []Evidence{}}}
	}
	ev = append(ev, Evidence{File: "/proc/cpuinfo", Value: fmt.Sprintf("vendor_id: %s, model name: %s, %d CPUs", f.CPU.Vendor, f.CPU.ModelName, f.CPU.CPUs)})
	out := []Finding{}
	switch v := f.CPU.Virtualization(); v {
	case "vmx", "svm":
		name := map[string]string{"vmx": "Intel VT-x", "svm": "AMD-V"}[v]
		out = append(out, Finding{ID: "cpu.virtualization", Severity: OK, Subject: "host",
			Summary:  name + " (" + v + ") is enabled",
			Evidence: ev})
	default:
		out = append(out, Finding{ID: "cpu.virtualization", Severity: Warn, Subject: "host",
			Summary: "the CPU shows no hardware virtualisation (neither vmx nor svm)",
			Explanation: "DPDK itself does not need VT-x or AMD-V, but guests with passed-through devices do, and " +
				"firmware that hides it usually has VT-d / AMD-Vi (the IOMMU that VFIO needs) switched off too. " +
				"On a virtual machine the hypervisor must expose it (nested virtualisation).",
			Evidence: ev,
			Remedy:   cpuRemedy(f)})
	}
	if f.Platform.IsVM() || f.CPU.Flags["hypervisor"] {
		ev := "flags: hypervisor"
		if f.Platform.Evidence != "" {
			ev = f.Platform.Evidence
		}
		out = append(out, Finding{ID: "cpu.hypervisor", Severity: Warn, Subject: "host",
			Summary: "this host is a virtual machine",
			Explanation: "Inside a VM, VFIO needs a virtual IOMMU from the hypervisor (for QEMU: -device intel-iommu) " +
				"and the NIC must be passed through to the VM first.",
			Evidence: []Evidence{{File: "platform", Value: ev}}})
	}
	return out
}

func yn(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func cpuRemedy(f *Facts) []string {
	if f.Platform.IsVM() {
		return []string{"# a virtual machine: enable nested virtualisation on the hypervisor host (kvm_intel/kvm_amd nested=1) and give the guest the host's CPU (QEMU -cpu host, libvirt <cpu mode='host-passthrough'/>)"}
	}
	return []string{"Enable \"Intel(R) Virtualization Technology\" (or \"SVM Mode\") in the system's BIOS/UEFI setup, then reboot"}
}
