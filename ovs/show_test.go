package ovs_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/dpdk-doctor/dpdk-doctor/host"
	"github.com/dpdk-doctor/dpdk-doctor/internal/ovstest"
	"github.com/dpdk-doctor/dpdk-doctor/ovs"

	"github.com/dpdk-doctor/dpdk-doctor/internal/testenv"
)

// TestShowMatchesVsctlLineByLine sets up, on the real OVS-DPDK, what `ovs-vsctl show` prints
// beyond bridges and ports (a manager, controllers, fail_mode, an access port with a tag, a
// trunk, a DPDK port that fails with an error, internal and patch ports, names that need
// quoting) and checks that WriteVsctl prints the very same lines.
func TestShowMatchesVsctlLineByLine(t *testing.T) {
	in, err := ovstest.Start(ovstest.Options{Switch: true})
	if err != nil {
		testenv.Unavailable(t, "the real OVS-DPDK must run: %v", err)
	}
	defer in.Stop()
	steps := [][]string{
		{"set-manager", "ptcp:127.0.0.1:16640"},
		{"add-br", "br-show", "--", "set", "bridge", "br-show", "datapath_type=netdev"},
		{"set-controller", "br-show", "tcp:127.0.0.1:16633", "tcp:127.0.0.1:16634"},
		{"set-fail-mode", "br-show", "secure"},
		{"add-port", "br-show", "access5", "tag=5", "--", "set", "Interface", "access5", "type=internal"},
		{"add-port", "br-show", "trunk", "trunks=20,10", "--", "set", "Interface", "trunk", "type=internal"},
		{"add-port", "br-show", "dpdk-p0", "--", "set", "Interface", "dpdk-p0", "type=dpdk", "options:dpdk-devargs=0000:03:00.0"},
		{"add-port", "br-show", "patch-a", "--", "set", "Interface", "patch-a", "type=patch", "options:peer=patch-b"},
		{"add-br", "br-a", "--", "set", "bridge", "br-a", "datapath_type=netdev"},
		{"add-bond", "br-a", "bond0", "e1", "e2", "--", "set", "Interface", "e1", "type=internal", "--", "set", "Interface", "e2", "type=internal", `options:x="a b"`},
		{"add-port", "br-a", "patch-b", "--", "set", "Interface", "patch-b", "type=patch", "options:peer=patch-a"},
		{"add-port", "br-a", "vx", "--", "set", "Interface", "vx", "type=vxlan", `options:remote_ip=10.0.0.2`, "options:key=flow"},
	}
	for _, s := range steps {
		if out, err := in.Vsctl(s...); err != nil {
			t.Fatalf("ovs-vsctl %v: %v %s", s, err, out)
		}
	}
	// vswitchd reports the DPDK port's failure in its row.
	if out, err := in.Vsctl("wait-until", "Interface", "dpdk-p0", "ofport=-1"); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	ctx := context.Background()
	c, err := ovs.Dial(ctx, in.DB, ovs.TLS{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var got, want string
	for try := 0; try < 20; try++ { // vswitchd may still be updating rows
		st, err := c.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		if err := ovs.NewShow(st, nil).WriteVsctl(&b); err != nil {
			t.Fatal(err)
		}
		got = b.String()
		if want, err = in.Vsctl("show"); err != nil {
			t.Fatal(err)
		}
		if got == want {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	gl, wl := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < len(gl) || i < len(wl); i++ {
		var g, w string
		if i < len(gl) {
			g = gl[i]
		}
		if i < len(wl) {
			w = wl[i]
		}
		if g != w {
			t.Errorf("line %d: ours %q, ovs-vsctl show %q", i+1, g, w)
		}
	}
	if t.Failed() {
		t.Logf("ovs-vsctl show:\n%s\nours:\n%s", want, got)
	}
	for _, must := range []string{`Controller "tcp:127.0.0.1:16633"`, "fail_mode: secure", "tag: 5", "trunks: [10, 20]", "Interface dpdk-p0", "error: ", "options: {peer=patch-b}", "Manager "} {
		if !strings.Contains(got, must) {
			t.Errorf("our show lacks %q", must)
		}
	}
}

// seedShow is the seed's `ovs-vsctl show` on the DL360e Gen8 (OVS 2.9.0), dpdk-p0 failing.
const seedShow = `    Bridge br-provider
        Controller "tcp:127.0.0.1:6633"
            is_connected: true
        fail_mode: secure
        Port br-provider
            Interface br-provider
                type: internal
        Port "dpdk-p0"
            Interface "dpdk-p0"
                type: dpdk
                options: {dpdk-devargs="0000:03:00.0"}
                error: "Error attaching device '0000:03:00.0' to DPDK"
        Port phy-br-provider
            Interface phy-br-provider
                type: patch
                options: {peer=int-br-provider}
    ovs_version: "2.9.0"
`

// TestShowSnapshotIsTheSeeds: the test tree's (and so the demo's) snapshot prints the seed's
// own lines, 2.9's quoting included; with explanations, every line of ours is marked.
func TestShowSnapshotIsTheSeeds(t *testing.T) {
	r, err := host.Dir("../testdata/hosts/dl360e-gen8")
	if err != nil {
		t.Fatal(err)
	}
	st, err := ovs.ReadSnapshot(r)
	if err != nil || st == nil {
		t.Fatalf("%v %v", st, err)
	}
	var plain, full strings.Builder
	s := ovs.NewShow(st, nil)
	s.WriteVsctl(&plain)
	if plain.String() != seedShow {
		t.Errorf("ours:\n%s\nthe seed's:\n%s", plain.String(), seedShow)
	}
	s.WriteText(&full)
	var kept []string
	for _, l := range strings.Split(strings.TrimSuffix(full.String(), "\n"), "\n") {
		if !strings.HasPrefix(strings.TrimLeft(l, " "), ovs.ExplainMark) {
			kept = append(kept, l)
		}
	}
	if got := strings.Join(kept, "\n") + "\n"; got != seedShow {
		t.Errorf("without the marked lines:\n%s", got)
	}
	if !strings.Contains(full.String(), ovs.ExplainMark+"cause:") {
		t.Errorf("no explanation:\n%s", full.String())
	}
}

func TestShowEmpty(t *testing.T) {
	var b strings.Builder
	ovs.NewShow(&ovs.State{UUID: "2b089d3d-f373-4b27-a832-f3a7ee4968aa", OVSVersion: "3.1.0"}, nil).WriteText(&b)
	want := "2b089d3d-f373-4b27-a832-f3a7ee4968aa\n    ovs_version: \"3.1.0\"\n    => no bridges: the database is empty\n"
	if b.String() != want {
		t.Errorf("%q", b.String())
	}
}

// TestAtom: quoting as ovsdb-data.c's string_needs_quotes (3.1) decides.
func TestAtom(t *testing.T) {
	for in, want := range map[string]string{
		"dpdk-p0": "dpdk-p0", "br-int": "br-int", "0000:03:00.0": `"0000:03:00.0"`, "": `""`, "true": `"true"`, "false": `"false"`,
		"a b": `"a b"`, `a"q`: `"a\"q"`, "_x.y": "_x.y", "9a": `"9a"`, "2b089d3d-f373-4b27-a832-f3a7ee4968aa": `"2b089d3d-f373-4b27-a832-f3a7ee4968aa"`,
		"tab\there": `"tab\there"`, "\x01": `"\u0001"`, "tcp:127.0.0.1:6633": `"tcp:127.0.0.1:6633"`,
	} {
		if got := ovs.Atom(in); got != want {
			t.Errorf("Atom(%q) = %s, want %s", in, got, want)
		}
	}
	if got := ovs.Map(map[string]string{"peer": "b", "dpdk-devargs": "0000:03:00.0"}); got != `{dpdk-devargs="0000:03:00.0", peer=b}` {
		t.Error(got)
	}
}
