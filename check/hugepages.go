package check

import (
	"fmt"
	"sort"
	"strings"

	"github.com/dpdk-doctor/dpdk-doctor/hugepages"
)

func checkHugepages(f *Facts) []Finding {
	h := f.Hugepages
	var out []Finding
	var total, free uint64
	pool := Finding{ID: "hugepages.pool", Subject: "host"}
	for _, p := range h.Pools {
		if p.Node >= 0 {
			continue
		}
		total += p.Total * p.SizeKB
		free += p.Free * p.SizeKB
		pool.Evidence = append(pool.Evidence, Evidence{
			File:  f.Root.Path(fmt.Sprintf("sys/kernel/mm/hugepages/hugepages-%dkB/", p.SizeKB)),
			Value: fmt.Sprintf("%s pages: %d reserved, %d free", hugepages.SizeName(p.SizeKB), p.Total, p.Free)})
	}
	if total == 0 {
		pool.Severity = Fail
		pool.Summary = "no huge pages are reserved"
		pool.Explanation = "DPDK (and OVS-DPDK's dpdk-socket-mem) allocates its packet buffers from huge pages; with none " +
			"reserved, EAL initialisation fails (\"EAL: No free hugepages reported\")."
		pool.Remedy = []string{
			"dpdk-doctor fix hugepages --for-dpdk   # each NIC's NUMA node gets what plan sizes for it",
			"# or a pool of your own size, now and at boot: dpdk-doctor fix hugepages --size 2M --pages 1024 --persist",
		}
	} else {
		pool.Severity = OK
		pool.Summary = fmt.Sprintf("%s of huge pages reserved, %s free", mib(total), mib(free))
		if free == 0 {
			pool.Severity, pool.Summary = Warn, fmt.Sprintf("all %s of huge pages are in use: none free for a new DPDK process", mib(total))
		}
	}
	out = append(out, pool)

	// Per NUMA node that holds a judged device: DPDK allocates a port's memory on its own node.
	nodes := map[int][]string{}
	for _, d := range f.Selected {
		if d.NUMANode >= 0 {
			nodes[d.NUMANode] = append(nodes[d.NUMANode], d.Address.String())
		}
	}
	ids := make([]int, 0, len(nodes))
	for n := range nodes {
		ids = append(ids, n)
	}
	sort.Ints(ids)
	list := func(addrs []string) string {
		if len(addrs) > 4 {
			return fmt.Sprintf("%s and %d more", strings.Join(addrs[:4], ", "), len(addrs)-4)
		}
		return strings.Join(addrs, ", ")
	}
	if total > 0 {
		for _, n := range ids {
			fd := Finding{ID: "hugepages.node", Subject: fmt.Sprintf("node%d", n)}
			var nfree uint64
			for _, p := range h.Pools {
				if p.Node == n {
					nfree += p.Free * p.SizeKB
					fd.Evidence = append(fd.Evidence, Evidence{
						File:  f.Root.Path(fmt.Sprintf("sys/devices/system/node/node%d/hugepages/hugepages-%dkB/", n, p.SizeKB)),
						Value: fmt.Sprintf("%s pages: %d reserved, %d free", hugepages.SizeName(p.SizeKB), p.Total, p.Free)})
				}
			}
			if nfree == 0 {
				fd.Severity = Fail
				fd.Summary = fmt.Sprintf("NUMA node %d has no free huge pages, but %s sit on it", n, list(nodes[n]))
				fd.Explanation = "DPDK allocates a port's queues and buffers on the port's own NUMA node; without free huge pages " +
					"there, the port fails to start or runs across the interconnect."
				fd.Remedy = NodeHugepagesRemedy(nodes[n])
			} else {
				fd.Severity = OK
				fd.Summary = fmt.Sprintf("NUMA node %d has %s of free huge pages for %s", n, mib(nfree), list(nodes[n]))
			}
			out = append(out, fd)
		}
	}

	m := Finding{ID: "hugepages.mount", Subject: "host"}
	for _, mt := range h.Mounts {
		ps := mt.PageSize
		if ps == "" {
			ps = "default size"
		}
		m.Evidence = append(m.Evidence, Evidence{File: f.Root.Path("proc/mounts"), Value: "hugetlbfs on " + mt.Path + " (pagesize " + ps + ")"})
	}
	if len(h.Mounts) == 0 {
		m.Severity = Fail
		m.Summary = "no hugetlbfs is mounted"
		m.Explanation = "DPDK maps its huge pages through a hugetlbfs mount; without one EAL reports that no huge page size has a mount point."
		m.Evidence = []Evidence{{File: f.Root.Path("proc/mounts"), Value: "no hugetlbfs"}}
		size := "2M"
		if h.DefaultSizeKB == 1<<20 {
			size = "1G"
		}
		m.Remedy = MountRemedy(size)
	} else {
		m.Severity, m.Summary = OK, fmt.Sprintf("hugetlbfs is mounted (%d mount(s))", len(h.Mounts))
		for _, p := range h.Pools {
			if p.Node >= 0 || p.Total == 0 || p.SizeKB == h.DefaultSizeKB {
				continue
			}
			found := false
			for _, mt := range h.Mounts {
				if kb, err := hugepages.SizeKB(mt.PageSize); err == nil && kb == p.SizeKB {
					found = true
				}
			}
			if !found {
				m.Severity = Warn
				m.Summary = fmt.Sprintf("%s pages are reserved but no hugetlbfs mount has pagesize=%s", hugepages.SizeName(p.SizeKB), hugepages.SizeName(p.SizeKB))
				m.Remedy = MountRemedy(hugepages.SizeName(p.SizeKB))
			}
		}
	}
	out = append(out, m)

	if total > 0 {
		b := Finding{ID: "hugepages.boot", Subject: "host", Evidence: []Evidence{{File: f.Root.Path("proc/cmdline"), Value: strings.Join(h.Boot, " ")}}}
		if len(h.Boot) == 0 {
			b.Evidence[0].Value = "no hugepage parameters"
			b.Severity = Warn
			b.Summary = "huge pages are reserved at run time only, not on the kernel command line"
			b.Explanation = "Pages reserved after boot are lost on reboot and may not be found once memory fragments (1G pages rarely can be). " +
				"Reserving them on the command line makes them certain."
			b.Remedy = grubRemedy("default_hugepagesz=2M hugepagesz=2M hugepages=" + fmt.Sprint(total/2048))
		} else {
			b.Severity, b.Summary = OK, "huge pages are reserved at boot ("+strings.Join(h.Boot, " ")+")"
		}
		out = append(out, b)
	}
	return out
}

