package ovs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// rowPtr is a pointer to a row model that decodes its own columns.
type rowPtr[T any] interface {
	*T
	column(name string, raw []byte) error
}

// decodeRows decodes a select's rows (OVSDB's JSON wire form) into dst. It parses the bytes
// once, without building generic JSON values and without reflection: each model's column
// method puts a datum straight into its field. A column the model does not name is skipped.
func decodeRows[T any, PT rowPtr[T]](raw json.RawMessage, dst *[]T) error {
	p := datumParser{b: raw}
	if err := p.expect('['); err != nil {
		return fmt.Errorf("rows: %w", err)
	}
	var out []T
	for n := 0; !p.peek(']'); n++ {
		if n > 0 {
			if err := p.expect(','); err != nil {
				return fmt.Errorf("rows: %w", err)
			}
		}
		if err := p.expect('{'); err != nil {
			return fmt.Errorf("row %d: %w", n, err)
		}
		out = append(out, *new(T))
		row := PT(&out[len(out)-1])
		for c := 0; !p.peek('}'); c++ {
			if c > 0 {
				if err := p.expect(','); err != nil {
					return fmt.Errorf("row %d: %w", n, err)
				}
			}
			col, err := p.rawString()
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
			if err := row.column(string(col), raw[from:p.i]); err != nil {
				return fmt.Errorf("row %d, column %s: %w", n, col, err)
			}
		}
		p.i++
	}
	p.i++
	if p.ws(); p.i != len(p.b) {
		return errors.New("rows: trailing data")
	}
	*dst = out
	return nil
}

// rawString reads a JSON string without escapes (a column name) as bytes, without allocating;
// one with escapes is decoded.
func (p *datumParser) rawString() ([]byte, error) {
	p.ws()
	if p.i < len(p.b) && p.b[p.i] == '"' {
		for j := p.i + 1; j < len(p.b) && p.b[j] != '\\'; j++ {
			if p.b[j] == '"' {
				s := p.b[p.i+1 : j]
				p.i = j + 1
				return s, nil
			}
		}
	}
	s, err := p.str()
	return []byte(s), err
}

// parseDatum reads one whole datum (see datumParser.datum), refusing trailing data.
func parseDatum(raw []byte) (keys, vals []atom, isMap bool, err error) {
	p := datumParser{b: raw}
	keys, vals, isMap, err = p.datum()
	if err == nil {
		if p.ws(); p.i != len(p.b) {
			err = errors.New("trailing data")
		}
	}
	if err != nil {
		return nil, nil, false, fmt.Errorf("%w: %.80s", err, raw)
	}
	return keys, vals, isMap, nil
}

func kindName(k byte) string {
	switch k {
	case 's':
		return "string"
	case 'i':
		return "integer"
	}
	return "boolean"
}

// loneAtom reads raw when it is a lone atom (not a set or map), without building slices; ok is
// false when it is something else.
func loneAtom(raw []byte) (a atom, ok bool, err error) {
	p := datumParser{b: raw}
	if p.peek('[') && !bytes.HasPrefix(raw[p.i:], []byte(`["uuid"`)) {
		return atom{}, false, nil
	}
	if a, err = p.atom(); err == nil {
		if p.ws(); p.i != len(p.b) {
			err = errors.New("trailing data")
		}
	}
	if err != nil {
		return atom{}, true, fmt.Errorf("%w: %.80s", err, raw)
	}
	return a, true, nil
}

// single reads a column of exactly one atom of the given kind ('s', 'i', 'b').
func single(raw []byte, kind byte) (atom, error) {
	if a, ok, err := loneAtom(raw); ok {
		if err == nil && a.kind != kind {
			err = fmt.Errorf("not a %s: %.80s", kindName(kind), raw)
		}
		return a, err
	}
	_, vals, isMap, err := parseDatum(raw)
	if err != nil {
		return atom{}, err
	}
	if isMap || len(vals) != 1 {
		return atom{}, fmt.Errorf("not a single value: %.80s", raw)
	}
	if vals[0].kind != kind {
		return atom{}, fmt.Errorf("not a %s: %.80s", kindName(kind), raw)
	}
	return vals[0], nil
}

// optional reads a column of at most one atom of the given kind; ok is false when it is empty.
func optional(raw []byte, kind byte) (a atom, ok bool, err error) {
	if a, ok, err := loneAtom(raw); ok {
		if err == nil && a.kind != kind {
			err = fmt.Errorf("not a %s: %.80s", kindName(kind), raw)
		}
		return a, err == nil, err
	}
	_, vals, isMap, err := parseDatum(raw)
	if err != nil {
		return atom{}, false, err
	}
	if isMap || len(vals) > 1 {
		return atom{}, false, fmt.Errorf("more than one value in an optional column: %.80s", raw)
	}
	if len(vals) == 0 {
		return atom{}, false, nil
	}
	if vals[0].kind != kind {
		return atom{}, false, fmt.Errorf("not a %s: %.80s", kindName(kind), raw)
	}
	return vals[0], true, nil
}

func colString(raw []byte, dst *string) error {
	a, err := single(raw, 's')
	*dst = a.s
	return err
}

func colBool(raw []byte, dst *bool) error {
	a, err := single(raw, 'b')
	*dst = a.b
	return err
}

func colOptString(raw []byte, dst **string) error {
	a, ok, err := optional(raw, 's')
	if ok {
		*dst = &a.s
	}
	return err
}

func colOptInt(raw []byte, dst **int) error {
	a, ok, err := optional(raw, 'i')
	if ok {
		n := int(a.n)
		*dst = &n
	}
	return err
}

