package lab

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dpdk-doctor/dpdk-doctor/dmar"
)

// The cpio writer's output is read back by the real cpio(1).
func TestCPIOReadByCpio(t *testing.T) {
	if _, err := exec.LookPath("cpio"); err != nil {
		need(t, err, "cpio(1) (apt-get install cpio)")
	}
	var buf bytes.Buffer
	err := writeCPIO(&buf, []cpioFile{
		{Name: "init", Mode: 0o755, Data: []byte("#!/bin/sh\n")},
		{Name: "bin/sh", Link: "busybox"},
		{Name: "lib/modules/vfio.ko", Mode: 0o644, Data: bytes.Repeat([]byte{1}, 1001)},
		{Name: "proc", Dir: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cmd := exec.Command("cpio", "-idm", "--quiet")
	cmd.Dir, cmd.Stdin = dir, &buf
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cpio -i: %v: %s", err, out)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "lib/modules/vfio.ko")); err != nil || len(b) != 1001 {
		t.Errorf("module: %d bytes, %v", len(b), err)
	}
	if l, err := os.Readlink(filepath.Join(dir, "bin/sh")); err != nil || l != "busybox" {
		t.Errorf("bin/sh -> %q, %v", l, err)
	}
	if st, err := os.Stat(filepath.Join(dir, "init")); err != nil || st.Mode().Perm() != 0o755 {
		t.Errorf("init: %v %v", st, err)
	}
	if st, err := os.Stat(filepath.Join(dir, "proc")); err != nil || !st.IsDir() {
		t.Errorf("proc: %v", err)
	}
	if err := writeCPIO(&buf, []cpioFile{{Name: "a"}, {Name: "/a"}}); err == nil {
		t.Error("a file listed twice was accepted")
	}
}

func TestModuleOrder(t *testing.T) {
	dep := []byte(`kernel/drivers/vfio/pci/vfio-pci.ko.xz: kernel/drivers/vfio/pci/vfio-pci-core.ko.xz kernel/drivers/vfio/vfio_virqfd.ko.xz kernel/drivers/vfio/vfio.ko.xz kernel/virt/lib/irqbypass.ko.xz
kernel/drivers/vfio/pci/vfio-pci-core.ko.xz: kernel/drivers/vfio/vfio_virqfd.ko.xz kernel/drivers/vfio/vfio.ko.xz kernel/virt/lib/irqbypass.ko.xz
kernel/drivers/vfio/vfio_virqfd.ko.xz:
kernel/drivers/vfio/vfio.ko.xz:
kernel/drivers/vfio/vfio_iommu_type1.ko.xz: kernel/drivers/vfio/vfio.ko.xz
kernel/virt/lib/irqbypass.ko.xz:
`)
	got, err := ModuleOrder(dep, nil, VFIOModules)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range got {
		names = append(names, modName(p))
	}
	want := []string{"vfio", "vfio_iommu_type1", "irqbypass", "vfio_virqfd", "vfio_pci_core", "vfio_pci"}
	if !slices.Equal(names, want) {
		t.Errorf("order %v, want %v", names, want)
	}
	if got, err := ModuleOrder(dep, []byte("kernel/drivers/virtio/virtio_pci.ko\n"), []string{"virtio_pci", "vfio"}); err != nil || len(got) != 1 {
		t.Errorf("a built-in module: %v, %v", got, err)
	}
	if _, err := ModuleOrder(dep, nil, []string{"e1000e"}); err == nil || !strings.Contains(err.Error(), "e1000e") {
		t.Errorf("a missing module: %v", err)
	}
	if _, err := ModuleOrder([]byte("a.ko: b.ko b.ko b.ko\nb.ko: a.ko a.ko a.ko\n"), nil, []string{"a"}); err == nil || !strings.Contains(err.Error(), "loop") {
		t.Errorf("a dependency loop: %v", err)
	}
	if _, err := ModuleOrder([]byte("no colon here\n"), nil, nil); err == nil {
		t.Error("a malformed modules.dep was accepted")
	}
}

func FuzzModuleOrder(f *testing.F) {
	f.Add([]byte("a.ko: b.ko\nb.ko: a.ko\n"), "a")
	f.Add([]byte("kernel/x/vfio.ko:\n"), "vfio")
	f.Fuzz(func(t *testing.T, dep []byte, want string) {
		ModuleOrder(dep, nil, []string{want}) // must not panic or loop
	})
}

// qemuDMAR is the table QEMU 7.2 builds for a q35 with intel-iommu (a DRHD with its bus-0
// scopes and the IOAPIC), encoded here with the dmar package.
func qemuDMAR(t *testing.T) []byte {
	tb := &dmar.Table{Revision: 1, OEMID: "BOCHS ", OEMTableID: "BXPC    ", OEMRevision: 1, CreatorID: "BXPC", CreatorRevision: 1,
		HostAddressWidth: 39, Flags: dmar.FlagIntrRemap, Structures: []dmar.Structure{{Type: dmar.TypeDRHD, Address: 0xfed90000,
			Scopes: []dmar.Scope{{Type: dmar.ScopeIOAPIC, StartBus: 0xff, Path: []dmar.PathEntry{{Device: 0, Function: 0}}}, Endpoint("02.0")}}}}
	b, err := tb.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestFirmwareDMAR(t *testing.T) {
	q := qemuDMAR(t)
	b, err := FirmwareDMAR(q, []RMRR{{0xf4000, 0xf4fff, []dmar.Scope{Endpoint("02.0/00.0"), Bridge("03.0")}}})
	if err != nil {
		t.Fatal(err)
	}
	tb, err := dmar.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(tb.Warnings) > 0 {
		t.Errorf("warnings (checksum?): %v", tb.Warnings)
	}
	if tb.OEMRevision != 2 || dmar.Trim(tb.OEMID) != "BOCHS" || dmar.Trim(tb.OEMTableID) != "BXPC" {
		t.Errorf("header: OEM %q %q revision %d; the upgrade needs the same IDs and a higher revision", tb.OEMID, tb.OEMTableID, tb.OEMRevision)
	}
	rs := tb.RMRRs()
	if len(rs) != 1 || rs[0].Address != 0xf4000 || rs[0].End != 0xf4fff || len(rs[0].Scopes) != 2 ||
		rs[0].Scopes[0].String() != "00:02.0/00.0" || rs[0].Scopes[1].Type != dmar.ScopeBridge {
		t.Errorf("RMRRs: %+v", rs)
	}
	if !bytes.Equal(b[48 : len(q)-0][:len(q)-48], q[48:]) {
		t.Error("QEMU's own structures changed")
	}
	if _, err := FirmwareDMAR([]byte("DMAR"), nil); err == nil {
		t.Error("a broken QEMU table was accepted")
	}
}

func TestACPIUpgradeCpio(t *testing.T) {
	b, err := ACPIUpgrade(map[string][]byte{"dmar": qemuDMAR(t)})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte("070701")) || !bytes.Contains(b, []byte("kernel/firmware/acpi/dmar.aml\x00")) {
		t.Errorf("not an uncompressed newc archive holding kernel/firmware/acpi/dmar.aml")
	}
}

func TestMachineArgs(t *testing.T) {
	a := strings.Join(Standard(true).Args(), " ")
	for _, want := range []string{"q35,kernel-irqchip=split", "intel-iommu,intremap=on,caching-mode=on",
		"ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off", "pcie-root-port,id=rp2,addr=0x2.0,slot=2,chassis=1",
		"x3130-upstream", "xio3130-downstream", "multifunction=on", "qemu-xhci", "bochs-display", "pci-bridge", "-smp 1"} {
		if !strings.Contains(a, want) {
			t.Errorf("machine args lack %q:\n%s", want, a)
		}
	}
	if strings.Contains(strings.Join(Standard(false).Args(), " "), "intel-iommu") {
		t.Error("Standard(false) has an IOMMU")
	}
	if Standard(true).Key() == Standard(false).Key() {
		t.Error("different topologies share a DMAR cache key")
	}
}

func TestParseSections(t *testing.T) {
	enc := base64.StdEncoding.EncodeToString
	in := "junk\r\n@@LAB-BEGIN probe 1\r\n" + enc([]byte(`[{"device":"x"}]`)) + "\r\n@@LAB-ERR\r\n" + enc([]byte("oops")) +
		"\r\n@@LAB-END\r\n@@LAB-DONE\r\n"
	var r Result
	r.Sections = map[string]Section{}
	if err := parseSections([]byte(in), &r); err != nil {
		t.Fatal(err)
	}
	s := r.Sections["probe"]
	if !r.Done || s.RC != 1 || string(s.Stdout) != `[{"device":"x"}]` || string(s.Stderr) != "oops" {
		t.Errorf("got %+v done=%v", s, r.Done)
	}
	if err := parseSections([]byte("@@LAB-BEGIN x 0\n!!!\n@@LAB-END\n"), &r); err == nil {
		t.Error("bad base64 accepted")
	}
}

func FuzzParseSections(f *testing.F) {
	f.Add([]byte("@@LAB-BEGIN a 0\nYQ==\n@@LAB-ERR\n@@LAB-END\n@@LAB-DONE\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := Result{Sections: map[string]Section{}}
		parseSections(b, &r)
	})
}

func TestReplaceSection(t *testing.T) {
	doc := "# Benchmarks\n\nother\n"
	once := ReplaceSection(doc, "table 1\n")
	twice := ReplaceSection(once, "table 2\n")
	if !strings.HasPrefix(twice, doc[:len(doc)-1]) || strings.Contains(twice, "table 1") || !strings.Contains(twice, "table 2\n"+TruthEnd) ||
		strings.Count(twice, TruthBegin) != 1 {
		t.Errorf("got\n%s", twice)
	}
}

// Run kills the whole process group on timeout and removes its directory: nothing is left
// behind. A stand-in for QEMU that starts a child of its own and hangs shows it without a kernel.
func TestRunLeavesNothingBehind(t *testing.T) {
	dir := t.TempDir()
	fake := filepath.Join(dir, "qemu")
	pidFile := filepath.Join(dir, "child")
	os.WriteFile(fake, []byte("#!/bin/sh\nsleep 300 &\necho $! > "+pidFile+"\nwait\n"), 0o755)
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	start := time.Now()
	res, err := Run(ctx, Boot{QEMU: fake, Kernel: &Kernel{Vmlinuz: "/nonexistent"}, Machine: Standard(true)})
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Run with a hanging QEMU: %v", err)
	}
	if time.Since(start) > 20*time.Second {
		t.Errorf("Run took %v to give up", time.Since(start))
	}
	if _, err := os.Stat(res.Dir); !os.IsNotExist(err) {
		t.Errorf("temporary directory %s left behind (%v)", res.Dir, err)
	}
	if alive(res.PID) {
		t.Errorf("QEMU (pid %d) still running", res.PID)
	}
	b, _ := os.ReadFile(pidFile)
	var child int
	for _, c := range strings.TrimSpace(string(b)) {
		child = child*10 + int(c-'0')
	}
	time.Sleep(100 * time.Millisecond)
	if child == 0 {
		t.Fatal("the stand-in never started its child")
	}
	if alive(child) {
		t.Errorf("QEMU's child (pid %d) still running", child)
	}
}

// alive reports whether pid runs (a zombie waiting for its new parent to reap it does not).
func alive(pid int) bool {
	if syscall.Kill(pid, 0) == syscall.ESRCH {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i < 0 || i+2 >= len(b) || b[i+2] != 'Z'
}

func TestParseSourcesURI(t *testing.T) {
	deb822 := "Types: deb\n# http://snapshot.example/archive\nURIs: http://mirror.example/debian\nSuites: bookworm\n\n" +
		"Types: deb\nURIs: http://mirror.example/debian-security\n"
	oneLine := "# comment\ndeb http://mirror.example/debian-security bookworm-security main\ndeb [arch=amd64] http://mirror.example/debian bookworm main\n"
	for in, want := range map[string]string{deb822: "http://mirror.example/debian", oneLine: "http://mirror.example/debian", "": "", "URIs:\n": ""} {
		if got := parseSourcesURI([]byte(in)); got != want {
			t.Errorf("parseSourcesURI(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzParseSourcesURI(f *testing.F) {
	f.Add([]byte("URIs: http://a/b\n"))
	f.Fuzz(func(t *testing.T, b []byte) { parseSourcesURI(b) })
}

func TestFormatTruth(t *testing.T) {
	rows := []Row{
		{Scenario: "endpoint-rmrr-slot", Kernel: "6.12", Device: "0000:01:00.0", KernelOutcome: "refused", Step: "VFIO_GROUP_SET_CONTAINER", Errno: "EINVAL",
			KernelLine: "[ 4.5] vfio-pci 0000:01:00.0: Firmware has requested | this", RMRR: "locked", Verdict: "fail", Agree: true},
		{Scenario: "no-rmrr", Kernel: "6.1", Device: "0000:01:00.0", KernelOutcome: "attached", RMRR: "clear", Verdict: "fail"},
	}
	got := FormatTruth(rows, []timing{{"no-rmrr", "6.1", 3 * time.Second}}, 10*time.Second, 2)
	for _, want := range []string{"| no-rmrr | 6.1 | 0000:01:00.0 | attached |", "**no**", "refused at VFIO_GROUP_SET_CONTAINER (EINVAL)",
		`Firmware has requested \| this`, "| no-rmrr | 6.1 | 3.0 |", "10 s of wall clock"} {
		if !strings.Contains(got, want) {
			t.Errorf("truth table lacks %q:\n%s", want, got)
		}
	}
	if strings.Index(got, "| no-rmrr |") > strings.Index(got, "| endpoint-rmrr-slot |") {
		t.Error("rows are not in the order of Scenarios")
	}
}

// A boot directory left by a process that died (killed by go test's -timeout) is swept by the
// next Run; one whose owner lives is left alone.
func TestSweepStaleDirs(t *testing.T) {
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	stale, err := os.MkdirTemp("", tempPrefix)
	if err != nil {
		t.Fatal(err)
	}
	live, err := os.MkdirTemp("", tempPrefix)
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(live)
	defer os.RemoveAll(stale)
	os.WriteFile(filepath.Join(stale, "owner"), []byte(strconv.Itoa(dead.Process.Pid)), 0o600)
	os.WriteFile(filepath.Join(live, "owner"), []byte(strconv.Itoa(os.Getpid())), 0o600)
	sweep()
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale %s not swept", stale)
	}
	if _, err := os.Stat(live); err != nil {
		t.Errorf("a live run's %s was swept: %v", live, err)
	}
}

func TestFirmwareIVRS(t *testing.T) {
	// QEMU 7.2's IVRS header and IVHD 10h (amd-iommu at 00:01.0, base 0xfed80000), as read in the lab.
	q := make([]byte, 48, 136)
	copy(q, "IVRS")
	copy(q[10:], "BOCHS BXPC    ")
	q[24] = 1
	q = append(q, 0x10, 0xd1, 24+4, 0, 0x08, 0, 0x40, 0, 0, 0, 0xd8, 0xfe, 0, 0, 0, 0, 0, 0, 0, 0, 0x44, 0, 0, 0, 0x02, 0x08, 0, 0)
	b, err := FirmwareIVRS(q, []IVMD{{Type: 0x21, Device: 0x0100, Start: 0xf4000, Len: 0x1000}})
	if err != nil {
		t.Fatal(err)
	}
	var sum byte
	for _, c := range b {
		sum += c
	}
	le := func(i int) int { return int(b[i]) | int(b[i+1])<<8 }
	if sum != 0 || le(4) != len(b) || b[24] != 2 {
		t.Errorf("header: checksum %#x, length %d of %d, OEM revision %d", sum, le(4), len(b), b[24])
	}
	ivhd := b[48:]
	if ivhd[0] != 0x10 || le(50) != 24+4+8 || ivhd[24] != 0x01 || ivhd[28] != 0x48 || ivhd[33] != 0xa0 {
		t.Errorf("IVHD: % x", ivhd[:36])
	}
	ivmd := b[48+36:]
	if len(ivmd) != 32 || ivmd[0] != 0x21 || le(48+36+4) != 0x0100 || ivmd[16] != 0 || ivmd[17] != 0x40 || ivmd[18] != 0x0f {
		t.Errorf("IVMD: % x", ivmd)
	}
	if _, err := FirmwareIVRS([]byte("DMAR"), nil); err == nil {
		t.Error("a table that is not an IVRS was accepted")
	}
}

func FuzzFirmwareIVRS(f *testing.F) {
	f.Add(append([]byte("IVRS"), make([]byte, 80)...))
	f.Fuzz(func(t *testing.T, q []byte) { FirmwareIVRS(q, []IVMD{{Type: 0x22, Device: 1, End: 2}}) })
}

func TestFirmwareIVRSShortIVHD(t *testing.T) {
	q := append([]byte("IVRS"), make([]byte, 44)...)
	q = append(q, 0x11)
	q = append(q, make([]byte, 30)...) // a type 11h IVHD needs 40 bytes
	if _, err := FirmwareIVRS(q, nil); err == nil {
		t.Error("a cut-short IVHD was accepted")
	}
}
