package check

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dpdk-doctor/dpdk-doctor/host"
	"github.com/dpdk-doctor/dpdk-doctor/pci"
)

// variant copies a test tree and overwrites (or, with "", removes) some of its files.
func variant(t *testing.T, tree string, files map[string]string) *Facts {
	t.Helper()
	dir := filepath.Join(t.TempDir(), tree)
	if err := os.CopyFS(dir, os.DirFS(filepath.Join("..", "testdata", "hosts", tree))); err != nil {
		t.Fatal(err)
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		if body == "" {
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r, err := host.Dir(dir)
	if err != nil {
		t.Fatal(err)
	}
	f, err := Gather(r, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func row(t *testing.T, f *Facts, addr string) DeviceRow {
	t.Helper()
	ids, _ := pci.ParseIDs(nil)
	al, _ := pci.ParseAliases(nil)
	for _, r := range DeviceRows(f, ids, al, true) {
		if r.Address == addr {
			return r
		}
	}
	t.Fatalf("no row for %s", addr)
	return DeviceRow{}
}

// TestRelaxRMRRNeedsTheKernelsWord: relax_rmrr on the command line of a kernel that does not
// carry the Proxmox patch (no "assuming all RMRRs are relaxable" in its log) changes nothing:
// the device stays locked in check and in devices. With the log line it is relaxable.
func TestRelaxRMRRNeedsTheKernelsWord(t *testing.T) {
	f := variant(t, "dl360e-gen8", map[string]string{
		"proc/cmdline":              "BOOT_IMAGE=/boot/vmlinuz-6.1.0-18-amd64 root=/dev/sda1 ro intel_iommu=on,relax_rmrr iommu=pt\n",
		"proc/sys/kernel/osrelease": "6.1.0-18-amd64\n",
	})
	if r := row(t, f, "0000:03:00.0"); r.RMRR != "locked" {
		t.Errorf("relax_rmrr ignored by the kernel: devices says rmrr=%q, want locked", r.RMRR)
	}
	fd := find(Run(f), "device.rmrr", "0000:03:00.0")
	if fd.Severity != Fail || !strings.Contains(fd.Explanation, "ignores it") || strings.Contains(strings.Join(fd.Remedy, "\n"), "relax_rmrr") {
		t.Errorf("device.rmrr: %s %q\n%s\n%q", fd.Severity, fd.Summary, fd.Explanation, fd.Remedy)
	}
	r, err := host.Dir(filepath.Join("..", "testdata", "hosts", "dl360e-gen8-relax-rmrr"))
	if err != nil {
		t.Fatal(err)
	}
	g, err := Gather(r, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r := row(t, g, "0000:03:00.0"); r.RMRR != "relaxable" {
		t.Errorf("relax_rmrr honoured by the Proxmox kernel: rmrr=%q, want relaxable", r.RMRR)
	}
}

// TestGroupMemberLocksDevice: devices reports the group's state: a function the DMAR does not
// name is locked when a member of its IOMMU group is (the kernel refuses the whole group).
func TestGroupMemberLocksDevice(t *testing.T) {
	f := variant(t, "dl360e-gen8", nil)
	found := false
	for _, d := range f.Devices.List {
		x := f.Judged(d)
		if x.Lock.Member == nil || f.RMRR[d.Address].State == "locked" {
			continue
		}
		found = true
		if r := row(t, f, d.Address.String()); r.RMRR != "locked" {
			t.Errorf("%s: its group member %s is RMRR-locked, devices says rmrr=%q", d.Address, x.Lock.Member.Address, r.RMRR)
		}
	}
	if !found {
		t.Fatal("dl360e-gen8 has no device locked through a group member")
	}
}

// TestAMDReleaseDecides: an IVMD (a "direct" reserved region) locks the device on 6.12, not
// on 6.1, where the finding names the IVMD and says an upgrade will lock it.
func TestAMDReleaseDecides(t *testing.T) {
	for tree, want := range map[string]struct {
		sev  Severity
		rmrr string
	}{"amd-ivmd-6.1": {Warn, "relaxable"}, "amd-ivmd-6.12": {Fail, "locked"}} {
		f := variant(t, tree, nil)
		fd := find(Run(f), "device.rmrr", "0000:41:00.0")
		if fd.Severity != want.sev || !strings.Contains(fd.Summary, "IVMD") {
			t.Errorf("%s: device.rmrr %s %q, want %s", tree, fd.Severity, fd.Summary, want.sev)
		}
		ev := ""
		for _, e := range fd.Evidence {
			ev += e.Value + "\n"
		}
		for _, s := range []string{"IVMD type 0x21", "0x7b800000-0x7b800fff", "direct", f.Release} {
			if !strings.Contains(ev, s) {
				t.Errorf("%s: evidence lacks %q:\n%s", tree, s, ev)
			}
		}
		if want.sev == Fail && !strings.Contains(ev, "Firmware has requested this device have a 1:1 IOMMU mapping") {
			t.Errorf("%s: evidence lacks the kernel log line:\n%s", tree, ev)
		}
		rem := strings.Join(fd.Remedy, "\n")
		for _, s := range []string{"Kernel DMA Protection Indicator", "kernel older than 6.6"} {
			if !strings.Contains(rem, s) {
				t.Errorf("%s: remedy lacks %q:\n%s", tree, s, rem)
			}
		}
		if strings.Contains(rem, "conrep") || strings.Contains(rem, "relax_rmrr") || strings.Contains(rem, "amd_iommu=on") {
			t.Errorf("%s: remedy has an Intel or HPE remedy:\n%s", tree, rem)
		}
		if r := row(t, f, "0000:41:00.0"); r.RMRR != want.rmrr {
			t.Errorf("%s: devices rmrr=%q, want %q", tree, r.RMRR, want.rmrr)
		}
		if r := row(t, f, "0000:41:00.1"); r.RMRR != "clear" {
			t.Errorf("%s: the control function: rmrr=%q, want clear", tree, r.RMRR)
		}
	}
}

// TestRefusalSaidOnce: a device locked by the kernel's word alone (no DMAR to name the RMRR)
// says "refuse it to VFIO" once.
func TestRefusalSaidOnce(t *testing.T) {
	f := variant(t, "dl360e-gen8", map[string]string{"sys/firmware/acpi/tables/DMAR": ""})
	fd := find(Run(f), "device.rmrr", "0000:03:00.0")
	if fd.Severity != Fail || strings.Count(fd.Summary, "refuse it to VFIO") != 1 {
		t.Errorf("device.rmrr: %s %q", fd.Severity, fd.Summary)
	}
}

// TestHostNICLockedIsInformation: the host's own uplink, RMRR-locked and not targeted, reads as
// information, not as "ok ... will refuse".
func TestHostNICLockedIsInformation(t *testing.T) {
	fd := find(run(t, "dl360e-gen8"), "device.rmrr", "0000:02:00.0")
	if fd.Severity != OK || !strings.Contains(fd.Summary, "not used for DPDK") || strings.Contains(fd.Summary, "will refuse") {
		t.Errorf("eno1: %s %q", fd.Severity, fd.Summary)
	}
	fd = find(run(t, "dl360e-gen8", "0000:02:00.0"), "device.rmrr", "0000:02:00.0")
	if fd.Severity != Fail || !strings.Contains(fd.Summary, "will refuse it to VFIO") {
		t.Errorf("eno1 named with --device: %s %q", fd.Severity, fd.Summary)
	}
}

// TestTableDecidesKind: an Intel IOMMU (DMAR) under an AMD CPU, as in a QEMU guest on an AMD
// host, is judged by the RMRR rules: the lab caught the IVMD rules applied to it.
func TestTableDecidesKind(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "testdata", "hosts", "dl360e-gen8", "proc", "cpuinfo"))
	if err != nil {
		t.Fatal(err)
	}
	f := variant(t, "dl360e-gen8", map[string]string{
		"proc/cpuinfo":              strings.ReplaceAll(string(b), "GenuineIntel", "AuthenticAMD"),
		"proc/sys/kernel/osrelease": "6.1.0-18-amd64\n",
	})
	if f.CPU.Vendor != "AuthenticAMD" {
		t.Fatalf("cpu vendor %q", f.CPU.Vendor)
	}
	x := f.Judged(f.Devices.Get(pci.Address{Bus: 3}))
	if x.Lock.Kind != "RMRR" || !x.Lock.Locked() {
		t.Errorf("DMAR host with an AMD CPU on 6.1: %s %s, want RMRR locked", x.Lock.Kind, x.Lock.State)
	}
}
