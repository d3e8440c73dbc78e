package ovs

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/dpdk-doctor/dpdk-doctor/check"
)

// Findings judges OVS's DPDK state against the host's facts: DPDK requested and initialized,
// socket memory against free huge pages per NUMA node, the PMD CPU mask against the CPUs and
// the NICs' nodes, netdev bridges, and every DPDK interface with its error explained. source
// says where the state came from (the endpoint or the snapshot file).
func Findings(st *State, f *check.Facts, source string) []check.Finding {
	ev := func(v string) []check.Evidence { return []check.Evidence{{File: source, Value: v}} }
	var out []check.Finding
	init := check.Finding{ID: "ovs.dpdk-init", Subject: "Open_vSwitch", Evidence: ev(fmt.Sprintf("other_config:dpdk-init=%q dpdk_initialized=%v dpdk_version=%q ovs_version=%q", st.DPDKInit, st.DPDKInitialized, st.DPDKVersion, st.OVSVersion))}
	switch {
	case st.DPDKInitialized:
		init.Severity, init.Summary = check.OK, "DPDK is initialized in ovs-vswitchd ("+st.DPDKVersion+")"
	case st.DPDKInit == "true" || st.DPDKInit == "try":
		init.Severity, init.Summary = check.Fail, "DPDK is requested (dpdk-init="+st.DPDKInit+") but not initialized"
		init.Explanation = "ovs-vswitchd tried to start DPDK and failed, or is not the DPDK build: its log has the EAL error (most often huge pages, or dpdk-socket-mem more than a node has)."
		init.Remedy = []string{"grep -E 'EAL|dpdk' /var/log/openvswitch/ovs-vswitchd.log | tail", "update-alternatives --set ovs-vswitchd /usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk   # Debian/Ubuntu"}
	default:
		init.Severity, init.Summary = check.Warn, "DPDK is not enabled in Open vSwitch (other_config:dpdk-init is not true)"
		init.Remedy = []string{"ovs-vsctl set Open_vSwitch . other_config:dpdk-init=true && systemctl restart openvswitch-switch"}
	}
	out = append(out, init)

	if sm := st.OtherConfig["dpdk-socket-mem"]; sm != "" {
		out = append(out, socketMem(st, f, sm, source))
	}
	if mask := st.OtherConfig["pmd-cpu-mask"]; mask != "" {
		out = append(out, pmdMask(f, mask, source))
	}
	for bi := range st.Bridges {
		b := &st.Bridges[bi]
		hasDPDK := false
		for _, p := range b.Ports {
			for _, i := range p.Interfaces {
				hasDPDK = hasDPDK || IsDPDK(i.Type)
			}
		}
		if hasDPDK && b.DatapathType != "netdev" {
			out = append(out, check.Finding{ID: "ovs.bridge", Subject: b.Name, Severity: check.Fail,
				Summary:  fmt.Sprintf("bridge %s has DPDK ports but datapath_type %q: DPDK ports need the user-space datapath", b.Name, b.DatapathType),
				Evidence: ev("Bridge " + b.Name + " datapath_type=" + b.DatapathType),
				Remedy:   []string{"ovs-vsctl set Bridge " + b.Name + " datapath_type=netdev"}})
		}
	}
	x := newExplainer(st, f)
	st.Interfaces(func(b *Bridge, p *Port, i *Interface) {
		if !IsDPDK(i.Type) && i.Error == "" {
			return
		}
		fd := check.Finding{ID: "ovs.interface", Subject: i.Name, Evidence: ev(fmt.Sprintf("Interface %s type=%s options=%v ofport=%s error=%q (bridge %s)", i.Name, i.Type, i.Options, ofport(i), i.Error, b.Name))}
		if e := x.explain(b, i); e != nil {
			fd.Severity = check.Fail
			fd.Summary = "\"" + e.Raw + "\": " + e.Cause
			fd.Explanation = e.Detail
			fd.Remedy = e.Remedy
		} else {
			fd.Severity, fd.Summary = check.OK, fmt.Sprintf("%s on bridge %s works (ofport %s)", i.Name, b.Name, ofport(i))
		}
		out = append(out, fd)
	})
	var left []string
	for _, b := range st.Bridges {
		for _, p := range b.Ports {
			if p.ExternalIDs[TagOwner] != "" {
				left = append(left, fmt.Sprintf("port %s on %s (run %s)", p.Name, b.Name, p.ExternalIDs[TagPID]))
			}
		}
		for _, m := range b.Mirrors {
			if m.ExternalIDs[TagOwner] != "" {
				left = append(left, fmt.Sprintf("mirror %s on %s (run %s)", m.Name, b.Name, m.ExternalIDs[TagPID]))
			}
		}
	}
	if len(left) > 0 {
		out = append(out, LeftoversFinding(source, left))
	}
	for i := range out {
		out[i].Area = "ovs"
		if out[i].Remedy == nil {
			out[i].Remedy = []string{}
		}
	}
	return out
}

func ofport(i *Interface) string {
	if i.OFPort == nil {
		return "unset"
	}
	return strconv.Itoa(*i.OFPort)
}

