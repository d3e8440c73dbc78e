package plan

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// BootHugepages returns the value of the kernel's hugepages= parameter that reserves at least
// pages[node] pages on every node at boot, on a kernel of the given release ("6.1.0-28-amd64"),
// and whether it says the per-node amounts exactly.
//
// Pools the same on every node are a total, which the kernel spreads evenly over the nodes.
// Different amounts take the per-node form "0:N,1:M" (nodes not named get none), which the
// kernel reads since Linux 5.16 (commit b5389086ad7b, "hugetlbfs: extend the definition of
// hugepages parameter to support node allocation"); an older kernel, or one whose release is
// unknown, takes only a total: then every node is given what the largest needs.
// This is the one rule plan's kernel command line and fix hugepages' boot advice follow.
func BootHugepages(pages map[int]uint64, release string) (value string, exact bool) {
	var nodes []int
	var total, most uint64
	for n, p := range pages {
		nodes = append(nodes, n)
		total += p
		most = max(most, p)
	}
	sort.Ints(nodes)
	even := true
	var per []string
	for _, n := range nodes {
		even = even && pages[n] == pages[nodes[0]]
		if pages[n] > 0 {
			per = append(per, fmt.Sprintf("%d:%d", n, pages[n]))
		}
	}
	switch {
	case even:
		return strconv.FormatUint(total, 10), true
	case KernelAtLeast(release, 5, 16):
		return strings.Join(per, ","), true
	default:
		return strconv.FormatUint(most*uint64(len(nodes)), 10), false
	}
}

// KernelAtLeast reports whether a kernel release ("5.15.0-91-generic") is major.minor or
// later; an unreadable release is not.
func KernelAtLeast(release string, major, minor int) bool {
	f := strings.FieldsFunc(release, func(r rune) bool { return r == '.' || r == '-' || r == '+' || r == '_' })
	if len(f) < 2 {
		return false
	}
	ma, err1 := strconv.Atoi(f[0])
	mi, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil {
		return false
	}
	return ma > major || ma == major && mi >= minor
}
