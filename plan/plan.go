// Package plan derives the OVS-DPDK settings a host needs (dpdk-socket-mem per NUMA node,
// pmd-cpu-mask, dpdk-lcore-mask, huge pages and the kernel command line) from its facts: CPU
// topology, isolated CPUs, huge pages, the NICs' NUMA nodes and their MTUs. Every number comes
// with the reason for it, and OVS's own sizing is shown beside TripleO's rule of thumb.
package plan

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/dpdk-doctor/dpdk-doctor/cmdline"
)

// OVS's shared-mempool sizing, from lib/netdev-dpdk.c and Documentation/topics/dpdk/memory.rst.
const (
	MaxNbMbuf = 4096 * 64 // MAX_NB_MBUF: mbufs in a pool for MTU >= 1500 (RTE_ETHER_MTU)
	MinNbMbuf = 4096 * 4  // MIN_NB_MBUF: for a smaller MTU
	// A frame's largest length: MTU + Ethernet header (14) + CRC (4) + two VLAN tags (8),
	// OVS's MTU_TO_MAX_FRAME_LEN.
	frameOverhead = 26
	mbufAlign     = 1024 // NETDEV_DPDK_MBUF_ALIGN: data rooms are rounded up to 1 KiB
	headroom      = 128  // RTE_PKTMBUF_HEADROOM
	// What each mbuf costs beyond its data room: struct rte_mbuf, OVS's dp_packet private
	// area, the mempool's object header and padding. OVS's memory.rst gives 3008 bytes for MTU
	// 1500 (a 2176-byte room), 8128 for 6000 and 10176 for 9000: 832 each time.
	mbufOverhead = 832
	// DefaultMTU is what OVS uses for an Interface without mtu_request.
	DefaultMTU = 1500
	// MaxMTU is the largest MTU OVS accepts for a DPDK port (NETDEV_DPDK_MAX_PKT_LEN 9728 less
	// the frame overhead).
	MaxMTU = 9702
	// eal is the memory DPDK and OVS take on a node beside the mbuf pools (EAL structures,
	// rings, vhost and flow tables); TripleO reserves the same 512 MB.
	eal = 512
)

// DataRoom is the size of an mbuf's data room for an MTU, as OVS's dpdk_buf_size computes it:
// the largest frame rounded up to 1 KiB, plus the headroom. Ports whose MTUs give the same room
// on the same node share one pool.
func DataRoom(mtu int) int {
	return (mtu+frameOverhead+mbufAlign-1)/mbufAlign*mbufAlign + headroom
}

// Mbufs is the number of mbufs OVS asks for in a shared pool (dpdk_calculate_mbufs).
func Mbufs(mtu int) int {
	if mtu >= 1500 {
		return MaxNbMbuf
	}
	return MinNbMbuf
}

// PoolBytes is the memory of one shared pool for an MTU.
func PoolBytes(mtu int) int64 {
	return int64(Mbufs(mtu)) * int64(DataRoom(mtu)+mbufOverhead)
}

// TripleOMiB is TripleO's rule for one MTU on a node: (roundup(MTU,1024)+800) x 262144 bytes.
func TripleOMiB(mtu int) int64 {
	return int64((mtu+1023)/1024*1024+800) * MaxNbMbuf / (1 << 20)
}

func roundUp(v, to int64) int64 { return (v + to - 1) / to * to }

// NIC is a device OVS will poll with DPDK.
type NIC struct {
	Addr      string `json:"pci_address"`
	Interface string `json:"interface,omitempty"` // the OVS Interface using it, when known
	Node      int    `json:"numa_node"`
	NodeKnown bool   `json:"numa_node_known"` // false when sysfs said -1 (taken as node 0)
	MTU       int    `json:"mtu"`
}

