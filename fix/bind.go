package fix

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/dpdk-doctor/dpdk-doctor/check"
	"github.com/dpdk-doctor/dpdk-doctor/iommu"
	"github.com/dpdk-doctor/dpdk-doctor/pci"
)

func init() {
	register("bind", undoDrivers)
	register("unbind", undoDrivers)
}

// BindOptions configure `fix bind` and `fix unbind`.
type BindOptions struct {
	Devices []pci.Address
	Driver  string // the driver to bind to; "" is vfio-pci
	Persist bool   // make the binding survive a reboot
	Force   bool   // bind even when the host uses one of the devices' interfaces
	Sysfs   Sysfs  // where kernel attributes are written; the zero value is LiveSysfs
	// Etc is the root under which --persist writes its files ("/" in production).
	Etc string
	// Driverctl says driverctl is installed: --persist then writes driverctl's own files.
	Driverctl bool
	// Modprobe loads a module ("modprobe vfio-pci"); nil runs modprobe.
	Modprobe func(ctx context.Context, module string) error
}

// ErrRefused: the remedy refuses this device or host; the error says why and what would help.
var ErrRefused = errors.New("refused")

// member is one device of a bind, and what it was before: the snapshot of a rollback.
type member struct {
	Address    string   `json:"address"`
	Driver     string   `json:"driver"`   // bound driver before, "" when none
	Override   string   `json:"override"` // driver_override before, "" when none
	Interfaces []string `json:"interfaces,omitempty"`
}

// persistFile is a file --persist writes, and what it held before (Existed false: it was absent).
type persistFile struct {
	Path    string `json:"path"`
	Content string `json:"content"`
	Existed bool   `json:"existed"`
	Before  string `json:"before,omitempty"`
}

// keep returns f with what its path holds now (Existed, Before), for a run's record: the
// rollback puts it back or removes the file.
func (f persistFile) keep() (persistFile, error) {
	old, err := readBounded(f.Path, 1<<20)
	switch {
	case err == nil:
		f.Existed, f.Before = true, string(old)
	case !isNotExist(err):
		return f, err
	}
	return f, nil
}

// driversSnapshot is what a bind or unbind records for its rollback.
type driversSnapshot struct {
	SysRoot string        `json:"sys_root"`
	Target  string        `json:"target"`
	Members []member      `json:"members"`
	Files   []persistFile `json:"files,omitempty"`
}

// Bind hands devices, each with its whole IOMMU group, to a driver (vfio-pci): the runner's
// remedy behind `fix bind`. It uses driver_override, so no other device of the same IDs is
// affected (new_id would grab them all).
type Bind struct {
	o       BindOptions
	kind    string
	target  string
	members []member
	skipped []string // bridges in a group, which stay with pcieport
	files   []persistFile
}

