package vfio

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/dpdk-doctor/dpdk-doctor/host"
	"github.com/dpdk-doctor/dpdk-doctor/pci"
)

func TestErrnoName(t *testing.T) {
	for err, want := range map[error]string{
		syscall.EPERM:  "EPERM",
		syscall.EINVAL: "EINVAL",
		syscall.EBUSY:  "EBUSY",
		&os.PathError{Op: "open", Path: "/dev/vfio/7", Err: syscall.ENOENT}: "ENOENT",
		syscall.Errno(200): "errno 200",
		os.ErrClosed:       "",
		nil:                "",
	} {
		if got := ErrnoName(err); got != want {
			t.Errorf("ErrnoName(%v) = %q, want %q", err, got, want)
		}
	}
}

func TestGroupOnTrees(t *testing.T) {
	r, err := host.Dir("../testdata/hosts/dl360e-gen8")
	if err != nil {
		t.Fatal(err)
	}
	a, _ := pci.ParseAddress("0000:03:00.0")
	g, err := Group(r, a)
	if err != nil || g < 0 {
		t.Fatalf("Group(03:00.0) = %d, %v", g, err)
	}
	off, err := host.Dir("../testdata/hosts/iommu-off-kernel")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pci.ParseAddress("0000:02:00.0")
	if g, err := Group(off, b); err == nil || !strings.Contains(err.Error(), "no IOMMU group") {
		t.Fatalf("Group on an IOMMU-off host = %d, %v; want a no-group error", g, err)
	}
}

func TestNewRefusesTrees(t *testing.T) {
	r, err := host.Dir("../testdata/hosts/dl360e-gen8")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(r); err == nil {
		t.Fatal("New accepted a captured tree: a probe must ask the running kernel only")
	}
}

func TestMatchLog(t *testing.T) {
	old := "[    1.0] vfio-pci 0000:01:00.0: DMAR: Device is ineligible for IOMMU domain attach due to platform RMRR requirement.  Contact your platform vendor.\n"
	now := old + "[    2.0] e1000e 0000:02:00.0: something else\n" +
		"[    3.0] vfio-pci 0000:07:00.1: Firmware has requested this device have a 1:1 IOMMU mapping, rejecting configuring the device without a 1:1 mapping. Contact your platform vendor.\n"
	got := matchLog([]byte(old), []byte(now), "0000:07:00.0", []string{"0000:07:00.1"})
	if len(got) != 1 || !strings.Contains(got[0], "0000:07:00.1: Firmware has requested") {
		t.Fatalf("new line for a group member: got %q", got)
	}
	if got := matchLog([]byte(old), []byte(now), "0000:05:00.0", nil); len(got) != 0 {
		t.Fatalf("lines about other devices matched: %q", got)
	}
	if got := matchLog([]byte(old), []byte(old), "0000:01:00.0", nil); len(got) != 1 {
		t.Fatalf("an earlier line is the fallback: got %q", got)
	}
}

// fake is a kernel that answers as told and records what was called.
type fake struct {
	t        *testing.T
	calls    []string
	fds      map[int]bool
	next     int
	openErr  map[string]error
	ioctlErr map[uintptr]error
	flags    uint32
	onIoctl  func(req uintptr)
}

func newFake(t *testing.T) *fake {
	return &fake{t: t, fds: map[int]bool{}, next: 3, openErr: map[string]error{}, ioctlErr: map[uintptr]error{}, flags: groupFlagViable}
}

func (f *fake) open(name string) (int, error) {
	f.calls = append(f.calls, "open "+name)
	if err := f.openErr[name]; err != nil {
		return -1, err
	}
	f.next++
	f.fds[f.next] = true
	return f.next, nil
}

func (f *fake) close(fd int) error {
	if !f.fds[fd] {
		f.t.Errorf("close of fd %d that is not open", fd)
	}
	delete(f.fds, fd)
	f.calls = append(f.calls, "close")
	return nil
}

func (f *fake) ioctl(fd int, req uintptr, arg uintptr) (int, error) {
	return f.do(fd, req, func() int {
		if req == vfioCheckExtension {
			return 1
		}
		return 0
	})
}

