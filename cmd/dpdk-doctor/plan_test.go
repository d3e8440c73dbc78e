package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dpdk-doctor/dpdk-doctor/internal/testenv"
)

type planJSON struct {
	SocketMem string `json:"dpdk_socket_mem"`
	PMDMask   string `json:"pmd_cpu_mask"`
	LcoreMask string `json:"dpdk_lcore_mask"`
	Nodes     []struct {
		SocketMem int `json:"socket_mem_mib"`
	} `json:"nodes"`
}

// TestPlanTrees runs plan on the 2- and 4-node trees (devices from their OVS snapshots) and
// checks the hand-worked numbers (see plan/plan_test.go for the arithmetic) in every format.
func TestPlanTrees(t *testing.T) {
	for _, c := range []struct{ tree, mem, pmd string }{
		{"numa2-xeon", "2048,2048", "0x1020102"},
		{"numa4-epyc", "2048,2048,2048,2048", "0x1010200010102"},
	} {
		root := filepath.Join("..", "..", "testdata", "hosts", c.tree)
		out, stderr, code := runBin(t, "plan", "--root", root, "--json")
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", c.tree, code, stderr)
		}
		var p planJSON
		if err := json.Unmarshal([]byte(out), &p); err != nil {
			t.Fatal(err)
		}
		if p.SocketMem != c.mem || p.PMDMask != c.pmd || p.LcoreMask != "0x1" {
			t.Errorf("%s: socket-mem %s pmd %s lcore %s; want %s %s 0x1", c.tree, p.SocketMem, p.PMDMask, p.LcoreMask, c.mem, c.pmd)
		}
		out, _, _ = runBin(t, "plan", "--root", root, "--vsctl")
		want := "ovs-vsctl set Open_vSwitch . other_config:dpdk-socket-mem=" + c.mem + " other_config:dpdk-lcore-mask=0x1 other_config:pmd-cpu-mask=" + c.pmd
		if !strings.Contains(out, want) || !strings.Contains(out, "systemctl restart openvswitch-switch") {
			t.Errorf("%s --vsctl:\n%s\nwant %s", c.tree, out, want)
		}
		out, _, _ = runBin(t, "plan", "--root", root, "--osa")
		for _, w := range []string{`ovs_dpdk_socket_mem: "` + c.mem + `"`, `ovs_dpdk_pmd_cpu_mask: "` + c.pmd + `"`, `ovs_dpdk_lcore_mask: "0x1"`, "ovs_dpdk_pci_addresses:", "ovs_dpdk_driver: vfio-pci"} {
			if !strings.Contains(out, w) {
				t.Errorf("%s --osa lacks %q:\n%s", c.tree, w, out)
			}
		}
	}
	// MTU 9000 on the two-node tree: 3072 MiB per node.
	out, _, code := runBin(t, "plan", "--root", filepath.Join("..", "..", "testdata", "hosts", "numa2-xeon"), "0000:18:00.0", "0000:af:00.0", "--mtu", "9000", "--json")
	var p planJSON
	if code != 0 || json.Unmarshal([]byte(out), &p) != nil || p.SocketMem != "3072,3072" {
		t.Errorf("MTU 9000: exit %d, %s", code, out)
	}
}

func TestPlanInput(t *testing.T) {
	root := filepath.Join("..", "..", "testdata", "hosts", "numa2-xeon")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"plan", "--root", root, "0000:99:00.0"}, "0000:99:00.0"},
		{[]string{"plan", "--root", root, "nonsense"}, "nonsense"},
		{[]string{"plan", "--root", root, "--mtu", "20000"}, "--mtu 20000"},
		{[]string{"plan", "--root", root, "--json", "--osa"}, "choose one"},
		{[]string{"plan", "--root", root, "--apply"}, "apply an OVS plan"},
		{[]string{"plan", "--demo", "--apply"}, "apply an OVS plan"},
		{[]string{"plan", "--rollback", "/nonexistent"}, "add --apply"},
	} {
		_, stderr, code := runBin(t, c.args...)
		if code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, %q; want 2 naming %q", c.args, code, stderr, c.want)
		}
	}
}

