package ovs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ovn-kubernetes/libovsdb/ovsdb"

	"github.com/dpdk-doctor/dpdk-doctor/check"
)

// Preflight says why a DPDK port with these devargs cannot work on this host, or "" when
// nothing stands in the way. It is the same diagnosis Explain gives after the fact.
func Preflight(st *State, devargs string, f *check.Facts) *Explanation {
	probe := &Interface{Name: "(new)", Type: "dpdk", Options: map[string]string{"dpdk-devargs": devargs}}
	if st != nil && !st.DPDKInitialized {
		probe.Error = "could not open network device (new) (Address family not supported by protocol)"
		return Explain(st, nil, probe, f)
	}
	for _, b := range st.Bridges {
		for _, p := range b.Ports {
			for _, i := range p.Interfaces {
				if i.Options["dpdk-devargs"] == devargs {
					probe.Error = fmt.Sprintf("'(new)' is trying to use device '%s' which is already in use by '%s'", devargs, i.Name)
					return Explain(st, nil, probe, f)
				}
			}
		}
	}
	dev, _, _ := strings.Cut(devargs, ",")
	if !pciAddrShape.MatchString(dev) {
		return nil // a vdev: nothing on the host to check beforehand
	}
	probe.Error = "Error attaching device '" + devargs + "' to DPDK"
	e := Explain(st, nil, probe, f)
	if e.HostReady {
		return nil
	}
	return e
}

// Outcome is what became of a new port once OVS settled.
type Outcome struct {
	OFPort int          // > 0 when the port works
	Error  string       // OVS's error, when it failed
	Why    *Explanation // the error explained
}

// AddPort adds a port with one interface of type typ ("dpdk") and the given options to bridge,
// in one transaction, tagged with externalIDs. It does not wait; see WaitPort.
func (c *Client) AddPort(ctx context.Context, bridge, port, typ string, options, externalIDs map[string]string) error {
	if err := ValidName("bridge", bridge); err != nil {
		return err
	}
	if err := ValidPortName(port, typ); err != nil {
		return err
	}
	br, err := c.bridge(ctx, bridge)
	if err != nil {
		return err
	}
	if p, err := c.port(ctx, port); err != nil {
		return err
	} else if p != nil {
		return fmt.Errorf("a port named %s already exists", port)
	}
	ops := []ovsdb.Operation{
		{Op: ovsdb.OperationInsert, Table: "Interface", UUIDName: "newiface",
			Row: ovsdb.Row{"name": port, "type": typ, "options": strMap(options), "external_ids": strMap(externalIDs)}},
		{Op: ovsdb.OperationInsert, Table: "Port", UUIDName: "newport",
			Row: ovsdb.Row{"name": port, "interfaces": uuidSet("newiface"), "external_ids": strMap(externalIDs)}},
		{Op: ovsdb.OperationMutate, Table: "Bridge", Where: byUUID(br.UUID),
			Mutations: []ovsdb.Mutation{{Column: "ports", Mutator: ovsdb.MutateOperationInsert, Value: uuidSet("newport")}}},
	}
	_, err = c.transact(ctx, ops...)
	return err
}

// WaitPort waits until OVS has either given the port's interface an OpenFlow port number or
// reported an error, ctx ends, the client's timeout passes, or the server goes away. tick, when
// set, is called while waiting.
func (c *Client) WaitPort(ctx context.Context, name string, tick func()) (Outcome, error) {
	var out Outcome
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	err := c.WaitFor(ctx, func() (bool, error) {
		if tick != nil {
			tick()
		}
		i, err := c.settled(ctx, name)
		if err != nil || i == nil {
			return false, err
		}
		if i.Error != nil && *i.Error != "" {
			out.Error = *i.Error
			return true, nil
		}
		if i.OFPort != nil && *i.OFPort > 0 {
			out.OFPort = *i.OFPort
			return true, nil
		}
		return false, nil
	})
	if errors.Is(err, context.DeadlineExceeded) {
		return out, fmt.Errorf("OVS did not settle port %s in time: no ofport and no error yet (is ovs-vswitchd running? each wait is limited by --db-timeout, now %v, the whole command by --timeout)", name, c.timeout)
	}
	return out, err
}

// settleSlice is how long one OVSDB "wait" may hold the server for WaitPort before the client
// looks again (and calls its tick).
const settleSlice = 250 * time.Millisecond

