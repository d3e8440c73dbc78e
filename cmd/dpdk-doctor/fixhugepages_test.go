package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/dpdk-doctor/dpdk-doctor/internal/testhost"
)

// TestFixHugepagesForDPDKIsPlan: on the 2- and 4-node trees, at the default and at MTU 9000,
// every node `plan --json` says needs huge pages is, in `fix hugepages --for-dpdk`'s plan, either
// raised to exactly plan's huge_pages_needed or (holding as many already) left alone; nodes
// plan gives none are never written.
func TestFixHugepagesForDPDKIsPlan(t *testing.T) {
	for _, name := range []string{"numa2-xeon", "numa4-epyc"} {
		for _, mtu := range []string{"", "9000"} {
			extra := []string{}
			if mtu != "" {
				extra = []string{"--mtu", mtu}
			}
			pj, stderr, code := runBin(t, append([]string{"plan", "--json", "--root", tree(name)}, extra...)...)
			if code != 0 {
				t.Fatalf("plan %s: exit %d %s", name, code, stderr)
			}
			var p struct {
				PageSizeKB uint64 `json:"page_size_kb"`
				Nodes      []struct {
					Node   int    `json:"node"`
					Needed uint64 `json:"huge_pages_needed"`
					Now    uint64 `json:"huge_pages_now"`
				} `json:"nodes"`
			}
			if err := json.Unmarshal([]byte(pj), &p); err != nil {
				t.Fatal(err)
			}
			out, stderr, code := runBin(t, append([]string{"fix", "hugepages", "--for-dpdk", "--root", tree(name)}, extra...)...)
			if code != 0 {
				t.Fatalf("fix hugepages %s: exit %d %s", name, code, stderr)
			}
			size := map[uint64]string{2048: "2M", 1 << 20: "1G"}[p.PageSizeKB]
			for _, n := range p.Nodes {
				attr := fmt.Sprintf("/sys/devices/system/node/node%d/hugepages/hugepages-%dkB/nr_hugepages", n.Node, p.PageSizeKB)
				var want string
				switch {
				case n.Needed == 0:
					want = fmt.Sprintf("# NUMA node %d: no DPDK NIC and no DPDK thread: left alone", n.Node)
				case n.Now >= n.Needed:
					want = fmt.Sprintf("# NUMA node %d: %d %s pages now, %d needed: left alone", n.Node, n.Now, size, n.Needed)
				default:
					want = fmt.Sprintf("echo %d > %s   # %s pages of NUMA node %d now: %d", n.Needed, attr, size, n.Node, n.Now)
				}
				if !strings.Contains(out, want) {
					t.Errorf("%s mtu %q: node %d: want %q in\n%s", name, mtu, n.Node, want, out)
				}
				if n.Needed == 0 && strings.Contains(out, "> "+attr) {
					t.Errorf("%s: node %d needs nothing but is written:\n%s", name, n.Node, out)
				}
			}
			if len(p.Nodes) < 2 || !strings.Contains(out, "nothing was changed") {
				t.Errorf("%s: %d nodes\n%s", name, len(p.Nodes), out)
			}
		}
	}
}

