// Package check judges a host's readiness for DPDK and VFIO. Facts are read once (Gather);
// small checks, one file per area and registered in one list, turn them into findings, each
// with a verdict, the evidence read, an explanation and a remedy.
package check

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"sync"

	"github.com/dpdk-doctor/dpdk-doctor/cmdline"
	"github.com/dpdk-doctor/dpdk-doctor/cpu"
	"github.com/dpdk-doctor/dpdk-doctor/dmar"
	"github.com/dpdk-doctor/dpdk-doctor/host"
	"github.com/dpdk-doctor/dpdk-doctor/hugepages"
	"github.com/dpdk-doctor/dpdk-doctor/iommu"
	"github.com/dpdk-doctor/dpdk-doctor/ivrs"
	"github.com/dpdk-doctor/dpdk-doctor/kmsg"
	"github.com/dpdk-doctor/dpdk-doctor/netif"
	"github.com/dpdk-doctor/dpdk-doctor/pci"
	"github.com/dpdk-doctor/dpdk-doctor/platform"
	"github.com/dpdk-doctor/dpdk-doctor/verdict"
)

// Severity is a finding's verdict.
type Severity string

// Verdicts, from good to bad.
const (
	OK   Severity = "ok"
	Warn Severity = "warn"
	Fail Severity = "fail"
)

// Evidence is one fact a finding rests on: where it was read and what it said.
type Evidence struct {
	File  string `json:"file"`
	Value string `json:"value"`
}

// Finding is one judgement about the host or one of its devices.
type Finding struct {
	ID          string     `json:"id"`   // stable and dotted: "iommu.kernel", "device.rmrr"
	Area        string     `json:"area"` // the report section: "cpu", "iommu", "device", ...
	Severity    Severity   `json:"severity"`
	Subject     string     `json:"subject"` // "host", a PCI address, a NUMA node, a bridge or port
	Summary     string     `json:"summary"`
	Explanation string     `json:"explanation,omitempty"`
	Evidence    []Evidence `json:"evidence"`
	Remedy      []string   `json:"remedy"` // commands to run, or steps where no command exists
}

// Facts is everything read from a host, once, for the checks to judge.
type Facts struct {
	Root      host.Root
	CPU       cpu.Info
	CPUErr    error
	Cmdline   cmdline.Cmdline
	IOMMU     iommu.Info
	Hugepages hugepages.Info
	Devices   *pci.Devices
	DMAR      *dmar.Table // nil when the firmware has none or it could not be decoded
	DMARErr   error       // why a present table could not be decoded
	// RMRR is the DMAR table's view of each device (relax_rmrr counted only where the kernel
	// honours it). What the kernel will do is Verdict's answer, not this.
	RMRR     map[pci.Address]dmar.Verdict
	IVRS     *ivrs.Table // nil when the firmware has none or it could not be decoded
	IVRSErr  error       // why a present table could not be decoded
	Release  string      // the running kernel's release (proc/sys/kernel/osrelease)
	Hostname string      // proc/sys/kernel/hostname
	// Verdict is the one verdict on the host and every device, computed in Gather (or, with
	// Options.Lazy, by Judge) from the facts above; every judgement (check, devices, ovs, fix,
	// probe) reads it.
	Verdict   *verdict.Verdict
	Log       []kmsg.Line
	LogSource string
	LogErr    error // why the kernel log could not be read (not root), nil otherwise
	Platform  platform.Info
	Net       *netif.Info // how the host uses its network interfaces (never nil)
	NetErr    error       // why that could not be read; every interface then counts as in use
	Events    []kmsg.Event
	Selected  []*pci.Device // the devices judged one by one
	Explicit  bool          // Selected was named by the user (--device), not chosen by default

	// JudgeErr is the error an eager Gather would have returned from what Options.Lazy left
	// to Judge (a kernel log that cannot be read, for a reason other than permission); set by
	// Judge, for the caller to report as Gather's.
	JudgeErr error

	rmrrCount int
	later     func() // Judge's work left by Options.Lazy, once; nil when Gather did it
}

// Judged returns the verdict on d.
func (f *Facts) Judged(d *pci.Device) *verdict.Device {
	f.Judge()
	return f.Verdict.Of(d)
}

// intended reports whether d is meant for DPDK: named by the user, or already bound to a DPDK
// driver. A NIC the host still uses on its kernel driver is judged more gently.
func (f *Facts) intended(d *pci.Device) bool { return f.Explicit || IsDPDKDriver(d.Driver) }

