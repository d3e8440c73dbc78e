// Package agree asks every reader of dpdk-doctor's verdict what it says about one device, and
// says where an answer departs from the verdict. The readers are check's device findings, the
// rmrr column of `devices`, the OVS explanation of a failing dpdk port on the device, fix rmrr's
// plan and fix bind's dry run. verdict's tests ask them about every device of every test tree;
// the lab asks them about every device of a tree captured in each scenario's guest, and compares
// the guest's own commands' answers the same way (Answers built from their output).
package agree

import (
	"errors"
	"fmt"
	"strings"

	"github.com/dpdk-doctor/dpdk-doctor/check"
	"github.com/dpdk-doctor/dpdk-doctor/dmar"
	"github.com/dpdk-doctor/dpdk-doctor/fix"
	"github.com/dpdk-doctor/dpdk-doctor/ovs"
	"github.com/dpdk-doctor/dpdk-doctor/pci"
	"github.com/dpdk-doctor/dpdk-doctor/verdict"
)

// Answers is what each reader says about one device's lock and remedies.
type Answers struct {
	Check        check.Severity // check's device.rmrr
	CheckConrep  bool           // device.rmrr offers `fix rmrr`
	DriverLocked bool           // device.driver calls the device locked
	Row          string         // devices --json: the rmrr column
	OVSLocked    bool           // the explanation of a failing dpdk port on the device blames a lock
	OVSConrep    bool           // ... and offers `fix rmrr`
	Fix          error          // fix rmrr's plan: nil, or why there is none
	FixSkipped   bool           // fix rmrr: nothing to fix
	Bind         error          // fix bind's dry run to vfio-pci: nil when it would bind
	BindAsked    bool           // Bind holds an answer (a reader that was not asked makes no claim)
}

// FailingPort is the OVS Interface the OVS reader is asked about: a dpdk port on the device
// whose attach failed, as OVS reports it.
func FailingPort(a string) *ovs.Interface {
	return &ovs.Interface{Name: "dpdk0", Type: "dpdk", Options: map[string]string{"dpdk-devargs": a},
		Error: "Error attaching device '" + a + "' to DPDK"}
}

// Ask asks every reader about d on the host f describes. Nothing changes: fix rmrr plans with
// a conrep that does not exist and stateDir (a new directory of the caller's), fix bind plans
// reading sysfs through f's own root.
func Ask(f *check.Facts, d *pci.Device, stateDir string) Answers {
	a := d.Address.String()
	var ans Answers
	FromFindings(&ans, check.Run(f), a)
	ids, _ := pci.ParseIDs(nil)
	al, _ := pci.ParseAliases(nil)
	for _, r := range check.DeviceRows(f, ids, al, true) {
		if r.Address == a {
			ans.Row = r.RMRR
		}
	}
	FromExplanation(&ans, ovs.Explain(nil, nil, FailingPort(a), f))
	p, err := fix.PlanRMRR(f, fix.RMRROptions{Devices: []pci.Address{d.Address}, StateDir: stateDir, Conrep: "/nonexistent/conrep"})
	ans.Fix = err
	ans.FixSkipped = err == nil && len(p.Skipped) > 0
	root := f.Root
	_, ans.Bind = fix.PlanBind(f, fix.BindOptions{Devices: []pci.Address{d.Address}, Sysfs: fix.Sysfs{View: &root}, Etc: stateDir})
	ans.BindAsked = true
	return ans
}

// FromFindings fills in check's answers about device a from its findings (check.Run's, or
// those `check --json` printed).
func FromFindings(ans *Answers, fs []check.Finding, a string) {
	for _, fd := range fs {
		if fd.Subject != a {
			continue
		}
		switch fd.ID {
		case "device.rmrr":
			ans.Check = fd.Severity
			ans.CheckConrep = strings.Contains(strings.Join(fd.Remedy, "\n"), "dpdk-doctor fix rmrr")
		case "device.driver":
			ans.DriverLocked = strings.Contains(fd.Summary, "-locked")
		}
	}
}

// FromExplanation fills in the OVS reader's answers from its explanation of FailingPort.
func FromExplanation(ans *Answers, e *ovs.Explanation) {
	if e == nil {
		return
	}
	ans.OVSLocked = strings.Contains(e.Cause, "-locked")
	ans.OVSConrep = strings.Contains(strings.Join(e.Remedy, "\n"), "dpdk-doctor fix rmrr")
}