// Input is what a plan is derived from.
type Input struct {
	Topology    Topology
	NICs        []NIC
	Cmdline     cmdline.Cmdline
	Pdpe1GB     bool              // the CPU can map 1 GiB pages
	IOMMUVendor string            // "intel" or "amd": which iommu parameter the command line needs
	IOMMUOn     bool              // the kernel has IOMMU units (DMA remapping on)
	HugePages   map[Key]uint64    // pages present now, per node and size
	Current     map[string]string // OVS other_config now; nil when OVS is not known
	PMDCores    int               // physical cores for PMDs on each NIC node; 0 means 1
	Release     string            // the kernel release: whether hugepages= takes per-node counts
}

// Key is a huge page pool: a node and a page size.
type Key struct {
	Node   int
	SizeKB uint64
}

// Pool is one shared mbuf pool OVS will create on a node.
type Pool struct {
	MTU      int    `json:"mtu"` // the largest MTU sharing it
	Mbufs    int    `json:"mbufs"`
	Element  int    `json:"element_bytes"`
	Bytes    int64  `json:"bytes"`
	MiB      int64  `json:"mib"`
	Sharing  string `json:"ports"`
	DataRoom int    `json:"data_room"`
}

// Node is the plan for one NUMA node.
type Node struct {
	Node        int      `json:"node"`
	NICs        []string `json:"nics"`
	Pools       []Pool   `json:"pools"`
	SocketMem   int64    `json:"socket_mem_mib"`         // what the plan sets
	OVSMiB      int64    `json:"ovs_mib"`                // pools + 512, before rounding to pages
	TripleO     int64    `json:"tripleo_socket_mem_mib"` // TripleO's rule, for comparison
	PMDCPUs     []int    `json:"pmd_cpus"`
	Pages       uint64   `json:"huge_pages_needed"`
	PagesNow    uint64   `json:"huge_pages_now"`
	Explanation string   `json:"explanation"`
}

// Setting is one other_config key the plan sets.
type Setting struct {
	Key     string `json:"key"`
	Value   string `json:"value"`
	Current string `json:"current"`
	Restart bool   `json:"needs_restart"` // ovs-vswitchd reads it only at start
	Why     string `json:"why"`
}

// Plan is the derived configuration.
type Plan struct {
	NICs         []NIC     `json:"nics"`
	Nodes        []Node    `json:"nodes"`
	PageSizeKB   uint64    `json:"page_size_kb"`
	SocketMem    string    `json:"dpdk_socket_mem"`
	TripleO      string    `json:"tripleo_socket_mem"`
	PMDCPUs      []int     `json:"pmd_cpus"`
	PMDMask      string    `json:"pmd_cpu_mask"`
	LcoreCPUs    []int     `json:"lcore_cpus"`
	LcoreMask    string    `json:"dpdk_lcore_mask"`
	Settings     []Setting `json:"settings"`
	Kernel       []string  `json:"kernel_cmdline"`        // parameters to add (or change)
	KernelOption []string  `json:"kernel_cmdline_option"` // optional: isolate the PMD cores
	Notes        []string  `json:"notes"`
}

// Isolated returns the CPUs the command line takes from the scheduler (isolcpus, with or
// without flags such as "domain,managed_irq,") or from the tick (nohz_full).
func Isolated(c cmdline.Cmdline) ([]int, error) {
	seen := map[int]bool{}
	for _, key := range []string{"isolcpus", "nohz_full"} {
		for _, v := range c.All(key) {
			var nums []string
			for _, f := range strings.Split(v, ",") {
				if f != "" && (f[0] < '0' || f[0] > '9') {
					continue // a flag: nohz, domain, managed_irq
				}
				nums = append(nums, f)
			}
			cpus, err := ParseList(strings.Join(nums, ","))
			if err != nil {
				return nil, fmt.Errorf("kernel command line %s=%s: %w", key, v, err)
			}
			for _, c := range cpus {
				seen[c] = true
			}
		}
	}
	var out []int
	for c := range seen {
		out = append(out, c)
	}
	sort.Ints(out)
	return out, nil
}

