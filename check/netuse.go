package check

import (
	"errors"
	"io/fs"
	"strings"

	"github.com/dpdk-doctor/dpdk-doctor/internal/quote"
	"github.com/dpdk-doctor/dpdk-doctor/iommu"
	"github.com/dpdk-doctor/dpdk-doctor/pci"
)

// Use is how the host uses one kernel interface of a device.
type Use struct {
	Name    string   `json:"name"`
	Active  bool     `json:"active"`
	Reasons []string `json:"reasons"`           // "default route", "address 10.20.0.15/24", "SSH session from 10.20.0.99"
	Unknown string   `json:"unknown,omitempty"` // why use could not be read; the interface then counts as active
}

// Uses returns what the host does with each of d's kernel interfaces.
func (f *Facts) Uses(d *pci.Device) []Use {
	f.Judge()
	return f.uses(d)
}

// uses is Uses without waiting for Judge, for the verdict Judge computes.
func (f *Facts) uses(d *pci.Device) []Use {
	out := make([]Use, 0, len(d.Interfaces))
	for _, name := range d.Interfaces {
		a := f.Net.Activity(name)
		u := Use{Name: name, Active: a.Active, Reasons: a.Reasons}
		switch {
		case f.NetErr != nil:
			u.Unknown = "cannot tell whether it is in use: " + f.NetErr.Error()
		case len(f.Net.Unreadable) > 0 && !a.Active:
			u.Unknown = "cannot tell whether it is in use: " + strings.Join(f.Net.Unreadable, ", ") + " unreadable (run as root)"
		}
		if u.Unknown != "" {
			u.Active = true
		}
		out = append(out, u)
	}
	return out
}

// InUse reports whether the host uses one of d's kernel interfaces (or cannot tell).
func (f *Facts) InUse(d *pci.Device) bool {
	f.Judge()
	return f.inUse(d)
}

// inUse is InUse without waiting for Judge, for the verdict Judge computes.
func (f *Facts) inUse(d *pci.Device) bool {
	for _, u := range f.uses(d) {
		if u.Active {
			return true
		}
	}
	return false
}

// String labels an interface for a summary: "eno1, active: default route, SSH session from
// 10.20.0.99" or "eno2".
func (u Use) String() string {
	switch {
	case u.Unknown != "":
		return u.Name + ", " + u.Unknown
	case u.Active:
		return u.Name + ", active: " + strings.Join(u.Reasons, ", ")
	}
	return u.Name
}

func usesLabel(us []Use) string {
	var parts []string
	for _, u := range us {
		parts = append(parts, u.String())
	}
	return strings.Join(parts, "; ")
}

// cutOff says what unbinding d from its kernel driver takes from the host, or "" when none of
// its interfaces is in use.
func (f *Facts) cutOff(d *pci.Device) string {
	var parts []string
	fatal := false
	for _, u := range f.Uses(d) {
		if !u.Active {
			continue
		}
		if u.Unknown != "" {
			parts = append(parts, u.Name+": "+u.Unknown)
			fatal = true
			continue
		}
		var what, member []string
		for _, r := range u.Reasons {
			switch {
			case strings.HasPrefix(r, "member of") || strings.HasPrefix(r, "port of"):
				member = append(member, "is a "+r)
				fatal = fatal || strings.Contains(r, "default route") || strings.Contains(r, "SSH session") || strings.Contains(r, "ovs-system")
			case r == "default route" || strings.HasPrefix(r, "SSH session"):
				what = append(what, "the "+r)
				fatal = true
			default:
				what = append(what, "the "+r)
			}
		}
		if len(what) > 0 {
			member = append([]string{"carries " + joinAnd(what)}, member...)
		}
		parts = append(parts, u.Name+" "+joinAnd(member))
	}
	if len(parts) == 0 {
		return ""
	}
	s := strings.Join(parts, "; ") + ": unbinding " + d.Address.String() + " from " + orNone(d.Driver) + " takes " +
		strings.Join(d.Interfaces, ", ") + " away from the host"
	if fatal {
		s += " and can cut this host off"
	}
	return s
}

func joinAnd(s []string) string {
	if len(s) < 2 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}

// rmrrLocked reports whether a firmware region (RMRR or IVMD) keeps d from VFIO: the verdict's
// answer.
func (f *Facts) rmrrLocked(d *pci.Device) bool { return f.Judged(d).Lock.Locked() }

// bindBlocked says why binding d to vfio-pci cannot work yet, or "" (the verdict's reasons;
// an interface in use BindRemedy says itself).
func (f *Facts) bindBlocked(d *pci.Device) string {
	return strings.Join(f.Judged(d).BindWhyNot, "; ")
}

// BindRemedy returns what to do to hand d, a device the user targets, to vfio-pci. Where
// binding cannot help yet (IOMMU off, no vfio-pci in this kernel, RMRR-locked) it says why
// instead; where the host uses one of d's interfaces it says loudly what would be lost and
// gives no command that unbinds it (as dpdk-devbind.py refuses "*Active*" interfaces).
func (f *Facts) BindRemedy(d *pci.Device) []string {
	a := d.Address.String()
	var stop []string
	if why := f.bindBlocked(d); why != "" {
		stop = append(stop, "# binding "+a+" to vfio-pci cannot work yet: "+why)
	}
	if warn := f.cutOff(d); warn != "" {
		stop = append(stop,
			"# WARNING: "+warn+".",
			"# Move them to another interface first (from a console, not over this interface); dpdk-doctor prints no unbind",
			"# commands for an interface in use, and any command of ours that unbinds it will require --force.")
	}
	if len(stop) > 0 {
		return stop
	}
	var out []string
	for _, ifc := range d.Interfaces {
		out = append(out, "ip link set "+quote.Shell(ifc)+" down")
	}
	switch f.IOMMU.VFIOKernel {
	case iommu.VFIOModuleAvailable:
		out = append(out, "modprobe vfio-pci")
	case "":
		out = append(out, "modprobe vfio-pci   # if it is not found, this kernel lacks VFIO (see vfio.driver)")
	}
	out = append(out, "dpdk-devbind.py --bind=vfio-pci "+a+"   # or, without DPDK's tools:",
		"echo vfio-pci > /sys/bus/pci/devices/"+a+"/driver_override")
	if d.Driver != "" {
		out = append(out, "echo "+a+" > /sys/bus/pci/devices/"+a+"/driver/unbind")
	}
	return append(out, "echo "+a+" > /sys/bus/pci/drivers_probe")
}

// denied reports whether err is a refusal for want of privilege (EACCES, EPERM).
func denied(err error) bool { return errors.Is(err, fs.ErrPermission) }
