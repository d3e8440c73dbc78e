package ovsrpc

import (
	"encoding/json"
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
