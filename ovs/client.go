package ovs

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
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
	c  client.Client
	db string
}

// Dial connects to db ("unix:PATH", "tcp:HOST:PORT" or "ssl:HOST:PORT", as ovs-vsctl --db takes)
// and monitors the tables. It gives up when ctx ends; an unreachable server is an error that
// names the endpoint.
func Dial(ctx context.Context, db string, t TLS) (*Client, error) {
	if err := validEndpoint(db); err != nil {
		return nil, err
	}
	m, err := dbModel()
	if err != nil {
		return nil, err
	}
	discard := logr.Discard()
	opts := []client.Option{client.WithEndpoint(db), client.WithLogger(&discard)}
	if strings.HasPrefix(db, "ssl:") {
		cfg, err := tlsConfig(t)
		if err != nil {
			return nil, fmt.Errorf("OVSDB %s: %w", db, err)
		}
		opts = append(opts, client.WithTLSConfig(cfg))
	}
	c, err := client.NewOVSDBClient(m, opts...)
	if err != nil {
		return nil, fmt.Errorf("OVSDB %s: %w", db, err)
	}
	if err := c.Connect(ctx); err != nil {
		return nil, fmt.Errorf("cannot reach OVSDB at %s: %w (is ovsdb-server running? see --db)", db, err)
	}
	// Monitor exactly the models' columns: libovsdb's MonitorAll asks for every column, then
	// drops whole updates that touch a column a small model lacks (Interface's ifindex).
	var tables []client.MonitorOption
	for _, m := range []model.Model{&OpenvSwitch{}, &BridgeRow{}, &PortRow{}, &InterfaceRow{}, &MirrorRow{}} {
		tables = append(tables, client.WithTable(m, columns(m)...))
	}
	if _, err := c.Monitor(ctx, c.NewMonitor(tables...)); err != nil {
		c.Close()
		return nil, fmt.Errorf("OVSDB %s: monitoring the tables: %w", db, err)
	}
	return &Client{c: c, db: db}, nil
}

func validEndpoint(db string) error {
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
func (c *Client) Close() { c.c.Close() }

// Endpoint returns the database endpoint this client talks to.
func (c *Client) Endpoint() string { return c.db }

// Connected reports whether the server is still there.
func (c *Client) Connected() bool { return c.c.Connected() }

// transact runs operations in one transaction and checks every result.
func (c *Client) transact(ctx context.Context, ops ...ovsdb.Operation) ([]ovsdb.OperationResult, error) {
	if !c.c.Connected() {
		return nil, fmt.Errorf("OVSDB %s went away", c.db)
	}
	res, err := c.c.Transact(ctx, ops...)
	if err != nil {
		return nil, fmt.Errorf("OVSDB %s: transaction: %w", c.db, err)
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
			return fmt.Errorf("OVSDB %s went away while waiting", c.db)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-c.c.DisconnectNotify():
			return fmt.Errorf("OVSDB %s went away while waiting", c.db)
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
