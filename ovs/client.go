package ovs

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/ovn-kubernetes/libovsdb/ovsdb"

	"github.com/dpdk-doctor/dpdk-doctor/internal/ovsrpc"
)

// DefaultDB is where ovs-vsctl looks for the database by default.
const DefaultDB = "unix:/var/run/openvswitch/db.sock"

// TLS names the files for an ssl: endpoint, as ovs-vsctl's --private-key, --certificate and
// --ca-cert do.
type TLS struct{ Key, Cert, CA string }

// DefaultMaxMessage is the largest single OVSDB message dpdk-doctor accepts from a server. A
// reply of the columns dpdk-doctor reads is about 1 KiB per interface, so this holds tens of
// thousands of ports.
const DefaultMaxMessage = 64 << 20

// Client is a connection to an OVSDB server holding the Open_vSwitch database, for commands
// that change it and wait (add-port, del-port, traffic's mirror, cleanup). It keeps no cache:
// every read is one transact of selects (only the rows and columns asked for), every change one
// transaction built from libovsdb's ovsdb types, and every call is bounded by its context and
// the client's timeout without breaking the connection when it ends (internal/ovsrpc.Session).
// Each message from the server is bounded by Options.MaxMessage.
type Client struct {
	s       *ovsrpc.Session
	db      string
	timeout time.Duration
}

// DefaultTimeout bounds each wait on the server (connecting, a read, a transaction, a port
// being set up) when Options leave it unset. It is generous: a loaded host or a slow guest takes
// seconds where a normal one takes milliseconds.
const DefaultTimeout = 30 * time.Second

// Options tune Dial.
type Options struct {
	TLS        TLS           // for ssl: endpoints
	Timeout    time.Duration // bounds every single wait on the server; 0 means DefaultTimeout
	MaxMessage int64         // the largest message accepted from the server; 0 means DefaultMaxMessage
}

// Dial connects to db with default Options but TLS; see DialWith.
func Dial(ctx context.Context, db string, t TLS) (*Client, error) {
	return DialWith(ctx, db, Options{TLS: t})
}

// DialWith connects to db ("unix:PATH", "tcp:HOST:PORT" or "ssl:HOST:PORT", as ovs-vsctl --db
// takes) and checks that it serves the Open_vSwitch database (list_dbs). The dial and the
// handshake are bounded by ctx and by o.Timeout; an unreachable server is an error that names
// the endpoint, and a socket the user may not open says to run as root.
func DialWith(ctx context.Context, db string, o Options) (*Client, error) {
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
	c := &Client{s: ovsrpc.NewSession(conn, db, o.MaxMessage), db: db, timeout: o.Timeout}
	var dbs []string
	if err := c.s.Call(ctx, "list_dbs", []any{}, &dbs); err != nil {
		c.Close()
		return nil, fmt.Errorf("OVSDB %s: no answer to the handshake (is ovsdb-server stopped or overloaded?): %w", db, waitErr(err, o.Timeout))
	}
	if !slices.Contains(dbs, "Open_vSwitch") {
		c.Close()
		return nil, fmt.Errorf("OVSDB %s serves no Open_vSwitch database (it has: %s): is this Open vSwitch's ovsdb-server?", db, strings.Join(dbs, ", "))
	}
	return c, nil
}

// waitErr says which limit ran out when err is a deadline.
func waitErr(err error, limit time.Duration) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("no answer in time (each wait is limited to %v: --db-timeout; the whole command by --timeout where it has one): %w", limit, err)
	}
	return err
}

// dialServer opens the connection to the server, bounded by ctx.
func dialServer(ctx context.Context, db string, t TLS) (net.Conn, error) {
	kind, addr, _ := strings.Cut(db, ":")
	var conn net.Conn
	var err error
	switch kind {
	case "unix":
		var d net.Dialer
		conn, err = d.DialContext(ctx, "unix", addr)
	case "tcp":
		var d net.Dialer
		conn, err = d.DialContext(ctx, "tcp", addr)
	case "ssl":
		cfg, cerr := tlsConfig(t)
		if cerr != nil {
			return nil, fmt.Errorf("OVSDB %s: %w", db, cerr)
		}
		d := tls.Dialer{Config: cfg}
		conn, err = d.DialContext(ctx, "tcp", addr)
	}
	switch {
	case err == nil:
		return conn, nil
	case errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM):
		return nil, fmt.Errorf("run as root (permission denied on %s): %w", addr, err)
	case errors.Is(err, context.DeadlineExceeded):
		return nil, fmt.Errorf("cannot reach OVSDB at %s: %w", db, waitErr(err, 0))
	}
	return nil, fmt.Errorf("cannot reach OVSDB at %s: %w (is ovsdb-server running? see --db)", db, err)
}

// ValidEndpoint checks an OVSDB endpoint's form (unix:PATH, tcp:HOST:PORT, ssl:HOST:PORT)
// without connecting.
func ValidEndpoint(db string) error {
	kind, rest, ok := strings.Cut(db, ":")
	if !ok || rest == "" || (kind != "unix" && kind != "tcp" && kind != "ssl") {
		return fmt.Errorf("OVSDB endpoint %q: want unix:PATH, tcp:HOST:PORT or ssl:HOST:PORT", db)
	}
	return nil
}

func tlsConfig(t TLS) (*tls.Config, error) {
	if t.Key == "" || t.Cert == "" || t.CA == "" {
		return nil, errors.New("an ssl: endpoint needs --db-key, --db-cert and --db-ca")
	}
	cert, err := tls.LoadX509KeyPair(t.Cert, t.Key)
	if err != nil {
		return nil, err
	}
	ca, err := os.ReadFile(t.CA)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return nil, fmt.Errorf("%s holds no PEM certificate", t.CA)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool, ServerName: ""}, nil
}

