package lab

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"
)

// NUMANIC is the e1000e of the two-node machine of TestFixHugepagesNUMA: behind a root port on
// the pxb-pcie host bridge QEMU puts on NUMA node 1 (bus 0x80).
const NUMANIC = "0000:81:00.0"

// TestFixHugepagesNUMA proves `fix hugepages --for-dpdk` on a real kernel with two NUMA nodes
// (QEMU -numa, 1536 MiB each; the NIC on a pxb-pcie root bus of node 1, which the kernel reads
// from ACPI _PXM): at MTU 1400 (16384 mbufs of 3008 bytes = 47 MiB + 512 = 560 MiB) it raises
// node 1's 2M pool to 280 pages and node 0's (the housekeeping core's) to 512, the kernel reserves
// them, and the rollback puts both back; at MTU 9000 node 1 needs 1528 pages (3056 MiB), more
// than the node has: the kernel reserves fewer, verify names the node and both numbers, and
// both pools go back.
func TestFixHugepagesNUMA(t *testing.T) {
	labEnabled(t)
	k := labKernels(t)[0]
	bin := doctorBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	m := Machine{CPUs: 2, MemoryMB: 3072,
		Devices: []Device{
			{Model: "pxb-pcie", ID: "pxb1", Props: []string{"bus_nr=0x80", "numa_node=1"}},
			{Model: "pcie-root-port", ID: "rpn", Bus: "pxb1", Props: []string{"slot=20", "chassis=20"}},
			{Model: "e1000e", Bus: "rpn", Props: []string{"romfile="}},
		},
		Extra: []string{
			"-object", "memory-backend-ram,id=m0,size=1536M", "-object", "memory-backend-ram,id=m1,size=1536M",
			"-numa", "node,nodeid=0,cpus=0,memdev=m0", "-numa", "node,nodeid=1,cpus=1,memdev=m1",
		},
	}
	pool := func(n int) string {
		return "/sys/devices/system/node/node" + strconv.Itoa(n) + "/hugepages/hugepages-2048kB/nr_hugepages"
	}
	fixArgs := "dpdk-doctor fix hugepages --for-dpdk --device " + NUMANIC + " --size 2M --state-dir /tmp/st"
	rollback := "sh -c 'dpdk-doctor fix --rollback $(basename $(ls -t /tmp/st/hugepages-*.json | head -1) .json) --apply --state-dir /tmp/st'"
	var sc Script
	sc.Step("numa", "cat /sys/bus/pci/devices/"+NUMANIC+"/numa_node")
	sc.Step("before", "cat "+pool(0)+" "+pool(1))
	sc.Step("dry", fixArgs+" --mtu 1400")
	sc.Step("apply", fixArgs+" --mtu 1400 --apply")
	sc.Step("after", "cat "+pool(0)+" "+pool(1))
	sc.Step("rollback", rollback)
	sc.Step("back", "cat "+pool(0)+" "+pool(1))
	sc.Step("short", fixArgs+" --mtu 9000 --apply")
	sc.Step("short-back", "cat "+pool(0)+" "+pool(1))
	rd, err := Initramfs{Kernel: k, Modules: []string{"e1000e"}, Init: sc.String(), Files: map[string][]byte{"bin/dpdk-doctor": bin}}.Build(ctx)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	res, err := Run(ctx, Boot{Machine: m, Kernel: k, Initrd: rd})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("boot to power-off on %s (TCG, 2 nodes): %v", k.Release, time.Since(start).Round(time.Second))
	sec := func(name string) Section {
		s, ok := res.Sections[name]
		if !ok {
			t.Fatalf("no section %s; console:\n%s", name, tail(res.Console, 3000))
		}
		return s
	}
	out := func(name string) string { return strings.Join(strings.Fields(string(sec(name).Stdout)), " ") }
	show := func(name string) string {
		s := sec(name)
		return name + ": rc " + strconv.Itoa(s.RC) + "\n" + string(s.Stdout) + string(s.Stderr)
	}
	if out("numa") != "1" {
		t.Fatalf("the NIC is on node %q, not 1: %s", out("numa"), show("numa"))
	}
	before := out("before")
	if s := sec("dry"); s.RC != 0 || !strings.Contains(string(s.Stdout), "echo 280 > "+pool(1)) || !strings.Contains(string(s.Stdout), "echo 512 > "+pool(0)) {
		t.Errorf("%s", show("dry"))
	}
	if s := sec("apply"); s.RC != 0 || !strings.Contains(string(s.Stdout), "the kernel reserved 280 2M pages for NUMA node 1") || out("after") != "512 280" {
		t.Errorf("%s\nafter: %s", show("apply"), out("after"))
	} else {
		t.Logf("%s", show("apply"))
	}
	if sec("rollback").RC != 0 || out("back") != before {
		t.Errorf("%s\nback: %s, before %s", show("rollback"), out("back"), before)
	}
	if s := sec("short"); s.RC != 1 || !strings.Contains(string(s.Stderr), "of the 1528 2M pages asked for NUMA node 1") || !strings.Contains(string(s.Stderr), "rolled back") || out("short-back") != before {
		t.Errorf("%s\nback: %s, before %s", show("short"), out("short-back"), before)
	} else {
		t.Logf("%s", show("short"))
	}
}