// PlanBind works out a bind from the host's facts, changing nothing. Every device named and every
// other endpoint of its IOMMU group is bound, or none is: the plan is refused (ErrRefused) when any
// of them is RMRR-locked, has an interface the host uses (without Force), or when the host has no
// usable IOMMU or vfio-pci; each refusal names the device and the remedy that helps.
func PlanBind(f *check.Facts, o BindOptions) (*Bind, error) {
	if o.Driver == "" {
		o.Driver = "vfio-pci"
	}
	if !validDriverName(o.Driver) {
		return nil, fmt.Errorf("%w: --driver %q is not a driver name", ErrNoDevice, o.Driver)
	}
	if o.Sysfs.Root == "" && o.Sysfs.View == nil {
		o.Sysfs = LiveSysfs
	}
	if o.Etc == "" {
		o.Etc = "/"
	}
	b := &Bind{o: o, kind: "bind", target: o.Driver}
	if o.Driver == "vfio-pci" {
		var why []string
		if !f.IOMMU.KernelOn() && !f.IOMMU.NoIOMMU {
			why = append(why, "the IOMMU is off: turn it on with `dpdk-doctor fix cmdline --add intel_iommu=on` (and the firmware's VT-d), then reboot")
		}
		if f.IOMMU.VFIOKernel == iommu.VFIOAbsent {
			why = append(why, "this kernel has no vfio-pci: install a kernel with VFIO (CONFIG_VFIO_PCI)")
		}
		if len(why) > 0 {
			return nil, fmt.Errorf("%w: binding to vfio-pci cannot work on this host: %s. Nothing was changed", ErrRefused, strings.Join(why, "; "))
		}
	}
	seen := map[pci.Address]bool{}
	var refusals []string
	for _, a := range o.Devices {
		d := f.Devices.Get(a)
		if d == nil {
			return nil, fmt.Errorf("%w: %s is not on this host", ErrNoDevice, a)
		}
		group := []*pci.Device{d}
		if d.IOMMUGroup >= 0 {
			group = f.Devices.Group(d.IOMMUGroup)
		}
		var names []string
		for _, m := range group {
			names = append(names, m.Address.String())
		}
		for _, m := range group {
			if seen[m.Address] {
				continue
			}
			seen[m.Address] = true
			if m.Config.IsBridge() {
				b.skipped = append(b.skipped, fmt.Sprintf("%s is a bridge in IOMMU group %d; it stays with %s (the kernel allows bridges in a VFIO group)", m.Address, m.IOMMUGroup, orNone(m.Driver)))
				continue
			}
			if m.Address != a {
				b.skipped = append(b.skipped, fmt.Sprintf("%s shares IOMMU group %d with %s (members: %s), so it is bound too", m.Address, m.IOMMUGroup, a, strings.Join(names, ", ")))
			}
			if r := refusal(f, m, o); r != "" {
				refusals = append(refusals, r)
				continue
			}
			b.members = append(b.members, member{Address: m.Address.String(), Driver: m.Driver, Interfaces: m.Interfaces})
		}
	}
	if len(refusals) > 0 {
		return nil, fmt.Errorf("%w: %s. Nothing was changed (a group is bound whole or not at all)", ErrRefused, strings.Join(refusals, "; "))
	}
	for i := range b.members {
		m := &b.members[i]
		ov, err := o.Sysfs.Read(devAttr(m.Address, "driver_override"))
		if err != nil {
			return nil, err
		}
		m.Override = cleanOverride(ov)
	}
	if o.Persist {
		for _, m := range b.members {
			b.files = append(b.files, persistFor(o, m.Address))
		}
	}
	return b, nil
}

// refusal says why m cannot be bound, "" when it can.
func refusal(f *check.Facts, m *pci.Device, o BindOptions) string {
	a := m.Address.String()
	if o.Driver == "vfio-pci" {
		// The verdict decides, as it does for check: its lock and whether `fix rmrr` helps.
		if x := f.Judged(m); x.Lock.Locked() {
			how := "see `dpdk-doctor check --device " + a + "` for what frees it"
			if x.Conrep {
				how = "free it first with `dpdk-doctor fix rmrr " + a + "`"
			}
			return a + " is RMRR-locked, so the kernel refuses it to VFIO: " + how
		}
	}
	if f.InUse(m) && !o.Force {
		var us []string
		for _, u := range f.Uses(m) {
			if u.Active {
				us = append(us, u.String())
			}
		}
		return a + " has an interface the host uses (" + strings.Join(us, "; ") + "): binding it takes that away and can cut this host off; move the traffic first, or give --force"
	}
	return ""
}

// PlanUnbind works out giving devices back to their kernel driver: driver_override cleared, the
// device unbound from its driver (vfio-pci) and the kernel asked to probe it again.
func PlanUnbind(f *check.Facts, o BindOptions) (*Bind, error) {
	if o.Sysfs.Root == "" && o.Sysfs.View == nil {
		o.Sysfs = LiveSysfs
	}
	b := &Bind{o: o, kind: "unbind"}
	for _, a := range o.Devices {
		d := f.Devices.Get(a)
		if d == nil {
			return nil, fmt.Errorf("%w: %s is not on this host", ErrNoDevice, a)
		}
		ov, err := o.Sysfs.Read(devAttr(a.String(), "driver_override"))
		if err != nil {
			return nil, err
		}
		b.members = append(b.members, member{Address: a.String(), Driver: d.Driver, Override: cleanOverride(ov), Interfaces: d.Interfaces})
	}
	return b, nil
}

// Kind is "bind" or "unbind".
func (b *Bind) Kind() string { return b.kind }

