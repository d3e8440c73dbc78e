package check

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dpdk-doctor/dpdk-doctor/host"
	"github.com/dpdk-doctor/dpdk-doctor/internal/testhost"
	"github.com/dpdk-doctor/dpdk-doctor/pci"
)

// remedies returns every remedy line of the findings, and of subject's findings when set.
func remedies(fs []Finding, subject string) string {
	var b strings.Builder
	for _, f := range fs {
		if subject == "" || f.Subject == subject {
			b.WriteString(strings.Join(f.Remedy, "\n") + "\n")
		}
	}
	return b.String()
}

// unbinds reports whether text holds a command that takes a device from its driver.
func unbinds(text string) bool {
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		if strings.Contains(line, "dpdk-devbind") || strings.Contains(line, "/unbind") || strings.Contains(line, "driver_override") || strings.HasPrefix(line, "ip link set") {
			return true
		}
	}
	return false
}

// TestBindRecipeOnlyForTargetedDevices: without --device no bind recipe is printed for anything;
// naming a free NIC gives the whole recipe, without modprobe where vfio-pci is loaded.
func TestBindRecipeOnlyForTargetedDevices(t *testing.T) {
	for _, tree := range []string{"nic-on-ixgbe", "dl360e-gen8", "kvm-guest", "shared-group"} {
		if r := remedies(run(t, tree), ""); unbinds(r) {
			t.Errorf("%s: a bind recipe for devices nobody named:\n%s", tree, r)
		}
	}
	fs := run(t, "nic-on-ixgbe", "0000:02:00.0")
	f := find(fs, "device.driver", "0000:02:00.0")
	r := strings.Join(f.Remedy, "\n")
	if f.Severity != Warn || !strings.Contains(r, "ip link set ens1f0 down") || !strings.Contains(r, "dpdk-devbind.py --bind=vfio-pci 0000:02:00.0") {
		t.Errorf("named NIC: %s %q\n%s", f.Severity, f.Summary, r)
	}
	if strings.Contains(r, "modprobe") {
		t.Errorf("vfio-pci is loaded: no modprobe\n%s", r)
	}
}

// TestActiveInterfaceIsNotUnbound: a named NIC that carries the default route and the SSH
// session gets a loud warning and no unbind command, also as a group member to bind.
func TestActiveInterfaceIsNotUnbound(t *testing.T) {
	fs := run(t, "shared-group", "0000:02:00.1")
	f := find(fs, "device.driver", "0000:02:00.1")
	r := strings.Join(f.Remedy, "\n")
	for _, s := range []string{"WARNING: ens1f1 carries the default route", "the SSH session from 198.51.100.7", "cut this host off", "--force"} {
		if !strings.Contains(r, s) {
			t.Errorf("remedy lacks %q:\n%s", s, r)
		}
	}
	if unbinds(r) {
		t.Errorf("an unbind recipe for the host's uplink:\n%s", r)
	}
	g := find(run(t, "shared-group", "0000:02:00.0"), "device.iommu_group", "0000:02:00.0")
	if r := strings.Join(g.Remedy, "\n"); unbinds(r) || !strings.Contains(r, "WARNING: ens1f1") {
		t.Errorf("group remedy binds the uplink:\n%s", r)
	}
	// The seed's eno1 is both in use and RMRR-locked: both are said, nothing unbinds it.
	d := find(run(t, "dl360e-gen8", "0000:02:00.0"), "device.driver", "0000:02:00.0")
	if r := strings.Join(d.Remedy, "\n"); unbinds(r) || !strings.Contains(r, "RMRR") || !strings.Contains(r, "WARNING: eno1 carries the default route") {
		t.Errorf("eno1:\n%s", r)
	}
}

