package ovs

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"reflect"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"github.com/ovn-kubernetes/libovsdb/client"
	"github.com/ovn-kubernetes/libovsdb/model"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"
)

// DefaultDB is where ovs-vsctl looks for the database by default.
const DefaultDB = "unix:/var/run/openvswitch/db.sock"

// TLS names the files for an ssl: endpoint, as ovs-vsctl's --private-key, --certificate and
// --ca-cert do.
type TLS struct{ Key, Cert, CA string }

// Client is a connection to an OVSDB server holding the Open_vSwitch database, with the tables
// dpdk-doctor uses monitored into a local cache.
type Client struct {
	c       client.Client
	db      string
	g       *guard
	timeout time.Duration
}

// DefaultTimeout bounds each wait on the server (connecting, monitoring, a transaction, a port
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
// takes) and monitors the tables. The dial and the monitor are bounded by ctx and by
// o.Timeout; an unreachable server is an error that names the endpoint, and a socket the user
// may not open says to run as root.
func DialWith(ctx context.Context, db string, o Options) (*Client, error) {
	if err := ValidEndpoint(db); err != nil {
		return nil, err
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	m, err := dbModel()
	if err != nil {
		return nil, err
	}
	conn, err := dialServer(ctx, db, o.TLS)
	if err != nil {
		return nil, err
	}
	g, local, err := newGuard(conn, db, o.MaxMessage)
	if err != nil {
		conn.Close()
		return nil, err
	}
	discard := logr.Discard()
	c, err := client.NewOVSDBClient(m, client.WithEndpoint(local), client.WithLogger(&discard))
	if err != nil {
		g.close(nil)
		return nil, fmt.Errorf("OVSDB %s: %w", db, err)
	}
	fail := func(what string, err error) (*Client, error) {
		c.Close()
		g.close(nil)
		if r := g.reason(); r != nil {
			return nil, r
		}
		if ctx.Err() != nil {
			err = ctx.Err() // libovsdb flattens it into text
		} else {
			// libovsdb names the guard's private socket: name the server instead.
			err = errors.New(strings.ReplaceAll(err.Error(), local, db))
		}
		return nil, fmt.Errorf("OVSDB %s: %s: %w", db, what, waitErr(err, o.Timeout))
	}
	if err := c.Connect(ctx); err != nil {
		return fail("no answer to the handshake (is ovsdb-server stopped or overloaded?)", err)
	}
	// Monitor exactly the models' columns: libovsdb's MonitorAll asks for every column, then
	// drops whole updates that touch a column a small model lacks (Interface's ifindex).
	var tables []client.MonitorOption
	for _, m := range []model.Model{&OpenvSwitch{}, &BridgeRow{}, &PortRow{}, &InterfaceRow{}, &MirrorRow{}, &ControllerRow{}, &ManagerRow{}} {
		tables = append(tables, client.WithTable(m, columns(m)...))
	}
	if _, err := c.Monitor(ctx, c.NewMonitor(tables...)); err != nil {
		return fail("monitoring the tables", err)
	}
	return &Client{c: c, db: db, g: g, timeout: o.Timeout}, nil
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
func (c *Client) Close() {
	c.c.Close()
	c.g.close(nil)
}

// Timeout is the bound on each wait on the server.
func (c *Client) Timeout() time.Duration { return c.timeout }

// Endpoint returns the database endpoint this client talks to.
func (c *Client) Endpoint() string { return c.db }

// Connected reports whether the server is still there.
func (c *Client) Connected() bool { return c.c.Connected() }

// transact runs operations in one transaction and checks every result.
func (c *Client) transact(ctx context.Context, ops ...ovsdb.Operation) ([]ovsdb.OperationResult, error) {
	if !c.c.Connected() {
		return nil, c.g.wrap(fmt.Errorf("OVSDB %s went away", c.db))
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	res, err := c.c.Transact(ctx, ops...)
	if err != nil {
		return nil, c.g.wrap(fmt.Errorf("OVSDB %s: transaction: %w", c.db, waitErr(err, c.timeout)))
	}
	if _, err := ovsdb.CheckOperationResults(res, ops); err != nil {
		return res, fmt.Errorf("OVSDB %s: transaction refused: %w", c.db, err)
	}
	return res, nil
}

// list reads a whole table from the cache.
func list[T any](ctx context.Context, c *Client) ([]T, error) {
	var out []T
	if err := c.c.List(ctx, &out); err != nil {
		return nil, fmt.Errorf("OVSDB %s: %w", c.db, err)
	}
	return out, nil
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
		if !c.c.Connected() {
			return c.g.wrap(fmt.Errorf("OVSDB %s went away while waiting", c.db))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-c.c.DisconnectNotify():
			return c.g.wrap(fmt.Errorf("OVSDB %s went away while waiting", c.db))
		case <-t.C:
		}
	}
}

// columns returns pointers to every field of a model but _uuid, as libovsdb's WithTable takes.
func columns(m model.Model) []any {
	v := reflect.ValueOf(m).Elem()
	var out []any
	for i := 0; i < v.NumField(); i++ {
		if tag := v.Type().Field(i).Tag.Get("ovsdb"); tag != "" && tag != "_uuid" {
			out = append(out, v.Field(i).Addr().Interface())
		}
	}
	return out
}