// Plan is the list of sysfs writes and files, as commands an operator could type.
func (b *Bind) Plan() []string {
	var out []string
	out = append(out, b.skipped...)
	for _, m := range b.members {
		if b.kind == "bind" && m.Driver == b.target && m.Override == b.target {
			out = append(out, fmt.Sprintf("%s is bound to %s already", m.Address, b.target))
			continue
		}
		if b.kind == "unbind" && m.Override == "" && m.Driver != "" && m.Driver != "vfio-pci" {
			out = append(out, fmt.Sprintf("%s is with its kernel driver %s already", m.Address, m.Driver))
			continue
		}
		for _, ifc := range m.Interfaces {
			out = append(out, fmt.Sprintf("# %s's interface %s goes away; a rollback brings it back", m.Address, ifc))
		}
		ov := b.target
		if b.kind == "unbind" {
			ov = ""
		}
		if ov == "" {
			out = append(out, fmt.Sprintf("echo > /sys/bus/pci/devices/%s/driver_override   # clears it", m.Address))
		} else {
			out = append(out, fmt.Sprintf("echo %s > /sys/bus/pci/devices/%s/driver_override", shellJoin([]string{ov}), m.Address))
		}
		if m.Driver != "" {
			out = append(out, fmt.Sprintf("echo %s > /sys/bus/pci/devices/%s/driver/unbind   # from %s", m.Address, m.Address, m.Driver))
		}
		out = append(out, fmt.Sprintf("echo %s > /sys/bus/pci/drivers_probe", m.Address))
	}
	for _, f := range b.files {
		out = append(out, fmt.Sprintf("write %s: %s", f.Path, strings.TrimSpace(f.Content)))
	}
	return out
}

// Snapshot records every member's driver and driver_override, and the persist files' contents.
func (b *Bind) Snapshot() (json.RawMessage, error) {
	s := driversSnapshot{SysRoot: b.o.Sysfs.Root, Target: b.target, Members: b.members}
	for _, f := range b.files {
		f, err := f.keep()
		if err != nil {
			return nil, err
		}
		s.Files = append(s.Files, f)
	}
	return json.Marshal(s)
}

