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
	return StartReadOnce(ctx, db, o).Wait()
}

// PendingRead is a ReadOnce in two steps: StartReadOnce dials and sends the request, Wait
// reads and decodes the answer. Between the two the server works on it while the caller
// does something else (gathers the host's facts).
type PendingRead struct {
	db     string
	o      Options
	ctx    context.Context
	cancel context.CancelFunc
	c      *ovsrpc.Conn
	id     int
	err    error // of the dial or the send, for Wait
}

// StartReadOnce dials db and sends ReadOnce's transact. Wait must be called once, whatever
// happened: it gives the State, or the error of any step. o.Timeout bounds both steps
// together, from now.
func StartReadOnce(ctx context.Context, db string, o Options) *PendingRead {
	r := &PendingRead{db: db, o: o, cancel: func() {}}
	if r.err = ValidEndpoint(db); r.err != nil {
		return r
	}
	if r.o.Timeout <= 0 {
		r.o.Timeout = DefaultTimeout
	}
	if r.o.MaxMessage <= 0 {
		r.o.MaxMessage = DefaultMaxMessage
	}
	r.ctx, r.cancel = context.WithTimeout(ctx, r.o.Timeout)
	conn, err := dialServer(r.ctx, db, r.o.TLS)
	if err != nil {
		r.err = err
		return r
	}
	r.c = ovsrpc.NewConn(r.ctx, conn, db, r.o.MaxMessage)
	r.id, err = r.c.SendRaw("transact", readParams())
	r.err = r.transactErr(err)
	return r
}

// Wait reads the answer to the request StartReadOnce sent and builds the State.
func (r *PendingRead) Wait() (*State, error) {
	defer r.cancel()
	if r.c != nil {
		defer r.c.Close()
	}
	if r.err != nil {
		return nil, r.err
	}
	var res []json.RawMessage
	if err := r.c.Await(r.id, "transact", &res); err != nil {
		return nil, r.transactErr(err)
	}
	t, err := decodeTables(res)
	if err != nil {
		return nil, err
	}
	return t.state(r.db)
}

// transactErr says which limit ran out when the transaction failed for want of time.
func (r *PendingRead) transactErr(err error) error {
	if err == nil {
		return nil
	}
	switch {
	case r.ctx.Err() != nil:
		err = waitErr(r.ctx.Err(), r.o.Timeout)
	case errors.Is(err, os.ErrDeadlineExceeded): // the connection's deadline is ctx's, and came first
		err = waitErr(context.DeadlineExceeded, r.o.Timeout)
	}
	return fmt.Errorf("OVSDB %s: reading the tables: %w", r.db, err)
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
	res, err := transact(readOps())
	if err != nil {
		return nil, err
	}
	return decodeTables(res)
}

// readOps are readTables' selects: one per table, of readColumns.
func readOps() []any {
	cols := readColumns()
	ops := make([]any, len(readTableNames))
	for i, name := range readTableNames {
		ops[i] = ovsdb.Operation{Op: ovsdb.OperationSelect, Table: name, Columns: cols[i]}
	}
	return ops
}

// readParams are the transact's parameters for readOps, in JSON built by hand (the same
// request as encoding/json makes of readOps' ovsdb.Operations, TestReadParams): the one-shot
// read sends it without encoding/json's reflection.
var readParams = sync.OnceValue(func() json.RawMessage {
	cols := readColumns()
	b := []byte(`["Open_vSwitch"`)
	for i, name := range readTableNames {
		b = append(b, `,{"op":"select","table":`...)
		b = strconv.AppendQuote(b, name)
		b = append(b, `,"where":[],"columns":[`...)
		for k, c := range cols[i] {
			if k > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendQuote(b, c)
		}
		b = append(b, "]}"...)
	}
	return append(b, ']')
})

// decodeTables decodes the results of readOps, one per table.
func decodeTables(res []json.RawMessage) (*tables, error) {
	var t tables
	dst := [7]func(json.RawMessage) error{
		func(r json.RawMessage) error { return decodeRows(r, &t.roots) },
		func(r json.RawMessage) error { return decodeRows(r, &t.bridges) },
		func(r json.RawMessage) error { return decodeRows(r, &t.ports) },
		func(r json.RawMessage) error { return decodeRows(r, &t.ifaces) },
		func(r json.RawMessage) error { return decodeRows(r, &t.mirrors) },
		func(r json.RawMessage) error { return decodeRows(r, &t.ctrls) },
		func(r json.RawMessage) error { return decodeRows(r, &t.mgrs) },
	}
	if len(res) < len(readTableNames) {
		return nil, fmt.Errorf("reading the tables: %d results for %d selects", len(res), len(readTableNames))
	}
	var errs [len(readTableNames)]error
	decode := func(i int) {
		rows, err := resultRows(res[i])
		if err == nil {
			err = dst[i](rows)
		}
		errs[i] = err
	}
	// The Interface rows (the largest table, with Port's) decode on another core while the
	// others decode here; the first table that fails, in table order, is reported.
	const big = 3
	var wg sync.WaitGroup
	wg.Go(func() { decode(big) })
	for i := range readTableNames {
		if i != big {
			decode(i)
		}
	}
	wg.Wait()
	for i, name := range readTableNames {
		if errs[i] != nil {
			return nil, fmt.Errorf("table %s: %w", name, errs[i])
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

// skip passes over one JSON value (strings, nesting), for the parser to hand it on.
func (p *datumParser) skip() error {
	depth := 0
	for p.i < len(p.b) {
		switch c := p.b[p.i]; c {
		case '"':
			if err := p.skipStr(); err != nil {
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

// skipStr passes over a JSON string as str reads it, without making a Go string of it: one
// without escapes (OVSDB's names and UUIDs) is found with a byte search; one with escapes is
// checked by str.
func (p *datumParser) skipStr() error {
	if p.i < len(p.b) && p.b[p.i] == '"' {
		if k := bytes.IndexByte(p.b[p.i+1:], '"'); k >= 0 && bytes.IndexByte(p.b[p.i+1:p.i+1+k], '\\') < 0 {
			p.i += k + 2
			return nil
		}
	}
	_, err := p.str()
	return err
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
	tagb, err := p.rawString()
	if err != nil {
		return nil, nil, false, err
	}
	isSet := string(tagb) == "set"
	switch string(tagb) {
	case "uuid", "named-uuid":
		p.i = start
		a, err := p.atom()
		return nil, []atom{a}, false, err
	case "set", "map":
	default:
		return nil, nil, false, fmt.Errorf("unknown datum %q", tagb)
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
		if isSet {
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
	return keys, vals, !isSet, nil
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
		tag, err := p.rawString()
		if err != nil {
			return atom{}, err
		}
		if string(tag) != "uuid" && string(tag) != "named-uuid" {
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