// Derive makes the plan.
func Derive(in Input) (*Plan, error) {
	if len(in.Topology.CPUs) == 0 {
		return nil, fmt.Errorf("no CPUs in the topology")
	}
	if len(in.NICs) == 0 {
		return nil, fmt.Errorf("no DPDK devices: name them (PCI addresses) or add dpdk ports to OVS first")
	}
	pmdCores := in.PMDCores
	if pmdCores <= 0 {
		pmdCores = 1
	}
	nicsIn := append([]NIC(nil), in.NICs...)
	for i := range nicsIn {
		if nicsIn[i].MTU == 0 {
			nicsIn[i].MTU = DefaultMTU
		}
		if nicsIn[i].MTU < 68 || nicsIn[i].MTU > MaxMTU {
			return nil, fmt.Errorf("device %s: MTU %d is outside what OVS accepts for DPDK ports (68-%d)", nicsIn[i].Addr, nicsIn[i].MTU, MaxMTU)
		}
	}
	in.NICs = nicsIn
	p := &Plan{NICs: in.NICs, PageSizeKB: 2048}
	if in.Pdpe1GB {
		p.PageSizeKB = 1 << 20
	}
	pageMiB := int64(p.PageSizeKB / 1024)
	isolated, err := Isolated(in.Cmdline)
	if err != nil {
		return nil, err
	}
	// The housekeeping core: CPU 0 and its siblings run the kernel's and OVS's own threads.
	cpu0 := in.Topology.CPU(0)
	if cpu0 == nil {
		cpu0 = &in.Topology.CPUs[0]
	}
	housekeeping := map[int]bool{}
	for _, s := range cpu0.Siblings {
		housekeeping[s] = true
	}
	p.LcoreCPUs = []int{cpu0.ID}
	p.LcoreMask = Mask(p.LcoreCPUs)
	// CPUs isolated for something else: isolated, and not PMDs already.
	var currentPMD map[int]bool
	if m := in.Current["pmd-cpu-mask"]; m != "" {
		currentPMD = map[int]bool{}
		for _, c := range maskCPUs(m) {
			currentPMD[c] = true
		}
	}
	elsewhere := map[int]bool{}
	for _, c := range isolated {
		if !currentPMD[c] {
			elsewhere[c] = true
		}
	}
	nicNodes := map[int][]NIC{}
	for _, n := range in.NICs {
		nicNodes[n.Node] = append(nicNodes[n.Node], n)
	}
	nodes := append([]int(nil), in.Topology.Nodes...)
	for n := range nicNodes {
		if !contains(nodes, n) {
			return nil, fmt.Errorf("device %s is on NUMA node %d, which has no CPUs listed", nicNodes[n][0].Addr, n)
		}
	}
	var mem, tri []string
	for _, n := range nodes {
		nd := Node{Node: n, PMDCPUs: []int{}, Pools: []Pool{}, NICs: []string{}}
		nics := nicNodes[n]
		if len(nics) > 0 {
			// One pool per distinct data room on the node (OVS reuses a pool for ports whose
			// MTU gives the same room): the largest MTU of each room names it.
			byRoom := map[int]*Pool{}
			var maxMTU int
			for _, nic := range nics {
				nd.NICs = append(nd.NICs, nic.Addr)
				maxMTU = max(maxMTU, nic.MTU)
				room := DataRoom(nic.MTU)
				pl := byRoom[room]
				if pl == nil {
					pl = &Pool{DataRoom: room}
					byRoom[room] = pl
				}
				pl.MTU = max(pl.MTU, nic.MTU)
				pl.Mbufs = max(pl.Mbufs, Mbufs(nic.MTU))
				name := nic.Addr
				if nic.Interface != "" {
					name = nic.Interface
				}
				pl.Sharing = strings.TrimPrefix(pl.Sharing+","+name, ",")
			}
			var pools int64
			var rooms []int
			for r := range byRoom {
				rooms = append(rooms, r)
			}
			sort.Ints(rooms)
			for _, r := range rooms {
				pl := byRoom[r]
				pl.Element = r + mbufOverhead
				pl.Bytes = int64(pl.Mbufs) * int64(pl.Element)
				pl.MiB = (pl.Bytes + 1<<20 - 1) >> 20
				pools += pl.MiB
				nd.Pools = append(nd.Pools, *pl)
			}
			nd.OVSMiB = pools + eal
			nd.SocketMem = roundUp(nd.OVSMiB, max(pageMiB, 2))
			nd.TripleO = roundUp(TripleOMiB(maxMTU)+512, 1024)
			nd.PMDCPUs = pickPMDs(in.Topology, n, pmdCores, housekeeping, elsewhere)
			if len(nd.PMDCPUs) == 0 {
				p.Notes = append(p.Notes, fmt.Sprintf("node %d has NICs but no free physical core for a PMD (all are housekeeping or isolated for something else): its ports will be polled across the NUMA link", n))
			}
			nd.Explanation = fmt.Sprintf("%d NIC(s), %d shared mbuf pool(s) = %d MiB, + %d MiB for DPDK's own structures = %d MiB, rounded up to whole %s pages = %d MiB (TripleO's rule: %d MiB)",
				len(nics), len(nd.Pools), pools, eal, nd.OVSMiB, pageName(p.PageSizeKB), nd.SocketMem, nd.TripleO)
		} else if n == cpu0.Node {
			// DPDK's main lcore (the housekeeping core) allocates on its own node.
			nd.SocketMem = roundUp(1024, max(pageMiB, 2))
			nd.TripleO = 1024
			nd.Explanation = fmt.Sprintf("no NICs, but the housekeeping core (dpdk-lcore-mask, CPU %d) is here and DPDK allocates its own structures on that node: %d MiB", cpu0.ID, nd.SocketMem)
		} else {
			nd.TripleO = 1024
			nd.Explanation = "no NICs and no DPDK thread: 0 MiB (TripleO reserves 1024 MiB on every node)"
		}
		nd.Pages = uint64(nd.SocketMem) * 1024 / p.PageSizeKB
		nd.PagesNow = in.HugePages[Key{n, p.PageSizeKB}]
		p.PMDCPUs = append(p.PMDCPUs, nd.PMDCPUs...)
		p.Nodes = append(p.Nodes, nd)
		mem = append(mem, strconv.FormatInt(nd.SocketMem, 10))
		tri = append(tri, strconv.FormatInt(nd.TripleO, 10))
	}
	p.SocketMem = strings.Join(mem, ",")
	p.TripleO = strings.Join(tri, ",")
	p.PMDMask = Mask(p.PMDCPUs)
	cur := func(k string) string { return in.Current[k] }
	p.Settings = []Setting{
		{Key: "dpdk-socket-mem", Value: p.SocketMem, Current: cur("dpdk-socket-mem"), Restart: true,
			Why: "huge page memory DPDK takes per NUMA node at start: the NICs' mbuf pools on their nodes"},
		{Key: "dpdk-lcore-mask", Value: p.LcoreMask, Current: cur("dpdk-lcore-mask"), Restart: true,
			Why: fmt.Sprintf("DPDK's non-PMD threads on the housekeeping core (CPU %d)", cpu0.ID)},
	}
	if p.PMDMask != "" {
		p.Settings = append(p.Settings, Setting{Key: "pmd-cpu-mask", Value: p.PMDMask, Current: cur("pmd-cpu-mask"),
			Why: fmt.Sprintf("PMD threads on whole physical cores of the NICs' nodes (CPUs %s), not the housekeeping core, not CPUs isolated for something else; applied live", FormatList(p.PMDCPUs))})
	}
	p.kernel(in, isolated)
	return p, nil
}

