// Package ovsrpc speaks the JSON-RPC 1.0 that Open vSwitch uses on its sockets: OVSDB's
// "transact" (reads and writes without a monitor) and ovs-vswitchd's unixctl commands (what
// ovs-appctl sends). A Conn is for commands that read a few rows or run one command and go (its
// context is the connection's); a Session for those that change the database and wait (each
// call has its own context). Messages are framed and split without encoding/json (wire.go),
// and each is bounded in size.
package ovsrpc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// MaxReply bounds one reply; a larger one is an error, not an unbounded read.
const MaxReply = 64 << 20

// Conn is one connection to an OVS JSON-RPC socket.
type Conn struct {
	c    net.Conn
	fr   *framer
	name string
	id   int
	done chan struct{}
}

// Dial connects to endpoint: "unix:PATH", "tcp:HOST:PORT", or a bare socket path.
func Dial(ctx context.Context, endpoint string) (*Conn, error) {
	network, addr := "unix", endpoint
	if k, rest, ok := strings.Cut(endpoint, ":"); ok && (k == "unix" || k == "tcp") {
		network, addr = k, rest
	} else if ok && k == "ssl" {
		return nil, fmt.Errorf("%s: ssl: endpoints are not supported here (use unix: or tcp:)", endpoint)
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		if errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM) {
			return nil, fmt.Errorf("run as root (permission denied on %s): %w", addr, err)
		}
		return nil, fmt.Errorf("cannot reach %s: %w", endpoint, err)
	}
	return NewConn(ctx, c, endpoint, MaxReply), nil
}

// NewConn speaks JSON-RPC over c, a connection the caller opened (a TLS one, say), named
// endpoint in errors. Every reply may be at most maxMessage bytes (MaxReply when 0 or less): a
// peer that sends more is cut off with an error, never buffered without bound. ctx bounds every
// read and write on c: its deadline is c's, and its end unblocks a pending read.
func NewConn(ctx context.Context, c net.Conn, endpoint string, maxMessage int64) *Conn {
	if maxMessage <= 0 {
		maxMessage = MaxReply
	}
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	cn := &Conn{c: c, name: endpoint, done: make(chan struct{})}
	cn.fr = newFramer(c, maxMessage)
	// Close the connection when ctx ends so that a blocked read returns.
	go func() {
		select {
		case <-ctx.Done():
			c.SetDeadline(aLongTimeAgo)
		case <-cn.done:
		}
	}()
	return cn
}

// Close closes the connection.
func (c *Conn) Close() error {
	close(c.done)
	return c.c.Close()
}

// Call sends method(params) and decodes the result into out. Notifications the server sends
// in between (echo requests) are answered or skipped.
func (c *Conn) Call(method string, params any, out any) error {
	id, err := c.Send(method, params)
	if err != nil {
		return err
	}
	return c.Await(id, method, out)
}

// Send sends method(params) and returns the request's id for Await: the request is on its way
// (the server working on it) while the caller does something else.
func (c *Conn) Send(method string, params any) (id int, err error) {
	c.id++
	id = c.id
	req, err := json.Marshal(map[string]any{"method": method, "params": params, "id": id})
	if err != nil {
		return 0, err
	}
	if _, err := c.c.Write(req); err != nil {
		return 0, fmt.Errorf("%s: sending %s: %w", c.name, method, err)
	}
	return id, nil
}

// SendRaw is Send with params already in JSON: the request is put together without
// encoding/json's reflection, whose first use costs a fifth of a millisecond at start-up.
func (c *Conn) SendRaw(method string, params json.RawMessage) (id int, err error) {
	if !plainName(method) {
		return c.Send(method, params)
	}
	c.id++
	id = c.id
	req := make([]byte, 0, len(params)+len(method)+40)
	req = append(req, `{"id":`...)
	req = strconv.AppendInt(req, int64(id), 10)
	req = append(req, `,"method":"`...)
	req = append(req, method...)
	req = append(req, `","params":`...)
	req = append(req, params...)
	req = append(req, '}')
	if _, err := c.c.Write(req); err != nil {
		return 0, fmt.Errorf("%s: sending %s: %w", c.name, method, err)
	}
	return id, nil
}

