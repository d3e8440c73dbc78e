package fix

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dpdk-doctor/dpdk-doctor/cmdline"
	"github.com/dpdk-doctor/dpdk-doctor/host"
	"github.com/dpdk-doctor/dpdk-doctor/internal/testhost"
	"github.com/dpdk-doctor/dpdk-doctor/plan"
)

// numaTree writes a multi-node test host into a temporary directory, a sysfs-like tree the
// remedy writes, and returns it with plan's input for its NICs at mtu (read as `plan` reads
// them: topology and each device's numa_node from the tree).
func numaTree(t *testing.T, h *testhost.Host, mtu int, addrs ...string) (string, plan.Input) {
	t.Helper()
	dir := t.TempDir()
	if err := h.Write(dir); err != nil {
		t.Fatal(err)
	}
	r, err := host.Dir(dir)
	if err != nil {
		t.Fatal(err)
	}
	topo, err := plan.ReadTopology(r)
	if err != nil {
		t.Fatal(err)
	}
	in := plan.Input{Topology: topo, Cmdline: cmdline.Read(r), Pdpe1GB: true, IOMMUOn: true, HugePages: map[plan.Key]uint64{}}
	for _, a := range addrs {
		n, err := plan.Device(r, a, mtu)
		if err != nil {
			t.Fatal(err)
		}
		in.NICs = append(in.NICs, n)
	}
	return dir, in
}

func catalog(t *testing.T, name string) *testhost.Host {
	t.Helper()
	h, err := testhost.Catalog(name, filepath.Join("..", "testdata", "fixtures", "dmar"))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// zeroPools empties every node's pools of the tree, so that every node the plan sizes gets a
// write (a pool already large enough is left alone).
func zeroPools(t *testing.T, dir string) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "sys/devices/system/node/node*/hugepages/hugepages-*/nr_hugepages"))
	if len(files) == 0 {
		t.Fatal("no per-node pools in the tree")
	}
	for _, f := range files {
		os.WriteFile(f, []byte("0\n"), 0o644)
	}
}

// pool reads node's pool of size kB in the tree.
func pool(t *testing.T, dir string, node int, kb string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "sys/devices/system/node", "node"+strconv.Itoa(node), "hugepages", "hugepages-"+kb, "nr_hugepages"))
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestHugepagesForDPDKIsPlan: on the 2- and 4-node trees, for both page sizes and MTUs 1500 and
// 9000, the pages fix hugepages --for-dpdk writes on each node are exactly the huge pages
// plan.Derive gives that node, and those are the worked numbers: an MTU-1500 NIC's node needs
// 752 MiB of pool + 512 = 1264 MiB (632 2M pages, 2 1G pages), an MTU-9000 NIC's 2544 + 512 =
// 3056 MiB (1528 2M pages, 3 1G pages); the housekeeping node without NICs 1024 MiB (512 2M
// pages, 1 1G page). A change to either side alone fails here.
func TestHugepagesForDPDKIsPlan(t *testing.T) {
	worked := map[string]int{ // "size/mtu/nic or housekeeping" -> pages
		"2M/1500/nic": 632, "1G/1500/nic": 2, "2M/9000/nic": 1528, "1G/9000/nic": 3,
		"2M/1500/hk": 512, "1G/1500/hk": 1, "2M/9000/hk": 512, "1G/9000/hk": 1,
	}
	for _, c := range []struct {
		name  string
		h     func() *testhost.Host
		addrs []string
		nodes int // nodes sized
	}{
		{"numa2-xeon", func() *testhost.Host { return catalog(t, "numa2-xeon") }, []string{"0000:18:00.0", "0000:af:00.0"}, 2},
		{"numa4-epyc", func() *testhost.Host { return catalog(t, "numa4-epyc") }, []string{"0000:01:00.0", "0000:41:00.0", "0000:81:00.0", "0000:c1:00.0"}, 4},
		{"numa4-two-nics", func() *testhost.Host { return testhost.NUMA4TwoNICs(true) }, []string{"0000:41:00.0", "0000:c1:00.0"}, 3},
	} {
		for _, size := range []string{"2M", "1G"} {
			for _, mtu := range []int{1500, 9000} {
				t.Run(fmt.Sprintf("%s/%s/%d", c.name, size, mtu), func(t *testing.T) {
					dir, in := numaTree(t, c.h(), mtu, c.addrs...)
					zeroPools(t, dir)
					ref := in
					ref.Pdpe1GB = size == "1G"
					p, err := plan.Derive(ref)
					if err != nil {
						t.Fatal(err)
					}
					h, err := PlanHugepagesForDPDK(HugepagesForDPDKOptions{Size: size, Input: in, Sysfs: Sysfs{Root: dir}})
					if err != nil {
						t.Fatal(err)
					}
					kb := pageKB(size)
					got := map[int]int{}
					for _, pc := range h.pools {
						var node int
						if _, err := fmt.Sscanf(pc.attr, "sys/devices/system/node/node%d/hugepages/hugepages-"+kb+"/nr_hugepages", &node); err != nil {
							t.Fatalf("attr %s: %v", pc.attr, err)
						}
						got[node] = pc.want
					}
					if len(got) != c.nodes {
						t.Errorf("%d nodes sized, want %d: %v", len(got), c.nodes, got)
					}
					for _, n := range p.Nodes {
						if got[n.Node] != int(n.Pages) {
							t.Errorf("node %d: fix writes %d pages, plan needs %d", n.Node, got[n.Node], n.Pages)
						}
						kind := "nic"
						if len(n.NICs) == 0 {
							kind = "hk"
						}
						if want := worked[fmt.Sprintf("%s/%d/%s", size, mtu, kind)]; n.Pages != 0 && int(n.Pages) != want {
							t.Errorf("node %d (%s): plan needs %d pages, worked number %d", n.Node, kind, n.Pages, want)
						}
					}
				})
			}
		}
	}
}

