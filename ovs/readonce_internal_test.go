package ovs

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dpdk-doctor/dpdk-doctor/internal/ovstest"
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
	db := ovstest.SilentPeer(t)
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

// TestColumnsDecoded: every column a model names (its ovsdb tags, which are what the reads
// select) is decoded by its column method: a row with a value in each leaves no field empty.
func TestColumnsDecoded(t *testing.T) {
	check := func(name string, model any, decode func(json.RawMessage) (any, error)) {
		rt := reflect.TypeOf(model)
		var cols []string
		for i := 0; i < rt.NumField(); i++ {
			f := rt.Field(i)
			var v string
			switch k := f.Type.Kind(); {
			case k == reflect.String || k == reflect.Pointer && f.Type.Elem().Kind() == reflect.String:
				v = `"x"`
			case k == reflect.Bool:
				v = `true`
			case k == reflect.Pointer && f.Type.Elem().Kind() == reflect.Int:
				v = `7`
			case k == reflect.Slice && f.Type.Elem().Kind() == reflect.String:
				v = `["set",[["uuid","u1"],["uuid","u2"]]]`
			case k == reflect.Slice && f.Type.Elem().Kind() == reflect.Int:
				v = `["set",[1,2]]`
			case k == reflect.Map:
				v = `["map",[["k","v"]]]`
			default:
				t.Fatalf("%s.%s: a field of kind %v: teach this test", name, f.Name, k)
			}
			cols = append(cols, fmt.Sprintf("%q:%s", f.Tag.Get("ovsdb"), v))
		}
		row, err := decode(json.RawMessage("[{" + strings.Join(cols, ",") + "}]"))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		rv := reflect.ValueOf(row)
		for i := 0; i < rv.NumField(); i++ {
			if rv.Field(i).IsZero() {
				t.Errorf("%s: column %s is not decoded", name, rt.Field(i).Tag.Get("ovsdb"))
			}
		}
	}
	check("OpenvSwitch", OpenvSwitch{}, func(r json.RawMessage) (any, error) {
		var v []OpenvSwitch
		err := decodeRows(r, &v)
		return first(v), err
	})
	check("BridgeRow", BridgeRow{}, func(r json.RawMessage) (any, error) {
		var v []BridgeRow
		err := decodeRows(r, &v)
		return first(v), err
	})
	check("PortRow", PortRow{}, func(r json.RawMessage) (any, error) { var v []PortRow; err := decodeRows(r, &v); return first(v), err })
	check("InterfaceRow", InterfaceRow{}, func(r json.RawMessage) (any, error) {
		var v []InterfaceRow
		err := decodeRows(r, &v)
		return first(v), err
	})
	check("MirrorRow", MirrorRow{}, func(r json.RawMessage) (any, error) {
		var v []MirrorRow
		err := decodeRows(r, &v)
		return first(v), err
	})
	check("ControllerRow", ControllerRow{}, func(r json.RawMessage) (any, error) {
		var v []ControllerRow
		err := decodeRows(r, &v)
		return first(v), err
	})
	check("ManagerRow", ManagerRow{}, func(r json.RawMessage) (any, error) {
		var v []ManagerRow
		err := decodeRows(r, &v)
		return first(v), err
	})
}

func first[T any](v []T) any {
	if len(v) == 0 {
		var z T
		return z
	}
	return v[0]
}

// TestReadColumns: the reads select the columns a State is made of and no others: not
// Interface's status or statistics, the largest columns, which ovs-vsctl show does not read
// either (the one-shot read used to select status).
func TestReadColumns(t *testing.T) {
	want := [7][]string{
		{"_uuid", "bridges", "other_config", "dpdk_initialized", "dpdk_version", "ovs_version", "manager_options"},
		{"_uuid", "name", "ports", "mirrors", "controller", "fail_mode", "datapath_type", "other_config"},
		{"_uuid", "name", "interfaces", "tag", "trunks", "external_ids"},
		{"_uuid", "name", "type", "options", "error", "ofport", "link_state", "external_ids"},
		{"_uuid", "name", "select_all", "output_port", "external_ids"},
		{"_uuid", "target", "is_connected"},
		{"_uuid", "target", "is_connected"},
	}
	if got := readColumns(); !reflect.DeepEqual(got, want) {
		t.Errorf("reads select\n%q\nwant\n%q", got, want)
	}
}

// FuzzResultRows: whatever an operation's result holds, resultRows gives rows, the server's
// error, or an error, never a panic; the rows it gives are a slice of its input.
func FuzzResultRows(f *testing.F) {
	f.Add(`{"rows":[{"name":"x"}]}`)
	f.Add(`{"error":"constraint violation","details":"no"}`)
	f.Add(`{"count":1}`)
	f.Add(`{"rows":`)
	f.Fuzz(func(t *testing.T, s string) {
		rows, err := resultRows(json.RawMessage(s))
		if err == nil && !strings.Contains(s, string(rows)) {
			t.Fatalf("%q: rows %q are not in the input", s, rows)
		}
	})
}