// colStrings reads a set of strings (or UUIDs); an empty set stays nil.
func colStrings(raw []byte, dst *[]string) error {
	_, vals, isMap, err := parseDatum(raw)
	if err != nil {
		return err
	}
	if isMap {
		return fmt.Errorf("a map where a set belongs: %.80s", raw)
	}
	if len(vals) == 0 {
		return nil
	}
	out := make([]string, len(vals))
	for i, v := range vals {
		if v.kind != 's' {
			return fmt.Errorf("not a set of strings: %.80s", raw)
		}
		out[i] = v.s
	}
	*dst = out
	return nil
}

// colInts reads a set of integers; an empty set stays nil.
func colInts(raw []byte, dst *[]int) error {
	_, vals, isMap, err := parseDatum(raw)
	if err != nil {
		return err
	}
	if isMap {
		return fmt.Errorf("a map where a set belongs: %.80s", raw)
	}
	if len(vals) == 0 {
		return nil
	}
	out := make([]int, len(vals))
	for i, v := range vals {
		if v.kind != 'i' {
			return fmt.Errorf("not a set of integers: %.80s", raw)
		}
		out[i] = int(v.n)
	}
	*dst = out
	return nil
}

// colMap reads a map of strings to strings; an empty map stays nil.
func colMap(raw []byte, dst *map[string]string) error {
	keys, vals, isMap, err := parseDatum(raw)
	if err != nil {
		return err
	}
	if !isMap {
		return fmt.Errorf("not a map: %.80s", raw)
	}
	if len(keys) == 0 {
		return nil
	}
	m := make(map[string]string, len(keys))
	for i := range keys {
		if keys[i].kind != 's' || vals[i].kind != 's' {
			return fmt.Errorf("not a map of strings: %.80s", raw)
		}
		m[keys[i].s] = vals[i].s
	}
	*dst = m
	return nil
}

// The models' column methods: one case per ovsdb tag (TestColumnsDecoded holds them to it).

func (r *OpenvSwitch) column(name string, raw []byte) error {
	switch name {
	case "_uuid":
		return colString(raw, &r.UUID)
	case "bridges":
		return colStrings(raw, &r.Bridges)
	case "other_config":
		return colMap(raw, &r.OtherConfig)
	case "dpdk_initialized":
		return colBool(raw, &r.DPDKInitialized)
	case "dpdk_version":
		return colOptString(raw, &r.DPDKVersion)
	case "ovs_version":
		return colOptString(raw, &r.OVSVersion)
	case "manager_options":
		return colStrings(raw, &r.ManagerOptions)
	}
	return nil
}

func (r *BridgeRow) column(name string, raw []byte) error {
	switch name {
	case "_uuid":
		return colString(raw, &r.UUID)
	case "name":
		return colString(raw, &r.Name)
	case "ports":
		return colStrings(raw, &r.Ports)
	case "mirrors":
		return colStrings(raw, &r.Mirrors)
	case "controller":
		return colStrings(raw, &r.Controller)
	case "fail_mode":
		return colOptString(raw, &r.FailMode)
	case "datapath_type":
		return colString(raw, &r.DatapathType)
	case "other_config":
		return colMap(raw, &r.OtherConfig)
	}
	return nil
}

func (r *PortRow) column(name string, raw []byte) error {
	switch name {
	case "_uuid":
		return colString(raw, &r.UUID)
	case "name":
		return colString(raw, &r.Name)
	case "interfaces":
		return colStrings(raw, &r.Interfaces)
	case "tag":
		return colOptInt(raw, &r.Tag)
	case "trunks":
		return colInts(raw, &r.Trunks)
	case "external_ids":
		return colMap(raw, &r.ExternalIDs)
	}
	return nil
}

func (r *InterfaceRow) column(name string, raw []byte) error {
	switch name {
	case "_uuid":
		return colString(raw, &r.UUID)
	case "name":
		return colString(raw, &r.Name)
	case "type":
		return colString(raw, &r.Type)
	case "options":
		return colMap(raw, &r.Options)
	case "error":
		return colOptString(raw, &r.Error)
	case "ofport":
		return colOptInt(raw, &r.OFPort)
	case "link_state":
		return colOptString(raw, &r.LinkState)
	case "external_ids":
		return colMap(raw, &r.ExternalIDs)
	}
	return nil
}

func (r *MirrorRow) column(name string, raw []byte) error {
	switch name {
	case "_uuid":
		return colString(raw, &r.UUID)
	case "name":
		return colString(raw, &r.Name)
	case "select_all":
		return colBool(raw, &r.SelectAll)
	case "output_port":
		return colOptString(raw, &r.OutputPort)
	case "external_ids":
		return colMap(raw, &r.ExternalIDs)
	}
	return nil
}

func (r *ControllerRow) column(name string, raw []byte) error {
	switch name {
	case "_uuid":
		return colString(raw, &r.UUID)
	case "target":
		return colString(raw, &r.Target)
	case "is_connected":
		return colBool(raw, &r.IsConnected)
	}
	return nil
}

func (r *ManagerRow) column(name string, raw []byte) error {
	switch name {
	case "_uuid":
		return colString(raw, &r.UUID)
	case "target":
		return colString(raw, &r.Target)
	case "is_connected":
		return colBool(raw, &r.IsConnected)
	}
	return nil
}

// rowsInto is the decoder of a sel whose rows go into dst.
func rowsInto[T any, PT rowPtr[T]](dst *[]T) func(json.RawMessage) error {
	return func(raw json.RawMessage) error { return decodeRows[T, PT](raw, dst) }
}