func pageName(kb uint64) string {
	if kb == 1<<20 {
		return "1 GiB"
	}
	return "2 MiB"
}

func contains(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// pickPMDs takes the lowest-numbered n physical cores of node, with all their siblings, whose
// threads are neither housekeeping nor isolated for something else.
func pickPMDs(t Topology, node, n int, housekeeping, elsewhere map[int]bool) []int {
	var out []int
	taken := map[int]bool{}
	for _, c := range t.CPUs {
		if n == 0 {
			break
		}
		if c.Node != node || taken[c.ID] {
			continue
		}
		ok := true
		for _, s := range c.Siblings {
			if housekeeping[s] || elsewhere[s] {
				ok = false
			}
		}
		for _, s := range c.Siblings {
			taken[s] = true
		}
		if !ok {
			continue
		}
		out = append(out, c.Siblings...)
		n--
	}
	sort.Ints(out)
	return out
}

// maskCPUs reads a hex CPU mask; a malformed one gives none.
func maskCPUs(m string) []int {
	h := strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(m), "0x"), "0X")
	var out []int
	for i := len(h) - 1; i >= 0; i-- {
		v, err := strconv.ParseUint(h[i:i+1], 16, 8)
		if err != nil {
			return nil
		}
		for b := 0; b < 4; b++ {
			if v&(1<<b) != 0 {
				out = append(out, 4*(len(h)-1-i)+b)
			}
		}
	}
	return out
}

