// Package vfio asks the running kernel whether it will hand a PCI device to user space, the way
// DPDK's EAL does: open the VFIO container and the device's IOMMU group, check the group is
// viable, put the group in the container, set the IOMMU type, and optionally take a device file
// descriptor. Each step's errno is named, the step that failed is reported with the kernel log
// line that explains it (an RMRR refusal), and everything is released again.
//
// A probe is read-only: it never binds, unbinds or changes a driver, and a group already held by
// someone else (a VM, a running DPDK) answers EBUSY and is reported as in use. It is safe on a
// production host.
package vfio

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"syscall"

	"github.com/dpdk-doctor/dpdk-doctor/host"
	"github.com/dpdk-doctor/dpdk-doctor/kmsg"
	"github.com/dpdk-doctor/dpdk-doctor/pci"
)

// Outcome is what the kernel answered for one device.
type Outcome string

// Outcomes, from good to bad.
const (
	Attached  Outcome = "attached"   // every step succeeded: DPDK could take the device
	Refused   Outcome = "refused"    // a step failed: see Step and Errno
	InUse     Outcome = "in-use"     // the group is open elsewhere (EBUSY): a VM or a running DPDK holds it
	NotViable Outcome = "not-viable" // the group has members on other drivers
	NotBound  Outcome = "not-bound"  // the device is not on vfio-pci (nothing was opened)
	NoGroup   Outcome = "no-group"   // the device has no IOMMU group (the IOMMU is off)
	NoDevice  Outcome = "no-device"  // no such PCI device
)

// Steps of a probe, in the order they are taken (names as reported in Result.Step).
const (
	StepGroup        = "find IOMMU group"
	StepDriver       = "check driver"
	StepOpenContain  = "open /dev/vfio/vfio"
	StepAPIVersion   = "VFIO_GET_API_VERSION"
	StepExtension    = "VFIO_CHECK_EXTENSION"
	StepOpenGroup    = "open group"
	StepGroupStatus  = "VFIO_GROUP_GET_STATUS"
	StepSetContainer = "VFIO_GROUP_SET_CONTAINER"
	StepSetIOMMU     = "VFIO_SET_IOMMU"
	StepDeviceFD     = "VFIO_GROUP_GET_DEVICE_FD"
)

// Step is one step of a probe and its answer.
type Step struct {
	Name  string `json:"name"`
	OK    bool   `json:"ok"`
	Errno string `json:"errno,omitempty"` // "EPERM", when the kernel returned an error number
	Info  string `json:"info,omitempty"`  // what the step found ("type1v2", "viable")
}

// Result is the kernel's answer for one device. Its JSON form is `dpdk-doctor probe --json`'s
// contract.
type Result struct {
	Device    string   `json:"device"`
	Driver    string   `json:"driver"`
	Group     *int     `json:"iommu_group"`
	Members   []string `json:"iommu_group_members"` // the other devices in the group
	Outcome   Outcome  `json:"outcome"`
	Step      string   `json:"step,omitempty"`  // the step that failed
	Errno     string   `json:"errno,omitempty"` // its errno by name
	Error     string   `json:"error,omitempty"` // one sentence for a person
	IOMMUType string   `json:"iommu_type,omitempty"`
	Steps     []Step   `json:"steps"`
	KernelLog []string `json:"kernel_log"` // the kernel's lines about the refusal, new since the probe began
	Remedy    []string `json:"remedy"`
}

// Options tune a probe.
type Options struct {
	// DeviceFD also takes a device file descriptor (VFIO_GROUP_GET_DEVICE_FD), the last thing
	// DPDK does before it maps the BARs. vfio-pci enables the device and tries a function reset
	// when it is opened, as when DPDK starts; it is only reached for a device on vfio-pci whose
	// group nobody else holds.
	DeviceFD bool
}

// ioctl numbers and values from linux/vfio.h: _IO(';', 100 + n).
const (
	vfioGetAPIVersion       = 0x3b64
	vfioCheckExtension      = 0x3b65
	vfioSetIOMMU            = 0x3b66
	vfioGroupGetStatus      = 0x3b67
	vfioGroupSetContainer   = 0x3b68
	vfioGroupUnsetContainer = 0x3b69
	vfioGroupGetDeviceFD    = 0x3b6a

	vfioAPIVersion = 0
	vfioType1      = 1
	vfioType1v2    = 3
	vfioNoIOMMU    = 8

	groupFlagViable = 1 << 0
)

