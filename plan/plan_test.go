package plan

import (
	"reflect"
	"strings"
	"testing"

	"github.com/dpdk-doctor/dpdk-doctor/cmdline"
	"github.com/dpdk-doctor/dpdk-doctor/host"
)

// TestPoolSizes checks the mempool arithmetic against OVS's memory.rst examples: MTU 1500 and
// 1800 share a 3008-byte mbuf (788 MB for 262144 mbufs), 9000 takes 10176 bytes (2667 MB);
// below 1500 a pool has 16384 mbufs. For 6000 the newest memory.rst says 8128 bytes, which the
// code's rounding (netdev_dpdk_buf_size: ROUND_UP(6000+26, 1024) + 128 = 6272) cannot give; the
// code and the older memory.rst give 6272 + 832 = 7104 bytes (1862 MB): the code wins.
func TestPoolSizes(t *testing.T) {
	for _, c := range []struct {
		mtu   int
		elem  int
		mbufs int
		mb    int64 // 10^6 bytes, as memory.rst counts
	}{
		{1500, 3008, 262144, 788},
		{1800, 3008, 262144, 788},
		{6000, 7104, 262144, 1862},
		{9000, 10176, 262144, 2667},
		{1499, 3008, 16384, 49},
	} {
		if got := DataRoom(c.mtu) + mbufOverhead; got != c.elem {
			t.Errorf("MTU %d: mbuf %d bytes, want %d", c.mtu, got, c.elem)
		}
		if got := Mbufs(c.mtu); got != c.mbufs {
			t.Errorf("MTU %d: %d mbufs, want %d", c.mtu, got, c.mbufs)
		}
		if got := PoolBytes(c.mtu) / 1e6; got != c.mb {
			t.Errorf("MTU %d: %d MB, want %d", c.mtu, got, c.mb)
		}
	}
	// TripleO: (roundup(1500,1024)+800) x 262144 = 2848 x 262144 B = 712 MiB;
	// (roundup(9000,1024)+800) = 10016 x 262144 B = 2504 MiB.
	if TripleOMiB(1500) != 712 || TripleOMiB(9000) != 2504 {
		t.Errorf("TripleO: %d, %d MiB; want 712, 2504", TripleOMiB(1500), TripleOMiB(9000))
	}
}

func input(t *testing.T, tree string) Input {
	t.Helper()
	r, err := host.Dir("../testdata/hosts/" + tree)
	if err != nil {
		t.Fatal(err)
	}
	topo, err := ReadTopology(r)
	if err != nil {
		t.Fatal(err)
	}
	release, _ := r.ReadString("proc/sys/kernel/osrelease")
	return Input{Topology: topo, Cmdline: cmdline.Read(r), Pdpe1GB: true, IOMMUOn: true, HugePages: map[Key]uint64{}, Release: release}
}

func nics(t *testing.T, tree string, mtu int, addrs ...string) []NIC {
	r, err := host.Dir("../testdata/hosts/" + tree)
	if err != nil {
		t.Fatal(err)
	}
	var out []NIC
	for _, a := range addrs {
		n, err := Device(r, a, mtu)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, n)
	}
	return out
}

