package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/dpdk-doctor/dpdk-doctor/internal/ovstest"
)

// sbxBridge is the bridge TestSandbox watches.
const sbxBridge = "br-sbx"

// ovsdbContents is what must not change: bridges, ports, interfaces and mirrors, without the
// columns OVS itself keeps updating (statistics, status).
func ovsdbContents(t *testing.T, in *ovstest.Instance) string {
	t.Helper()
	var b strings.Builder
	for _, q := range [][]string{
		{"--columns=name,ports,mirrors,datapath_type", "list", "Bridge"},
		{"--columns=name,interfaces,external_ids", "list", "Port"},
		{"--columns=name,type,options,external_ids", "list", "Interface"},
		{"--columns=name,select_all,output_port,external_ids", "list", "Mirror"},
	} {
		out, err := in.Vsctl(append([]string{"--format=json"}, q...)...)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(out)
	}
	return b.String()
}

// deadPID returns the pid of a process that has exited.
func deadPID(t *testing.T) int {
	t.Helper()
	c := exec.Command("true")
	if err := c.Run(); err != nil {
		t.Fatal(err)
	}
	return c.Process.Pid
}

// runPID runs the binary and returns stdout, stderr, the exit code and the pid it ran as.
func runPID(t *testing.T, env []string, args ...string) (string, string, int, int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code, cmd.Process.Pid
}

// linksOf returns the network links whose alias says a dpdk-doctor traffic run of pid made them.
func linksOf(pid int) []string {
	var out []string
	ents, _ := os.ReadDir("/sys/class/net")
	for _, e := range ents {
		b, _ := os.ReadFile(filepath.Join("/sys/class/net", e.Name(), "ifalias"))
		if strings.TrimSpace(string(b)) == "dpdk-doctor traffic pid="+strconv.Itoa(pid) {
			out = append(out, e.Name())
		}
	}
	return out
}

// TestSandbox runs every state-changing command with --demo and with --root TREE against a
// private real OVS that holds what each command would change (a port, a mirror and a veth left
// by a dead traffic run, which cleanup would remove) and the conrep double with a state
// directory: each is refused with exit 2 and a sentence saying why, and nothing changes: not the
// OVSDB, not the double's NVRAM, not the links, not the state directory. Dry runs still work.
func TestSandbox(t *testing.T) {
	in := realOVS(t)
	bridge(t, in, sbxBridge)
	buildDouble(t)
	b := newBIOS(t, "ProLiant DL360e Gen8")

	// What a dead traffic run leaves: a tagged port (a veth end) with a select-all mirror on
	// it, and the veth pair with its alias.
	dead := strconv.Itoa(deadPID(t))
	vethPair(t, "ddc5bd0c0a0", "ddb5bd0c0a0")
	if out, err := exec.Command("ip", "link", "set", "ddc5bd0c0a0", "alias", "dpdk-doctor traffic pid="+dead).CombinedOutput(); err != nil {
		t.Fatalf("ip link set alias: %v %s", err, out)
	}
	if _, err := in.Vsctl("add-port", sbxBridge, "ddb5bd0c0a0", "--", "set", "Port", "ddb5bd0c0a0", "external_ids:dpdk-doctor=traffic", "external_ids:dpdk-doctor-pid="+dead,
		"--", "--id=@p", "get", "Port", "ddb5bd0c0a0", "--", "--id=@m", "create", "Mirror", "name=ddsbx-m", "select_all=true", "output_port=@p",
		"external_ids:dpdk-doctor=traffic", "external_ids:dpdk-doctor-pid="+dead, "--", "add", "Bridge", sbxBridge, "mirrors", "@m"); err != nil {
		t.Fatal(err)
	}
	// The leftovers are real ones: check on this host reports them (cleanup would remove them).
	if out, _, _ := runBin(t, "check", "--db", in.DB, "--json"); !strings.Contains(out, "mirror ddsbx-m on "+sbxBridge) || !strings.Contains(out, "veth ddc5bd0c0a0") {
		t.Fatalf("check should see the planted leftovers:\n%s", out)
	}

	stateDir := filepath.Join(b.dir, "state")
	backup := filepath.Join(b.dir, "rmrds-backup-1.dat")
	os.WriteFile(backup, []byte("<Conrep/>\n"), 0o600)
	fixFlags := []string{"--conrep", conrepDouble, "--xml", "../../testdata/conrep/conrep_rmrds.xml", "--state-dir", stateDir}
	commands := [][]string{
		{"ovs", "add-port", sbxBridge, "sbx-new", "--devargs", "net_tap5", "--db", in.DB},
		{"ovs", "add-port", sbxBridge, "sbx-new", "--devargs", "0000:03:00.0", "--db", in.DB, "--force"},
		{"ovs", "del-port", sbxBridge, "ddb5bd0c0a0", "--db", in.DB},
		{"cleanup", "--db", in.DB, "--force"},
		{"traffic", sbxBridge, "--db", in.DB, "--timeout", "1s"},
		append([]string{"fix", "rmrr", "0000:03:00.0", "--apply"}, fixFlags...),
		append([]string{"fix", "rmrr", "--rollback", backup, "--apply"}, fixFlags...),
	}
	dbBefore := ovsdbContents(t, in)
	nvBefore, err := os.ReadFile(b.state)
	if err != nil {
		t.Fatal(err)
	}
	env := append([]string{}, b.env...)
	for _, other := range [][]string{{"--demo"}, {"--root", tree("dl360e-gen8")}} {
		for _, c := range commands {
			args := append(append([]string{}, c...), other...)
			out, stderr, code, pid := runPID(t, env, args...)
			if code != 2 || !strings.Contains(stderr, "refusing to") || !strings.Contains(stderr, "describes another machine") {
				t.Errorf("%v: exit %d, want 2 with the reason:\n%s%s", args, code, out, stderr)
			}
			if l := linksOf(pid); len(l) > 0 {
				t.Errorf("%v made links %v", args, l)
			}
		}
	}
	if after := ovsdbContents(t, in); after != dbBefore {
		t.Errorf("the OVSDB changed:\nbefore %s\nafter  %s", dbBefore, after)
	}
	if nv, _ := os.ReadFile(b.state); !bytes.Equal(nv, nvBefore) {
		t.Errorf("the double's BIOS changed:\nbefore %s\nafter  %s", nvBefore, nv)
	}
	if _, err := os.Stat(stateDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the state dir was touched: %v", err)
	}
	if _, err := os.Stat("/sys/class/net/ddc5bd0c0a0"); err != nil {
		t.Errorf("the leftover veth was removed: %v", err)
	}

	// Dry runs describe the demo or the tree and still work; they change nothing either.
	for _, other := range [][]string{{"--demo"}, {"--root", tree("dl360e-gen8")}} {
		args := append(append([]string{"fix", "rmrr", "0000:03:00.0"}, fixFlags...), other...)
		out, stderr, code, _ := runPID(t, env, args...)
		if code != 0 || !strings.Contains(out, `<Section name="RMRDS_Slot2" helptext=".">Endpoints_Excluded</Section>`) {
			t.Errorf("dry run %v: exit %d\n%s%s", other, code, out, stderr)
		}
		// Reading is not refused: ovs show judges the live OVS against the demo's or tree's facts.
		if _, stderr, code, _ := runPID(t, env, append([]string{"ovs", "show", "--db", in.DB}, other...)...); code != 0 {
			t.Errorf("ovs show %v: exit %d %s", other, code, stderr)
		}
	}
	if nv, _ := os.ReadFile(b.state); !bytes.Equal(nv, nvBefore) {
		t.Errorf("a dry run changed the double's BIOS")
	}
	if _, err := os.Stat(stateDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a dry run touched the state dir: %v", err)
	}
	in.Vsctl("--if-exists", "del-port", sbxBridge, "ddb5bd0c0a0", "--", "--if-exists", "clear", "Bridge", sbxBridge, "mirrors")
}

