package ovs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strconv"
	"strings"
	"sync"

	"github.com/ovn-kubernetes/libovsdb/ovsdb"

	"github.com/dpdk-doctor/dpdk-doctor/internal/ovsrpc"
)

// ReadOnce reads the state in one round trip: a single OVSDB transact of selects, one per table
// State needs and only the columns it shows (readTables), decoded straight into a State. It is
// for commands that read once and go (show, check, capture, metrics, plan): no monitor, no
// cache. Its result is the same as DialWith followed by Client.Read. The dial and the
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
	t, err := readTables(func(ops []any) ([]json.RawMessage, error) {
		res, err := c.TransactRaw("Open_vSwitch", ops...)
		if err != nil {
			switch {
			case ctx.Err() != nil:
				err = waitErr(ctx.Err(), o.Timeout)
			case errors.Is(err, os.ErrDeadlineExceeded): // the connection's deadline is ctx's, and came first
				err = waitErr(context.DeadlineExceeded, o.Timeout)
			}
			return nil, fmt.Errorf("OVSDB %s: reading the tables: %w", db, err)
		}
		return res, nil
	})
	if err != nil {
		return nil, err
	}
	return t.state(db)
}

// state builds the State from one read of the tables.
func (t *tables) state(db string) (*State, error) {
	if len(t.roots) == 0 {
		return nil, fmt.Errorf("OVSDB %s: the Open_vSwitch table is empty (run ovs-vsctl init)", db)
	}
	st := assemble(t.roots[0], t.bridges, t.ports, t.ifaces, t.mirrors)
	link(st, t)
	return st, nil
}

// readColumns are the columns a State is made of, per table, as ovs-vsctl show monitors only
// the columns it prints: the models' fields, each named by its ovsdb tag (_uuid included).
// Interface's status and statistics, the largest columns, are not read.
var readColumns = sync.OnceValue(func() [7][]string {
	var out [7][]string
	for i, row := range []any{OpenvSwitch{}, BridgeRow{}, PortRow{}, InterfaceRow{}, MirrorRow{}, ControllerRow{}, ManagerRow{}} {
		rt := reflect.TypeOf(row)
		for f := 0; f < rt.NumField(); f++ {
			if tag := rt.Field(f).Tag.Get("ovsdb"); tag != "" {
				out[i] = append(out[i], tag)
			}
		}
	}
	return out
})

// readTableNames are the tables readTables selects, in the order of readColumns and of the
// tables struct's fields.
var readTableNames = [7]string{"Open_vSwitch", "Bridge", "Port", "Interface", "Mirror", "Controller", "Manager"}

// readTables reads every table a State needs in one transaction, run by transact (a one-shot
// connection's or a Client's), and decodes the rows.
func readTables(transact func(ops []any) ([]json.RawMessage, error)) (*tables, error) {
	var t tables
	dst := [7]any{&t.roots, &t.bridges, &t.ports, &t.ifaces, &t.mirrors, &t.ctrls, &t.mgrs}
	cols := readColumns()
	ops := make([]any, len(readTableNames))
	for i, name := range readTableNames {
		ops[i] = ovsdb.Operation{Op: ovsdb.OperationSelect, Table: name, Columns: cols[i]}
	}
	res, err := transact(ops)
	if err != nil {
		return nil, err
	}
	if len(res) < len(ops) {
		return nil, fmt.Errorf("reading the tables: %d results for %d selects", len(res), len(ops))
	}
	for i, name := range readTableNames {
		rows, err := resultRows(res[i])
		if err == nil {
			err = decodeRows(rows, dst[i])
		}
		if err != nil {
			return nil, fmt.Errorf("table %s: %w", name, err)
		}
	}
	return &t, nil
}