// TestTwoNodes works the two-socket Xeon by hand. CPUs 0-7 are node 0's first threads, 16-23
// their siblings; 8-15 and 24-31 node 1's. CPU 0 and its sibling 16 keep house; 4-7 and 20-23
// are isolated for VMs. A NIC on each node at MTU 1500:
//   - pool: 262144 x (roundup(1526,1024)=2048 + 128 + 832 = 3008 B) = 788529152 B = 752 MiB
//   - per node 752 + 512 = 1264 MiB, whole 1 GiB pages: 2048; TripleO: 712 + 512 = 1224 -> 2048
//   - PMDs: node 0's first free core is core 1 (CPUs 1,17), node 1's core 0 (CPUs 8,24):
//     bits 1, 8, 17, 24 = 0x2 + 0x100 + 0x20000 + 0x1000000 = 0x1020102
//   - pages: 2 + 2 one-GiB pages: hugepages=4
//
// At MTU 9000: 262144 x (9216 + 128 + 832 = 10176 B) = 2544 MiB, + 512 = 3056 -> 3072 MiB;
// TripleO (9216 + 800) x 262144 = 2504 MiB + 512 = 3016 -> 3072.
func TestTwoNodes(t *testing.T) {
	in := input(t, "numa2-xeon")
	in.NICs = nics(t, "numa2-xeon", 0, "0000:18:00.0", "0000:af:00.0")
	p, err := Derive(in)
	if err != nil {
		t.Fatal(err)
	}
	if p.SocketMem != "2048,2048" || p.TripleO != "2048,2048" {
		t.Errorf("socket-mem %s (TripleO %s), want 2048,2048 both", p.SocketMem, p.TripleO)
	}
	if p.Nodes[0].Pools[0].MiB != 752 || p.Nodes[0].OVSMiB != 1264 {
		t.Errorf("node 0: pool %d MiB, OVS %d MiB; want 752, 1264", p.Nodes[0].Pools[0].MiB, p.Nodes[0].OVSMiB)
	}
	if p.PMDMask != "0x1020102" || !reflect.DeepEqual(p.PMDCPUs, []int{1, 17, 8, 24}) {
		t.Errorf("PMDs %v = %s, want [1 17 8 24] = 0x1020102", p.PMDCPUs, p.PMDMask)
	}
	if p.LcoreMask != "0x1" {
		t.Errorf("lcore mask %s, want 0x1", p.LcoreMask)
	}
	if got := strings.Join(p.Kernel, " "); got != "default_hugepagesz=1G hugepagesz=1G hugepages=4" {
		t.Errorf("kernel: %q", got)
	}
	in.NICs = nics(t, "numa2-xeon", 9000, "0000:18:00.0", "0000:af:00.0")
	p, err = Derive(in)
	if err != nil {
		t.Fatal(err)
	}
	if p.SocketMem != "3072,3072" || p.TripleO != "3072,3072" || p.Nodes[1].Pools[0].MiB != 2544 {
		t.Errorf("MTU 9000: socket-mem %s (TripleO %s, pool %d MiB), want 3072,3072 both and 2544", p.SocketMem, p.TripleO, p.Nodes[1].Pools[0].MiB)
	}
}

// TestFourNodes works the four-node EPYC: node n holds CPUs 8n..8n+7 and their siblings
// 32+8n..; node 3 (24-31, 56-63) is isolated for something else, so it gets no PMD.
//   - nodes 0-2 at MTU 1500: 2048 MiB each, as above; node 3 too (its NIC still needs a pool)
//   - PMDs: node 0 core 1 (1,33), node 1 (8,40), node 2 (16,48):
//     bits 1,8,16,33,40,48 = 0x1_0102_0001_0102 -> 0x1010200010102
//   - with a second node-0 NIC at MTU 9000, node 0 holds two pools: 752 + 2544 + 512 = 3808
//     -> 4096 MiB; TripleO takes the largest MTU only: 2504 + 512 = 3016 -> 3072
func TestFourNodes(t *testing.T) {
	in := input(t, "numa4-epyc")
	in.NICs = nics(t, "numa4-epyc", 1500, "0000:01:00.0", "0000:41:00.0", "0000:81:00.0", "0000:c1:00.0")
	p, err := Derive(in)
	if err != nil {
		t.Fatal(err)
	}
	if p.SocketMem != "2048,2048,2048,2048" {
		t.Errorf("socket-mem %s", p.SocketMem)
	}
	if p.PMDMask != "0x1010200010102" {
		t.Errorf("PMD mask %s (%v), want 0x1010200010102", p.PMDMask, p.PMDCPUs)
	}
	if len(p.Nodes[3].PMDCPUs) != 0 || !strings.Contains(strings.Join(p.Notes, "\n"), "node 3 has NICs but no free physical core") {
		t.Errorf("node 3: PMDs %v, notes %q", p.Nodes[3].PMDCPUs, p.Notes)
	}
	in.NICs = append(in.NICs, NIC{Addr: "0000:01:00.1", Node: 0, NodeKnown: true, MTU: 9000})
	p, err = Derive(in)
	if err != nil {
		t.Fatal(err)
	}
	if n := p.Nodes[0]; n.SocketMem != 4096 || n.TripleO != 3072 || len(n.Pools) != 2 {
		t.Errorf("node 0 with MTUs 1500 and 9000: %d MiB (TripleO %d), %d pools; want 4096 (3072), 2", n.SocketMem, n.TripleO, len(n.Pools))
	}
	// Two PMD cores per node: node 0 takes cores 1 and 2 (1,2,33,34).
	in.PMDCores = 2
	p, _ = Derive(in)
	if !reflect.DeepEqual(p.Nodes[0].PMDCPUs, []int{1, 2, 33, 34}) {
		t.Errorf("two cores on node 0: %v", p.Nodes[0].PMDCPUs)
	}
}