// plainName reports whether s is a JSON string as it is (letters, digits, '_', '-', '/').
func plainName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '/') {
			return false
		}
	}
	return s != ""
}

// Await reads until the reply to the request Send numbered id and decodes its result into out
// (as Call does).
func (c *Conn) Await(id int, method string, out any) error {
	for {
		b, err := c.fr.next()
		if err != nil {
			return fmt.Errorf("%s: reading the reply to %s: %w", c.name, method, err)
		}
		msg, err := parseMessage(b)
		if err != nil {
			return fmt.Errorf("%s: reading the reply to %s: %w", c.name, method, err)
		}
		if isMethod(msg.Method, "echo") {
			c.c.Write(echoReply(msg))
			continue
		}
		if !isNull(msg.Method) || string(msg.ID) != strconv.Itoa(id) {
			continue
		}
		if err := replyErr(method, msg.Error); err != nil {
			return err
		}
		return decodeResult(c.name, method, msg.Result, out)
	}
}

// isNull reports whether a member is absent or null.
func isNull(v json.RawMessage) bool { return len(v) == 0 || string(v) == "null" }

// isMethod reports whether a message's method member is name.
func isMethod(v json.RawMessage, name string) bool {
	return len(v) == len(name)+2 && string(v[1:len(v)-1]) == name
}

// echoReply answers the server's echo request (the keepalive) with its own params.
func echoReply(msg message) []byte {
	params := msg.Params
	if len(params) == 0 {
		params = json.RawMessage("[]")
	}
	b, _ := json.Marshal(map[string]any{"result": params, "error": nil, "id": msg.ID})
	return b
}

// replyErr is the error a reply carries, or nil.
func replyErr(method string, e json.RawMessage) error {
	if isNull(e) {
		return nil
	}
	var s string
	if json.Unmarshal(e, &s) != nil {
		s = string(e)
	}
	return &Error{Method: method, Msg: strings.TrimSpace(s)}
}

// decodeResult decodes a reply's result into out; a *[]json.RawMessage (a transact's results)
// is only split, not decoded.
func decodeResult(name, method string, result json.RawMessage, out any) error {
	var err error
	switch o := out.(type) {
	case nil:
		return nil
	case *[]json.RawMessage:
		*o, err = SplitArray(result)
	default:
		err = json.Unmarshal(result, out)
	}
	if err != nil {
		return fmt.Errorf("%s: the reply to %s: %w", name, method, err)
	}
	return nil
}

// Error is an error the server answered with.
type Error struct{ Method, Msg string }

func (e *Error) Error() string { return e.Method + ": " + e.Msg }

// Transact runs OVSDB operations on database db in one transaction and returns each
// operation's result; an operation's error fails the whole call.
func (c *Conn) Transact(db string, ops ...map[string]any) ([]map[string]json.RawMessage, error) {
	params := []any{db}
	for _, o := range ops {
		params = append(params, o)
	}
	var res []map[string]json.RawMessage
	if err := c.Call("transact", params, &res); err != nil {
		return nil, err
	}
	for i, r := range res {
		if e, ok := r["error"]; ok && string(e) != "null" {
			var s, d string
			json.Unmarshal(e, &s)
			json.Unmarshal(r["details"], &d)
			return res, fmt.Errorf("%s: transaction refused at operation %d: %s %s", c.name, i, s, d)
		}
	}
	if len(res) < len(ops) {
		return res, fmt.Errorf("%s: transaction answered %d of %d operations", c.name, len(res), len(ops))
	}
	return res, nil
}

