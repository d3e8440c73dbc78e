package lab

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dpdk-doctor/dpdk-doctor/dmar"
)

// TestFixRemedies proves the fix remedies on a real kernel (the first lab kernel): `fix bind
// --apply` moves the e1000e in slot 2 to vfio-pci, verified, and the rollback gives it back to
// e1000e with its interface; an interface with an address is refused, and so is the NIC in slot
// 3, RMRR-locked by the firmware's DMAR; binding one e1000 behind the conventional PCI bridge
// binds its group neighbour too, and `fix unbind` gives it back to e1000; `fix hugepages` changes the guest's real 2M pool and the
// rollback restores it; `fix hugepages --mount --persist` mounts hugetlbfs of 2M (the guest's
// /proc/mounts lists it) with an fstab line (no systemd in the guest), and the rollback undoes both. The time from `fix bind --apply` to verified is logged (BENCHMARKS.md).
func TestFixRemedies(t *testing.T) {
	labEnabled(t)
	ks := labKernels(t)
	k := ks[0]
	bin := doctorBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	m := Standard(true)
	q, err := QEMUDMAR(ctx, CacheDir(), k, m)
	if err != nil {
		t.Fatal(err)
	}
	tb, err := FirmwareDMAR(q, []RMRR{{rmrrBase, rmrrEnd, []dmar.Scope{Endpoint("03.0/00.0")}}})
	if err != nil {
		t.Fatal(err)
	}
	front, err := ACPIUpgrade(map[string][]byte{"dmar": tb})
	if err != nil {
		t.Fatal(err)
	}
	drv := func(d string) string { return "sh -c 'basename $(readlink /sys/bus/pci/devices/" + d + "/driver)'" }
	var sc Script
	sc.Step("dry", "dpdk-doctor fix bind "+NICSlot2+" --state-dir /tmp/st")
	sc.Step("apply", "dpdk-doctor fix bind "+NICSlot2+" --apply --state-dir /tmp/st")
	sc.Step("after", drv(NICSlot2))
	sc.Step("rollback", "sh -c 'dpdk-doctor fix --rollback $(basename $(ls /tmp/st/bind-*.json) .json) --apply --state-dir /tmp/st'")
	sc.Step("back", drv(NICSlot2))
	sc.Step("ifname", "ls /sys/bus/pci/devices/"+NICSlot2+"/net")
	sc.Step("locked", "dpdk-doctor fix bind "+NICSlot3+" --apply --state-dir /tmp/st")
	sc.Step("locked-driver", drv(NICSlot3))
	sc.Raw("n=$(ls /sys/bus/pci/devices/" + NICSwitchB + "/net); ip link set $n up; ip addr add 192.0.2.1/24 dev $n")
	sc.Step("active", "dpdk-doctor fix bind "+NICSwitchB+" --apply --state-dir /tmp/st")
	sc.Step("active-driver", drv(NICSwitchB))
	sc.Step("group", "dpdk-doctor fix bind "+PCINIC1+" --apply --state-dir /tmp/st")
	sc.Step("group-1", drv(PCINIC1))
	sc.Step("group-2", drv(PCINIC2))
	sc.Step("unbind", "dpdk-doctor fix unbind "+PCINIC1+" --apply --state-dir /tmp/st")
	sc.Step("unbind-1", drv(PCINIC1))
	hp := "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages"
	sc.Step("hp-before", "cat "+hp)
	sc.Step("hp", "dpdk-doctor fix hugepages --size 2M --pages 16 --apply --state-dir /tmp/st")
	sc.Step("hp-after", "cat "+hp)
	sc.Step("hp-rollback", "sh -c 'dpdk-doctor fix --rollback $(basename $(ls /tmp/st/hugepages-*.json) .json) --apply --state-dir /tmp/st'")
	sc.Step("hp-back", "cat "+hp)
	// The hugetlbfs mount of a page size, now (mount(2)) and at boot (no systemd in the guest:
	// a line in /etc/fstab), read back from the guest's /proc/mounts, and rolled back.
	sc.Step("mnt", "dpdk-doctor fix hugepages --mount --size 2M --path /dev/hugepages-2M --persist --apply --state-dir /tmp/st2")
	sc.Step("mnt-mounts", "cat /proc/mounts")
	sc.Step("mnt-fstab", "cat /etc/fstab")
	sc.Step("mnt-rollback", "sh -c 'dpdk-doctor fix --rollback $(basename $(ls /tmp/st2/hugepages-*.json) .json) --apply --state-dir /tmp/st2'")
	sc.Step("mnt-after", "cat /proc/mounts")
	sc.Step("mnt-dir", "ls -d /dev/hugepages-2M")
	rd, err := Initramfs{Kernel: k, Modules: []string{"e1000e", "e1000"}, Init: sc.String(), Files: map[string][]byte{"bin/dpdk-doctor": bin}}.Build(ctx)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Run(ctx, Boot{Machine: m, Kernel: k, Initrd: append(front, rd...), Cmdline: []string{"intel_iommu=on"}})
	if err != nil {
		t.Fatal(err)
	}
	sec := func(name string) Section {
		s, ok := res.Sections[name]
		if !ok {
			t.Fatalf("no section %s; console:\n%s", name, tail(res.Console, 3000))
		}
		return s
	}
	out := func(name string) string { return strings.TrimSpace(string(sec(name).Stdout)) }
	show := func(name string) string {
		s := sec(name)
		return name + ": rc " + strconv.Itoa(s.RC) + "\n" + string(s.Stdout) + string(s.Stderr)
	}
	if s := sec("dry"); s.RC != 0 || !strings.Contains(string(s.Stdout), "nothing was changed") {
		t.Errorf("%s", show("dry"))
	}
	if s := sec("apply"); s.RC != 0 || !strings.Contains(string(s.Stdout), "verified") || out("after") != "vfio-pci" {
		t.Errorf("%s\nafter: %s", show("apply"), out("after"))
	}
	if m := regexp.MustCompile(`verified in (\S+)\.`).FindStringSubmatch(out("apply")); m != nil {
		t.Logf("fix bind --apply, apply to verified, on %s (TCG guest): %s", k.Release, m[1])
	} else {
		t.Errorf("no time in %s", show("apply"))
	}
	if sec("rollback").RC != 0 || out("back") != "e1000e" || out("ifname") == "" {
		t.Errorf("%s\nback: %s, interface %q", show("rollback"), out("back"), out("ifname"))
	}
	if s := sec("locked"); s.RC != 1 || !strings.Contains(string(s.Stderr), "RMRR-locked") || out("locked-driver") != "e1000e" {
		t.Errorf("%s\ndriver: %s", show("locked"), out("locked-driver"))
	}
	if s := sec("active"); s.RC != 1 || !strings.Contains(string(s.Stderr), "interface the host uses") || out("active-driver") != "e1000e" {
		t.Errorf("%s\ndriver: %s", show("active"), out("active-driver"))
	}
	if s := sec("group"); s.RC != 0 || out("group-1") != "vfio-pci" || out("group-2") != "vfio-pci" || !strings.Contains(string(s.Stdout), PCINIC2) {
		t.Errorf("%s\ndrivers: %s %s", show("group"), out("group-1"), out("group-2"))
	}
	if s := sec("unbind"); s.RC != 0 || out("unbind-1") != "e1000" {
		t.Errorf("%s\ndriver: %s", show("unbind"), out("unbind-1"))
	}
	if sec("hp").RC != 0 || out("hp-after") != "16" || out("hp-back") != out("hp-before") {
		t.Errorf("%s\npool before %s, after %s, back %s\n%s", show("hp"), out("hp-before"), out("hp-after"), out("hp-back"), show("hp-rollback"))
	}
	// The guest has no hugetlbfs of 2M: the pool run mounts one too, and its rollback unmounts it.
	if !strings.Contains(out("hp"), "mounted hugetlbfs (pagesize=2M) at /dev/hugepages-2M") || !strings.Contains(out("hp-rollback"), "unmounted /dev/hugepages-2M") {
		t.Errorf("%s\n%s", show("hp"), show("hp-rollback"))
	}
	mounted := regexp.MustCompile(`(?m)^\S+ /dev/hugepages-2M hugetlbfs \S*pagesize=2M`)
	if s := sec("mnt"); s.RC != 0 || !strings.Contains(string(s.Stdout), "Done and verified") || !mounted.MatchString(out("mnt-mounts")) ||
		!strings.Contains(out("mnt-fstab"), "hugetlbfs /dev/hugepages-2M hugetlbfs nosuid,nodev,pagesize=2M 0 0") {
		t.Errorf("%s\n/proc/mounts:\n%s\n/etc/fstab:\n%s", show("mnt"), out("mnt-mounts"), out("mnt-fstab"))
	}
	if s := sec("mnt-rollback"); s.RC != 0 || mounted.MatchString(out("mnt-after")) || sec("mnt-dir").RC == 0 {
		t.Errorf("%s\n/proc/mounts after:\n%s\n%s", show("mnt-rollback"), out("mnt-after"), show("mnt-dir"))
	}
	t.Logf("%s\n%s", show("mnt"), show("mnt-rollback"))
}