func mib(kb uint64) string {
	if kb >= 1<<20 && kb%(1<<20) == 0 {
		return fmt.Sprintf("%d GiB", kb>>20)
	}
	return fmt.Sprintf("%d MiB", kb>>10)
}

// MountRemedy is the remedy for a page size without a hugetlbfs mount: fix hugepages mounts it
// now and at boot (a systemd mount unit, or fstab without systemd). dpdk-doctor mounts the 2M
// and 1G sizes; another size (arm64's 64K, 32M, 16G) is named for a mount of the operator's.
func MountRemedy(size string) []string {
	if size != "2M" && size != "1G" {
		return []string{fmt.Sprintf("# mount hugetlbfs with -o pagesize=%s (dpdk-doctor fix hugepages --mount takes 2M and 1G)", size)}
	}
	return []string{"dpdk-doctor fix hugepages --mount --size " + size + " --persist"}
}

// NodeHugepagesRemedy is the remedy for DPDK devices on a NUMA node without free huge pages:
// fix hugepages sizes the node's pool for them as plan does. check and the OVS explanations
// give this one answer.
func NodeHugepagesRemedy(addrs []string) []string {
	return []string{"dpdk-doctor fix hugepages --for-dpdk --device " + strings.Join(addrs, " --device ")}
}
