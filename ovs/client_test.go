package ovs_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dpdk-doctor/dpdk-doctor/internal/ovstest"
	"github.com/dpdk-doctor/dpdk-doctor/ovs"

	"github.com/dpdk-doctor/dpdk-doctor/internal/testenv"
)

// TestClientChanges drives the Client (ovsrpc.Session and libovsdb's ovsdb types, no libovsdb
// client) against a real ovsdb-server with no switch, playing ovs-vswitchd's part with
// ovs-vsctl: a port added is waited for with OVSDB's "wait" and seen the moment its ofport or
// error is written; a wait cut short by its context leaves the connection usable; a mirror and
// its port are added and found as leftovers by their tags, then removed; a port is deleted.
func TestClientChanges(t *testing.T) {
	in, err := ovstest.Start(ovstest.Options{})
	if err != nil {
		testenv.Unavailable(t, "the real ovsdb-server must run: %v", err)
	}
	defer in.Stop()
	if out, err := in.Vsctl("--no-wait", "add-br", "br-c", "--", "set", "bridge", "br-c", "datapath_type=netdev"); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	ctx := context.Background()
	c, err := ovs.DialWith(ctx, in.DB, ovs.Options{Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	if err := c.AddPort(ctx, "br-c", "w0", "dpdk", map[string]string{"dpdk-devargs": "0000:99:00.0"}, map[string]string{"who": "test"}); err != nil {
		t.Fatal(err)
	}
	if err := c.AddPort(ctx, "br-c", "w0", "dpdk", nil, nil); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("a second w0: %v", err)
	}
	if err := c.AddPort(ctx, "br-none", "w9", "dpdk", nil, nil); err == nil || !strings.Contains(err.Error(), "br-c") {
		t.Errorf("a missing bridge, naming the ones there are: %v", err)
	}
	// Nobody sets w0 up: the wait ends with its context, promptly, and the client still works.
	short, cancel := context.WithTimeout(ctx, 400*time.Millisecond)
	start := time.Now()
	_, err = c.WaitPort(short, "w0", nil)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) && (err == nil || !strings.Contains(err.Error(), "did not settle")) {
		t.Errorf("an unsettled port: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the 400 ms wait took %v", d)
	}
	st, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("the client after a cut wait: %v", err)
	}
	found := false
	st.Interfaces(func(b *ovs.Bridge, p *ovs.Port, i *ovs.Interface) {
		if b.Name == "br-c" && i.Name == "w0" && i.Type == "dpdk" && i.Options["dpdk-devargs"] == "0000:99:00.0" && p.ExternalIDs["who"] == "test" {
			found = true
		}
	})
	if !found {
		t.Fatalf("w0 is not in the database as added: %+v", st.Bridges)
	}

	// "vswitchd" gives w0 an ofport 300 ms from now: the wait ends right after.
	set := make(chan time.Time, 1)
	go func() {
		time.Sleep(300 * time.Millisecond)
		in.Vsctl("--no-wait", "set", "Interface", "w0", "ofport=7")
		set <- time.Now()
	}()
	out, err := c.WaitPort(ctx, "w0", nil)
	done := time.Now()
	if err != nil || out.OFPort != 7 || out.Error != "" {
		t.Fatalf("w0: %+v %v", out, err)
	}
	if lag := done.Sub(<-set); lag > 150*time.Millisecond {
		t.Errorf("WaitPort saw the ofport %v after it was written", lag)
	}
	// An error on a port ends the wait with it.
	if err := c.AddPort(ctx, "br-c", "w1", "dpdk", map[string]string{"dpdk-devargs": "0000:99:00.1"}, nil); err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(100 * time.Millisecond)
		in.Vsctl("--no-wait", "set", "Interface", "w1", "ofport=-1", `error="Error attaching device '0000:99:00.1' to DPDK"`)
	}()
	if out, err := c.WaitPort(ctx, "w1", nil); err != nil || out.Error != "Error attaching device '0000:99:00.1' to DPDK" {
		t.Fatalf("w1: %+v %v", out, err)
	}
	if n, e, err := c.OFPort(ctx, "w1"); n != -1 || e == "" || err != nil {
		t.Errorf("OFPort(w1) = %d %q %v", n, e, err)
	}

	// A mirror fed from w0, on a new port, tagged as traffic's of a dead run (pid 1 is not
	// dpdk-doctor): Leftovers finds both, RemoveLeftovers removes both.
	tags := map[string]string{ovs.TagOwner: ovs.OwnerTraffic, ovs.TagPID: strconv.Itoa(1), ovs.TagPeer: "ddcx"}
	pu, mu, err := c.AddMirror(ctx, ovs.MirrorSpec{Bridge: "br-c", Port: "mport", Mirror: "m0", SelectPort: []string{"w0"}, SelectVLAN: []int{10, 20}, Tags: tags})
	if err != nil || pu == "" || mu == "" {
		t.Fatalf("AddMirror: %q %q %v", pu, mu, err)
	}
	if out, err := in.Vsctl("--columns=select_src_port,select_vlan,output_port", "list", "Mirror", "m0"); err != nil || !strings.Contains(out, "[10, 20]") || !strings.Contains(out, pu) {
		t.Errorf("the mirror as written: %v %s", err, out)
	}
	left, err := c.Leftovers(ctx)
	if err != nil || len(left) != 2 || left[0].Alive || left[0].Peer != "ddcx" {
		t.Fatalf("leftovers: %+v %v", left, err)
	}
	if err := c.RemoveLeftovers(ctx, left); err != nil {
		t.Fatal(err)
	}
	if left, err := c.Leftovers(ctx); err != nil || len(left) != 0 {
		t.Errorf("after removal: %+v %v", left, err)
	}

	if err := c.DelPort(ctx, "br-c", "w0"); err != nil {
		t.Fatal(err)
	}
	if err := c.DelPort(ctx, "br-c", "w0"); err == nil || !strings.Contains(err.Error(), "no port named w0") {
		t.Errorf("deleting w0 twice: %v", err)
	}
	if names, err := c.BridgeNamesSorted(ctx); err != nil || strings.Join(names, ",") != "br-c" {
		t.Errorf("bridges: %v %v", names, err)
	}
	if out, err := in.Vsctl("list-ports", "br-c"); err != nil || strings.TrimSpace(out) != "w1" {
		t.Errorf("ports left: %q %v", out, err)
	}
}