// TestBindBlocked: where binding cannot help (IOMMU off, no vfio-pci in the kernel) the remedy
// says so instead of a recipe, and never modprobes a module the kernel lacks.
func TestBindBlocked(t *testing.T) {
	fs := run(t, "amd-iommu-off", "0000:41:00.0")
	r := remedies(fs, "0000:41:00.0")
	if unbinds(r) || !strings.Contains(r, "cannot work yet") || !strings.Contains(r, "IOMMU is off") || !strings.Contains(r, "no vfio-pci") {
		t.Errorf("remedy:\n%s", r)
	}
	if all := remedies(fs, ""); strings.Contains(all, "modprobe") {
		t.Errorf("modprobe on a kernel without VFIO:\n%s", all)
	}
	v := find(fs, "vfio.driver", "host")
	if !strings.Contains(strings.Join(v.Remedy, "\n"), "distribution kernel") {
		t.Errorf("vfio.driver: %+v", v)
	}
	// kvm-guest has vfio-pci as a module, not loaded: modprobe is the remedy.
	if v := find(run(t, "kvm-guest"), "vfio.driver", "host"); len(v.Remedy) == 0 || v.Remedy[0] != "modprobe vfio-pci" {
		t.Errorf("kvm-guest vfio.driver: %+v", v)
	}
}

// TestVMIOMMUAdvice: in a VM, IOMMU advice is a virtual IOMMU or no-IOMMU mode, never a BIOS.
func TestVMIOMMUAdvice(t *testing.T) {
	fs := run(t, "kvm-guest", "0000:01:00.0")
	r := remedies(fs, "")
	for _, s := range []string{"-device intel-iommu,intremap=on,caching-mode=on", "kernel-irqchip=split", "<iommu model='intel'", "<ioapic driver='qemu'/>", "enable_unsafe_noiommu_mode"} {
		if !strings.Contains(r, s) {
			t.Errorf("remedies lack %q", s)
		}
	}
	for _, f := range fs {
		if text := f.Summary + f.Explanation + strings.Join(f.Remedy, " "); strings.Contains(text, "BIOS") {
			t.Errorf("%s: BIOS advice in a VM: %s", f.ID, text)
		}
	}
	// The virtio NIC carries the SSH session: no unbind recipe for it.
	if unbinds(remedies(fs, "0000:01:00.0")) {
		t.Error("a recipe unbinding the VM's uplink")
	}
}

// TestAMDAdvice: amd_iommu=on is not a kernel option; on AMD the fix is removing what turns it off.
func TestAMDAdvice(t *testing.T) {
	for _, tree := range []string{"amd", "amd-iommu-off"} {
		if r := remedies(run(t, tree), ""); strings.Contains(r, "amd_iommu=on") {
			t.Errorf("%s advises amd_iommu=on:\n%s", tree, r)
		}
	}
	k := find(run(t, "amd-iommu-off"), "iommu.kernel", "host")
	if r := strings.Join(k.Remedy, "\n"); !strings.Contains(r, "remove from GRUB_CMDLINE_LINUX in /etc/default/grub: amd_iommu=off") || !strings.Contains(r, `--remove-args="amd_iommu=off"`) {
		t.Errorf("remedy:\n%s", r)
	}
}

// TestHPERemedyOnlyOnProLiant: conrep's `fix rmrr` is offered on HP/HPE/Hewlett-Packard
// ProLiants only; a Supermicro gets the vendor-neutral ways out.
func TestHPERemedyOnlyOnProLiant(t *testing.T) {
	f := find(run(t, "bridge-scope"), "device.rmrr", "0000:07:00.0")
	r := strings.Join(f.Remedy, "\n")
	if strings.Contains(r, "fix rmrr") || strings.Contains(r, "conrep") || strings.Contains(r, "HPE") {
		t.Errorf("Supermicro gets an HPE remedy:\n%s", r)
	}
	for _, s := range []string{"slot that no RMRR covers", "SR-IOV", "firmware"} {
		if !strings.Contains(r, s) {
			t.Errorf("Supermicro remedy lacks %q", s)
		}
	}
	// relax_rmrr only where the kernel may honour it: not on this Ubuntu kernel.
	if strings.Contains(r, "relax_rmrr") {
		t.Errorf("relax_rmrr advised on a kernel without the Proxmox patch:\n%s", r)
	}
	h := find(run(t, "dl380p-gen8-hewlett-packard"), "device.rmrr", "0000:03:00.0")
	if len(h.Remedy) == 0 || !strings.HasPrefix(h.Remedy[0], "dpdk-doctor fix rmrr 0000:03:00.0") {
		t.Errorf("Hewlett-Packard Company ProLiant: %q", h.Remedy)
	}
}