// Close disconnects.
func (c *Client) Close() { c.s.Close() }

// Timeout is the bound on each wait on the server.
func (c *Client) Timeout() time.Duration { return c.timeout }

// Endpoint returns the database endpoint this client talks to.
func (c *Client) Endpoint() string { return c.db }

// Connected reports whether the server is still there.
func (c *Client) Connected() bool {
	select {
	case <-c.s.Done():
		return false
	default:
		return true
	}
}

// gone is the error for a server that went away (the connection ended: EOF, reset) or was
// cut off (the session's reason: a message over the limit names the peer and the limit).
func (c *Client) gone(while string) error {
	err := c.s.Err()
	switch {
	case err == nil:
		return fmt.Errorf("OVSDB %s went away%s", c.db, while)
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, net.ErrClosed):
		return fmt.Errorf("OVSDB %s went away%s: %w", c.db, while, err)
	}
	return fmt.Errorf("OVSDB %s%s: %w", c.db, while, err)
}

// call runs ops in one transaction, bounded by ctx and the client's timeout, and returns each
// operation's result as it came (fewer than ops when one failed: the caller checks).
func (c *Client) call(ctx context.Context, what string, ops ...any) ([]json.RawMessage, error) {
	if !c.Connected() {
		return nil, c.gone("")
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	res, err := c.s.Transact(ctx, "Open_vSwitch", ops...)
	if err != nil && ctx.Err() == nil && !c.Connected() {
		return nil, c.gone(" while " + what)
	}
	if err != nil {
		return nil, fmt.Errorf("OVSDB %s: %s: %w", c.db, what, waitErr(err, c.timeout))
	}
	return res, nil
}

// transact runs operations in one transaction and checks every result.
func (c *Client) transact(ctx context.Context, ops ...ovsdb.Operation) ([]ovsdb.OperationResult, error) {
	args := make([]any, len(ops))
	for i := range ops {
		args[i] = ops[i]
	}
	raw, err := c.call(ctx, "transaction", args...)
	if err != nil {
		return nil, err
	}
	res := make([]ovsdb.OperationResult, len(raw))
	for i, r := range raw {
		if err := json.Unmarshal(r, &res[i]); err != nil {
			return nil, fmt.Errorf("OVSDB %s: transaction: result %d: %w", c.db, i, err)
		}
	}
	if _, err := ovsdb.CheckOperationResults(res, ops); err != nil {
		var why []string
		for _, r := range res {
			if r.Error != "" {
				why = append(why, strings.TrimSpace(r.Error+": "+r.Details))
			}
		}
		return res, fmt.Errorf("OVSDB %s: transaction refused: %w (%s)", c.db, err, strings.Join(why, "; "))
	}
	return res, nil
}

// sel is one select of a Client read: a table, the rows wanted (all when where is nil), the
// columns and how to decode the rows (decodeRows into a slice of a row model).
type sel struct {
	table   string
	where   []ovsdb.Condition
	columns []string
	decode  func(json.RawMessage) error
}

// selects reads in one transaction and decodes each select's rows into its dst.
func (c *Client) selects(ctx context.Context, ss ...sel) error {
	ops := make([]any, len(ss))
	for i, s := range ss {
		ops[i] = ovsdb.Operation{Op: ovsdb.OperationSelect, Table: s.table, Where: s.where, Columns: s.columns}
	}
	res, err := c.call(ctx, "reading the tables", ops...)
	if err != nil {
		return err
	}
	if len(res) < len(ops) {
		return fmt.Errorf("OVSDB %s: reading the tables: %d results for %d selects", c.db, len(res), len(ops))
	}
	for i, s := range ss {
		rows, err := resultRows(res[i])
		if err == nil {
			err = s.decode(rows)
		}
		if err != nil {
			return fmt.Errorf("OVSDB %s: table %s: %w", c.db, s.table, err)
		}
	}
	return nil
}

// byName selects the rows whose name column is name.
func byName(name string) []ovsdb.Condition {
	return []ovsdb.Condition{{Column: "name", Function: ovsdb.ConditionEqual, Value: name}}
}

// byUUID selects the row with this UUID.
func byUUID(u string) []ovsdb.Condition {
	return []ovsdb.Condition{{Column: "_uuid", Function: ovsdb.ConditionEqual, Value: ovsdb.UUID{GoUUID: u}}}
}

// uuidSet is a set of UUIDs (real ones, or the uuid-names of rows inserted in the same
// transaction) as OVSDB takes it.
func uuidSet(us ...string) ovsdb.OvsSet {
	set := ovsdb.OvsSet{GoSet: make([]any, len(us))}
	for i, u := range us {
		set.GoSet[i] = ovsdb.UUID{GoUUID: u}
	}
	return set
}

// strMap is a string map as OVSDB takes it.
func strMap(m map[string]string) ovsdb.OvsMap {
	om := ovsdb.OvsMap{GoMap: make(map[any]any, len(m))}
	for k, v := range m {
		om.GoMap[k] = v
	}
	return om
}

// WaitFor calls cond every 20 ms until it reports true, ctx ends, or the server goes away.
func (c *Client) WaitFor(ctx context.Context, cond func() (bool, error)) error {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		ok, err := cond()
		if err != nil || ok {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-c.s.Done():
			return c.gone(" while waiting")
		case <-t.C:
		}
	}
}
