package lab

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dpdk-doctor/dpdk-doctor/fix"
	"github.com/dpdk-doctor/dpdk-doctor/vfio"
)

// debianGrub is a Debian host's /etc/default/grub with the IOMMU switched off, as the persistent
// disk holds it before `fix cmdline`.
const debianGrub = `# If you change this file, run 'update-grub' afterwards to update
# /boot/grub/grub.cfg.
GRUB_DEFAULT=0
GRUB_TIMEOUT=5
GRUB_DISTRIBUTOR=` + "`lsb_release -i -s 2> /dev/null || echo Debian`" + `
GRUB_CMDLINE_LINUX_DEFAULT="quiet"
GRUB_CMDLINE_LINUX="intel_iommu=off"
`

// grubCmdline is what a grub.cfg made by update-grub from g passes to Linux:
// GRUB_CMDLINE_LINUX, then GRUB_CMDLINE_LINUX_DEFAULT (the normal, non-recovery entry). It is
// read with the fix package's own grub parser: the lab plays the bootloader.
func grubCmdline(g []byte) ([]string, error) {
	f, err := fix.ParseGrub(g)
	if err != nil {
		return nil, err
	}
	return append(strings.Fields(f.Value("GRUB_CMDLINE_LINUX")), strings.Fields(f.Value("GRUB_CMDLINE_LINUX_DEFAULT"))...), nil
}

// udevOverride reads the rule `fix bind --persist` writes when driverctl is absent and returns
// the device and the driver_override it sets. It accepts exactly the rule's documented shape
// (ACTION add, SUBSYSTEM pci, KERNEL the address, ATTR{driver_override}, kmod load of the same
// driver): anything else is an error, so a changed rule fails the test.
func udevOverride(rule []byte) (dev, driver string, err error) {
	re := regexp.MustCompile(`(?m)^ACTION=="add", SUBSYSTEM=="pci", KERNEL=="([0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7])", ATTR\{driver_override\}="([a-z0-9_-]+)", RUN\{builtin\}\+="kmod load ([a-z0-9_-]+)"$`)
	m := re.FindSubmatch(rule)
	if m == nil || string(m[2]) != string(m[3]) {
		return "", "", &ruleError{string(rule)}
	}
	return string(m[1]), string(m[2]), nil
}

type ruleError struct{ rule string }

func (e *ruleError) Error() string {
	return "not the udev rule fix bind --persist writes: " + strconv.Quote(e.rule)
}

var (
	hookedOnce sync.Once
	hookedData []byte
	hookedErr  error
)

// hookedBinary builds dpdk-doctor with -tags dpdkdoctor_testhooks for the guest: the build whose
// `fix cmdline --no-regenerate` leaves update-grub alone (the guest has no grub: the lab is
// its bootloader).
func hookedBinary(t *testing.T) []byte {
	t.Helper()
	hookedOnce.Do(func() {
		dir, err := os.MkdirTemp("", "dpdk-doctor-lab-bin")
		if err != nil {
			hookedErr = err
			return
		}
		defer os.RemoveAll(dir)
		out := filepath.Join(dir, "dpdk-doctor")
		cmd := exec.Command("go", "build", "-tags", "dpdkdoctor_testhooks", "-o", out, "github.com/dpdk-doctor/dpdk-doctor/cmd/dpdk-doctor")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
		if b, err := cmd.CombinedOutput(); err != nil {
			hookedErr = &buildError{string(b), err}
			return
		}
		hookedData, hookedErr = os.ReadFile(out)
	})
	if hookedErr != nil {
		t.Fatalf("building dpdk-doctor (test hooks) for the guest: %v", hookedErr)
	}
	return hookedData
}

// persistInit is a guest /init for a boot with a persistent disk: pre runs before any driver
// module is loaded (where udev would act on a device's add event), then the modules are loaded,
// the lab share (the disk, surviving poweroff on the host) is mounted on /persist and its etc/
// directories are bind-mounted over /etc, so the product writes its usual paths, then the steps.
func persistInit(pre string, sc *Script) string {
	s := sc.String()
	head := scriptHead + pre + "section modules loadmods\n" +
		"mkdir -p /persist /etc/default /etc/udev/rules.d\n" +
		"mount -t 9p -o trans=virtio,version=9p2000.L lab /persist\n" +
		"mkdir -p /persist/etc/default /persist/etc/udev/rules.d\n" +
		"mount --bind /persist/etc/default /etc/default\n" +
		"mount --bind /persist/etc/udev /etc/udev\n"
	return head + strings.TrimPrefix(s, scriptHead+"section modules loadmods\n")
}