// socketMem compares dpdk-socket-mem ("1024,1024": MiB per NUMA node) with the free huge pages
// of each node.
func socketMem(st *State, f *check.Facts, sm, source string) check.Finding {
	fd := check.Finding{ID: "ovs.socket-mem", Subject: "Open_vSwitch", Severity: check.OK,
		Evidence: []check.Evidence{{File: source, Value: "other_config:dpdk-socket-mem=" + sm}}}
	var short []string
	for node, v := range strings.Split(sm, ",") {
		mb, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		if err != nil {
			fd.Severity, fd.Summary = check.Fail, fmt.Sprintf("dpdk-socket-mem %q is not a list of MiB per NUMA node", sm)
			return fd
		}
		if mb == 0 || f == nil {
			continue
		}
		var freeKB, totalKB uint64
		found := false
		for _, p := range f.Hugepages.Pools {
			if p.Node == node {
				found = true
				freeKB += p.Free * p.SizeKB
				totalKB += p.Total * p.SizeKB
			}
		}
		if !found && node == 0 {
			for _, p := range f.Hugepages.Pools {
				if p.Node < 0 {
					found, freeKB, totalKB = true, freeKB+p.Free*p.SizeKB, totalKB+p.Total*p.SizeKB
				}
			}
		}
		fd.Evidence = append(fd.Evidence, check.Evidence{File: f.Root.Path(fmt.Sprintf("sys/devices/system/node/node%d/hugepages/", node)), Value: fmt.Sprintf("%d MiB reserved, %d MiB free", totalKB>>10, freeKB>>10)})
		// Once DPDK runs, its own socket memory is counted as used: compare with the total then.
		have := freeKB
		if st.DPDKInitialized {
			have = totalKB
		}
		if !found || have>>10 < mb {
			short = append(short, fmt.Sprintf("node %d asks %d MiB, has %d MiB", node, mb, have>>10))
		}
	}
	if len(short) > 0 {
		fd.Severity = check.Fail
		fd.Summary = "dpdk-socket-mem asks more huge page memory than the nodes have: " + strings.Join(short, "; ")
		fd.Explanation = "EAL reserves dpdk-socket-mem on each NUMA node at start; if a node lacks the pages, DPDK fails to initialize."
		fd.Remedy = []string{"ovs-vsctl set Open_vSwitch . other_config:dpdk-socket-mem=<MiB per node, within the free huge pages>", "# or reserve more huge pages on those nodes (see hugepages.node)"}
	} else if fd.Summary == "" {
		fd.Summary = "dpdk-socket-mem " + sm + " fits the huge pages of each node"
	}
	return fd
}

// pmdMask checks that pmd-cpu-mask names existing CPUs and covers the NUMA nodes of the NICs.
func pmdMask(f *check.Facts, mask, source string) check.Finding {
	fd := check.Finding{ID: "ovs.pmd-cpu-mask", Subject: "Open_vSwitch", Severity: check.OK,
		Evidence: []check.Evidence{{File: source, Value: "other_config:pmd-cpu-mask=" + mask}}}
	cpus, err := ParseCPUMask(mask)
	if err != nil {
		fd.Severity, fd.Summary = check.Fail, fmt.Sprintf("pmd-cpu-mask %q is not a non-zero hex CPU mask: %v", mask, err)
		return fd
	}
	n := 0
	if f != nil {
		n = f.CPU.CPUs
	}
	if last := cpus[len(cpus)-1]; n > 0 && last >= n {
		fd.Severity = check.Fail
		fd.Summary = fmt.Sprintf("pmd-cpu-mask %s names CPUs this host does not have (it has %d; the mask names CPU %d)", mask, n, last)
		return fd
	}
	fd.Summary = fmt.Sprintf("pmd-cpu-mask %s: %d PMD core(s)", mask, len(cpus))
	if f == nil {
		return fd
	}
	// Which nodes do the mask's CPUs sit on, and which nodes hold DPDK NICs?
	cpuNode := map[int]int{}
	for node := 0; node < 1024; node++ {
		s, err := f.Root.ReadString(fmt.Sprintf("sys/devices/system/node/node%d/cpulist", node))
		if err != nil {
			break
		}
		for _, c := range cpuList(s) {
			cpuNode[c] = node
		}
	}
	pmdNodes := map[int]bool{}
	for _, c := range cpus {
		pmdNodes[cpuNode[c]] = true
	}
	var uncovered []string
	for _, d := range f.Selected {
		if check.IsDPDKDriver(d.Driver) && d.NUMANode >= 0 && !pmdNodes[d.NUMANode] {
			uncovered = append(uncovered, fmt.Sprintf("%s (node %d)", d.Address, d.NUMANode))
		}
	}
	if len(uncovered) > 0 {
		fd.Severity = check.Warn
		fd.Summary += "; no PMD core on the NUMA node of " + strings.Join(uncovered, ", ")
		fd.Explanation = "Each port is polled by a PMD on its own node when there is one; otherwise traffic crosses the interconnect and throughput drops."
	}
	return fd
}

func cpuList(s string) []int {
	var out []int
	for _, part := range strings.Split(strings.TrimSpace(s), ",") {
		lo, hi, ok := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			continue
		}
		b := a
		if ok {
			if b, err = strconv.Atoi(hi); err != nil || b < a || b-a > 4096 {
				continue
			}
		}
		for c := a; c <= b; c++ {
			out = append(out, c)
		}
	}
	return out
}

// LeftoversFinding warns about what dpdk-doctor runs left behind.
func LeftoversFinding(source string, what []string) check.Finding {
	return check.Finding{ID: "ovs.leftovers", Area: "ovs", Subject: "host", Severity: check.Warn,
		Summary:     "a dpdk-doctor traffic run left " + strings.Join(what, ", "),
		Explanation: "A capture that was killed (SIGKILL, a crash) could not remove its mirror, port and veths. While the mirror exists, OVS copies every frame of the bridge to it. (A run that is still going owns these too.)",
		Evidence:    []check.Evidence{{File: source, Value: strings.Join(what, "; ")}},
		Remedy:      []string{"dpdk-doctor cleanup"}}
}