// Options choose what Gather selects.
type Options struct {
	// Devices, when set, are the PCI addresses to judge; otherwise every network controller and
	// every device bound to a DPDK driver is judged.
	Devices []pci.Address
	// SSHConnection is the SSH_CONNECTION of the operator's session; on the live host it is
	// taken from the environment when empty. It names the interface that must not be unbound.
	SSHConnection string
	// NoNames says the caller prints no device names: the live host's pci.ids, which Gather
	// otherwise reads alongside for them (pci.ReadIDs), is left unread. The facts are the same.
	NoNames bool
	// Lazy leaves the kernel log, the interfaces' use, vfio-pci's availability and the verdict
	// for the first call that needs them (Judge, Judged): for a command that judges only the
	// devices its input names, such as ovs show, whose errors most often name no device of
	// this host, or none, such as plan. The verdict is the same; a kernel log that cannot be
	// read, which stops an eager Gather, is kept in JudgeErr.
	Lazy bool
}

// Gather reads every fact the checks need from r. It fails only when the host cannot be read at
// all or a requested device is not there; a fact that is missing is left for a check to judge.
//
// The kernel log, the network interfaces, the PCI devices and (on the live host) the PCI ID
// database are read at the same time as the rest (they take most of the time and depend on
// nothing else); errors are reported in the order of a sequential read. With Options.Lazy the
// kernel log, the interfaces' use, vfio-pci's availability and the verdict wait for the first
// call that needs them (Judge).
func Gather(r host.Root, o Options) (*Facts, error) {
	f := &Facts{Root: r}
	var wg sync.WaitGroup
	var pciErr error
	var waitLog func() error
	if !o.Lazy {
		waitLog = f.startLog()
		wg.Go(func() { f.readNet(o) })
	}
	wg.Go(func() { f.Devices, pciErr = pci.Read(r) })
	if r.IsLive() && !o.NoNames {
		wg.Go(func() { readIDsAhead(r) }) // read once per process: the report's names come from it
	}
	err := f.gatherHost(r, o.Lazy)
	wg.Wait()
	var logErr error
	if waitLog != nil {
		logErr = waitLog()
	}
	for _, e := range []error{err, pciErr, logErr} {
		if e != nil {
			return nil, e
		}
	}
	if len(o.Devices) > 0 {
		f.Explicit = true
		for _, a := range o.Devices {
			d := f.Devices.Get(a)
			if d == nil {
				return nil, fmt.Errorf("device %s: no such PCI device on %s (see `dpdk-doctor devices --all`)", a, r)
			}
			f.Selected = append(f.Selected, d)
		}
	} else {
		for _, d := range f.Devices.List {
			if d.IsNetwork() || IsDPDKDriver(d.Driver) {
				f.Selected = append(f.Selected, d)
			}
		}
	}
	if o.Lazy {
		f.later = sync.OnceFunc(func() {
			waitLog := f.startLog()
			f.IOMMU.ReadVFIO(r)
			f.readNet(o)
			if err := waitLog(); err != nil {
				// Gather would have failed on it; here the verdict goes on without the log, as
				// when it is not root's to read, and the error is kept for the caller.
				f.LogErr, f.JudgeErr = err, err
			}
			f.judgeNow()
		})
		return f, nil
	}
	f.judgeNow()
	return f, nil
}

// Judge reads what Options.Lazy left unread (the kernel log, the interfaces' use, vfio-pci's
// availability) and computes the verdict, once; afterwards Verdict, RMRR, Log, Events, Net and
// IOMMU's VFIO fields are set. On facts gathered eagerly it does nothing. Judged, Uses, InUse,
// Run and the remedies call it; code that reads those fields directly calls it first.
func (f *Facts) Judge() {
	if f.later != nil {
		f.later()
	}
}

// readNet reads how the host uses its network interfaces into f (every interface counts as
// in use when that cannot be read).
func (f *Facts) readNet(o Options) {
	ssh := o.SSHConnection
	if ssh == "" && f.Root.IsLive() {
		ssh = os.Getenv("SSH_CONNECTION")
	}
	if f.Net, f.NetErr = netif.Read(f.Root, netif.Options{SSHConnection: ssh}); f.NetErr != nil {
		f.Net = &netif.Info{Links: map[string]*netif.Link{}}
	}
}

// startLog starts reading the kernel log into f; the function it returns waits for it and
// gives the error that stops Gather (a refusal to a user who is not root is only noted).
func (f *Facts) startLog() func() error {
	var err error
	done := make(chan struct{})
	go func() {
		defer close(done)
		var log []byte
		log, f.LogSource, err = f.Root.KernelLog()
		if errors.Is(err, fs.ErrPermission) {
			f.LogErr, err = err, nil
		}
		if err == nil {
			f.Log = kmsg.Parse(log)
			f.Events = kmsg.Events(f.Log)
		}
	}()
	return func() error {
		<-done
		return err
	}
}

// judgeNow computes the verdict from the facts read.
func (f *Facts) judgeNow() {
	f.Verdict = f.judge()
	f.RMRR = make(map[pci.Address]dmar.Verdict, len(f.Verdict.Devices))
	for a, x := range f.Verdict.Devices {
		f.RMRR[a] = x.Lock.RMRR
	}
}