// TestTwoMegPages: without pdpe1gb the plan uses 2 MiB pages and rounds to 2 MiB: 1264 MiB =
// 632 pages on a NIC node, and the housekeeping node without NICs gets 1024 MiB (512 pages).
func TestTwoMegPages(t *testing.T) {
	in := input(t, "numa2-xeon")
	in.Pdpe1GB = false
	in.NICs = []NIC{{Addr: "0000:af:00.0", Node: 1, NodeKnown: true}}
	p, err := Derive(in)
	if err != nil {
		t.Fatal(err)
	}
	if p.SocketMem != "1024,1264" || p.Nodes[1].Pages != 632 || p.Nodes[0].Pages != 512 {
		t.Errorf("2M pages: socket-mem %s, pages %d, %d", p.SocketMem, p.Nodes[0].Pages, p.Nodes[1].Pages)
	}
	// The tree's kernel (5.15) takes only a total, spread evenly: each node gets the 632 the
	// larger needs. Linux 5.16 and later take the per-node counts.
	if got := strings.Join(p.Kernel, " "); got != "default_hugepagesz=2M hugepagesz=2M hugepages=1264" {
		t.Errorf("kernel on %s: %q", in.Release, got)
	}
	in.Release = "6.1.0-28-amd64"
	p, _ = Derive(in)
	if got := strings.Join(p.Kernel, " "); got != "default_hugepagesz=2M hugepagesz=2M hugepages=0:512,1:632" {
		t.Errorf("kernel on %s: %q", in.Release, got)
	}
}

func TestBadInput(t *testing.T) {
	in := input(t, "numa2-xeon")
	if _, err := Derive(in); err == nil || !strings.Contains(err.Error(), "no DPDK devices") {
		t.Errorf("no NICs: %v", err)
	}
	in.NICs = []NIC{{Addr: "0000:18:00.0", MTU: 20000}}
	if _, err := Derive(in); err == nil || !strings.Contains(err.Error(), "0000:18:00.0") {
		t.Errorf("MTU 20000: %v", err)
	}
	in.NICs = []NIC{{Addr: "0000:18:00.0", Node: 7}}
	if _, err := Derive(in); err == nil || !strings.Contains(err.Error(), "node 7") {
		t.Errorf("node 7: %v", err)
	}
	in.Cmdline = cmdline.Parse("isolcpus=3-1")
	in.NICs = []NIC{{Addr: "0000:18:00.0"}}
	if _, err := Derive(in); err == nil || !strings.Contains(err.Error(), "isolcpus=3-1") {
		t.Errorf("isolcpus=3-1: %v", err)
	}
}

func TestListAndMask(t *testing.T) {
	l, err := ParseList("0-3,8,10-11\n")
	if err != nil || !reflect.DeepEqual(l, []int{0, 1, 2, 3, 8, 10, 11}) || FormatList(l) != "0-3,8,10-11" {
		t.Errorf("ParseList: %v %v", l, err)
	}
	if Mask([]int{0, 4, 63}) != "0x8000000000000011" {
		t.Errorf("mask %s", Mask([]int{0, 4, 63}))
	}
	iso, err := Isolated(cmdline.Parse("isolcpus=managed_irq,domain,2-3 nohz_full=5"))
	if err != nil || !reflect.DeepEqual(iso, []int{2, 3, 5}) {
		t.Errorf("Isolated: %v %v", iso, err)
	}
}

func FuzzParseList(f *testing.F) {
	for _, s := range []string{"0-3,8", "", "1-0", "x", "0-8191", "3,3,3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := ParseList(s)
		if err != nil {
			return
		}
		again, err := ParseList(FormatList(l))
		if err != nil || !reflect.DeepEqual(again, l) && len(l) > 0 {
			t.Fatalf("%q -> %v -> %q -> %v %v", s, l, FormatList(l), again, err)
		}
		if len(l) > 0 && len(maskCPUs(Mask(l))) != len(l) {
			t.Fatalf("mask of %v: %s", l, Mask(l))
		}
	})
}