// TestHugepagesForDPDKNodes: NICs on nodes 1 and 3 of four: node 1 (empty) and node 0 (the
// housekeeping core's, 100 pages) are raised to the plan's figures; node 3 already holds more
// than its NIC needs and node 2 has no NIC nor DPDK thread: both are left alone, and said so.
// The dry run changes nothing on the host nor in the state directory; the apply writes only
// nodes 0 and 1, verifies, and the rollback by ID puts both back.
func TestHugepagesForDPDKNodes(t *testing.T) {
	dir, in := numaTree(t, testhost.NUMA4TwoNICs(true), 1500, "0000:41:00.0", "0000:c1:00.0")
	node2 := filepath.Join(dir, "sys/devices/system/node/node2/hugepages/hugepages-2048kB/nr_hugepages")
	old := time.Unix(1_000_000_000, 0)
	os.Chtimes(node2, old, old)
	s := Sysfs{Root: dir}
	h, err := PlanHugepagesForDPDK(HugepagesForDPDKOptions{Size: "2M", Input: in, Sysfs: s})
	if err != nil {
		t.Fatal(err)
	}
	pl := strings.Join(h.Plan(), "\n")
	for _, want := range []string{
		"echo 512 > /sys/devices/system/node/node0/hugepages/hugepages-2048kB/nr_hugepages   # 2M pages of NUMA node 0 now: 100",
		"housekeeping core",
		"echo 632 > /sys/devices/system/node/node1/hugepages/hugepages-2048kB/nr_hugepages   # 2M pages of NUMA node 1 now: 0; plan for 0000:41:00.0",
		"# NUMA node 3: 700 2M pages now, 632 needed: left alone",
		"# NUMA node 2: no DPDK NIC and no DPDK thread: left alone",
	} {
		if !strings.Contains(pl, want) {
			t.Errorf("plan lacks %q:\n%s", want, pl)
		}
	}
	if strings.Contains(pl, "node2/hugepages/hugepages-2048kB/nr_hugepages   #") || h.Changes() != 2 {
		t.Errorf("%d changes:\n%s", h.Changes(), pl)
	}
	state := filepath.Join(t.TempDir(), "state")
	var out bytes.Buffer
	r := &Runner{StateDir: state, Out: &out}
	if rec, err := r.Run(context.Background(), h, false); rec != nil || err != nil {
		t.Fatal(rec, err)
	}
	if pool(t, dir, 0, "2048kB") != 100 || pool(t, dir, 1, "2048kB") != 0 || pool(t, dir, 3, "2048kB") != 700 {
		t.Error("the dry run changed a pool")
	}
	if _, err := os.Stat(state); !os.IsNotExist(err) {
		t.Errorf("the dry run made the state directory: %v", err)
	}
	rec, err := r.Run(context.Background(), h, true)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if rec.State != StateApplied || pool(t, dir, 0, "2048kB") != 512 || pool(t, dir, 1, "2048kB") != 632 || pool(t, dir, 3, "2048kB") != 700 {
		t.Errorf("after apply: %s, pools %d %d %d", rec.State, pool(t, dir, 0, "2048kB"), pool(t, dir, 1, "2048kB"), pool(t, dir, 3, "2048kB"))
	}
	for _, want := range []string{"the kernel reserved 512 2M pages for NUMA node 0 (was 100)", "the kernel reserved 632 2M pages for NUMA node 1 (was 0)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if err := r.Rollback(context.Background(), rec.ID, true); err != nil {
		t.Fatal(err)
	}
	if pool(t, dir, 0, "2048kB") != 100 || pool(t, dir, 1, "2048kB") != 0 {
		t.Errorf("after rollback: pools %d %d", pool(t, dir, 0, "2048kB"), pool(t, dir, 1, "2048kB"))
	}
	if fi, _ := os.Stat(node2); !fi.ModTime().Equal(old) || pool(t, dir, 2, "2048kB") != 64 {
		t.Errorf("node 2 was written (%v, %d pages)", fi.ModTime(), pool(t, dir, 2, "2048kB"))
	}
	// Nothing to raise: no change planned.
	os.WriteFile(filepath.Join(dir, "sys/devices/system/node/node0/hugepages/hugepages-2048kB/nr_hugepages"), []byte("600\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "sys/devices/system/node/node1/hugepages/hugepages-2048kB/nr_hugepages"), []byte("632\n"), 0o644)
	if h, err := PlanHugepagesForDPDK(HugepagesForDPDKOptions{Size: "2M", Input: in, Sysfs: s}); err != nil || h.Changes() != 0 {
		t.Errorf("enough pages everywhere: %v, %d changes", err, h.Changes())
	}
}

// TestHugepagesForDPDKFewerRolledBack: the kernel gives node 1 fewer pages than asked (node 0
// gets all): verify names the node and both numbers, and every node goes back.
func TestHugepagesForDPDKFewerRolledBack(t *testing.T) {
	dir, in := numaTree(t, testhost.NUMA4TwoNICs(true), 1500, "0000:41:00.0", "0000:c1:00.0")
	node1 := "sys/devices/system/node/node1/hugepages/hugepages-2048kB/nr_hugepages"
	s := Sysfs{Root: dir, kernel: func(p, v string) {
		if n, _ := strconv.Atoi(v); p == node1 && n > 300 {
			os.WriteFile(filepath.Join(dir, p), []byte("300\n"), 0o644)
		}
	}}
	old := sysfsAt
	sysfsAt = func(string) Sysfs { return s }
	defer func() { sysfsAt = old }()
	h, err := PlanHugepagesForDPDK(HugepagesForDPDKOptions{Size: "2M", Input: in, Sysfs: s})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	r := &Runner{StateDir: t.TempDir(), Out: &out}
	rec, err := r.Run(context.Background(), h, true)
	if !errors.Is(err, ErrVerify) || !strings.Contains(err.Error(), "the kernel reserved 300 of the 632 2M pages asked for NUMA node 1 (was 0)") ||
		strings.Contains(err.Error(), "node 0") || !strings.Contains(err.Error(), "rolled back") {
		t.Errorf("err %v", err)
	}
	if rec == nil || rec.State != StateRolledBack || pool(t, dir, 0, "2048kB") != 100 || pool(t, dir, 1, "2048kB") != 0 {
		t.Errorf("after the failed verify: %+v, pools %d %d", rec, pool(t, dir, 0, "2048kB"), pool(t, dir, 1, "2048kB"))
	}
}

// TestHugepagesForDPDKInterrupted: a run that died after writing node 0 (its record still
// "applying") stops the next run, which names the rollback; the rollback puts both nodes back
// from the record alone.
func TestHugepagesForDPDKInterrupted(t *testing.T) {
	dir, in := numaTree(t, testhost.NUMA4TwoNICs(true), 1500, "0000:41:00.0", "0000:c1:00.0")
	s := Sysfs{Root: dir}
	h, err := PlanHugepagesForDPDK(HugepagesForDPDKOptions{Size: "2M", Input: in, Sysfs: s})
	if err != nil {
		t.Fatal(err)
	}
	snap, err := h.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	r := &Runner{StateDir: t.TempDir(), Out: &bytes.Buffer{}}
	rec := &Record{ID: "hugepages-20261126T120000Z", Kind: "hugepages", Started: time.Now(), State: StateApplying, Plan: h.Plan(), Snapshot: snap}
	if err := r.write(rec); err != nil {
		t.Fatal(err)
	}
	s.Write(h.pools[0].attr, "512") // node 0 written, then the process died
	if _, err := r.Run(context.Background(), h, true); !errors.Is(err, ErrInterrupted) || !strings.Contains(err.Error(), "fix --rollback hugepages-20261126T120000Z --apply") {
		t.Fatalf("%v", err)
	}
	if pool(t, dir, 1, "2048kB") != 0 {
		t.Error("the refused run wrote node 1")
	}
	if err := r.Rollback(context.Background(), rec.ID, true); err != nil {
		t.Fatal(err)
	}
	if pool(t, dir, 0, "2048kB") != 100 || pool(t, dir, 1, "2048kB") != 0 {
		t.Errorf("after rollback: %d %d", pool(t, dir, 0, "2048kB"), pool(t, dir, 1, "2048kB"))
	}
	// A record naming a file outside the pools is refused, not written.
	forged := []byte(`{"sys_root":"` + dir + `","pools":[{"attr":"etc/passwd","old":0},{"attr":"sys/devices/system/node/../../../etc/x/nr_hugepages","old":1}]}`)
	if err := undoHugepages(context.Background(), forged, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "not a huge page pool") {
		t.Errorf("forged record: %v", err)
	}
}

// TestHugepagesForDPDKBadInput: bad sizes, no devices, a 1G pool the kernel lacks and
// --persist are refused as bad input (ErrBadOption), --persist with the boot-time command
// line this kernel takes.
func TestHugepagesForDPDKBadInput(t *testing.T) {
	dir, in := numaTree(t, testhost.NUMA4TwoNICs(true), 1500, "0000:41:00.0", "0000:c1:00.0")
	s := Sysfs{Root: dir}
	noNICs := in
	noNICs.NICs = nil
	for _, o := range []HugepagesForDPDKOptions{
		{Size: "4M", Input: in},
		{Size: "2M", Input: noNICs},
		{Size: "2M", Input: in, Persist: true, Release: "6.1.0-18-amd64"},
	} {
		o.Sysfs = s
		if _, err := PlanHugepagesForDPDK(o); !errors.Is(err, ErrBadOption) {
			t.Errorf("%+v: %v", o.Size, err)
		}
	}
	os.RemoveAll(filepath.Join(dir, "sys/devices/system/node/node1/hugepages/hugepages-1048576kB"))
	if _, err := PlanHugepagesForDPDK(HugepagesForDPDKOptions{Size: "1G", Input: in, Sysfs: s}); !errors.Is(err, ErrBadOption) || !strings.Contains(err.Error(), "no 1G pool for NUMA node 1") {
		t.Errorf("missing pool: %v", err)
	}
}

// TestPerNodeBootAdvice: per-node counts on the command line only where the kernel takes them
// (5.16 and later), a total where every node gets the same, and every hugepages= advised is one
// `fix cmdline` accepts.
func TestPerNodeBootAdvice(t *testing.T) {
	uneven := map[int]int{0: 512, 1: 632, 2: 64, 3: 700}
	for _, c := range []struct {
		pages   map[int]int
		release string
		want    string
	}{
		{uneven, "6.1.0-18-amd64", "--add hugepages=0:512,1:632,2:64,3:700"},
		{uneven, "5.16.0", "--add hugepages=0:512,1:632,2:64,3:700"},
		{uneven, "5.15.0-91-generic", "takes only a total on the command line, spread evenly over the 4 nodes (per-node counts such as hugepages=0:512,1:632,2:64,3:700 need Linux 5.16); to give every node at least the 700 pages the largest needs: dpdk-doctor fix cmdline --add default_hugepagesz=2M --add hugepagesz=2M --add hugepages=2800"},
		{map[int]int{0: 2, 1: 2}, "5.4.0", "every node gets the same 2 pages"},
	} {
		a := PerNodeBootAdvice("2M", c.pages, c.release)
		if !strings.Contains(a, c.want) {
			t.Errorf("%s: %s", c.release, a)
		}
		for _, w := range strings.Fields(a) {
			if strings.HasPrefix(w, "hugepages=") && !strings.HasSuffix(w, ")") && !strings.Contains(c.want, "such as "+w) {
				if _, _, err := ParseKernelOption(strings.TrimRight(w, ",")); err != nil {
					t.Errorf("advised %s, fix cmdline refuses it: %v", w, err)
				}
			}
		}
	}
	for _, bad := range []string{"hugepages=0:", "hugepages=:4", "hugepages=0:4,", "hugepages=a:4", "hugepages=0:4;1:4", "hugepages=99999:1"} {
		if _, _, err := ParseKernelOption(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

// TestHugepagesForDPDKNoNUMA: a kernel without NUMA node directories (one node, the NIC's
// numa_node -1) sizes the machine's pool.
func TestHugepagesForDPDKNoNUMA(t *testing.T) {
	dir := t.TempDir()
	for p, v := range map[string]string{
		"sys/devices/system/cpu/online":                            "0-3\n",
		"sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages":    "16\n",
		"sys/bus/pci/devices/0000:03:00.0/numa_node":               "-1\n",
		"sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages": "0\n",
	} {
		os.MkdirAll(filepath.Join(dir, filepath.Dir(p)), 0o755)
		os.WriteFile(filepath.Join(dir, p), []byte(v), 0o644)
	}
	r, err := host.Dir(dir)
	if err != nil {
		t.Fatal(err)
	}
	topo, err := plan.ReadTopology(r)
	if err != nil {
		t.Fatal(err)
	}
	nic, err := plan.Device(r, "0000:03:00.0", 1500)
	if err != nil {
		t.Fatal(err)
	}
	h, err := PlanHugepagesForDPDK(HugepagesForDPDKOptions{Size: "2M", Input: plan.Input{Topology: topo, NICs: []plan.NIC{nic}}, Sysfs: Sysfs{Root: dir}})
	if err != nil {
		t.Fatal(err)
	}
	if pl := strings.Join(h.Plan(), "\n"); h.Changes() != 1 || !strings.Contains(pl, "echo 632 > /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages   # 2M pages of the machine now: 16") ||
		!strings.Contains(pl, "0000:03:00.0: the kernel reports no NUMA node (-1); taken as node 0") {
		t.Errorf("%d changes:\n%s", h.Changes(), pl)
	}
}

// FuzzHugepagesCount: no value panics fix cmdline's check of hugepages=, and what it accepts
// is a count or node:count pairs the kernel parses.
func FuzzHugepagesCount(f *testing.F) {
	for _, s := range []string{"512", "0:512,1:512", "0:", ":1", "1:2:3", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		if !isHugepagesCount(v) {
			return
		}
		if strings.Trim(v, "0123456789:,") != "" || strings.HasPrefix(v, ",") || strings.HasSuffix(v, ",") || strings.HasSuffix(v, ":") {
			t.Errorf("accepted %q", v)
		}
	})
}