// deniedFS refuses some files with EACCES, as the kernel does to a user who is not root
// (the tests run as root, who reads everything).
type deniedFS struct {
	fs.FS
	deny map[string]bool
}

func (d deniedFS) Open(name string) (fs.File, error) {
	if d.deny[name] {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrPermission}
	}
	return d.FS.Open(name)
}

func (d deniedFS) ReadLink(name string) (string, error)   { return fs.ReadLink(d.FS, name) }
func (d deniedFS) Lstat(name string) (fs.FileInfo, error) { return fs.Lstat(d.FS, name) }

// Stat succeeds: a mode 0400 file can be looked at by anyone, only not opened.
func (d deniedFS) Stat(name string) (fs.FileInfo, error) { return fs.Stat(d.FS, name) }

// TestNotRoot: reads refused for want of privilege say "run as root", instead of calling the
// kernel log or the DMAR table missing, and the check goes on.
func TestNotRoot(t *testing.T) {
	dir, _ := filepath.Abs(filepath.Join("..", "testdata", "hosts", "dl360e-gen8"))
	fsys := deniedFS{os.DirFS(dir), map[string]bool{"var/log/dmesg": true, "sys/firmware/acpi/tables/DMAR": true, "proc/net/route": true}}
	f, err := Gather(host.FS(fsys, "not-root"), Options{})
	if err != nil {
		t.Fatalf("a refused read stopped the check: %v", err)
	}
	fs := Run(f)
	for _, w := range []struct{ id, subject string }{{"kernellog.source", "host"}, {"iommu.firmware", "host"}, {"device.rmrr", "0000:03:00.0"}} {
		if g := find(fs, w.id, w.subject); g == nil || !strings.Contains(g.Summary, "run as root") {
			t.Errorf("%s: %+v, want it to say run as root", w.id, g)
		}
	}
	// An unreadable route table: eno2 may be in use, so it is not called idle.
	if d := find(fs, "device.driver", "0000:02:00.1"); d == nil || !strings.Contains(d.Summary, "run as root") {
		t.Errorf("device.driver: %+v", d)
	}
}

// TestNamesEscaped: names from the host reach the terminal with control characters escaped,
// and interface names in commands are quoted for the shell.
func TestNamesEscaped(t *testing.T) {
	h, err := testhost.Catalog("hostile-names", filepath.Join("..", "testdata", "fixtures", "dmar"))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "tree")
	if err := h.Write(dir); err != nil {
		t.Fatal(err)
	}
	r, err := host.Dir(dir)
	if err != nil {
		t.Fatal(err)
	}
	f, err := Gather(r, Options{})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := pci.ParseAddress("0000:02:00.1")
	f2, err := Gather(r, Options{Devices: []pci.Address{a}})
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := NewReport(f2, Run(f2)).WriteText(&out, map[string]string{"0000:02:00.1": "NIC\x1b[5m"}); err != nil {
		t.Fatal(err)
	}
	ids, _ := pci.ReadIDs(r)
	al, _ := pci.ReadAliases(r)
	table := WriteDeviceTable(DeviceRows(f, ids, al, false))
	for name, text := range map[string]string{"check": out.String(), "devices": table} {
		if strings.ContainsAny(text, "\x1b\x07") {
			t.Errorf("%s output holds raw control characters:\n%q", name, text)
		}
		if !strings.Contains(text, `e\x1b[2J;rm -rf`) {
			t.Errorf("%s output lacks the escaped interface name:\n%s", name, text)
		}
	}
	if !strings.Contains(out.String(), `X10\x1b[2J\x1b[31m;rm -rf ~`) {
		t.Errorf("title not escaped:\n%s", out.String())
	}
	if !strings.Contains(out.String(), `ip link set $'e\x1b[2J;rm -rf' down`) {
		t.Errorf("interface not quoted for the shell:\n%s", out.String())
	}
}