// kernel is the system calls a probe makes; tests replace it.
type kernel interface {
	open(name string) (int, error)
	close(fd int) error
	ioctl(fd int, req uintptr, arg uintptr) (int, error)
	ioctlPtr(fd int, req uintptr, arg any) (int, error) // arg: *int32, *groupStatus or string
}

type groupStatus struct{ argsz, flags uint32 }

// Prober probes devices on one host.
type Prober struct {
	root host.Root
	k    kernel
}

// New returns a prober for the running kernel. root must be the live host: the sysfs it reads
// has to describe the kernel it asks.
func New(root host.Root) (*Prober, error) {
	if !root.IsLive() {
		return nil, fmt.Errorf("a VFIO probe asks the running kernel; %s is a captured tree, not this host", root)
	}
	return &Prober{root: root, k: sysKernel{}}, nil
}

// Probe asks the kernel about each device in turn and releases everything before returning.
func (p *Prober) Probe(devs []pci.Address, o Options) []Result {
	out := make([]Result, 0, len(devs))
	for _, d := range devs {
		out = append(out, p.probe(d, o))
	}
	return out
}

func (p *Prober) devPath(a pci.Address, f string) string {
	return "sys/bus/pci/devices/" + a.String() + "/" + f
}

func (p *Prober) probe(a pci.Address, o Options) (res Result) {
	res = Result{Device: a.String(), Members: []string{}, Steps: []Step{}, KernelLog: []string{}, Remedy: []string{}}
	if !p.root.Exists(p.devPath(a, "config")) {
		res.Outcome, res.Step = NoDevice, StepGroup
		res.Error = "no PCI device " + a.String() + " on this host (" + p.root.Path(p.devPath(a, "")) + " is absent)"
		return res
	}
	if drv, err := p.root.ReadLink(p.devPath(a, "driver")); err == nil {
		res.Driver = path.Base(drv)
	}
	g, err := Group(p.root, a)
	if err != nil {
		res.fail(StepGroup, nil, err.Error())
		res.Outcome = NoGroup
		res.Remedy = []string{"# the IOMMU is off: enable VT-d/AMD-Vi in the firmware and boot with intel_iommu=on (see `dpdk-doctor check`)"}
		return res
	}
	res.Group = &g
	res.Members = Members(p.root, g, a)
	res.Steps = append(res.Steps, Step{Name: StepGroup, OK: true, Info: strconv.Itoa(g)})
	if res.Driver != "vfio-pci" {
		res.fail(StepDriver, nil, "on driver "+orNone(res.Driver)+", not vfio-pci: nothing to probe until it is bound")
		res.Outcome = NotBound
		res.Remedy = bindRemedy(a)
		return res
	}
	res.Steps = append(res.Steps, Step{Name: StepDriver, OK: true, Info: "vfio-pci"})

	before, _, _ := p.root.KernelLog()
	p.attach(&res, g, o)
	if res.Outcome == Refused || res.Outcome == NotViable {
		after, _, _ := p.root.KernelLog()
		res.KernelLog = matchLog(before, after, res.Device, res.Members)
	}
	return res
}

