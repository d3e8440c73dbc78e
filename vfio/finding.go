package vfio

import (
	"strings"

	"github.com/dpdk-doctor/dpdk-doctor/check"
)

// Finding turns a probe's result into a `check` finding ("device.probe"): the kernel's own
// answer beside dpdk-doctor's prediction. ok is false for devices a probe has nothing to say
// about (not on vfio-pci, no IOMMU group): other findings cover those.
func Finding(r Result) (f check.Finding, ok bool) {
	f = check.Finding{ID: "device.probe", Area: "device", Subject: r.Device, Remedy: r.Remedy}
	if f.Remedy == nil {
		f.Remedy = []string{}
	}
	var steps []string
	for _, s := range r.Steps {
		v := s.Name + ": ok"
		if !s.OK {
			v = s.Name + ": failed"
			if s.Errno != "" {
				v += " (" + s.Errno + ")"
			}
		}
		if s.Info != "" {
			v += " [" + s.Info + "]"
		}
		steps = append(steps, v)
	}
	f.Evidence = []check.Evidence{{File: "/dev/vfio/vfio", Value: strings.Join(steps, "; ")}}
	for _, l := range r.KernelLog {
		f.Evidence = append(f.Evidence, check.Evidence{File: "/dev/kmsg", Value: l})
	}
	switch r.Outcome {
	case Attached:
		f.Severity, f.Summary = check.OK, "the kernel gives it to VFIO: "+r.Summary()
	case InUse:
		f.Severity, f.Summary = check.OK, "in use: its IOMMU group is held open (a VM or a running DPDK), so it was not probed"
	case Refused:
		f.Severity, f.Summary = check.Fail, "the kernel refuses it to VFIO: "+r.Summary()
		f.Explanation = r.Error
	case NotViable:
		f.Severity, f.Summary = check.Fail, "the kernel refuses its IOMMU group: "+r.Error
	default:
		return f, false
	}
	return f, true
}