// TestFixReboot proves the two remedies that only pay off after a reboot, on a real kernel with
// a persistent disk (the lab's 9p share: a host directory that outlives the guest's poweroff),
// in three boots of the same q35 + intel-iommu machine.
//
// Boot 1 runs with GRUB_CMDLINE_LINUX="intel_iommu=off" from the disk's etc/default/grub: check
// says the kernel's IOMMU is off and fails the NIC, `fix bind` refuses it, and `fix cmdline
// --add intel_iommu=on --apply` edits the grub file on the disk (update-grub skipped by the
// test-hooks build's --no-regenerate: the guest has no grub). The harness then plays the
// bootloader: it reads GRUB_CMDLINE_LINUX and GRUB_CMDLINE_LINUX_DEFAULT from the edited file
// with fix.ParseGrub, as update-grub would put them in grub.cfg, and boot 2 runs with exactly
// that command line. Boot 2: the real kernel turns its IOMMU on; check's verdict for the NIC is
// no longer fail; `fix bind --persist --apply` binds it to vfio-pci and, the guest having no
// driverctl, writes its udev rule to /etc/udev/rules.d on the disk; `probe` attaches the NIC
// through VFIO.
//
// Boot 3 checks persistence. The guest has no udev daemon: the lab stands in for it. The harness
// reads the rule from the disk, accepts only the exact rule shape fix bind writes, and boot 3's
// /init does what udev does with it on a device's add event before any driver module is
// loaded: it writes the rule's driver_override (ATTR{driver_override}=...) and then loads the
// modules (RUN{builtin}+="kmod load ..."; the lab's insmod of e1000e and vfio-pci). Everything
// after that is the real kernel's doing: e1000e skips the overridden NIC, vfio-pci takes it,
// check reports it on vfio-pci and probe attaches it. What the lab does not prove is that a real
// systemd-udevd parses the rule the same way; the rule's syntax is checked against its
// documented shape instead. Boot 4, a control without the stand-in, shows the NIC back on e1000e:
// the binding of boot 3 came from the rule.
func TestFixReboot(t *testing.T) {
	labEnabled(t)
	ks := labKernels(t)
	bin := hookedBinary(t)
	for _, k := range ks {
		if os.Getenv("DPDK_DOCTOR_LAB_REBOOT_ALL") != "1" && os.Getenv("CI") != "true" && k != ks[0] {
			continue
		}
		t.Run(k.Release, func(t *testing.T) { fixReboot(t, k, bin) })
	}
}

