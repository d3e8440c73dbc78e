package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestOVSCatalogReal makes the real OVS-DPDK write its own Interface errors, reads them back
// from OVSDB, and checks that `ovs show` explains each by its specific cause (never the
// generic text): a bad PCI devargs, type=dpdk without devargs, the removed type dpdkr, a port
// with no type and no such kernel interface, a patch port whose peer is missing, and a
// dpdkvhostuserclient port whose socket does not exist.
func TestOVSCatalogReal(t *testing.T) {
	in := realOVS(t)
	bridge(t, in, "br-cat")
	cases := []struct {
		port  string
		args  []string
		raw   string // the start of the error OVS must write ("" : OVS writes none)
		kind  string
		cause string
	}{
		{"dpdk-bad", []string{"type=dpdk", "options:dpdk-devargs=0000:ff:1f.7"}, "Error attaching device '0000:ff:1f.7' to DPDK", "attach-pci", "no PCI device 0000:ff:1f.7"},
		{"dpdk-noargs", []string{"type=dpdk"}, "'dpdk-noargs' is missing 'options:dpdk-devargs'", "missing-devargs", "no options:dpdk-devargs"},
		{"ring0", []string{"type=dpdkr"}, "could not open network device ring0 (Address family not supported by protocol)", "removed-type", "OVS 2.14 removed dpdkr"},
		{"nosuch0", nil, "could not open network device nosuch0 (No such device)", "no-kernel-interface", "no kernel interface named nosuch0"},
		{"patch-a", []string{"type=patch", "options:peer=patch-gone"}, "No usable peer 'patch-gone' exists in 'netdev' datapath.", "patch-peer-missing", "peer patch-gone of patch-a does not exist"},
		// A vhost-user client keeps retrying its socket: OVS writes no error, only a log line.
		{"vhuc0", []string{"type=dpdkvhostuserclient", "options:vhost-server-path=/tmp/dpdk-doctor-no-such-dir/vhuc0.sock"}, "", "", ""},
	}
	for _, c := range cases {
		args := []string{"add-port", "br-cat", c.port}
		if len(c.args) > 0 {
			args = append(args, append([]string{"--", "set", "Interface", c.port}, c.args...)...)
		}
		in.Vsctl(args...)
		t.Cleanup(func() { in.Vsctl("--if-exists", "del-port", "br-cat", c.port) })
	}
	// Patch status and late errors are refreshed periodically: wait for every expected error.
	errOf := func(port string) string {
		out, _ := in.Vsctl("--if-exists", "get", "Interface", port, "error")
		out = strings.TrimSpace(out)
		var s string
		if json.Unmarshal([]byte(out), &s) != nil {
			return strings.Trim(out, `"[]`)
		}
		return s
	}
	deadline := time.Now().Add(20 * time.Second)
	for _, c := range cases {
		for c.raw != "" && !strings.HasPrefix(errOf(c.port), c.raw) && time.Now().Before(deadline) {
			time.Sleep(200 * time.Millisecond)
		}
	}
	type expl struct {
		Raw, Cause, Kind string
		Log              []string
	}
	found := map[string]*expl{}
	raws := map[string]string{}
	s := struct {
		Bridges []struct {
			Ports []struct {
				Interfaces []struct {
					Name        string `json:"name"`
					Error       string `json:"error"`
					Explanation *expl  `json:"explanation"`
				} `json:"interfaces"`
			} `json:"ports"`
		} `json:"bridges"`
	}{}
	out, stderr, code := runBin(t, "ovs", "show", "--json", "--db", in.DB)
	if code != 0 || json.Unmarshal([]byte(out), &s) != nil {
		t.Fatalf("ovs show: exit %d: %s", code, stderr)
	}
	for _, b := range s.Bridges {
		for _, p := range b.Ports {
			for _, i := range p.Interfaces {
				found[i.Name], raws[i.Name] = i.Explanation, i.Error
			}
		}
	}
	for _, c := range cases {
		e := found[c.port]
		t.Logf("%s: error %q -> %+v", c.port, raws[c.port], e)
		if c.raw == "" {
			if raws[c.port] != "" || e != nil {
				t.Errorf("%s: OVS now writes an error (%q): add it to the catalog", c.port, raws[c.port])
			}
			continue
		}
		if !strings.HasPrefix(raws[c.port], c.raw) {
			t.Errorf("%s: OVS wrote %q, want %q", c.port, raws[c.port], c.raw)
			continue
		}
		if e == nil || e.Kind != c.kind || !strings.Contains(e.Cause, c.cause) {
			t.Errorf("%s: %q explained as %+v, want kind %s and %q", c.port, c.raw, e, c.kind, c.cause)
		}
		// The live log file ovs-vswitchd names holds DPDK's own reason: it is quoted.
		if c.port == "dpdk-bad" && (e == nil || !strings.Contains(strings.Join(e.Log, "\n"), "0000:ff:1f.7")) {
			t.Errorf("%s: the log lines of ovs-vswitchd about the device are not quoted: %+v", c.port, e)
		}
	}
}