// settled waits, inside ovsdb-server, until the interface called name has an ofport (RFC 7047
// 5.2.6: a "wait" until the column is no longer empty, bounded by settleSlice) and then reads
// its ofport and error in the same transaction. It returns nil when the slice passed first.
func (c *Client) settled(ctx context.Context, name string) (*InterfaceRow, error) {
	ms := int(settleSlice.Milliseconds())
	if dl, ok := ctx.Deadline(); ok {
		ms = min(ms, max(0, int(time.Until(dl).Milliseconds())))
	}
	ops := []any{
		ovsdb.Operation{Op: ovsdb.OperationWait, Table: "Interface", Where: byName(name), Columns: []string{"ofport"},
			Until: string(ovsdb.WaitConditionNotEqual), Rows: []ovsdb.Row{{"ofport": ovsdb.OvsSet{GoSet: []any{}}}}, Timeout: &ms},
		ovsdb.Operation{Op: ovsdb.OperationSelect, Table: "Interface", Where: byName(name), Columns: []string{"name", "ofport", "error"}},
	}
	res, err := c.call(ctx, "waiting for port "+name, ops...)
	if err != nil {
		return nil, err
	}
	var r struct {
		Error   string `json:"error"`
		Details string `json:"details"`
	}
	if len(res) > 0 && json.Unmarshal(res[0], &r) == nil && r.Error != "" {
		if r.Error == "timed out" {
			return nil, nil
		}
		return nil, fmt.Errorf("OVSDB %s: waiting for port %s: refused: %s", c.db, name, strings.TrimSpace(r.Error+" "+r.Details))
	}
	if len(res) < 2 {
		return nil, fmt.Errorf("OVSDB %s: waiting for port %s: %d results for 2 operations", c.db, name, len(res))
	}
	rows, err := resultRows(res[1])
	if err != nil {
		return nil, fmt.Errorf("OVSDB %s: waiting for port %s: %w", c.db, name, err)
	}
	var ifs []InterfaceRow
	if err := decodeRows(rows, &ifs); err != nil {
		return nil, fmt.Errorf("OVSDB %s: table Interface: %w", c.db, err)
	}
	if len(ifs) == 0 {
		return nil, nil
	}
	return &ifs[0], nil
}

// DelPort removes a port from a bridge (OVSDB then drops the Port and its Interfaces).
func (c *Client) DelPort(ctx context.Context, bridge, port string) error {
	br, err := c.bridge(ctx, bridge)
	if err != nil {
		return err
	}
	p, err := c.port(ctx, port)
	if err != nil {
		return err
	}
	if p == nil {
		return fmt.Errorf("no port named %s", port)
	}
	if !slices.Contains(br.Ports, p.UUID) {
		return fmt.Errorf("port %s is not on bridge %s", port, bridge)
	}
	_, err = c.transact(ctx, ovsdb.Operation{Op: ovsdb.OperationMutate, Table: "Bridge", Where: byUUID(br.UUID),
		Mutations: []ovsdb.Mutation{{Column: "ports", Mutator: ovsdb.MutateOperationDelete, Value: uuidSet(p.UUID)}}})
	return err
}

// port returns the port called name, or nil.
func (c *Client) port(ctx context.Context, name string) (*PortRow, error) {
	var ports []PortRow
	if err := c.selects(ctx, sel{table: "Port", where: byName(name), columns: []string{"_uuid", "name"}, decode: rowsInto(&ports)}); err != nil {
		return nil, err
	}
	if len(ports) == 0 {
		return nil, nil
	}
	return &ports[0], nil
}

// bridgeColumns are what the changes need of a bridge.
var bridgeColumns = []string{"_uuid", "name", "ports", "mirrors"}

// bridge returns the bridge called name (its UUID, ports and mirrors), or an error naming the
// bridges there are.
func (c *Client) bridge(ctx context.Context, name string) (*BridgeRow, error) {
	var bridges []BridgeRow
	if err := c.selects(ctx, sel{table: "Bridge", columns: bridgeColumns, decode: rowsInto(&bridges)}); err != nil {
		return nil, err
	}
	var names []string
	for i := range bridges {
		if bridges[i].Name == name {
			return &bridges[i], nil
		}
		names = append(names, bridges[i].Name)
	}
	return nil, NoBridgeError(name, names)
}