func fixReboot(t *testing.T, k *Kernel, bin []byte) {
	m := Standard(true)
	dev := NICSlot2
	share := map[string][]byte{"etc/default/grub": []byte(debianGrub)}
	drv := "sh -c 'basename $(readlink /sys/bus/pci/devices/" + dev + "/driver)'"
	boot := func(n int, cmdline []string, pre string, sc *Script) *Result {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		rd, err := Initramfs{Kernel: k, Modules: []string{"virtio_pci", "9pnet_virtio", "9p", "e1000e", "e1000"},
			Init: persistInit(pre, sc), Files: map[string][]byte{"bin/dpdk-doctor": bin}}.Build(ctx)
		if err != nil {
			t.Fatal(err)
		}
		res, err := Run(ctx, Boot{Machine: m, Kernel: k, Initrd: rd, Cmdline: cmdline, Share: share})
		if res != nil {
			if out := os.Getenv("DPDK_DOCTOR_LAB_OUT"); out != "" {
				keep(t, filepath.Join(out, "reboot", k.Release, strconv.Itoa(n)), res)
			}
		}
		if err != nil {
			t.Fatalf("boot %d: %v", n, err)
		}
		t.Logf("boot %d on %s (command line %q): %v", n, k.Release, strings.Join(cmdline, " "), res.Elapsed.Round(100*time.Millisecond))
		share = res.Share // the disk as the guest left it
		return res
	}
	show := func(res *Result, name string) string {
		s, ok := res.Sections[name]
		if !ok {
			t.Fatalf("no section %s; console:\n%s", name, tail(res.Console, 40))
		}
		return name + ": rc " + strconv.Itoa(s.RC) + "\n" + string(s.Stdout) + string(s.Stderr)
	}
	out := func(res *Result, name string) string {
		show(res, name)
		return strings.TrimSpace(string(res.Sections[name].Stdout))
	}

	// Boot 1: IOMMU off.
	cl, err := grubCmdline(share["etc/default/grub"])
	if err != nil {
		t.Fatal(err)
	}
	var sc Script
	sc.Step("cmdline", "cat /proc/cmdline")
	sc.Step("check", "dpdk-doctor check --json")
	sc.Step("bind", "dpdk-doctor fix bind "+dev+" --apply --state-dir /tmp/st")
	sc.Step("fix", "dpdk-doctor fix cmdline --add intel_iommu=on --grub-file /persist/etc/default/grub --apply --no-regenerate --state-dir /tmp/st")
	res := boot(1, cl, "", &sc)
	if !strings.Contains(out(res, "cmdline"), "intel_iommu=off") {
		t.Fatalf("boot 1 did not run with the grub file's command line: %s", out(res, "cmdline"))
	}
	f := findings(t, out(res, "check"))
	// check fails the host's IOMMU and warns on the NIC, naming the IOMMU as the cause.
	if f["iommu.kernel/host"] != "fail" || f["device.iommu_group/"+dev] == "ok" || !strings.Contains(f["device.iommu_group/"+dev+"#summary"], "IOMMU is off") {
		t.Errorf("boot 1 (intel_iommu=off): iommu.kernel %q, device.iommu_group for %s %q (%q); want fail, and not ok because the IOMMU is off",
			f["iommu.kernel/host"], dev, f["device.iommu_group/"+dev], f["device.iommu_group/"+dev+"#summary"])
	}
	if s := res.Sections["bind"]; s.RC != 1 {
		t.Errorf("fix bind with the IOMMU off, want refused (exit 1):\n%s", show(res, "bind"))
	}
	if s := res.Sections["fix"]; s.RC != 0 || !strings.Contains(string(s.Stdout), "reboot") {
		t.Errorf("fix cmdline --apply, want exit 0 and pending reboot:\n%s", show(res, "fix"))
	}
	grub := share["etc/default/grub"]
	if cl, err = grubCmdline(grub); err != nil {
		t.Fatalf("the grub file fix cmdline left: %v\n%s", err, grub)
	}
	if !contains(cl, "intel_iommu=on") || contains(cl, "intel_iommu=off") || !strings.Contains(string(grub), "GRUB_DISTRIBUTOR=`lsb_release") {
		t.Fatalf("the grub file after fix cmdline: want intel_iommu=on instead of off, other lines kept:\n%s", grub)
	}
	first := res.Elapsed

	// Boot 2: the command line from the edited grub file.
	sc = Script{}
	sc.Step("cmdline", "cat /proc/cmdline")
	sc.Step("check", "dpdk-doctor check --json")
	sc.Step("bind", "dpdk-doctor fix bind "+dev+" --persist --apply --state-dir /tmp/st")
	sc.Step("driver", drv)
	sc.Step("probe", "dpdk-doctor probe --json "+dev)
	res = boot(2, cl, "", &sc)
	if !strings.Contains(out(res, "cmdline"), "intel_iommu=on") {
		t.Fatalf("boot 2 command line: %s", out(res, "cmdline"))
	}
	f = findings(t, out(res, "check"))
	if f["iommu.kernel/host"] != "ok" || f["device.iommu_group/"+dev] != "ok" || verdict(f, dev) != "ok" {
		t.Errorf("boot 2 (intel_iommu=on from the grub file): iommu.kernel %q, device.iommu_group for %s %q, its verdict %q; want all ok\n%v",
			f["iommu.kernel/host"], dev, f["device.iommu_group/"+dev], verdict(f, dev), f)
	}
	if s := res.Sections["bind"]; s.RC != 0 || out(res, "driver") != "vfio-pci" {
		t.Errorf("fix bind --persist --apply:\n%s\ndriver: %s", show(res, "bind"), out(res, "driver"))
	}
	if p := probeOutcome(t, out(res, "probe"), dev); p != vfio.Attached {
		t.Errorf("boot 2 probe %s: %q, want attached\n%s", dev, p, show(res, "probe"))
	}
	second := res.Elapsed
	rulePath := "etc/udev/rules.d/61-dpdk-doctor-" + dev + ".rules"
	rule, ok := share[rulePath]
	if !ok {
		t.Fatalf("fix bind --persist left no %s on the disk; files: %v", rulePath, keys(share))
	}
	rdev, rdrv, err := udevOverride(rule)
	if err != nil || rdev != dev || rdrv != "vfio-pci" {
		t.Fatalf("%s: device %q driver %q, err %v", rulePath, rdev, rdrv, err)
	}

	// Boot 3: the lab's udev stand-in applies the rule before the drivers load.
	sc = Script{}
	sc.Step("driver", drv)
	sc.Step("check", "dpdk-doctor check --json")
	sc.Step("probe", "dpdk-doctor probe --json "+dev)
	pre := "echo " + rdrv + " > /sys/bus/pci/devices/" + rdev + "/driver_override\n"
	res = boot(3, cl, pre, &sc)
	if got := out(res, "driver"); got != "vfio-pci" {
		t.Errorf("boot 3: %s is on %q, want vfio-pci from the persisted rule", dev, got)
	}
	f = findings(t, out(res, "check"))
	if s := f["device.driver/"+dev+"#summary"]; !strings.Contains(s, "vfio-pci") {
		t.Errorf("boot 3: check's device.driver for %s says %q, want vfio-pci", dev, s)
	}
	if p := probeOutcome(t, out(res, "probe"), dev); p != vfio.Attached {
		t.Errorf("boot 3 probe %s: %q, want attached\n%s", dev, p, show(res, "probe"))
	}
	third := res.Elapsed

	// Boot 4, the control: the same disk and command line without the stand-in's
	// driver_override. The NIC must be back on e1000e, or boot 3 proved nothing about the rule.
	sc = Script{}
	sc.Step("driver", drv)
	res = boot(4, cl, "", &sc)
	if got := out(res, "driver"); got != "e1000e" {
		t.Errorf("control boot without the rule applied: %s is on %q, want e1000e", dev, got)
	}
	t.Logf("boots on %s: 1 (IOMMU off, fix cmdline) %.1fs, 2 (IOMMU on, fix bind --persist, probe) %.1fs, 3 (persisted binding) %.1fs",
		k.Release, first.Seconds(), second.Seconds(), third.Seconds())
}