// attach takes the steps DPDK takes, closing what it opened in reverse order.
func (p *Prober) attach(res *Result, g int, o Options) {
	k := p.k
	var closers []int
	defer func() {
		for i := len(closers) - 1; i >= 0; i-- {
			k.close(closers[i])
		}
	}()
	cfd, err := k.open("/dev/vfio/vfio")
	if err != nil {
		res.refuse(StepOpenContain, err, "cannot open the VFIO container (is the vfio module loaded?)")
		return
	}
	closers = append(closers, cfd)
	v, err := k.ioctl(cfd, vfioGetAPIVersion, 0)
	if err != nil || v != vfioAPIVersion {
		res.refuse(StepAPIVersion, err, fmt.Sprintf("unexpected VFIO API version %d", v))
		return
	}
	res.Steps = append(res.Steps, Step{Name: StepOpenContain, OK: true}, Step{Name: StepAPIVersion, OK: true, Info: "0"})

	groupDev := fmt.Sprintf("/dev/vfio/%d", g)
	types := []struct {
		name string
		t    uintptr
	}{{"type1v2", vfioType1v2}, {"type1", vfioType1}}
	if p.root.Exists(fmt.Sprintf("dev/vfio/noiommu-%d", g)) {
		groupDev = fmt.Sprintf("/dev/vfio/noiommu-%d", g)
		types = types[:0]
		types = append(types, struct {
			name string
			t    uintptr
		}{"noiommu", vfioNoIOMMU})
	}
	typ := types[0]
	found := false
	for _, t := range types {
		if n, err := k.ioctl(cfd, vfioCheckExtension, t.t); err == nil && n > 0 {
			typ, found = t, true
			break
		}
	}
	if !found {
		res.refuse(StepExtension, nil, "the container supports none of the IOMMU types DPDK uses (type1v2, type1)")
		return
	}
	res.Steps = append(res.Steps, Step{Name: StepExtension, OK: true, Info: typ.name})

	gfd, err := k.open(groupDev)
	if err != nil {
		if errors.Is(err, syscall.EBUSY) {
			res.Steps = append(res.Steps, Step{Name: StepOpenGroup, Errno: ErrnoName(err)})
			res.Step, res.Errno, res.Outcome = StepOpenGroup, "EBUSY", InUse
			res.Error = "IOMMU group " + strconv.Itoa(g) + " is open elsewhere: a VM, a running DPDK application or OVS holds it"
			return
		}
		res.refuse(StepOpenGroup, err, "cannot open "+groupDev)
		return
	}
	closers = append(closers, gfd)
	res.Steps = append(res.Steps, Step{Name: StepOpenGroup, OK: true, Info: groupDev})

	st := groupStatus{argsz: 8}
	if _, err := k.ioctlPtr(gfd, vfioGroupGetStatus, &st); err != nil {
		res.refuse(StepGroupStatus, err, "cannot read the group's status")
		return
	}
	if st.flags&groupFlagViable == 0 {
		res.Steps = append(res.Steps, Step{Name: StepGroupStatus, Info: "not viable"})
		res.Step, res.Outcome = StepGroupStatus, NotViable
		res.Error = "IOMMU group " + strconv.Itoa(g) + " is not viable: not all its devices are bound to vfio-pci or unbound"
		for _, m := range res.Members {
			res.Remedy = append(res.Remedy, bindRemedy(mustAddr(m))...)
		}
		return
	}
	res.Steps = append(res.Steps, Step{Name: StepGroupStatus, OK: true, Info: "viable"})

	fd32 := int32(cfd)
	if _, err := k.ioctlPtr(gfd, vfioGroupSetContainer, &fd32); err != nil {
		res.refuse(StepSetContainer, err, "the kernel refused to put the group in a container")
		return
	}
	res.Steps = append(res.Steps, Step{Name: StepSetContainer, OK: true})
	defer k.ioctl(gfd, vfioGroupUnsetContainer, 0) // runs before the closes above

	if _, err := k.ioctl(cfd, vfioSetIOMMU, typ.t); err != nil {
		res.refuse(StepSetIOMMU, err, "the kernel refused to set up the IOMMU for the group")
		return
	}
	res.IOMMUType = typ.name
	res.Steps = append(res.Steps, Step{Name: StepSetIOMMU, OK: true, Info: typ.name})

	if o.DeviceFD {
		dfd, err := k.ioctlPtr(gfd, vfioGroupGetDeviceFD, res.Device)
		if err != nil {
			res.refuse(StepDeviceFD, err, "the kernel refused a device file descriptor")
			return
		}
		closers = append(closers, dfd)
		res.Steps = append(res.Steps, Step{Name: StepDeviceFD, OK: true})
	}
	res.Outcome = Attached
}

func (r *Result) fail(step string, err error, msg string) {
	r.Step = step
	r.Errno = ErrnoName(err)
	r.Error = msg
	r.Steps = append(r.Steps, Step{Name: step, Errno: r.Errno})
}

func (r *Result) refuse(step string, err error, msg string) {
	r.fail(step, err, msg)
	r.Outcome = Refused
	if err != nil {
		r.Error = msg + ": " + err.Error()
	}
}