// resultRows returns the "rows" of one operation's result (RFC 7047 5.2.2), or the error the
// server put there, without decoding anything else.
func resultRows(raw json.RawMessage) (json.RawMessage, error) {
	p := datumParser{b: raw}
	if err := p.expect('{'); err != nil {
		return nil, fmt.Errorf("result: %w", err)
	}
	var rows json.RawMessage
	var failed, details string
	for n := 0; !p.peek('}'); n++ {
		if n > 0 {
			if err := p.expect(','); err != nil {
				return nil, fmt.Errorf("result: %w", err)
			}
		}
		key, err := p.str()
		if err != nil {
			return nil, fmt.Errorf("result: %w", err)
		}
		if err := p.expect(':'); err != nil {
			return nil, fmt.Errorf("result: %w", err)
		}
		p.ws()
		from := p.i
		if err := p.skip(); err != nil {
			return nil, fmt.Errorf("result, %s: %w", key, err)
		}
		v := raw[from:p.i]
		switch key {
		case "rows":
			rows = v
		case "error":
			if json.Unmarshal(v, &failed) != nil {
				failed = string(v)
			}
		case "details":
			json.Unmarshal(v, &details)
		}
	}
	if failed != "" {
		return nil, fmt.Errorf("refused: %s", strings.TrimSpace(failed+" "+details))
	}
	if rows == nil {
		return nil, errors.New("result without rows")
	}
	return rows, nil
}

// decodeRows decodes a select's rows (OVSDB's JSON wire form) into dst, a pointer to a slice of
// one of the row models, by the models' ovsdb tags. It parses the bytes once, without building
// generic JSON values: a 512-port database decodes in a millisecond or two.
func decodeRows(raw json.RawMessage, dst any) error {
	sv := reflect.ValueOf(dst).Elem()
	et := sv.Type().Elem()
	field := map[string]int{}
	for i := 0; i < et.NumField(); i++ {
		if col := et.Field(i).Tag.Get("ovsdb"); col != "" {
			field[col] = i
		}
	}
	p := datumParser{b: raw}
	if err := p.expect('['); err != nil {
		return fmt.Errorf("rows: %w", err)
	}
	out := reflect.MakeSlice(sv.Type(), 0, 16)
	for n := 0; !p.peek(']'); n++ {
		if n > 0 {
			if err := p.expect(','); err != nil {
				return fmt.Errorf("rows: %w", err)
			}
		}
		row := reflect.New(et).Elem()
		if err := p.expect('{'); err != nil {
			return fmt.Errorf("row %d: %w", n, err)
		}
		for c := 0; !p.peek('}'); c++ {
			if c > 0 {
				if err := p.expect(','); err != nil {
					return fmt.Errorf("row %d: %w", n, err)
				}
			}
			col, err := p.str()
			if err != nil {
				return fmt.Errorf("row %d: %w", n, err)
			}
			if err := p.expect(':'); err != nil {
				return fmt.Errorf("row %d: %w", n, err)
			}
			p.ws()
			from := p.i
			if err := p.skip(); err != nil {
				return fmt.Errorf("row %d, column %s: %w", n, col, err)
			}
			i, ok := field[col]
			if !ok {
				continue
			}
			if err := decodeColumn(raw[from:p.i], row.Field(i)); err != nil {
				return fmt.Errorf("row %d, column %s: %w", n, col, err)
			}
		}
		p.i++
		out = reflect.Append(out, row)
	}
	p.i++
	if p.ws(); p.i != len(p.b) {
		return errors.New("rows: trailing data")
	}
	sv.Set(out)
	return nil
}

// skip passes over one JSON value (strings, nesting), for the parser to hand it on.
func (p *datumParser) skip() error {
	depth := 0
	for p.i < len(p.b) {
		switch c := p.b[p.i]; c {
		case '"':
			if _, err := p.str(); err != nil {
				return err
			}
			if depth == 0 {
				return nil
			}
			continue
		case '[', '{':
			depth++
		case ']', '}':
			if depth == 0 { // the end of a scalar's container
				return nil
			}
			depth--
			if depth == 0 {
				p.i++
				return nil
			}
		case ',', ':', ' ', '\t', '\n', '\r':
			if depth == 0 {
				return nil
			}
		}
		p.i++
	}
	if depth != 0 {
		return errors.New("unexpected end")
	}
	return nil
}