// Disagreements lists where ans departs from the verdict on device x, one sentence each;
// none when every reader follows it.
func Disagreements(x *verdict.Device, ans Answers) []string {
	var out []string
	bad := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	locked := x.Lock.Locked()
	if (ans.Check == check.Fail) != locked {
		bad("verdict locked=%v (%s), check device.rmrr %q", locked, x.Lock.State, ans.Check)
	}
	if ans.Row != string(x.Lock.State) {
		bad("verdict %s, devices rmrr %q", x.Lock.State, ans.Row)
	}
	if ans.OVSLocked != locked {
		bad("verdict locked=%v, the OVS explanation of a failing dpdk port blames a lock: %v", locked, ans.OVSLocked)
	}
	if ans.DriverLocked != locked && x.Device.Driver != "" && !check.IsDPDKDriver(x.Device.Driver) &&
		x.Device.Driver != "mlx5_core" && x.Device.Driver != "mlx4_core" {
		bad("verdict locked=%v, device.driver says locked: %v", locked, ans.DriverLocked)
	}
	if ans.CheckConrep != x.Conrep || ans.OVSConrep != x.Conrep {
		bad("verdict conrep=%v (%s), check offers fix rmrr: %v, ovs: %v", x.Conrep, x.ConrepWhyNot, ans.CheckConrep, ans.OVSConrep)
	}
	switch {
	case x.Lock.State == dmar.Unknown || locked && x.Lock.Kind == verdict.RMRR && x.Lock.RMRR.State == dmar.Unknown:
		if !errors.Is(ans.Fix, fix.ErrCannotTell) {
			bad("verdict unknown, fix rmrr: %v", orNothing(ans.Fix, ans.FixSkipped))
		}
	case !locked:
		if !ans.FixSkipped {
			bad("verdict %s, fix rmrr does not say nothing to fix (%v)", x.Lock.State, orNothing(ans.Fix, ans.FixSkipped))
		}
	case x.Conrep:
		// conrep is absent: the plan fails for want of the tool, never as not applicable.
		if ans.Fix == nil || errors.Is(ans.Fix, fix.ErrNotApplicable) {
			bad("verdict says conrep helps, fix rmrr: %v", orNothing(ans.Fix, ans.FixSkipped))
		}
	default:
		if !errors.Is(ans.Fix, fix.ErrNotApplicable) {
			bad("verdict says conrep cannot help (%s), fix rmrr: %v", x.ConrepWhyNot, orNothing(ans.Fix, ans.FixSkipped))
		}
	}
	if ans.BindAsked {
		out = append(out, bindDisagreements(x, ans.Bind)...)
	}
	return out
}

// bindDisagreements compares fix bind's dry run with the verdict: it refuses the host exactly
// when the verdict says binding cannot work here (IOMMU off, no vfio-pci), refuses the device
// for a lock exactly when the verdict says it is locked (a bridge aside: bind leaves it alone),
// refuses an unlocked device whose interface the host uses, and plans the bind of a bindable
// device (unless another member of its group has an interface the host uses).
func bindDisagreements(x *verdict.Device, err error) []string {
	var out []string
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	locked := x.Lock.Locked()
	var hostWhy []string // BindWhyNot's reasons about the host, not the device's lock
	for _, w := range x.BindWhyNot {
		if !strings.Contains(w, " locks it") {
			hostWhy = append(hostWhy, w)
		}
	}
	hostRefused := strings.Contains(msg, "cannot work on this host")
	if hostRefused != (len(hostWhy) > 0) {
		out = append(out, fmt.Sprintf("verdict: binding cannot work on this host: %q, fix bind: %s", hostWhy, orBinds(err)))
	}
	if hostRefused {
		return out
	}
	// fix bind leaves a bridge with its driver (the kernel allows bridges in a VFIO group), so
	// it says nothing about a bridge's own lock.
	if strings.Contains(msg, "-locked") != locked && !x.Device.Config.IsBridge() {
		out = append(out, fmt.Sprintf("verdict locked=%v (%s), fix bind: %s", locked, x.Lock.State, orBinds(err)))
	}
	if locked && strings.Contains(msg, "dpdk-doctor fix rmrr") != x.Conrep {
		out = append(out, fmt.Sprintf("verdict conrep=%v (%s), fix bind: %s", x.Conrep, x.ConrepWhyNot, orBinds(err)))
	}
	if x.Active && !locked && !strings.Contains(msg, "interface the host uses") { // a lock is refused first
		out = append(out, fmt.Sprintf("verdict: the host uses its interface, fix bind: %s", orBinds(err)))
	}
	if x.Bindable && err != nil && !strings.Contains(msg, "interface the host uses") {
		out = append(out, fmt.Sprintf("verdict: bindable, fix bind: %s", orBinds(err)))
	}
	return out
}

func orBinds(err error) string {
	if err == nil {
		return "would bind it"
	}
	return err.Error()
}

func orNothing(err error, skipped bool) string {
	switch {
	case err != nil:
		return err.Error()
	case skipped:
		return "nothing to fix"
	}
	return "a plan"
}
