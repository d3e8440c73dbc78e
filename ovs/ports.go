package ovs

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/ovn-kubernetes/libovsdb/model"
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
	iface := &InterfaceRow{UUID: "newiface", Name: port, Type: typ, Options: options, ExternalIDs: externalIDs}
	p := &PortRow{UUID: "newport", Name: port, Interfaces: []string{iface.UUID}, ExternalIDs: externalIDs}
	ops, err := c.c.Create(iface)
	if err != nil {
		return err
	}
	portOps, err := c.c.Create(p)
	if err != nil {
		return err
	}
	ops = append(ops, portOps...)
	mut, err := c.c.Where(br).Mutate(br, model.Mutation{Field: &br.Ports, Mutator: ovsdb.MutateOperationInsert, Value: []string{p.UUID}})
	if err != nil {
		return err
	}
	_, err = c.transact(ctx, append(ops, mut...)...)
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
		ifaces, err := list[InterfaceRow](ctx, c)
		if err != nil {
			return false, err
		}
		for _, i := range ifaces {
			if i.Name != name {
				continue
			}
			if i.Error != nil && *i.Error != "" {
				out.Error = *i.Error
				return true, nil
			}
			if i.OFPort != nil && *i.OFPort > 0 {
				out.OFPort = *i.OFPort
				return true, nil
			}
		}
		return false, nil
	})
	if errors.Is(err, context.DeadlineExceeded) {
		return out, fmt.Errorf("OVS did not settle port %s in time: no ofport and no error yet (is ovs-vswitchd running? each wait is limited by --db-timeout, now %v, the whole command by --timeout)", name, c.timeout)
	}
	return out, err
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
	for _, u := range br.Ports {
		if u == p.UUID {
			ops, err := c.c.Where(br).Mutate(br, model.Mutation{Field: &br.Ports, Mutator: ovsdb.MutateOperationDelete, Value: []string{p.UUID}})
			if err != nil {
				return err
			}
			_, err = c.transact(ctx, ops...)
			return err
		}
	}
	return fmt.Errorf("port %s is not on bridge %s", port, bridge)
}

// port returns the port called name, or nil.
func (c *Client) port(ctx context.Context, name string) (*PortRow, error) {
	ports, err := list[PortRow](ctx, c)
	if err != nil {
		return nil, err
	}
	for i := range ports {
		if ports[i].Name == name {
			return &ports[i], nil
		}
	}
	return nil, nil
}

func (c *Client) bridge(ctx context.Context, name string) (*BridgeRow, error) {
	bridges, err := list[BridgeRow](ctx, c)
	if err != nil {
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