// TestPlanApplyRealOVS applies a plan to the real OVS, reads it back with ovs-vsctl, rolls it
// back from the backup and reads again.
func TestPlanApplyRealOVS(t *testing.T) {
	in := realOVS(t)
	dev := firstPCIDevice(t)
	get := func(k string) string {
		out, _ := in.Vsctl("--if-exists", "get", "Open_vSwitch", ".", "other_config:"+k)
		return strings.Trim(strings.TrimSpace(out), `"`)
	}
	before := map[string]string{}
	for _, k := range []string{"dpdk-socket-mem", "dpdk-lcore-mask", "pmd-cpu-mask"} {
		before[k] = get(k)
	}
	out, stderr, code := runBin(t, "plan", dev, "--json", "--db", in.DB)
	if code != 0 {
		t.Fatalf("plan: exit %d: %s", code, stderr)
	}
	var p planJSON
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatal(err)
	}
	if get("dpdk-lcore-mask") != before["dpdk-lcore-mask"] {
		t.Fatal("the dry run changed OVS")
	}
	state := t.TempDir()
	// Put the previous values back whatever happens.
	t.Cleanup(func() {
		for k, v := range before {
			if v == "" {
				in.Vsctl("remove", "Open_vSwitch", ".", "other_config", k)
			} else {
				in.Vsctl("set", "Open_vSwitch", ".", "other_config:"+k+"="+v)
			}
		}
	})
	out, stderr, code = runBin(t, "plan", dev, "--apply", "--json", "--db", in.DB, "--state-dir", state)
	if code != 0 {
		t.Fatalf("plan --apply: exit %d: %s", code, stderr)
	}
	var res struct {
		Backup  string   `json:"backup"`
		Restart []string `json:"needs_restart"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	if got := get("dpdk-socket-mem"); got != p.SocketMem {
		t.Errorf("read back dpdk-socket-mem=%q, want %q", got, p.SocketMem)
	}
	if got := get("dpdk-lcore-mask"); got != p.LcoreMask {
		t.Errorf("read back dpdk-lcore-mask=%q, want %q", got, p.LcoreMask)
	}
	if got := get("pmd-cpu-mask"); p.PMDMask != "" && got != p.PMDMask {
		t.Errorf("read back pmd-cpu-mask=%q, want %q", got, p.PMDMask)
	}
	if !strings.Contains(strings.Join(res.Restart, ","), "dpdk-lcore-mask") {
		t.Errorf("needs_restart %v: want dpdk-lcore-mask (it was unset)", res.Restart)
	}
	b, err := os.ReadFile(res.Backup)
	if err != nil || !strings.Contains(string(b), `"dpdk-socket-mem": "`+before["dpdk-socket-mem"]+`"`) {
		t.Errorf("backup %s: %v %s", res.Backup, err, b)
	}
	_, stderr, code = runBin(t, "plan", "--rollback", res.Backup, "--apply", "--db", in.DB, "--state-dir", state)
	if code != 0 {
		t.Fatalf("rollback: exit %d: %s", code, stderr)
	}
	for k, v := range before {
		if got := get(k); got != v {
			t.Errorf("after rollback other_config:%s=%q, want %q", k, got, v)
		}
	}
	// A file that is not a backup is bad input, and changes nothing.
	bad := filepath.Join(state, "bad.json")
	os.WriteFile(bad, []byte("[1,2]"), 0o600)
	_, stderr, code = runBin(t, "plan", "--rollback", bad, "--apply", "--db", in.DB, "--state-dir", state)
	if code != 2 || !strings.Contains(stderr, bad) {
		t.Errorf("bad backup: exit %d %s", code, stderr)
	}
}

// firstPCIDevice is a network device of this host, or any PCI device.
func firstPCIDevice(t *testing.T) string {
	ents, err := os.ReadDir("/sys/bus/pci/devices")
	if err != nil || len(ents) == 0 {
		testenv.Unavailable(t, "plan --apply needs a PCI device on this host: %v", err)
	}
	for _, e := range ents {
		if b, _ := os.ReadFile("/sys/bus/pci/devices/" + e.Name() + "/class"); strings.HasPrefix(string(b), "0x02") {
			return e.Name()
		}
	}
	return ents[0].Name()
}