func (f *fake) ioctlPtr(fd int, req uintptr, arg any) (int, error) {
	return f.do(fd, req, func() int {
		switch a := arg.(type) {
		case *groupStatus:
			a.flags = f.flags
		case string:
			f.next++
			f.fds[f.next] = true
			return f.next
		}
		return 0
	})
}

func (f *fake) do(fd int, req uintptr, ok func() int) (int, error) {
	if !f.fds[fd] {
		f.t.Errorf("ioctl %#x on fd %d that is not open", req, fd)
	}
	f.calls = append(f.calls, names[req])
	if f.onIoctl != nil {
		f.onIoctl(req)
	}
	if err := f.ioctlErr[req]; err != nil {
		return -1, err
	}
	return ok(), nil
}

var names = map[uintptr]string{
	vfioGetAPIVersion: StepAPIVersion, vfioCheckExtension: StepExtension, vfioSetIOMMU: StepSetIOMMU,
	vfioGroupGetStatus: StepGroupStatus, vfioGroupSetContainer: StepSetContainer,
	vfioGroupUnsetContainer: "VFIO_GROUP_UNSET_CONTAINER", vfioGroupGetDeviceFD: StepDeviceFD,
}

// tree writes a minimal host: 0000:01:00.0 on driver in IOMMU group 7 with a sibling 0000:01:00.1.
func tree(t *testing.T, driver string) (host.Root, string) {
	dir := t.TempDir()
	dev := filepath.Join(dir, "sys/devices/pci0000:00/0000:00:02.0/0000:01:00.0")
	mk := func(p string) {
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	mk(dev)
	mk(filepath.Join(dir, "sys/bus/pci/devices"))
	mk(filepath.Join(dir, "sys/bus/pci/drivers", driver))
	mk(filepath.Join(dir, "sys/kernel/iommu_groups/7/devices"))
	mk(filepath.Join(dir, "var/log"))
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(dev, "config"), make([]byte, 64), 0o644))
	// Links name their targets as the host would ("/sys/..."): a tree is read as a chroot sees it.
	in := func(p string) string { return strings.TrimPrefix(p, dir) }
	must(os.Symlink(in(dev), filepath.Join(dir, "sys/bus/pci/devices/0000:01:00.0")))
	must(os.Symlink(in(filepath.Join(dir, "sys/bus/pci/drivers", driver)), filepath.Join(dev, "driver")))
	must(os.Symlink(in(filepath.Join(dir, "sys/kernel/iommu_groups/7")), filepath.Join(dev, "iommu_group")))
	must(os.Symlink(in(dev), filepath.Join(dir, "sys/kernel/iommu_groups/7/devices/0000:01:00.0")))
	must(os.Symlink(in(dev), filepath.Join(dir, "sys/kernel/iommu_groups/7/devices/0000:01:00.1")))
	must(os.WriteFile(filepath.Join(dir, "var/log/dmesg"), []byte("[    0.1] Linux version 6.1.0\n"), 0o644))
	r, err := host.Dir(dir)
	must(err)
	return r, dir
}

var dev = pci.Address{Bus: 1}

func TestProbeRefusedNamesStepErrnoAndLogLine(t *testing.T) {
	r, dir := tree(t, "vfio-pci")
	k := newFake(t)
	k.ioctlErr[vfioGroupSetContainer] = syscall.EPERM
	k.onIoctl = func(req uintptr) {
		if req == vfioGroupSetContainer { // the kernel logs while refusing
			f, _ := os.OpenFile(filepath.Join(dir, "var/log/dmesg"), os.O_APPEND|os.O_WRONLY, 0)
			f.WriteString("[    9.9] vfio-pci 0000:01:00.0: DMAR: Device is ineligible for IOMMU domain attach due to platform RMRR requirement.  Contact your platform vendor.\n")
			f.Close()
		}
	}
	res := (&Prober{root: r, k: k}).Probe([]pci.Address{dev}, Options{DeviceFD: true})[0]
	if res.Outcome != Refused || res.Step != StepSetContainer || res.Errno != "EPERM" {
		t.Fatalf("got %s at %q with %q, want refused at %s with EPERM", res.Outcome, res.Step, res.Errno, StepSetContainer)
	}
	if len(res.KernelLog) != 1 || !strings.Contains(res.KernelLog[0], "ineligible") {
		t.Errorf("kernel log = %q, want the RMRR line", res.KernelLog)
	}
	if *res.Group != 7 || !slices.Equal(res.Members, []string{"0000:01:00.1"}) {
		t.Errorf("group %d members %v", *res.Group, res.Members)
	}
	if len(k.fds) != 0 {
		t.Errorf("left open: %v (calls %v)", k.fds, k.calls)
	}
	if n := len(k.calls); n < 2 || k.calls[n-1] != "close" || k.calls[n-2] != "close" {
		t.Errorf("calls %v: want both fds closed at the end", k.calls)
	}
}

