package ovs

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"reflect"

	"github.com/dpdk-doctor/dpdk-doctor/internal/ovsrpc"
)

// ReadOnce reads the state in one round trip: a single OVSDB transact of selects, one per table
// the models name and only their columns, decoded straight into a State. It is for commands
// that read once and go (show, check, capture, metrics): no monitor, no cache, no libovsdb
// client. Its result is the same as DialWith followed by Client.Read. The dial and the
// transaction are bounded by ctx and by o.Timeout, and every message from the server by
// o.MaxMessage, as DialWith's are.
func ReadOnce(ctx context.Context, db string, o Options) (*State, error) {
	if err := ValidEndpoint(db); err != nil {
		return nil, err
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxMessage <= 0 {
		o.MaxMessage = DefaultMaxMessage
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	conn, err := dialServer(ctx, db, o.TLS)
	if err != nil {
		return nil, err
	}
	c := ovsrpc.NewConn(ctx, conn, db, o.MaxMessage)
	defer c.Close()
	var t tables
	dst := []any{&t.roots, &t.bridges, &t.ports, &t.ifaces, &t.mirrors, &t.ctrls, &t.mgrs}
	ops := make([]map[string]any, len(oneShotTables))
	for i, tb := range oneShotTables {
		ops[i] = map[string]any{"op": "select", "table": tb.name, "where": []any{}, "columns": tb.columns}
	}
	res, err := c.Transact("Open_vSwitch", ops...)
	if err != nil {
		if ctx.Err() != nil {
			err = waitErr(ctx.Err(), o.Timeout)
		}
		return nil, fmt.Errorf("OVSDB %s: reading the tables: %w", db, err)
	}
	for i, tb := range oneShotTables {
		if err := decodeRows(res[i]["rows"], dst[i]); err != nil {
			return nil, fmt.Errorf("OVSDB %s: table %s: %w", db, tb.name, err)
		}
	}
	if len(t.roots) == 0 {
		return nil, fmt.Errorf("OVSDB %s: the Open_vSwitch table is empty (run ovs-vsctl init)", db)
	}
	st := assemble(t.roots[0], t.bridges, t.ports, t.ifaces, t.mirrors)
	link(st, &t)
	return st, nil
}

// oneShotTables are the tables ReadOnce selects, in the order of the tables struct's fields,
// with the columns of their models (_uuid included).
var oneShotTables = func() []struct {
	name    string
	columns []string
} {
	var out []struct {
		name    string
		columns []string
	}
	for _, m := range []struct {
		name string
		row  any
	}{{"Open_vSwitch", OpenvSwitch{}}, {"Bridge", BridgeRow{}}, {"Port", PortRow{}}, {"Interface", InterfaceRow{}},
		{"Mirror", MirrorRow{}}, {"Controller", ControllerRow{}}, {"Manager", ManagerRow{}}} {
		var cols []string
		rt := reflect.TypeOf(m.row)
		for i := 0; i < rt.NumField(); i++ {
			if tag := rt.Field(i).Tag.Get("ovsdb"); tag != "" {
				cols = append(cols, tag)
			}
		}
		out = append(out, struct {
			name    string
			columns []string
		}{m.name, cols})
	}
	return out
}()

// decodeRows decodes a select's rows (OVSDB's JSON wire form) into dst, a pointer to a slice of
// one of the row models, by the models' ovsdb tags.
func decodeRows(raw json.RawMessage, dst any) error {
	var rows []map[string]json.RawMessage
	if err := json.Unmarshal(raw, &rows); err != nil {
		return fmt.Errorf("rows: %w", err)
	}
	sv := reflect.ValueOf(dst).Elem()
	et := sv.Type().Elem()
	out := reflect.MakeSlice(sv.Type(), len(rows), len(rows))
	for r, row := range rows {
		ev := out.Index(r)
		for i := 0; i < et.NumField(); i++ {
			col := et.Field(i).Tag.Get("ovsdb")
			v, ok := row[col]
			if col == "" || !ok {
				continue
			}
			if err := decodeColumn(v, ev.Field(i)); err != nil {
				return fmt.Errorf("column %s: %w", col, err)
			}
		}
	}
	sv.Set(out)
	return nil
}

// decodeColumn decodes one OVSDB datum into f: an atom (string, integer, boolean, ["uuid", U]),
// a set (["set", [atoms]] or a lone atom) or a map (["map", [[k, v], ...]]).
func decodeColumn(raw json.RawMessage, f reflect.Value) error {
	var v any
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		return err
	}
	switch f.Kind() {
	case reflect.Map:
		pairs, ok := tagged(v, "map")
		if !ok {
			return fmt.Errorf("not a map: %.80s", raw)
		}
		m := reflect.MakeMapWithSize(f.Type(), len(pairs))
		for _, p := range pairs {
			kv, ok := p.([]any)
			if !ok || len(kv) != 2 {
				return fmt.Errorf("not a map pair: %.80s", raw)
			}
			k, err := atomValue(kv[0], f.Type().Key())
			if err != nil {
				return err
			}
			e, err := atomValue(kv[1], f.Type().Elem())
			if err != nil {
				return err
			}
			m.SetMapIndex(k, e)
		}
		if len(pairs) > 0 { // an empty map stays nil, as libovsdb leaves it
			f.Set(m)
		}
	case reflect.Slice:
		items := setItems(v)
		s := reflect.MakeSlice(f.Type(), 0, len(items))
		for _, it := range items {
			a, err := atomValue(it, f.Type().Elem())
			if err != nil {
				return err
			}
			s = reflect.Append(s, a)
		}
		if len(items) > 0 { // an empty set stays nil, as libovsdb leaves it
			f.Set(s)
		}
	case reflect.Pointer:
		items := setItems(v)
		if len(items) > 1 {
			return fmt.Errorf("more than one value in an optional column: %.80s", raw)
		}
		if len(items) == 1 {
			a, err := atomValue(items[0], f.Type().Elem())
			if err != nil {
				return err
			}
			p := reflect.New(f.Type().Elem())
			p.Elem().Set(a)
			f.Set(p)
		}
	default:
		a, err := atomValue(v, f.Type())
		if err != nil {
			return err
		}
		f.Set(a)
	}
	return nil
}

// tagged returns the list of a ["kind", [...]] datum.
func tagged(v any, kind string) ([]any, bool) {
	a, ok := v.([]any)
	if !ok || len(a) != 2 || a[0] != kind {
		return nil, false
	}
	l, ok := a[1].([]any)
	return l, ok
}

// setItems returns a set's atoms: a lone atom is a set of one.
func setItems(v any) []any {
	if l, ok := tagged(v, "set"); ok {
		return l
	}
	return []any{v}
}

// atomValue converts one atom to t (string, int or bool); a UUID atom gives its string.
func atomValue(v any, t reflect.Type) (reflect.Value, error) {
	if l, ok := v.([]any); ok && len(l) == 2 && (l[0] == "uuid" || l[0] == "named-uuid") {
		v = l[1]
	}
	switch t.Kind() {
	case reflect.String:
		if s, ok := v.(string); ok {
			return reflect.ValueOf(s).Convert(t), nil
		}
	case reflect.Int:
		if n, ok := v.(json.Number); ok {
			if i, err := n.Int64(); err == nil {
				return reflect.ValueOf(int(i)).Convert(t), nil
			}
		}
	case reflect.Bool:
		if b, ok := v.(bool); ok {
			return reflect.ValueOf(b).Convert(t), nil
		}
	}
	return reflect.Value{}, fmt.Errorf("%v is not a %s", v, t)
}
