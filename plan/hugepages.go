package plan

import "fmt"

// NodePages is what one NUMA node needs in huge pages for OVS-DPDK: the figure of the plan
// (Node.Pages, "huge_pages_needed"), for the page size the caller chose.
type NodePages struct {
	Node      int      `json:"node"`
	NICs      []string `json:"nics"`
	SizeKB    uint64   `json:"page_size_kb"`
	Pages     uint64   `json:"huge_pages_needed"`
	SocketMiB int64    `json:"socket_mem_mib"`
	Why       string   `json:"explanation"` // the plan's explanation of the node's figure
}

// HugePages derives the huge pages each NUMA node needs, with pages of sizeKB (2048 or 1048576;
// 0 is the plan's own choice: 1 GiB pages where the CPU maps them). It is Derive itself, so the
// figures are the plan's for the same host, devices and MTU, never a second formula: `fix
// hugepages --for-dpdk` sizes the pools with it. Nodes that need no pages (no NICs and no DPDK
// thread) are left out; the housekeeping core's node is in, since DPDK allocates its own
// structures there.
func HugePages(in Input, sizeKB uint64) ([]NodePages, error) {
	switch sizeKB {
	case 0:
	case 2048:
		in.Pdpe1GB = false
	case 1 << 20:
		in.Pdpe1GB = true
	default:
		return nil, fmt.Errorf("huge page size %d kB: want 2048 or 1048576", sizeKB)
	}
	p, err := Derive(in)
	if err != nil {
		return nil, err
	}
	var out []NodePages
	for _, n := range p.Nodes {
		if n.Pages == 0 {
			continue
		}
		out = append(out, NodePages{Node: n.Node, NICs: n.NICs, SizeKB: p.PageSizeKB, Pages: n.Pages, SocketMiB: n.SocketMem, Why: n.Explanation})
	}
	return out, nil
}