// decodeColumn decodes one OVSDB datum into f: an atom (string, integer, boolean, ["uuid", U]),
// a set (["set", [atoms]] or a lone atom) or a map (["map", [[k, v], ...]]).
func decodeColumn(raw json.RawMessage, f reflect.Value) error {
	p := datumParser{b: raw}
	keys, vals, isMap, err := p.datum()
	if err == nil {
		if p.ws(); p.i != len(p.b) {
			err = errors.New("trailing data")
		}
	}
	if err != nil {
		return fmt.Errorf("%w: %.80s", err, raw)
	}
	switch f.Kind() {
	case reflect.Map:
		if !isMap {
			return fmt.Errorf("not a map: %.80s", raw)
		}
		if len(keys) == 0 { // an empty map stays nil, as libovsdb leaves it
			return nil
		}
		m := reflect.MakeMapWithSize(f.Type(), len(keys))
		for i := range keys {
			k, err := atomValue(keys[i], f.Type().Key())
			if err != nil {
				return err
			}
			e, err := atomValue(vals[i], f.Type().Elem())
			if err != nil {
				return err
			}
			m.SetMapIndex(k, e)
		}
		f.Set(m)
	case reflect.Slice:
		if isMap {
			return fmt.Errorf("a map where a set belongs: %.80s", raw)
		}
		if len(vals) == 0 { // an empty set stays nil, as libovsdb leaves it
			return nil
		}
		s := reflect.MakeSlice(f.Type(), len(vals), len(vals))
		for i, it := range vals {
			a, err := atomValue(it, f.Type().Elem())
			if err != nil {
				return err
			}
			s.Index(i).Set(a)
		}
		f.Set(s)
	case reflect.Pointer:
		if isMap || len(vals) > 1 {
			return fmt.Errorf("more than one value in an optional column: %.80s", raw)
		}
		if len(vals) == 1 {
			a, err := atomValue(vals[0], f.Type().Elem())
			if err != nil {
				return err
			}
			p := reflect.New(f.Type().Elem())
			p.Elem().Set(a)
			f.Set(p)
		}
	default:
		if isMap || len(vals) != 1 {
			return fmt.Errorf("not a single value: %.80s", raw)
		}
		a, err := atomValue(vals[0], f.Type())
		if err != nil {
			return err
		}
		f.Set(a)
	}
	return nil
}

// atom is one OVSDB atom off the wire: a string (or UUID), an integer or a boolean.
type atom struct {
	kind byte // 's', 'i' or 'b'
	s    string
	n    int64
	b    bool
}

// datumParser reads one OVSDB datum from its JSON, without building generic JSON values.
type datumParser struct {
	b []byte
	i int
}

func (p *datumParser) ws() {
	for p.i < len(p.b) && (p.b[p.i] == ' ' || p.b[p.i] == '\t' || p.b[p.i] == '\n' || p.b[p.i] == '\r') {
		p.i++
	}
}

func (p *datumParser) expect(c byte) error {
	p.ws()
	if p.i >= len(p.b) || p.b[p.i] != c {
		return fmt.Errorf("want %q at byte %d", c, p.i)
	}
	p.i++
	return nil
}

// peek reports whether the next non-space byte is c.
func (p *datumParser) peek(c byte) bool {
	p.ws()
	return p.i < len(p.b) && p.b[p.i] == c
}