// TestBadSnapshot: a tree whose OVS snapshot is not one is bad input: exit 2, naming the file.
func TestBadSnapshot(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tree")
	if out, err := exec.Command("cp", "-a", tree("dl360e-gen8"), dir).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	p := filepath.Join(dir, "var", "lib", "dpdk-doctor", "ovs-state.json")
	os.MkdirAll(filepath.Dir(p), 0o755)
	os.WriteFile(p, []byte(`{"bridges":7}`), 0o644)
	_, stderr, code := runBin(t, "ovs", "show", "--root", dir)
	if code != 2 || !strings.Contains(stderr, "ovs-state.json") {
		t.Errorf("exit %d, want 2 naming the snapshot: %s", code, stderr)
	}
}

// TestLazyShowRefusesBrokenLog: ovs show judges lazily, but a kernel log that cannot be read
// when an error needs a verdict is the same bad input it is to check: exit 2, naming it. An
// error that needs no verdict leaves the log unread.
func TestLazyShowRefusesBrokenLog(t *testing.T) {
	dir := copyTree(t, "dl360e-gen8", "var/log/dmesg", "")
	if err := os.Mkdir(filepath.Join(dir, "var/log/dmesg"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, checkErr, code := runBin(t, "check", "--root", dir)
	if code != 2 || !strings.Contains(checkErr, "var/log/dmesg") {
		t.Fatalf("check: exit %d, %s; want 2 naming the log", code, checkErr)
	}
	_, showErr, code := runBin(t, "ovs", "show", "--root", dir)
	if code != 2 || !strings.Contains(showErr, "var/log/dmesg") {
		t.Fatalf("ovs show (its error names 0000:03:00.0, here): exit %d, %s; want 2 naming the log", code, showErr)
	}
	// The same tree whose OVS error names a device it lacks needs no verdict.
	snap := filepath.Join(dir, "var/lib/dpdk-doctor/ovs-state.json")
	b, err := os.ReadFile(snap)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(snap, []byte(strings.ReplaceAll(string(b), "0000:03:00.0", "0000:99:00.0")), 0o644); err != nil {
		t.Fatal(err)
	}
	out, showErr, code := runBin(t, "ovs", "show", "--root", dir)
	if code != 0 || !strings.Contains(out, "there is no PCI device 0000:99:00.0") {
		t.Fatalf("ovs show, error naming an absent device: exit %d, %s\n%s", code, showErr, out)
	}
}