// Apply makes the writes: for each member, driver_override, unbind, drivers_probe. vfio-pci is
// loaded first when the kernel has it as a module that is not loaded.
func (b *Bind) Apply(ctx context.Context, out io.Writer) error {
	sys := b.o.Sysfs
	if b.kind == "bind" && b.target != "" && !sys.Exists("sys/bus/pci/drivers/"+b.target) {
		load := b.o.Modprobe
		if load == nil {
			load = modprobe
		}
		if err := load(ctx, b.target); err != nil {
			return fmt.Errorf("loading %s: %w", b.target, err)
		}
	}
	for _, m := range b.members {
		if err := ctx.Err(); err != nil {
			return err
		}
		ov := b.target
		if b.kind == "unbind" {
			ov = ""
		}
		if err := setDriver(sys, m.Address, ov); err != nil {
			return err
		}
	}
	for _, f := range b.files {
		if err := writeAtomicMode(f.Path, []byte(f.Content), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(out, "  wrote %s\n", f.Path)
	}
	return nil
}

// setDriver gives device a to the driver its driver_override ov names ("" clears it: the
// kernel's own driver takes it): override, unbind from the driver it has, drivers_probe.
func setDriver(sys Sysfs, a, ov string) error {
	if err := sys.Write(devAttr(a, "driver_override"), ovValue(ov)); err != nil {
		return err
	}
	if cur := sys.Link(devAttr(a, "driver")); cur != "" && cur != ov {
		if err := sys.Write(devAttr(a, "driver/unbind"), a); err != nil {
			return err
		}
	}
	if sys.Link(devAttr(a, "driver")) == "" {
		if err := sys.Write("sys/bus/pci/drivers_probe", a); err != nil {
			return err
		}
	}
	return nil
}

// Verify reads every member's driver link back.
func (b *Bind) Verify(ctx context.Context) (Outcome, error) {
	var o Outcome
	var bad []string
	for _, m := range b.members {
		got := b.o.Sysfs.Link(devAttr(m.Address, "driver"))
		switch {
		case b.kind == "bind" && got != b.target:
			bad = append(bad, fmt.Sprintf("%s is with %s, not %s", m.Address, orNone(got), b.target))
		case b.kind == "unbind" && (got == "" || got == "vfio-pci"):
			bad = append(bad, fmt.Sprintf("%s is with %s after the probe: no kernel driver took it", m.Address, orNone(got)))
		default:
			o.Notes = append(o.Notes, fmt.Sprintf("%s: driver %s (was %s)", m.Address, got, orNone(m.Driver)))
		}
	}
	for _, f := range b.files {
		o.Notes = append(o.Notes, fmt.Sprintf("%s makes it survive a reboot", f.Path))
	}
	if len(bad) > 0 {
		return o, errors.New(strings.Join(bad, "; "))
	}
	o.OK = true
	return o, nil
}

// undoDrivers puts every member back with its old driver_override and driver, and the persist
// files back as they were; it checks the driver links.
func undoDrivers(ctx context.Context, raw json.RawMessage, out io.Writer) error {
	var s driversSnapshot
	if err := json.Unmarshal(raw, &s); err != nil {
		return fmt.Errorf("the record's snapshot: %w", err)
	}
	sys := sysfsAt(s.SysRoot)
	var errs []string
	for _, f := range s.Files {
		var err error
		if f.Existed {
			err = writeAtomicMode(f.Path, []byte(f.Before), 0o644)
		} else {
			err = removeSynced(f.Path)
		}
		if err != nil {
			errs = append(errs, err.Error())
		} else {
			fmt.Fprintf(out, "  restored %s\n", f.Path)
		}
	}
	for _, m := range s.Members {
		if err := ctx.Err(); err != nil {
			return err
		}
		cur := sys.Link(devAttr(m.Address, "driver"))
		if err := sys.Write(devAttr(m.Address, "driver_override"), ovValue(m.Override)); err != nil {
			errs = append(errs, err.Error())
			continue
		}
		if cur == m.Driver {
			continue
		}
		if cur != "" {
			if err := sys.Write(devAttr(m.Address, "driver/unbind"), m.Address); err != nil {
				errs = append(errs, err.Error())
				continue
			}
		}
		if m.Driver != "" {
			if err := sys.Write("sys/bus/pci/drivers_probe", m.Address); err != nil {
				errs = append(errs, err.Error())
				continue
			}
		}
		if got := sys.Link(devAttr(m.Address, "driver")); got != m.Driver {
			errs = append(errs, fmt.Sprintf("%s is with %s, not back with %s", m.Address, orNone(got), orNone(m.Driver)))
			continue
		}
		fmt.Fprintf(out, "  %s is back with %s\n", m.Address, orNone(m.Driver))
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

// persistFor is the file that makes a's binding to o.Driver survive a reboot.
//
// With driverctl installed, it is driverctl's own file, /etc/driverctl.d/pci-ADDR holding the
// driver's name: operators of RHEL, Fedora and Debian hosts with driverctl know it (`driverctl
// list-overrides` shows it, `driverctl unset-override` removes it) and driverctl's udev rule
// applies it at boot, reprobing a device a driver took first. Without driverctl, a udev rule of
// ours sets the same driver_override when the device appears and loads the driver: udev applies
// ATTR{} assignments before it runs the module loading of 80-drivers.rules, so the kernel's own
// driver, loaded by that rule, skips the device. A modprobe.d softdep was not chosen: it orders
// module loading but cannot say which device goes to which driver, and blacklisting the kernel
// driver would take every port of that model from the host, not one.
func persistFor(o BindOptions, a string) persistFile {
	if o.Driverctl {
		return persistFile{Path: filepath.Join(o.Etc, "etc/driverctl.d", "pci-"+a), Content: o.Driver + "\n"}
	}
	rule := fmt.Sprintf("# Written by dpdk-doctor fix bind --persist: %s goes to %s at boot.\n"+
		"ACTION==\"add\", SUBSYSTEM==\"pci\", KERNEL==\"%s\", ATTR{driver_override}=\"%s\", RUN{builtin}+=\"kmod load %s\"\n",
		a, o.Driver, a, o.Driver, o.Driver)
	return persistFile{Path: filepath.Join(o.Etc, "etc/udev/rules.d", "61-dpdk-doctor-"+a+".rules"), Content: rule}
}

// sysfsAt is the Sysfs a rollback writes: the one the run wrote. Unit tests replace it to keep
// their kernel stand-in.
var sysfsAt = func(root string) Sysfs {
	if root == "" {
		return LiveSysfs
	}
	return Sysfs{Root: root}
}

func devAttr(a, attr string) string { return filepath.Join("sys/bus/pci/devices", a, attr) }

// cleanOverride reads driver_override: the kernel shows "(null)" when none is set.
func cleanOverride(s string) string {
	if s == "(null)" {
		return ""
	}
	return s
}

// ovValue is what clears driver_override when ov is "": a newline, as the kernel documents.
func ovValue(ov string) string {
	if ov == "" {
		return "\n"
	}
	return ov
}

func validDriverName(s string) bool {
	return s != "" && len(s) < 64 && strings.Trim(s, "abcdefghijklmnopqrstuvwxyz0123456789_-") == ""
}

func orNone(s string) string {
	if s == "" {
		return "no driver"
	}
	return s
}

func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }

// modprobe loads a module with modprobe(8).
func modprobe(ctx context.Context, module string) error {
	out, err := exec.CommandContext(ctx, "modprobe", "--", module).CombinedOutput()
	if err != nil {
		return fmt.Errorf("modprobe %s: %v: %s", module, err, strings.TrimSpace(string(out)))
	}
	return nil
}
