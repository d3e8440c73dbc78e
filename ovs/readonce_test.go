package ovs_test

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dpdk-doctor/dpdk-doctor/internal/ovstest"
	"github.com/dpdk-doctor/dpdk-doctor/ovs"

	"github.com/dpdk-doctor/dpdk-doctor/internal/testenv"
)

// TestReadOnceMatchesClient builds, on the real OVS-DPDK, a database with two bridges, a
// manager, controllers, a fail mode, tagged and trunk ports, a bond, a mirror and a DPDK port
// that fails, and checks that the one-shot read (ovsrpc.Conn) gives the very same State as a
// Client's read (ovsrpc.Session, the connection add-port and traffic keep), and that the State
// holds all of it. (TestShowMatchesVsctlLineByLine compares it with ovs-vsctl show.)
func TestReadOnceMatchesClient(t *testing.T) {
	in, err := ovstest.Start(ovstest.Options{Switch: true})
	if err != nil {
		testenv.Unavailable(t, "the real OVS-DPDK must run: %v", err)
	}
	defer in.Stop()
	steps := [][]string{
		{"set-manager", "ptcp:127.0.0.1:16641"},
		{"add-br", "br-once", "--", "set", "bridge", "br-once", "datapath_type=netdev", "other_config:hwaddr=02:00:00:00:00:01"},
		{"set-controller", "br-once", "tcp:127.0.0.1:16635", "tcp:127.0.0.1:16636"},
		{"set-fail-mode", "br-once", "secure"},
		{"add-port", "br-once", "access5", "tag=5", "--", "set", "Interface", "access5", "type=internal", "external_ids:who=test"},
		{"add-port", "br-once", "trunk", "trunks=20,10", "--", "set", "Interface", "trunk", "type=internal"},
		{"add-port", "br-once", "dpdk-p0", "--", "set", "Interface", "dpdk-p0", "type=dpdk", "options:dpdk-devargs=0000:03:00.0"},
		{"add-br", "br-b", "--", "set", "bridge", "br-b", "datapath_type=netdev"},
		{"add-bond", "br-b", "bond0", "e1", "e2", "--", "set", "Interface", "e1", "type=internal", "--", "set", "Interface", "e2", "type=internal", `options:x="a b"`},
		{"add-port", "br-b", "out0", "--", "set", "Interface", "out0", "type=internal"},
		{"--", "--id=@p", "get", "Port", "out0", "--", "--id=@m", "create", "Mirror", "name=m0", "select_all=true", "output_port=@p", "external_ids:k=v",
			"--", "add", "Bridge", "br-b", "mirrors", "@m"},
	}
	for _, s := range steps {
		if out, err := in.Vsctl(s...); err != nil {
			t.Fatalf("ovs-vsctl %v: %v %s", s, err, out)
		}
	}
	ctx := context.Background()
	c, err := ovs.Dial(ctx, in.DB, ovs.TLS{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Wait until vswitchd has looked at the DPDK port, so that both reads see settled rows.
	if err := c.WaitFor(ctx, func() (bool, error) {
		st, err := c.Read(ctx)
		if err != nil {
			return false, err
		}
		ok := false
		st.Interfaces(func(_ *ovs.Bridge, _ *ovs.Port, i *ovs.Interface) {
			if i.Name == "dpdk-p0" && i.Error != "" {
				ok = true
			}
		})
		return ok, nil
	}); err != nil {
		t.Fatal(err)
	}
	var mon, once *ovs.State
	for try := 0; try < 5; try++ { // vswitchd may still update a row between the two reads
		time.Sleep(200 * time.Millisecond)
		if mon, err = c.Read(ctx); err != nil {
			t.Fatal(err)
		}
		if once, err = ovs.ReadOnce(ctx, in.DB, ovs.Options{}); err != nil {
			t.Fatal(err)
		}
		if reflect.DeepEqual(mon, once) {
			break
		}
	}
	if !reflect.DeepEqual(mon, once) {
		a, _ := json.MarshalIndent(mon, "", " ")
		b, _ := json.MarshalIndent(once, "", " ")
		t.Fatalf("the one-shot read differs from the client's:\nclient: %s\none-shot: %s\nclient: %#v\none-shot: %#v", a, b, mon, once)
	}
	// The database really holds what the comparison is about.
	if len(once.Bridges) != 2 || len(once.Managers) != 1 || once.UUID == "" {
		t.Fatalf("bridges %d, managers %d, uuid %q", len(once.Bridges), len(once.Managers), once.UUID)
	}
	seen := map[string]bool{}
	for _, b := range once.Bridges {
		if len(b.Controllers) == 2 && b.FailMode == "secure" {
			seen["controllers"] = true
		}
		if len(b.Mirrors) == 1 && b.Mirrors[0].OutputPort == "out0" && b.Mirrors[0].SelectAll {
			seen["mirror"] = true
		}
	}
	once.Interfaces(func(_ *ovs.Bridge, p *ovs.Port, i *ovs.Interface) {
		switch {
		case i.Name == "dpdk-p0" && i.Error != "" && i.OFPort != nil && *i.OFPort == -1:
			seen["dpdk error"] = true
		case p.Name == "access5" && p.Tag != nil && *p.Tag == 5:
			seen["tag"] = true
		case p.Name == "trunk" && reflect.DeepEqual(p.Trunks, []int{10, 20}):
			seen["trunks"] = true
		case p.Name == "bond0" && len(p.Interfaces) == 2:
			seen["bond"] = true
		}
	})
	for _, k := range []string{"controllers", "mirror", "dpdk error", "tag", "trunks", "bond"} {
		if !seen[k] {
			t.Errorf("the state lacks the %s", k)
		}
	}
}

// TestReadOnceErrors: an unreachable server and a bad endpoint are errors that name them, and a
// server that does not answer is bounded by the timeout.
func TestReadOnceErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := ovs.ReadOnce(ctx, "nowhere", ovs.Options{}); err == nil || !strings.Contains(err.Error(), `"nowhere"`) {
		t.Errorf("bad endpoint: %v", err)
	}
	dir := t.TempDir()
	if _, err := ovs.ReadOnce(ctx, "unix:"+dir+"/none.sock", ovs.Options{}); err == nil || !strings.Contains(err.Error(), "none.sock") {
		t.Errorf("no server: %v", err)
	}
}
