package check

import (
	"fmt"

	"github.com/dpdk-doctor/dpdk-doctor/kmsg"
)

// logVerdicts says how bad each kind of kernel message is and what it means.
var logVerdicts = map[kmsg.Kind]struct {
	sev     Severity
	summary string
}{
	kmsg.RMRRIneligible: {Fail, "the kernel refused the device to VFIO because an RMRR covers it"},
	kmsg.RMRRIdentity:   {Fail, "the kernel refused the device to VFIO: the firmware requires a 1:1 (RMRR) mapping"},
	kmsg.RMRRBroken:     {Warn, "the firmware's RMRR entry is broken"},
	kmsg.RMRRRelaxed:    {Warn, "the kernel treats every RMRR as relaxable (relax_rmrr)"},
	kmsg.IOMMUDisabled:  {Warn, "the kernel reports the IOMMU disabled"},
	kmsg.NoIOMMU:        {Warn, "a device was used in VFIO's unsafe no-IOMMU mode"},
	kmsg.GroupNotViable: {Fail, "DPDK found the device's IOMMU group not viable"},
	kmsg.EALVFIO:        {Fail, "DPDK's EAL failed to set up VFIO"},
	kmsg.DMARFault:      {Warn, "a device raised a DMA remapping fault"},
}

func checkKernelLog(f *Facts) []Finding {
	if f.LogErr != nil {
		return []Finding{{ID: "kernellog.source", Subject: "host", Severity: Warn,
			Summary:     "cannot read the kernel log without root: run as root",
			Explanation: "The kernel refused to show its log to this user (kernel.dmesg_restrict, or a log file readable only by root or adm), so RMRR and VFIO refusals there cannot be judged.",
			Evidence:    []Evidence{{File: "kernel log", Value: f.LogErr.Error()}},
		}}
	}
	if f.LogSource == "" {
		return []Finding{{ID: "kernellog.source", Subject: "host", Severity: Warn,
			Summary:     "no kernel log to read",
			Explanation: "In a captured tree the kernel log is var/log/dmesg or var/log/kern.log (see the README's tree layout); live, it is /dev/kmsg.",
		}}
	}
	var out []Finding
	seen := map[string]bool{}
	for _, e := range f.Events {
		v, ok := logVerdicts[e.Kind]
		if !ok {
			continue
		}
		key := string(e.Kind) + e.Device
		if seen[key] {
			continue
		}
		seen[key] = true
		subj := e.Device
		if subj == "" {
			subj = "host"
		}
		out = append(out, Finding{ID: "kernellog." + string(e.Kind), Subject: subj, Severity: v.sev, Summary: v.summary,
			Evidence: []Evidence{{File: fmt.Sprintf("%s:%d", f.LogSource, e.Line.N), Value: e.Line.Text}}})
	}
	if len(out) == 0 {
		out = append(out, Finding{ID: "kernellog.clean", Subject: "host", Severity: OK,
			Summary:  "no known VFIO, RMRR or DPDK failure in the kernel log",
			Evidence: []Evidence{{File: f.LogSource, Value: fmt.Sprintf("%d lines read", len(f.Log))}}})
	}
	return out
}