// findings maps "id/subject" to the severity and "id/subject#summary" to the summary of each
// finding of check --json.
func findings(t *testing.T, checkJSON string) map[string]string {
	t.Helper()
	var rep struct {
		Findings []struct{ ID, Severity, Subject, Summary string }
	}
	if err := json.Unmarshal([]byte(checkJSON), &rep); err != nil {
		t.Fatalf("check --json: %v\n%s", err, tail(checkJSON, 20))
	}
	m := map[string]string{}
	for _, f := range rep.Findings {
		m[f.ID+"/"+f.Subject] = f.Severity
		m[f.ID+"/"+f.Subject+"#summary"] = f.Summary
	}
	return m
}

// verdict is the worst severity of dev's findings.
func verdict(f map[string]string, dev string) string {
	rank := map[string]int{"": -1, "ok": 0, "warn": 1, "fail": 2}
	v := ""
	for k, s := range f {
		if strings.HasSuffix(k, "/"+dev) && rank[s] > rank[v] {
			v = s
		}
	}
	return v
}

func probeOutcome(t *testing.T, js, dev string) vfio.Outcome {
	t.Helper()
	var ps []vfio.Result
	if err := json.Unmarshal([]byte(js), &ps); err != nil {
		t.Errorf("probe --json: %v\n%s", err, js)
		return ""
	}
	for _, p := range ps {
		if p.Device == dev {
			return p.Outcome
		}
	}
	return ""
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func keys(m map[string][]byte) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

func TestUdevOverride(t *testing.T) {
	good := "# Written by dpdk-doctor fix bind --persist: 0000:01:00.0 goes to vfio-pci at boot.\n" +
		`ACTION=="add", SUBSYSTEM=="pci", KERNEL=="0000:01:00.0", ATTR{driver_override}="vfio-pci", RUN{builtin}+="kmod load vfio-pci"` + "\n"
	if d, drv, err := udevOverride([]byte(good)); err != nil || d != "0000:01:00.0" || drv != "vfio-pci" {
		t.Errorf("good rule: %q %q %v", d, drv, err)
	}
	for _, bad := range []string{"", "vfio-pci\n", strings.Replace(good, "kmod load vfio-pci", "kmod load e1000e", 1), strings.Replace(good, `KERNEL=="0000:01:00.0"`, `KERNEL=="*"`, 1)} {
		if _, _, err := udevOverride([]byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
	cl, err := grubCmdline([]byte(debianGrub))
	if err != nil || strings.Join(cl, " ") != "intel_iommu=off quiet" {
		t.Errorf("grubCmdline: %q %v", cl, err)
	}
}

// FuzzUdevOverride: the harness's reader of the persisted rule never panics, and what it accepts
// is a PCI address and a driver name that appear in the rule.
func FuzzUdevOverride(f *testing.F) {
	f.Add([]byte(`ACTION=="add", SUBSYSTEM=="pci", KERNEL=="0000:01:00.0", ATTR{driver_override}="vfio-pci", RUN{builtin}+="kmod load vfio-pci"`))
	f.Add([]byte("vfio-pci\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		dev, drv, err := udevOverride(b)
		if err == nil && (!strings.Contains(string(b), `KERNEL=="`+dev+`"`) || !strings.Contains(string(b), `"`+drv+`"`) || dev == "" || drv == "") {
			t.Fatalf("accepted %q as %q %q", b, dev, drv)
		}
	})
}
