package fix

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/dpdk-doctor/dpdk-doctor/plan"
)

// HugepagesForDPDKOptions configure `fix hugepages --for-dpdk`: the per-node pools OVS-DPDK
// needs for its NICs, sized by plan.
type HugepagesForDPDKOptions struct {
	// Size is "2M", "1G", or "" for the plan's own choice (1G where the CPU maps 1 GiB pages).
	Size string
	// Input is what `plan` derives from: the host's topology and the DPDK NICs with their MTUs
	// and NUMA nodes (the devices named, else OVS's dpdk Interfaces, else those bound to DPDK
	// drivers). The pages each node needs are plan.HugePages of it, never a second formula.
	Input plan.Input
	// Persist asks for the pools at boot too. Per-node pools have no sysctl, so it is refused
	// with the kernel command line that does it, where this kernel takes one.
	Persist bool
	Release string // the running kernel's release, for the command-line advice
	Sysfs   Sysfs  // zero value: LiveSysfs
}

// PlanHugepagesForDPDK derives, for every NUMA node that needs huge pages for OVS-DPDK (a node
// holding a DPDK NIC, and the housekeeping core's node), the pages the node needs (the plan's
// huge_pages_needed) and plans one write per node whose pool is smaller. A pool already as
// large is left alone (it is never shrunk: other users may hold its pages), and nodes that
// need none are not touched. It changes nothing.
func PlanHugepagesForDPDK(o HugepagesForDPDKOptions) (*Hugepages, error) {
	if o.Sysfs.Root == "" && o.Sysfs.View == nil {
		o.Sysfs = LiveSysfs
	}
	var sizeKB uint64
	switch o.Size {
	case "":
	case "2M":
		sizeKB = 2048
	case "1G":
		sizeKB = 1 << 20
	default:
		return nil, fmt.Errorf("%w: --size %q: want 2M or 1G", ErrBadOption, o.Size)
	}
	needs, err := plan.HugePages(o.Input, sizeKB)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadOption, err)
	}
	if len(needs) == 0 {
		return nil, fmt.Errorf("%w: the plan needs no huge pages on any node", ErrBadOption)
	}
	size := "2M"
	if needs[0].SizeKB == 1<<20 {
		size = "1G"
	}
	h := &Hugepages{sysfs: o.Sysfs, size: size}
	wanted := map[int]bool{}
	after := map[int]int{} // every node's pool after the run, for the command-line advice
	for _, n := range needs {
		wanted[n.Node] = true
		attr, where, now, err := readPool(o.Sysfs, size, n.Node)
		if err != nil && len(o.Input.Topology.Nodes) == 1 {
			// A kernel without NUMA (no node directories): the one node's pool is the machine's.
			attr, where, now, err = readPool(o.Sysfs, size, -1)
		}
		if err != nil {
			return nil, err
		}
		why := fmt.Sprintf("plan: %s", n.Why)
		if len(n.NICs) > 0 {
			why = fmt.Sprintf("plan for %s: %s", strings.Join(n.NICs, ", "), n.Why)
		}
		if uint64(now) >= n.Pages {
			after[n.Node] = now
			h.notes = append(h.notes, fmt.Sprintf("# %s: %d %s pages now, %d needed: left alone (%s)", where, now, size, n.Pages, why))
			continue
		}
		after[n.Node] = int(n.Pages)
		h.pools = append(h.pools, poolChange{attr: attr, where: where, old: now, want: int(n.Pages), why: why})
	}
	for _, node := range o.Input.Topology.Nodes {
		if wanted[node] {
			continue
		}
		// A node without NICs nor DPDK thread: read (for the advice), never written.
		if _, _, now, err := readPool(o.Sysfs, size, node); err == nil {
			after[node] = now
		}
		h.notes = append(h.notes, fmt.Sprintf("# NUMA node %d: no DPDK NIC and no DPDK thread: left alone", node))
	}
	for _, nic := range o.Input.NICs {
		if !nic.NodeKnown {
			h.notes = append(h.notes, fmt.Sprintf("# %s: the kernel reports no NUMA node (-1); taken as node 0, as plan does", nic.Addr))
		}
	}
	if o.Persist {
		return nil, fmt.Errorf("%w: --persist with --for-dpdk: %s", ErrBadOption, PerNodeBootAdvice(size, after, o.Release))
	}
	return h, nil
}

// PerNodeBootAdvice says how per-node pools (node -> pages) are reserved at boot on a kernel
// of the given release. Per-node pools have no sysctl. The kernel command line takes per-node
// counts ("hugepages=0:2,1:4", nodes not named get none) since Linux 5.16 (commit b5389086ad7b,
// "hugetlbfs: extend the definition of hugepages parameter to support node allocation");
// before, hugepages=N is a total the kernel spreads evenly over all nodes, so it cannot say
// per-node amounts.
func PerNodeBootAdvice(size string, pages map[int]int, release string) string {
	var per []string
	most := 0
	want := map[int]uint64{}
	for n, p := range pages {
		want[n] = uint64(p)
		most = max(most, p)
	}
	for n := range slices.Values(slices.Sorted(maps.Keys(pages))) {
		if pages[n] > 0 {
			per = append(per, fmt.Sprintf("%d:%d", n, pages[n]))
		}
	}
	value, exact := plan.BootHugepages(want, release)
	cmd := fmt.Sprintf("dpdk-doctor fix cmdline --add default_hugepagesz=%s --add hugepagesz=%s --add hugepages=%s", size, size, value)
	switch {
	case exact && !strings.Contains(value, ":"):
		return fmt.Sprintf("per-node pools have no boot-time sysctl; every node gets the same %d pages, which the kernel command line gives as a total spread evenly over the %d nodes: %s",
			most, len(pages), cmd)
	case exact:
		return fmt.Sprintf("per-node pools have no boot-time sysctl; this kernel (%s, Linux 5.16 or later) reserves them per node from the command line: %s",
			release, cmd)
	default:
		what := "this kernel"
		if release != "" {
			what += " (" + release + ")"
		}
		return fmt.Sprintf("per-node pools have no boot-time sysctl, and %s takes only a total on the command line, spread evenly over the %d nodes "+
			"(per-node counts such as hugepages=%s need Linux 5.16); to give every node at least the %d pages the largest needs: %s, "+
			"or run this command with --apply at every boot, from a unit of your own",
			what, len(pages), strings.Join(per, ","), most, cmd)
	}
}
