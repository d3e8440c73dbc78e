package main

import (
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dpdk-doctor/dpdk-doctor/internal/testhost"

	"github.com/dpdk-doctor/dpdk-doctor/internal/testenv"
)

type linkRow struct {
	Address    string   `json:"address"`
	Interfaces []string `json:"interfaces"`
	Active     bool     `json:"active"`
	Links      []struct {
		Name    string   `json:"name"`
		Active  bool     `json:"active"`
		Reasons []string `json:"reasons"`
	} `json:"links"`
}

// TestDevicesActiveInterfaces: `devices` names every NIC's interface, virtio included, and marks
// the ones the host uses, in JSON and in text.
func TestDevicesActiveInterfaces(t *testing.T) {
	rowsOf := func(args ...string) map[string]linkRow {
		out, stderr, code := runBin(t, append([]string{"devices", "--json"}, args...)...)
		if code != 0 {
			t.Fatalf("devices %v: exit %d: %s", args, code, stderr)
		}
		var rows []linkRow
		if err := json.Unmarshal([]byte(out), &rows); err != nil {
			t.Fatal(err)
		}
		m := map[string]linkRow{}
		for _, r := range rows {
			m[r.Address] = r
		}
		return m
	}
	demo := rowsOf("--demo")
	eno1 := demo["0000:02:00.0"]
	if !eno1.Active || len(eno1.Links) != 1 || eno1.Links[0].Name != "eno1" ||
		strings.Join(eno1.Links[0].Reasons, ";") != "default route;address 10.20.0.15/24;SSH session from 10.20.0.99" {
		t.Errorf("eno1: %+v", eno1)
	}
	if eno2 := demo["0000:02:00.1"]; eno2.Active || eno2.Links[0].Name != "eno2" {
		t.Errorf("eno2: %+v", eno2)
	}
	vm := rowsOf("--root", tree("kvm-guest"))
	if r := vm["0000:01:00.0"]; !r.Active || strings.Join(r.Interfaces, ",") != "enp1s0" {
		t.Errorf("virtio-net enp1s0: %+v", r)
	}
	if r := vm["0000:02:00.0"]; r.Active || strings.Join(r.Interfaces, ",") != "enp2s0" {
		t.Errorf("virtio-net enp2s0: %+v", r)
	}
	out, _, _ := runBin(t, "devices", "--demo")
	if !strings.Contains(out, "if=eno1, active: default route, address 10.20.0.15/24, SSH session from 10.20.0.99 *Active*") {
		t.Errorf("text:\n%s", out)
	}
}

// TestCheckDemoHostNIC: the demo's on-board 366i port on igb that carries the SSH session is
// information, not a warning, and no command to unbind it is printed.
func TestCheckDemoHostNIC(t *testing.T) {
	out, _, _ := runBin(t, "check", "--demo", "-v")
	if !strings.Contains(strings.Join(strings.Fields(out), " "), "[ok ] device.driver: 0000:02:00.0 (366i Adapter, on-board): on igb (eno1, active: default route") {
		t.Errorf("eno1 is not information:\n%s", out)
	}
	for _, s := range []string{"ip link set", "dpdk-devbind.py --bind", "/driver/unbind"} {
		if strings.Contains(out, s) {
			t.Errorf("check --demo prints %q for a device nobody named", s)
		}
	}
	out, _, _ = runBin(t, "check", "--demo", "--device", "0000:02:00.0")
	if !strings.Contains(out, "WARNING: eno1 carries the default route") || strings.Contains(out, "ip link set") {
		t.Errorf("--device eno1's NIC:\n%s", out)
	}
}

// TestCheckHostileNames: names from a tree cannot drive the terminal, and a printed command
// quotes the interface name for the shell.
func TestCheckHostileNames(t *testing.T) {
	h, err := testhost.Catalog("hostile-names", filepath.Join("..", "..", "testdata", "fixtures", "dmar"))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "tree")
	if err := h.Write(dir); err != nil {
		t.Fatal(err)
	}
	check, _, _ := runBin(t, "check", "--root", dir, "--device", "0000:02:00.1")
	devices, _, _ := runBin(t, "devices", "--root", dir)
	show, _, _ := runBin(t, "ovs", "show", "--root", dir)
	rmrr, _, _ := runBin(t, "rmrr", "--root", dir)
	// ovs show quotes names as ovs-vsctl does (JSON escapes), the rest as Go's %q would.
	if !strings.Contains(show, `"netdev\u001b[31m"`) || !strings.Contains(rmrr, "RMRR") {
		t.Errorf("ovs show / rmrr did not run on the tree:\n%s\n%s", show, rmrr)
	}
	for name, out := range map[string]string{"check": check, "devices": devices, "ovs show": show, "rmrr": rmrr} {
		if strings.ContainsAny(out, "\x1b\x07") {
			t.Errorf("%s prints raw control characters: %q", name, out)
		}
	}
	if !strings.Contains(check, `ip link set $'e\x1b[2J;rm -rf' down`) || !strings.Contains(check, `X10\x1b[2J`) {
		t.Errorf("check:\n%s", check)
	}
}

// TestCheckNotRoot runs the real binary as an unprivileged user (nobody) on this machine: an
// OVSDB socket it may not open, and a kernel log the kernel keeps from it (dmesg_restrict), are
// reported with "run as root", not as missing or down.
func TestCheckNotRoot(t *testing.T) {
	setpriv, err := exec.LookPath("setpriv")
	if err != nil || os.Getuid() != 0 {
		testenv.Unavailable(t, "this test needs root and setpriv (util-linux) to run as nobody")
	}
	dir, err := os.MkdirTemp("", "dpdk-doctor-notroot")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o755)
	bin := filepath.Join(dir, "dpdk-doctor")
	b, err := os.ReadFile(binary)
	if err != nil || os.WriteFile(bin, b, 0o755) != nil {
		t.Fatal("copying the binary", err)
	}
	sock := filepath.Join(dir, "db.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	os.Chmod(sock, 0o600) // root's only, like /var/run/openvswitch/db.sock
	cmd := exec.Command(setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", bin, "check", "--json", "--db", "unix:"+sock)
	out, _ := cmd.Output()
	var doc struct{ Findings []finding }
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	got := map[string]finding{}
	for _, f := range doc.Findings {
		got[f.ID] = f
	}
	if f := got["ovs.db"]; !strings.Contains(f.Summary, "run as root") {
		t.Errorf("ovs.db: %+v", f)
	}
	if r, _ := os.ReadFile("/proc/sys/kernel/dmesg_restrict"); strings.TrimSpace(string(r)) == "1" {
		if f := got["kernellog.source"]; !strings.Contains(f.Summary, "run as root") {
			t.Errorf("kernellog.source: %+v", f)
		}
	}
}
