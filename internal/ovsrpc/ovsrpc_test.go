package ovsrpc

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMapAndOptional(t *testing.T) {
	m, err := Map(json.RawMessage(`["map",[["rx_packets",12],["dpdk-init","true"]]]`))
	if err != nil || m["rx_packets"] != "12" || m["dpdk-init"] != "true" {
		t.Fatalf("%v %v", m, err)
	}
	if _, err := Map(json.RawMessage(`["set",[]]`)); err == nil {
		t.Error("a set taken as a map")
	}
	if Optional(json.RawMessage(`["set",[]]`)) != "" || Optional(json.RawMessage(`"up"`)) != "up" || Optional(json.RawMessage(`["set",[1500]]`)) != "1500" || Optional(json.RawMessage(`9000`)) != "9000" {
		t.Error("Optional")
	}
	b, _ := json.Marshal(MapDatum(map[string]string{"a": "b"}))
	if string(b) != `["map",[["a","b"]]]` {
		t.Errorf("MapDatum: %s", b)
	}
}

func FuzzMap(f *testing.F) {
	f.Add(`["map",[["a",1]]]`)
	f.Add(`["set",[]]`)
	f.Fuzz(func(t *testing.T, s string) {
		Map(json.RawMessage(s))
		Optional(json.RawMessage(s))
	})
}

func TestVswitchdSocket(t *testing.T) {
	dir := t.TempDir()
	if _, err := VswitchdSocket(dir); err == nil {
		t.Error("no pid file: no error")
	}
	os.WriteFile(filepath.Join(dir, "ovs-vswitchd.pid"), []byte("42\n"), 0o644)
	if _, err := VswitchdSocket(dir); err == nil || !strings.Contains(err.Error(), "pid 42") {
		t.Errorf("no socket: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "ovs-vswitchd-dpdk.42.ctl"), nil, 0o644)
	if s, err := VswitchdSocket(dir); err != nil || filepath.Base(s) != "ovs-vswitchd-dpdk.42.ctl" {
		t.Errorf("%s %v", s, err)
	}
	os.WriteFile(filepath.Join(dir, "ovs-vswitchd.42.ctl"), nil, 0o644)
	if s, err := VswitchdSocket(dir); err != nil || filepath.Base(s) != "ovs-vswitchd.42.ctl" {
		t.Errorf("%s %v", s, err)
	}
	os.WriteFile(filepath.Join(dir, "ovs-vswitchd.pid"), []byte("x\n"), 0o644)
	if _, err := VswitchdSocket(dir); err == nil {
		t.Error("bad pid: no error")
	}
}

// TestPerMessageLimit: the limit is per message, not per connection: many replies that are
// each under it pass (a refreshing view makes many calls), and one over it is cut off.
func TestPerMessageLimit(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	reply := func(id int, size int) {
		dec := json.NewDecoder(b)
		var req map[string]any
		dec.Decode(&req)
		fmt.Fprintf(b, `{"id":%d,"error":null,"result":"%s"}`, id, strings.Repeat("x", size))
	}
	go func() {
		for i := 1; i <= 5; i++ {
			reply(i, 600)
		}
		reply(6, 5000)
		b.Close()
	}()
	c := NewConn(context.Background(), a, "test", 1000)
	for i := 1; i <= 5; i++ {
		var s string
		if err := c.Call("echo", []any{}, &s); err != nil || len(s) != 600 {
			t.Fatalf("call %d under the limit: %v (%d bytes)", i, err, len(s))
		}
	}
	if err := c.Call("echo", []any{}, nil); err == nil || !strings.Contains(err.Error(), "more than 1000 bytes") {
		t.Fatalf("a reply over the limit: %v", err)
	}
}

// TestSendRaw: a request put together by SendRaw is the JSON-RPC request Send makes of the
// same parameters, and its reply is read by Await.
func TestSendRaw(t *testing.T) {
	a, b := net.Pipe()
	got := make(chan map[string]any, 2)
	go func() {
		dec := json.NewDecoder(b)
		for {
			var m map[string]any
			if dec.Decode(&m) != nil {
				return
			}
			got <- m
			json.NewEncoder(b).Encode(map[string]any{"id": m["id"], "result": []any{"ok"}, "error": nil})
		}
	}()
	c := NewConn(context.Background(), a, "pipe", 0)
	defer c.Close()
	params := json.RawMessage(`["Open_vSwitch",{"op":"select","table":"Bridge","where":[],"columns":["name"]}]`)
	for _, send := range []func() (int, error){
		func() (int, error) { return c.SendRaw("transact", params) },
		func() (int, error) { return c.Send("transact", params) },
	} {
		id, err := send()
		if err != nil {
			t.Fatal(err)
		}
		m := <-got
		if m["method"] != "transact" || m["id"] != float64(id) || len(m["params"].([]any)) != 2 {
			t.Errorf("request %v", m)
		}
		var out []json.RawMessage
		if err := c.Await(id, "transact", &out); err != nil || len(out) != 1 {
			t.Errorf("reply %q %v", out, err)
		}
	}
}