// TransactRaw runs OVSDB operations (anything that marshals to RFC 7047 operations) on
// database db in one transaction and returns each operation's result as it came, undecoded,
// for the caller to decode with a decoder fit for it (rows, UUIDs, errors).
func (c *Conn) TransactRaw(db string, ops ...any) ([]json.RawMessage, error) {
	params := make([]any, 0, len(ops)+1)
	params = append(params, db)
	params = append(params, ops...)
	var res []json.RawMessage
	if err := c.Call("transact", params, &res); err != nil {
		return nil, err
	}
	return res, nil
}

// Appctl runs a unixctl command (as ovs-appctl does) and returns its text reply.
func (c *Conn) Appctl(command string, args ...string) (string, error) {
	if args == nil {
		args = []string{}
	}
	var s string
	if err := c.Call(command, args, &s); err != nil {
		return "", err
	}
	return s, nil
}

// VswitchdSocket returns ovs-vswitchd's unixctl socket in rundir (OVS_RUNDIR), found through
// its pid file as ovs-appctl does: rundir/PROGRAM.PID.ctl, where PROGRAM is the name the daemon
// was started as (ovs-vswitchd, or ovs-vswitchd-dpdk when Debian's DPDK build is run by name).
func VswitchdSocket(rundir string) (string, error) {
	pf := filepath.Join(rundir, "ovs-vswitchd.pid")
	b, err := os.ReadFile(pf)
	if err != nil {
		return "", fmt.Errorf("ovs-vswitchd's pid file: %w (is ovs-vswitchd running? see --rundir)", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return "", fmt.Errorf("%s: not a pid: %q", pf, strings.TrimSpace(string(b)))
	}
	want := filepath.Join(rundir, fmt.Sprintf("ovs-vswitchd.%d.ctl", pid))
	if _, err := os.Stat(want); err == nil {
		return want, nil
	}
	if m, _ := filepath.Glob(filepath.Join(rundir, fmt.Sprintf("ovs-vswitchd*.%d.ctl", pid))); len(m) > 0 {
		return m[0], nil
	}
	return "", fmt.Errorf("no unixctl socket of ovs-vswitchd (pid %d, from %s) in %s: is it still running?", pid, pf, rundir)
}

// Rows decodes a select's "rows" into out.
func Rows(r map[string]json.RawMessage, out any) error {
	return json.Unmarshal(r["rows"], out)
}

// Map decodes an OVSDB map datum (["map", [[k, v], ...]]) of strings or integers, as text.
func Map(raw json.RawMessage) (map[string]string, error) {
	var pair []json.RawMessage
	if err := json.Unmarshal(raw, &pair); err != nil || len(pair) != 2 {
		return nil, fmt.Errorf("OVSDB map: %s", short(raw))
	}
	var kind string
	if json.Unmarshal(pair[0], &kind) != nil || kind != "map" {
		return nil, fmt.Errorf("OVSDB map: %s", short(raw))
	}
	var kvs [][2]json.RawMessage
	if err := json.Unmarshal(pair[1], &kvs); err != nil {
		return nil, fmt.Errorf("OVSDB map: %w", err)
	}
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		m[atom(kv[0])] = atom(kv[1])
	}
	return m, nil
}

// MapDatum is the OVSDB form of a string map.
func MapDatum(m map[string]string) []any {
	kvs := [][2]string{}
	for k, v := range m {
		kvs = append(kvs, [2]string{k, v})
	}
	return []any{"map", kvs}
}

// Optional decodes an optional atom (an atom, or ["set", []] when empty) as text, "" when empty.
func Optional(raw json.RawMessage) string {
	var set []json.RawMessage
	if json.Unmarshal(raw, &set) == nil {
		if len(set) == 2 {
			var kind string
			if json.Unmarshal(set[0], &kind) == nil && kind == "set" {
				var items []json.RawMessage
				if json.Unmarshal(set[1], &items) == nil && len(items) > 0 {
					return atom(items[0])
				}
				return ""
			}
		}
	}
	return atom(raw)
}

func atom(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

func short(b []byte) string {
	if len(b) > 80 {
		return string(b[:80]) + "..."
	}
	return string(b)
}

var aLongTimeAgo = time.Unix(1, 0)
