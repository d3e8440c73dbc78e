package ovs

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestReadOnceFlood: the one-shot read keeps the same promise as DialWith. A peer that answers the
// transact with one endless JSON string is cut off at the per-message limit, with an error
// naming the limit, allocating a bounded amount on the way.
func TestReadOnceFlood(t *testing.T) {
	checkFlood(t, 1, func(db string, o Options) error { _, err := ReadOnce(context.Background(), db, o); return err })
}

// TestReadOnceSilentPeer: a server that never answers is given up on within --db-timeout,
// and the error says which limit ran out.
func TestReadOnceSilentPeer(t *testing.T) {
	db := listen(t, func(c net.Conn) {
		buf := make([]byte, 4096)
		for {
			if _, err := c.Read(buf); err != nil {
				return
			}
		}
	})
	start := time.Now()
	_, err := ReadOnce(context.Background(), db, Options{Timeout: 500 * time.Millisecond})
	took := time.Since(start)
	if err == nil || !strings.Contains(err.Error(), "no answer in time") || !strings.Contains(err.Error(), "--db-timeout") || !strings.Contains(err.Error(), db) {
		t.Errorf("want a timeout naming %s and --db-timeout, got %v", db, err)
	}
	if took > 2*time.Second {
		t.Errorf("took %v for a 500ms timeout", took)
	}
}

// TestDecodeRows decodes OVSDB's wire forms (lone atoms and sets, UUIDs, maps, optional
// columns) into the models, and refuses data of the wrong type with an error naming the column.
func TestDecodeRows(t *testing.T) {
	raw := `[{"_uuid":["uuid","u1"],"name":"p0","interfaces":["uuid","i1"],"tag":["set",[]],"trunks":["set",[20,10]],"external_ids":["map",[["a","b"]]]},
	         {"_uuid":["uuid","u2"],"name":"p1","interfaces":["set",[["uuid","i2"],["uuid","i3"]]],"tag":7,"trunks":5,"external_ids":["map",[]]}]`
	var rows []PortRow
	if err := decodeRows(json.RawMessage(raw), &rows); err != nil {
		t.Fatal(err)
	}
	seven := 7
	want := []PortRow{
		{UUID: "u1", Name: "p0", Interfaces: []string{"i1"}, Trunks: []int{20, 10}, ExternalIDs: map[string]string{"a": "b"}},
		{UUID: "u2", Name: "p1", Interfaces: []string{"i2", "i3"}, Tag: &seven, Trunks: []int{5}},
	}
	if !reflect.DeepEqual(rows, want) {
		t.Errorf("got %#v\nwant %#v", rows, want)
	}
	for _, bad := range []string{
		`[{"name":5}]`,
		`[{"tag":"x"}]`,
		`[{"tag":["set",[1,2]]}]`,
		`[{"external_ids":["set",[]]}]`,
		`[{"external_ids":["map",[["a"]]]}]`,
		`{"name":"x"}`,
	} {
		var rows []PortRow
		if err := decodeRows(json.RawMessage(bad), &rows); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
}

// FuzzDecodeRows: whatever the server sends as rows, decoding gives rows or an error, never a
// panic.
func FuzzDecodeRows(f *testing.F) {
	f.Add(`[{"_uuid":["uuid","u"],"name":"x","ofport":["set",[]],"options":["map",[["k","v"]]],"error":"e"}]`)
	f.Add(`[{"ofport":1.5}]`)
	f.Add(`[{"options":["map",[[1,2]]]}]`)
	f.Fuzz(func(t *testing.T, s string) {
		var ifs []InterfaceRow
		decodeRows(json.RawMessage(s), &ifs)
		var roots []OpenvSwitch
		decodeRows(json.RawMessage(s), &roots)
	})
}

// BenchmarkDecodeRows512 decodes 512 Interface rows as ovsdb-server sends them.
func BenchmarkDecodeRows512(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("[")
	for i := range 512 {
		if i > 0 {
			sb.WriteString(",")
		}
		fmt.Fprintf(&sb, `{"_uuid":["uuid","6f1c4a2e-0000-4000-8000-%012d"],"name":"p%d","type":"dpdk","options":["map",[["dpdk-devargs","0000:99:00.1"]]],"error":"Error attaching device '0000:99:00.1' to DPDK","ofport":-1,"link_state":["set",[]],"status":["map",[]],"external_ids":["map",[]]}`, i, i)
	}
	sb.WriteString("]")
	raw := json.RawMessage(sb.String())
	for b.Loop() {
		var rows []InterfaceRow
		if err := decodeRows(raw, &rows); err != nil {
			b.Fatal(err)
		}
	}
}