// TestFixHugepagesForDPDKApply: on a four-node sysfs-like tree with NICs bound to vfio-pci on
// nodes 1 and 3 and no OVS (the hooked build, where the tree stands for this machine): the dry
// run names the bound devices and changes nothing; --apply raises nodes 0 and 1 to plan's
// figures and verifies; node 2 (no NIC) and node 3 (enough pages) are untouched; the rollback
// by ID puts nodes 0 and 1 back.
func TestFixHugepagesForDPDKApply(t *testing.T) {
	root := t.TempDir()
	if err := testhost.NUMA4TwoNICs(false).Write(root); err != nil {
		t.Fatal(err)
	}
	// hugetlbfs of 2M is mounted (as the tree's host names it): the run adds no mount step,
	// which would mount for real on this machine (TestFixHugepagesMountApply does, in a
	// private mount namespace).
	mounts, _ := os.ReadFile(filepath.Join(root, "proc/mounts"))
	os.WriteFile(filepath.Join(root, "proc/mounts"), append(mounts, "hugetlbfs /dev/hugepages-2M hugetlbfs rw,relatime,pagesize=2M 0 0\n"...), 0o644)
	nodePool := func(n int) string {
		b, _ := os.ReadFile(filepath.Join(root, "sys/devices/system/node", "node"+strconv.Itoa(n), "hugepages/hugepages-2048kB/nr_hugepages"))
		return strings.TrimSpace(string(b))
	}
	pools := func() string { return nodePool(0) + " " + nodePool(1) + " " + nodePool(2) + " " + nodePool(3) }
	if got := pools(); got != "100 0 64 700" {
		t.Fatalf("the tree's pools: %s", got)
	}
	state := filepath.Join(t.TempDir(), "state")
	args := []string{"fix", "hugepages", "--for-dpdk", "--size", "2M", "--root", root, "--state-dir", state}
	out, stderr, code := runHooked(t, args...)
	if code != 0 || !strings.Contains(out, "sizing for the network devices bound to DPDK drivers: 0000:41:00.0, 0000:c1:00.0") ||
		!strings.Contains(out, "echo 632 > /sys/devices/system/node/node1/") || !strings.Contains(out, "nothing was changed") ||
		!strings.Contains(out, "hugetlbfs of 2M pages is mounted at /dev/hugepages-2M already: no mount to add") {
		t.Fatalf("dry run: exit %d\n%s%s", code, out, stderr)
	}
	if got := pools(); got != "100 0 64 700" {
		t.Errorf("the dry run changed the pools: %s", got)
	}
	if _, err := os.Stat(state); !os.IsNotExist(err) {
		t.Errorf("the dry run made %s", state)
	}
	out, stderr, code = runHooked(t, append(args, "--apply")...)
	if code != 0 || !strings.Contains(out, "the kernel reserved 632 2M pages for NUMA node 1 (was 0)") || !strings.Contains(out, "Done and verified") {
		t.Fatalf("apply: exit %d\n%s%s", code, out, stderr)
	}
	if got := pools(); got != "512 632 64 700" {
		t.Errorf("after apply: %s", got)
	}
	recs, _ := filepath.Glob(filepath.Join(state, "hugepages-*.json"))
	if len(recs) != 1 {
		t.Fatalf("records %v", recs)
	}
	id := strings.TrimSuffix(filepath.Base(recs[0]), ".json")
	if out, stderr, code := runHooked(t, "fix", "--rollback", id, "--apply", "--state-dir", state); code != 0 {
		t.Fatalf("rollback: exit %d\n%s%s", code, out, stderr)
	}
	if got := pools(); got != "100 0 64 700" {
		t.Errorf("after rollback: %s", got)
	}
	// Enough everywhere now: nothing to change, no run.
	os.WriteFile(filepath.Join(root, "sys/devices/system/node/node1/hugepages/hugepages-2048kB/nr_hugepages"), []byte("632\n"), 0o644)
	os.WriteFile(filepath.Join(root, "sys/devices/system/node/node0/hugepages/hugepages-2048kB/nr_hugepages"), []byte("512\n"), 0o644)
	if out, _, code := runHooked(t, append(args, "--apply")...); code != 0 || !strings.Contains(out, "Nothing to change") {
		t.Errorf("nothing to change: exit %d %s", code, out)
	}
}

// TestFixHugepagesForDPDKBadInput: flags that do not go together, bad devices and MTUs, and
// --persist (answered with the command line this kernel takes) are exit 2; --apply on a tree
// is refused (exit 2) as for every remedy.
func TestFixHugepagesForDPDKBadInput(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--for-dpdk", "--pages", "4"}, "leave out --pages"},
		{[]string{"--for-dpdk", "--node", "1"}, "leave out --node"},
		{[]string{"--pages", "4", "--device", "0000:18:00.0"}, "--device goes with --for-dpdk"},
		{[]string{"--for-dpdk", "--device", "nonsense"}, "nonsense"},
		{[]string{"--for-dpdk", "--device", "0000:99:00.0"}, "0000:99:00.0"},
		{[]string{"--for-dpdk", "--mtu", "9"}, "--mtu 9"},
		{[]string{"--for-dpdk", "--size", "4M"}, "--size"},
		{[]string{"--for-dpdk", "--persist"}, "per-node counts such as hugepages=0:4,1:2 need Linux 5.16"},
		{[]string{"--for-dpdk", "--apply"}, "refusing"},
	} {
		_, stderr, code := runBin(t, append([]string{"fix", "hugepages", "--root", tree("numa2-xeon")}, c.args...)...)
		if code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, want 2 and %q: %s", c.args, code, c.want, stderr)
		}
	}
	if _, stderr, code := runBin(t, "fix", "hugepages", "--for-dpdk", "--root", tree("nic-on-ixgbe")); code != 2 || !strings.Contains(stderr, "no DPDK devices") {
		t.Errorf("no DPDK devices: exit %d %s", code, stderr)
	}
	if _, stderr, code := runBin(t, "fix", "hugepages", "--for-dpdk", "--persist", "--root", tree("numa4-epyc")); code != 2 || !strings.Contains(stderr, "--add hugepages=") {
		t.Errorf("numa4 --persist: exit %d %s", code, stderr)
	}
}
