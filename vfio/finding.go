package vfio

import (
	"strings"

	"github.com/dpdk-doctor/dpdk-doctor/check"
	"github.com/dpdk-doctor/dpdk-doctor/verdict"
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

// JudgedFinding is Finding beside the device's verdict x: a refusal gets the verdict's remedies
// for the lock (the ones check shows), and a kernel answer that differs from the verdict's
// prediction says so, the kernel's answer deciding.
func JudgedFinding(r Result, x *verdict.Device) (check.Finding, bool) {
	f, ok := Finding(r)
	if !ok || x == nil {
		return f, ok
	}
	locked := x.Lock.Locked()
	switch {
	case r.Outcome == Refused && locked:
		for _, m := range x.Remedies {
			f.Remedy = append(f.Remedy, m.Text)
		}
	case r.Outcome == Refused:
		f.Explanation = strings.TrimSpace(f.Explanation + " dpdk-doctor predicted no " + x.Lock.Kind + " lock (" + string(x.Lock.State) +
			"); the kernel's answer decides (please report the disagreement).")
	case r.Outcome == Attached && locked:
		f.Explanation = "dpdk-doctor predicted an " + x.Lock.Kind + " lock (see device.rmrr), but the kernel attached it: the kernel's answer decides."
	}
	return f, true
}
