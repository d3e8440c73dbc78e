// Package hugepages reads the host's huge page pools (per page size and per NUMA node), the
// hugetlbfs mounts DPDK needs, and the boot-time settings from the kernel command line.
package hugepages

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"

	"github.com/dpdk-doctor/dpdk-doctor/cmdline"
	"github.com/dpdk-doctor/dpdk-doctor/host"
	"github.com/dpdk-doctor/dpdk-doctor/mounts"
)

// Pool is the huge pages of one size, on the whole host or on one NUMA node.
type Pool struct {
	SizeKB uint64 `json:"size_kb"`
	Node   int    `json:"node"` // -1 for the host-wide pool
	Total  uint64 `json:"total"`
	Free   uint64 `json:"free"`
}

// Mount is a hugetlbfs mount.
type Mount struct {
	Path     string `json:"path"`
	PageSize string `json:"pagesize"` // the mount's pagesize= option, "" for the default size
}

// Info is everything about huge pages on a host.
type Info struct {
	DefaultSizeKB uint64   `json:"default_size_kb"` // Hugepagesize from meminfo
	Pools         []Pool   `json:"pools"`           // host-wide first, then per node; by size
	Mounts        []Mount  `json:"mounts"`
	Boot          []string `json:"boot"` // hugepage parameters on the command line
}

// Host returns the host-wide pool of the given size, or nil.
func (i Info) Host(sizeKB uint64) *Pool {
	for k := range i.Pools {
		if p := &i.Pools[k]; p.Node < 0 && p.SizeKB == sizeKB {
			return p
		}
	}
	return nil
}

// Nodes returns the per-node pools of the given size.
func (i Info) Nodes(sizeKB uint64) []Pool {
	var out []Pool
	for _, p := range i.Pools {
		if p.Node >= 0 && p.SizeKB == sizeKB {
			out = append(out, p)
		}
	}
	return out
}

// Read reads sys/kernel/mm/hugepages, sys/devices/system/node/node*/hugepages,
// proc/meminfo, proc/mounts and the command line.
func Read(r host.Root, cl cmdline.Cmdline) (Info, error) {
	var info Info
	if b, err := r.ReadFile("proc/meminfo"); err == nil {
		m, err := ParseMeminfo(b)
		if err != nil {
			return info, fmt.Errorf("%s: %w", r.Path("proc/meminfo"), err)
		}
		info.DefaultSizeKB = m["Hugepagesize"]
	}
	pools, err := readPools(r, "sys/kernel/mm/hugepages", -1)
	if err != nil {
		return info, err
	}
	info.Pools = pools
	nodes, _ := r.ReadDir("sys/devices/system/node")
	for _, n := range nodes {
		id, ok := strings.CutPrefix(n.Name(), "node")
		num, err := strconv.Atoi(id)
		if !ok || err != nil {
			continue
		}
		p, err := readPools(r, "sys/devices/system/node/"+n.Name()+"/hugepages", num)
		if err != nil {
			return info, err
		}
		info.Pools = append(info.Pools, p...)
	}
	if b, err := r.ReadFile("proc/mounts"); err == nil {
		if info.Mounts, err = ParseMounts(b); err != nil {
			return info, fmt.Errorf("%s: %w", r.Path("proc/mounts"), err)
		}
	}
	for _, p := range cl.Params {
		switch p.Key {
		case "hugepagesz", "hugepages", "default_hugepagesz":
			info.Boot = append(info.Boot, p.Key+"="+p.Value)
		}
	}
	return info, nil
}

func readPools(r host.Root, dir string, node int) ([]Pool, error) {
	ents, err := r.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", r.Path(dir), err)
	}
	var out []Pool
	for _, e := range ents {
		size, err := ParseSizeDir(e.Name())
		if err != nil {
			continue
		}
		p := Pool{SizeKB: size, Node: node}
		for file, dst := range map[string]*uint64{"nr_hugepages": &p.Total, "free_hugepages": &p.Free} {
			n, err := r.ReadInt(dir + "/" + e.Name() + "/" + file)
			if err != nil {
				return nil, fmt.Errorf("huge pages: %w", err)
			}
			*dst = uint64(max(n, 0))
		}
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].SizeKB < out[j].SizeKB })
	return out, nil
}

// ParseSizeDir reads a pool directory's name, "hugepages-2048kB", as the page size in KiB.
func ParseSizeDir(name string) (uint64, error) {
	s, ok := strings.CutPrefix(name, "hugepages-")
	s, ok2 := strings.CutSuffix(s, "kB")
	n, err := strconv.ParseUint(s, 10, 64)
	if !ok || !ok2 || err != nil || n == 0 {
		return 0, fmt.Errorf("%q is not a hugepages-<N>kB directory", name)
	}
	return n, nil
}

// ParseMeminfo reads /proc/meminfo into values; "kB" values stay in KiB, counts stay counts.
func ParseMeminfo(b []byte) (map[string]uint64, error) {
	out := map[string]uint64{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			if strings.TrimSpace(sc.Text()) == "" {
				continue
			}
			return nil, fmt.Errorf("meminfo line %d: no ':' in %q", n, sc.Text())
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			return nil, fmt.Errorf("meminfo line %d: %s has no value", n, k)
		}
		x, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("meminfo line %d: %s: %q is not a number", n, k, f[0])
		}
		out[strings.TrimSpace(k)] = x
	}
	return out, sc.Err()
}

// ParseMounts returns the hugetlbfs mounts in /proc/mounts text (mounts.Parse's error for a
// table it cannot read).
func ParseMounts(b []byte) ([]Mount, error) {
	ents, err := mounts.Parse(b)
	if err != nil {
		return nil, err
	}
	var out []Mount
	for _, e := range ents {
		if e.FSType == "hugetlbfs" {
			size, _ := e.Option("pagesize")
			out = append(out, Mount{Path: e.Point, PageSize: size})
		}
	}
	return out, nil
}

// SizeName writes a page size of kb KiB as pagesize= and the remedies take it: "2M", "1G",
// "64k".
func SizeName(kb uint64) string {
	switch {
	case kb >= 1<<20 && kb%(1<<20) == 0:
		return strconv.FormatUint(kb>>20, 10) + "G"
	case kb >= 1024 && kb%1024 == 0:
		return strconv.FormatUint(kb>>10, 10) + "M"
	}
	return strconv.FormatUint(kb, 10) + "k"
}

// SizeKB reads a page size as written in pagesize= and hugepagesz= ("2M", "1G", "2048k").
func SizeKB(s string) (uint64, error) {
	s = strings.TrimSpace(s)
	mult := uint64(1)
	switch {
	case strings.HasSuffix(s, "G") || strings.HasSuffix(s, "g"):
		mult, s = 1<<20, s[:len(s)-1]
	case strings.HasSuffix(s, "M") || strings.HasSuffix(s, "m"):
		mult, s = 1<<10, s[:len(s)-1]
	case strings.HasSuffix(s, "K") || strings.HasSuffix(s, "k"):
		s = s[:len(s)-1]
	default:
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil || n < 1024 {
			return 0, fmt.Errorf("page size %q: want e.g. 2M or 1G", s)
		}
		return n / 1024, nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("page size %q: want e.g. 2M or 1G", s)
	}
	return n * mult, nil
}
