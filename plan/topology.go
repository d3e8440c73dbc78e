package plan

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/dpdk-doctor/dpdk-doctor/host"
)

// CPU is one logical CPU: its NUMA node, its physical core and the hardware threads sharing
// that core.
type CPU struct {
	ID       int   `json:"id"`
	Node     int   `json:"node"`
	Package  int   `json:"package"`
	Core     int   `json:"core"`
	Siblings []int `json:"siblings"` // the CPUs of the same physical core, itself included, ascending
}

// Topology is the host's CPUs by NUMA node.
type Topology struct {
	CPUs  []CPU `json:"cpus"`
	Nodes []int `json:"nodes"` // ascending
}

// CPU returns the CPU with the given id, or nil.
func (t Topology) CPU(id int) *CPU {
	for i := range t.CPUs {
		if t.CPUs[i].ID == id {
			return &t.CPUs[i]
		}
	}
	return nil
}

// ReadTopology reads the NUMA nodes' CPU lists (sys/devices/system/node/node*/cpulist) and each
// CPU's core and siblings (sys/devices/system/cpu/cpu*/topology). A CPU without topology files
// is taken as a core of its own; a host without node directories as one node 0.
func ReadTopology(r host.Root) (Topology, error) {
	var t Topology
	nodeOf := map[int]int{}
	ents, _ := r.ReadDir("sys/devices/system/node")
	for _, e := range ents {
		id, ok := strings.CutPrefix(e.Name(), "node")
		n, err := strconv.Atoi(id)
		if !ok || err != nil {
			continue
		}
		rel := "sys/devices/system/node/" + e.Name() + "/cpulist"
		s, err := r.ReadString(rel)
		if err != nil {
			continue
		}
		cpus, err := ParseList(s)
		if err != nil {
			return t, fmt.Errorf("%s: %w", r.Path(rel), err)
		}
		t.Nodes = append(t.Nodes, n)
		for _, c := range cpus {
			nodeOf[c] = n
		}
	}
	if len(t.Nodes) == 0 {
		s, err := r.ReadString("sys/devices/system/cpu/online")
		if err != nil {
			return t, fmt.Errorf("no NUMA nodes in %s and no %s: %w", r.Path("sys/devices/system/node"), r.Path("sys/devices/system/cpu/online"), err)
		}
		cpus, err := ParseList(s)
		if err != nil {
			return t, fmt.Errorf("%s: %w", r.Path("sys/devices/system/cpu/online"), err)
		}
		t.Nodes = []int{0}
		for _, c := range cpus {
			nodeOf[c] = 0
		}
	}
	sort.Ints(t.Nodes)
	for c, n := range nodeOf {
		cpu := CPU{ID: c, Node: n, Package: n, Core: c, Siblings: []int{c}}
		dir := fmt.Sprintf("sys/devices/system/cpu/cpu%d/topology/", c)
		if v, err := r.ReadInt(dir + "physical_package_id"); err == nil {
			cpu.Package = int(v)
		}
		if v, err := r.ReadInt(dir + "core_id"); err == nil {
			cpu.Core = int(v)
		}
		if s, err := r.ReadString(dir + "thread_siblings_list"); err == nil {
			sib, err := ParseList(s)
			if err != nil {
				return t, fmt.Errorf("%s: %w", r.Path(dir+"thread_siblings_list"), err)
			}
			if len(sib) > 0 {
				cpu.Siblings = sib
			}
		}
		t.CPUs = append(t.CPUs, cpu)
	}
	sort.Slice(t.CPUs, func(i, j int) bool { return t.CPUs[i].ID < t.CPUs[j].ID })
	return t, nil
}

// MaxCPU bounds the CPU numbers a list may name (Linux's largest NR_CPUS is 8192).
const MaxCPU = 8191

// ParseList reads a kernel CPU list ("0-3,8,10-11"; "" is empty), ascending without duplicates.
func ParseList(s string) ([]int, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	seen := map[int]bool{}
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		a, err := strconv.Atoi(lo)
		b := a
		if err == nil && isRange {
			b, err = strconv.Atoi(hi)
		}
		if err != nil || a < 0 || b < a || b > MaxCPU {
			return nil, fmt.Errorf("CPU list %q: %q is not a CPU or range of CPUs (0-%d)", s, part, MaxCPU)
		}
		for c := a; c <= b; c++ {
			seen[c] = true
		}
	}
	out := make([]int, 0, len(seen))
	for c := range seen {
		out = append(out, c)
	}
	sort.Ints(out)
	return out, nil
}

// FormatList writes CPUs as a kernel CPU list ("0-3,8").
func FormatList(cpus []int) string {
	c := append([]int(nil), cpus...)
	sort.Ints(c)
	var parts []string
	for i := 0; i < len(c); {
		j := i
		for j+1 < len(c) && c[j+1] == c[j]+1 {
			j++
		}
		if j == i {
			parts = append(parts, strconv.Itoa(c[i]))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", c[i], c[j]))
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}

// Mask writes CPUs as a hex CPU mask with 0x, CPU 0 in the lowest bit, as OVS takes it.
func Mask(cpus []int) string {
	if len(cpus) == 0 {
		return ""
	}
	top := 0
	for _, c := range cpus {
		top = max(top, c)
	}
	digits := make([]byte, top/4+1)
	for _, c := range cpus {
		digits[len(digits)-1-c/4] |= 1 << (c % 4)
	}
	for i, d := range digits {
		digits[i] = "0123456789abcdef"[d]
	}
	return "0x" + string(digits)
}