// datum reads a lone atom, ["set", [...]], ["map", [[k, v], ...]] or ["uuid", U].
func (p *datumParser) datum() (keys, vals []atom, isMap bool, err error) {
	if !p.peek('[') {
		a, err := p.atom()
		return nil, []atom{a}, false, err
	}
	start := p.i
	p.i++
	tag, err := p.str()
	if err != nil {
		return nil, nil, false, err
	}
	switch tag {
	case "uuid", "named-uuid":
		p.i = start
		a, err := p.atom()
		return nil, []atom{a}, false, err
	case "set", "map":
	default:
		return nil, nil, false, fmt.Errorf("unknown datum %q", tag)
	}
	if err := p.expect(','); err != nil {
		return nil, nil, false, err
	}
	if err := p.expect('['); err != nil {
		return nil, nil, false, err
	}
	for !p.peek(']') {
		if len(vals) > 0 {
			if err := p.expect(','); err != nil {
				return nil, nil, false, err
			}
		}
		if tag == "set" {
			a, err := p.atom()
			if err != nil {
				return nil, nil, false, err
			}
			vals = append(vals, a)
			continue
		}
		if err := p.expect('['); err != nil {
			return nil, nil, false, err
		}
		k, err := p.atom()
		if err != nil {
			return nil, nil, false, err
		}
		if err := p.expect(','); err != nil {
			return nil, nil, false, err
		}
		v, err := p.atom()
		if err != nil {
			return nil, nil, false, err
		}
		if err := p.expect(']'); err != nil {
			return nil, nil, false, err
		}
		keys, vals = append(keys, k), append(vals, v)
	}
	p.i++
	if err := p.expect(']'); err != nil {
		return nil, nil, false, err
	}
	return keys, vals, tag == "map", nil
}

// atom reads a string, an integer, true, false, or ["uuid", U] / ["named-uuid", U].
func (p *datumParser) atom() (atom, error) {
	p.ws()
	if p.i >= len(p.b) {
		return atom{}, errors.New("unexpected end")
	}
	switch c := p.b[p.i]; {
	case c == '"':
		s, err := p.str()
		return atom{kind: 's', s: s}, err
	case c == '[':
		p.i++
		tag, err := p.str()
		if err != nil {
			return atom{}, err
		}
		if tag != "uuid" && tag != "named-uuid" {
			return atom{}, fmt.Errorf("not an atom: [%q", tag)
		}
		if err := p.expect(','); err != nil {
			return atom{}, err
		}
		s, err := p.str()
		if err != nil {
			return atom{}, err
		}
		return atom{kind: 's', s: s}, p.expect(']')
	case c == 't' && bytes.HasPrefix(p.b[p.i:], []byte("true")):
		p.i += 4
		return atom{kind: 'b', b: true}, nil
	case c == 'f' && bytes.HasPrefix(p.b[p.i:], []byte("false")):
		p.i += 5
		return atom{kind: 'b'}, nil
	case c == '-' || c >= '0' && c <= '9':
		j := p.i + 1
		for j < len(p.b) && p.b[j] >= '0' && p.b[j] <= '9' {
			j++
		}
		n, err := strconv.ParseInt(string(p.b[p.i:j]), 10, 64)
		if err != nil {
			return atom{}, fmt.Errorf("not an integer at byte %d", p.i)
		}
		p.i = j
		return atom{kind: 'i', n: n}, nil
	}
	return atom{}, fmt.Errorf("not an atom at byte %d", p.i)
}

// str reads a JSON string; one without escapes is taken as it is.
func (p *datumParser) str() (string, error) {
	p.ws()
	if p.i >= len(p.b) || p.b[p.i] != '"' {
		return "", fmt.Errorf("want a string at byte %d", p.i)
	}
	esc := false
	for j := p.i + 1; j < len(p.b); j++ {
		switch {
		case esc:
			esc = false
		case p.b[j] == '\\':
			esc = true
		case p.b[j] == '"':
			raw := p.b[p.i : j+1]
			p.i = j + 1
			if bytes.IndexByte(raw, '\\') < 0 {
				return string(raw[1 : len(raw)-1]), nil
			}
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return "", err
			}
			return s, nil
		}
	}
	return "", errors.New("unterminated string")
}

// atomValue converts one atom to t (string, int or bool).
func atomValue(a atom, t reflect.Type) (reflect.Value, error) {
	switch {
	case t.Kind() == reflect.String && a.kind == 's':
		return reflect.ValueOf(a.s).Convert(t), nil
	case t.Kind() == reflect.Int && a.kind == 'i':
		return reflect.ValueOf(int(a.n)).Convert(t), nil
	case t.Kind() == reflect.Bool && a.kind == 'b':
		return reflect.ValueOf(a.b).Convert(t), nil
	}
	return reflect.Value{}, fmt.Errorf("%v is not a %s", a, t)
}