func TestProbeAttachedReleasesInReverse(t *testing.T) {
	r, _ := tree(t, "vfio-pci")
	k := newFake(t)
	res := (&Prober{root: r, k: k}).Probe([]pci.Address{dev}, Options{DeviceFD: true})[0]
	if res.Outcome != Attached || res.IOMMUType != "type1v2" {
		t.Fatalf("got %+v", res)
	}
	want := []string{"open /dev/vfio/vfio", StepAPIVersion, StepExtension, "open /dev/vfio/7", StepGroupStatus,
		StepSetContainer, StepSetIOMMU, StepDeviceFD, "VFIO_GROUP_UNSET_CONTAINER", "close", "close", "close"}
	if !slices.Equal(k.calls, want) {
		t.Errorf("calls\n %v\nwant\n %v", k.calls, want)
	}
	if len(k.fds) != 0 {
		t.Errorf("left open: %v", k.fds)
	}
}

func TestProbeInUseNotViableNotBound(t *testing.T) {
	r, _ := tree(t, "vfio-pci")
	k := newFake(t)
	k.openErr["/dev/vfio/7"] = &os.PathError{Op: "open", Path: "/dev/vfio/7", Err: syscall.EBUSY}
	if res := (&Prober{root: r, k: k}).Probe([]pci.Address{dev}, Options{})[0]; res.Outcome != InUse || res.Errno != "EBUSY" {
		t.Errorf("EBUSY on the group: got %s %s", res.Outcome, res.Errno)
	}
	if len(k.fds) != 0 {
		t.Errorf("left open: %v", k.fds)
	}

	k = newFake(t)
	k.flags = 0
	res := (&Prober{root: r, k: k}).Probe([]pci.Address{dev}, Options{})[0]
	if res.Outcome != NotViable || res.Step != StepGroupStatus || slices.Contains(k.calls, StepSetContainer) {
		t.Errorf("non-viable group: got %s at %s, calls %v", res.Outcome, res.Step, k.calls)
	}
	if len(res.Remedy) == 0 || !strings.Contains(strings.Join(res.Remedy, "\n"), "0000:01:00.1") {
		t.Errorf("remedy should bind the sibling: %q", res.Remedy)
	}

	r, _ = tree(t, "e1000e")
	k = newFake(t)
	res = (&Prober{root: r, k: k}).Probe([]pci.Address{dev}, Options{})[0]
	if res.Outcome != NotBound || len(k.calls) != 0 || res.Driver != "e1000e" {
		t.Errorf("device on e1000e: got %s, calls %v", res.Outcome, k.calls)
	}
	res = (&Prober{root: r, k: k}).Probe([]pci.Address{{Bus: 9}}, Options{})[0]
	if res.Outcome != NoDevice {
		t.Errorf("absent device: got %s", res.Outcome)
	}
}

func FuzzMatchLog(f *testing.F) {
	f.Add([]byte("[ 1.0] vfio-pci 0000:01:00.0: Firmware has requested this device have a 1:1 IOMMU mapping\n"), []byte("x"))
	f.Fuzz(func(t *testing.T, before, after []byte) {
		got := matchLog(before, after, "0000:01:00.0", []string{"0000:01:00.1"})
		if got == nil {
			t.Fatal("nil slice: JSON would say null")
		}
	})
}