// kernel derives the command line changes: huge pages of the plan's size, the IOMMU in
// pass-through mode, and (optionally) the PMD cores isolated.
func (p *Plan) kernel(in Input, isolated []int) {
	cl := in.Cmdline
	size := "2M"
	if p.PageSizeKB == 1<<20 {
		size = "1G"
	}
	pages := map[int]uint64{}
	for _, n := range p.Nodes {
		pages[n.Node] = n.Pages
	}
	// One rule with fix hugepages' boot advice: per node only where the kernel reads it.
	v, _ := BootHugepages(pages, in.Release)
	hp := "hugepages=" + v
	want := []string{"default_hugepagesz=" + size, "hugepagesz=" + size, hp}
	have := func(kv string) bool {
		k, v, _ := strings.Cut(kv, "=")
		for _, got := range cl.All(k) {
			if got == v {
				return true
			}
		}
		return false
	}
	for _, kv := range want {
		if !have(kv) {
			p.Kernel = append(p.Kernel, kv)
		}
	}
	if !in.IOMMUOn {
		switch in.IOMMUVendor {
		case "amd":
			if !have("iommu=pt") {
				p.Kernel = append(p.Kernel, "iommu=pt")
			}
		default:
			for _, kv := range []string{"intel_iommu=on", "iommu=pt"} {
				if !have(kv) {
					p.Kernel = append(p.Kernel, kv)
				}
			}
		}
	}
	if len(p.PMDCPUs) > 0 {
		iso := map[int]bool{}
		for _, c := range isolated {
			iso[c] = true
		}
		missing := false
		for _, c := range p.PMDCPUs {
			if !iso[c] {
				missing = true
			}
		}
		if missing {
			all := append(append([]int(nil), isolated...), p.PMDCPUs...)
			l := FormatList(all)
			p.KernelOption = []string{"isolcpus=" + l, "nohz_full=" + l, "rcu_nocbs=" + l}
		}
	}
	for _, n := range p.Nodes {
		if n.PagesNow < n.Pages {
			p.Notes = append(p.Notes, fmt.Sprintf("node %d has %d %s huge pages; the plan needs %d", n.Node, n.PagesNow, pageName(p.PageSizeKB), n.Pages))
		}
	}
	for _, nic := range p.NICs {
		if !nic.NodeKnown {
			p.Notes = append(p.Notes, fmt.Sprintf("%s: the kernel reports no NUMA node (-1); taken as node 0", nic.Addr))
		}
	}
}