// gatherHost reads the small host facts, in order: the command line first (huge pages and the
// IOMMU depend on it). With lazy, vfio-pci's availability is left to Judge. Its error is the
// IOMMU's or the huge pages'; the rest are left to judge.
func (f *Facts) gatherHost(r host.Root, lazy bool) error {
	f.Cmdline = cmdline.Read(r)
	f.CPU, f.CPUErr = cpu.Read(r)
	var err error
	if f.IOMMU, err = iommu.ReadState(r); err != nil {
		return err
	}
	if !lazy {
		f.IOMMU.ReadVFIO(r) // else Judge reads it
	}
	if f.Hugepages, err = hugepages.Read(r, f.Cmdline); err != nil {
		return err
	}
	if b, err := r.ReadFile(iommu.DMARTable); err == nil {
		f.DMAR, f.DMARErr = dmar.Parse(b)
		if f.DMARErr != nil {
			f.DMAR = nil
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		f.DMARErr = err
	}
	if f.DMAR != nil {
		f.rmrrCount = len(f.DMAR.RMRRs())
	}
	if f.IOMMU.FirmwareTable == "IVRS" {
		f.IVRS, f.IVRSErr = ivrs.Read(r)
	}
	f.Release, _ = r.ReadString("proc/sys/kernel/osrelease")
	f.Hostname, _ = r.ReadString("proc/sys/kernel/hostname")
	if f.CPUErr == nil {
		f.Platform = platform.ReadWithCPUFlags(r, f.CPU.Flags) // proc/cpuinfo once
	} else {
		f.Platform = platform.Read(r)
	}
	return nil
}

// amdRegions reports whether the host's reserved regions come from AMD IVMDs: the firmware
// table decides (a QEMU guest on an AMD host has an AMD CPU and an Intel IOMMU); the CPU only
// when there is no table.
func (f *Facts) amdRegions() bool {
	switch f.IOMMU.FirmwareTable {
	case "IVRS":
		return true
	case "DMAR":
		return false
	}
	return f.isAMD()
}

// judge reads the IOMMU groups' reserved regions (each group's file once) and computes the
// verdict; nothing reads the host after it.
func (f *Facts) judge() *verdict.Verdict {
	regions := map[int][]iommu.Region{}
	for _, d := range f.Devices.List {
		g := d.IOMMUGroup
		if _, seen := regions[g]; g < 0 || seen {
			continue
		}
		regions[g], _ = iommu.ReadRegions(f.Root, g)
	}
	return verdict.Compute(verdict.Facts{
		Devices: f.Devices, DMAR: f.DMAR, IVRS: f.IVRS, Release: f.Release, Cmdline: f.Cmdline,
		IOMMU: f.IOMMU, Platform: f.Platform, AMD: f.amdRegions(), Events: f.Events, Regions: regions,
		Active: f.inUse, // not InUse: that waits for Judge, which is running this
	})
}

// readIDsAhead reads pci.ids into pci's process-wide cache (a variable for tests to watch).
var readIDsAhead = func(r host.Root) { pci.ReadIDs(r) }

// IsDPDKDriver reports whether a kernel driver hands the device to user space for DPDK.
func IsDPDKDriver(drv string) bool {
	return drv == "vfio-pci" || drv == "uio_pci_generic" || drv == "igb_uio"
}

// A checker turns facts into findings for one area.
type checker struct {
	area string
	run  func(*Facts) []Finding
}

// checkers is the one list of checks, in report order.
var checkers = []checker{
	{"cpu", checkCPU},
	{"iommu", checkIOMMU},
	{"hugepages", checkHugepages},
	{"vfio", checkVFIO},
	{"device", checkDevices},
	{"kernel-log", checkKernelLog},
}

// Areas lists the report's sections in order.
func Areas() []string {
	var out []string
	for _, c := range checkers {
		out = append(out, c.area)
	}
	return append(out, extraAreas...)
}

// extraAreas are sections whose findings come from outside Run (the OVS section).
var extraAreas = []string{"ovs"}

// Run judges the facts and returns every finding, area by area.
func Run(f *Facts) []Finding {
	f.Judge()
	out := make([]Finding, 0, 16+5*len(f.Selected))
	for _, c := range checkers {
		start := len(out)
		out = append(out, c.run(f)...)
		for i := start; i < len(out); i++ {
			fd := &out[i]
			fd.Area = c.area
			if fd.Evidence == nil {
				fd.Evidence = []Evidence{}
			}
			if fd.Remedy == nil {
				fd.Remedy = []string{}
			}
		}
	}
	return out
}

// Worst returns the worst severity among findings (OK when there are none).
func Worst(fs []Finding) Severity {
	w := OK
	for _, f := range fs {
		if rank(f.Severity) > rank(w) {
			w = f.Severity
		}
	}
	return w
}

func rank(s Severity) int { return slices.Index([]Severity{OK, Warn, Fail}, s) }