// Group returns the IOMMU group of device a, from sys/bus/pci/devices/A/iommu_group.
func Group(r host.Root, a pci.Address) (int, error) {
	rel := "sys/bus/pci/devices/" + a.String() + "/iommu_group"
	l, err := r.ReadLink(rel)
	if errors.Is(err, fs.ErrNotExist) {
		return -1, fmt.Errorf("%s is absent: the device has no IOMMU group (the IOMMU is off)", r.Path(rel))
	}
	if err != nil {
		return -1, fmt.Errorf("reading %s: %w", r.Path(rel), err)
	}
	g, err := strconv.Atoi(path.Base(l))
	if err != nil || g < 0 {
		return -1, fmt.Errorf("%s points to %q, not a group number", r.Path(rel), l)
	}
	return g, nil
}

// Members lists the devices of IOMMU group g other than a, from sys/kernel/iommu_groups/G/devices.
func Members(r host.Root, g int, a pci.Address) []string {
	out := []string{}
	es, err := r.ReadDir("sys/kernel/iommu_groups/" + strconv.Itoa(g) + "/devices")
	if err != nil {
		return out
	}
	for _, e := range es {
		if e.Name() != a.String() {
			out = append(out, e.Name())
		}
	}
	return out
}

// matchLog returns the kernel's refusal lines for the device or its group members: the ones
// logged since before (the probe's own), else the last such line logged earlier.
func matchLog(before, after []byte, dev string, members []string) []string {
	want := map[string]bool{dev: true}
	for _, m := range members {
		want[m] = true
	}
	pick := func(b []byte) []string {
		var out []string
		for _, e := range kmsg.Events(kmsg.Parse(b)) {
			if (e.Kind == kmsg.RMRRIneligible || e.Kind == kmsg.RMRRIdentity) && (e.Device == "" || want[e.Device]) {
				out = append(out, e.Line.Text)
			}
		}
		return out
	}
	old, now := pick(before), pick(after)
	if len(now) > len(old) {
		return now[len(old):]
	}
	if len(now) > 0 {
		return now[len(now)-1:]
	}
	return []string{}
}

func bindRemedy(a pci.Address) []string {
	s := a.String()
	return []string{
		"modprobe vfio-pci",
		"echo vfio-pci > /sys/bus/pci/devices/" + s + "/driver_override",
		"echo " + s + " > /sys/bus/pci/devices/" + s + "/driver/unbind   # when a driver is bound",
		"echo " + s + " > /sys/bus/pci/drivers_probe",
	}
}

func mustAddr(s string) pci.Address {
	a, _ := pci.ParseAddress(s)
	return a
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// ErrnoName names an error's errno as C does ("EPERM"), or "" when err carries none.
func ErrnoName(err error) string {
	var e syscall.Errno
	if !errors.As(err, &e) {
		return ""
	}
	if n, ok := errnoNames[e]; ok {
		return n
	}
	return "errno " + strconv.Itoa(int(e))
}

var errnoNames = map[syscall.Errno]string{
	syscall.EPERM: "EPERM", syscall.ENOENT: "ENOENT", syscall.EINTR: "EINTR", syscall.EIO: "EIO",
	syscall.ENXIO: "ENXIO", syscall.EBADF: "EBADF", syscall.EAGAIN: "EAGAIN", syscall.ENOMEM: "ENOMEM",
	syscall.EACCES: "EACCES", syscall.EFAULT: "EFAULT", syscall.EBUSY: "EBUSY", syscall.EEXIST: "EEXIST",
	syscall.ENODEV: "ENODEV", syscall.ENOTDIR: "ENOTDIR", syscall.EINVAL: "EINVAL", syscall.ENOSPC: "ENOSPC",
	syscall.ENOTTY: "ENOTTY", syscall.ENOSYS: "ENOSYS", syscall.EOPNOTSUPP: "EOPNOTSUPP",
	syscall.EROFS: "EROFS", syscall.EMFILE: "EMFILE", syscall.ENFILE: "ENFILE",
}

// Summary says a result in one line for a person.
func (r Result) Summary() string {
	switch r.Outcome {
	case Attached:
		return "attached: the kernel gives it to VFIO (IOMMU type " + r.IOMMUType + "); released again"
	case InUse:
		return "in use: " + r.Error
	case Refused:
		s := "refused at " + r.Step
		if r.Errno != "" {
			s += " with " + r.Errno
		}
		return s
	}
	return string(r.Outcome) + ": " + r.Error
}
