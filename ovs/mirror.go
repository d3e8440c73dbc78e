package ovs

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"syscall"

	"github.com/ovn-kubernetes/libovsdb/ovsdb"
)

// Tags mark what dpdk-doctor creates in OVS, so that `cleanup` finds it after a killed run.
const (
	TagOwner = "dpdk-doctor"     // value OwnerTraffic
	TagPID   = "dpdk-doctor-pid" // the process that made it
	TagPeer  = "dpdk-doctor-veth"

	OwnerTraffic = "traffic"
)

// ownedByTraffic tells whether external_ids carry the tags `traffic` writes: its owner value
// and the pid of the run. Rows tagged otherwise are someone else's and are never removed.
func ownedByTraffic(ids map[string]string) bool {
	pid, err := strconv.Atoi(ids[TagPID])
	return ids[TagOwner] == OwnerTraffic && err == nil && pid > 0
}

// BridgeNamesSorted lists the bridges, sorted, so that a command can check the one it was given
// before it adds anything, and name the others when it is missing.
func (c *Client) BridgeNamesSorted(ctx context.Context) ([]string, error) {
	var bridges []BridgeRow
	if err := c.selects(ctx, sel{table: "Bridge", columns: []string{"name"}, decode: rowsInto(&bridges)}); err != nil {
		return nil, err
	}
	names := make([]string, 0, len(bridges))
	for _, b := range bridges {
		names = append(names, b.Name)
	}
	sort.Strings(names)
	return names, nil
}

// MirrorSpec is a capture port and the mirror that feeds it.
type MirrorSpec struct {
	Bridge     string
	Port       string   // the veth end to add as the mirror's output port
	Mirror     string   // the mirror's name
	SelectPort []string // mirror only these ports' traffic (both directions); empty: select_all
	SelectVLAN []int    // mirror only these VLANs
	Tags       map[string]string
}

// AddMirror adds spec.Port to the bridge and creates a mirror whose output is that port, in
// one transaction. It returns the new port's and mirror's UUIDs, for RemoveMirror.
func (c *Client) AddMirror(ctx context.Context, spec MirrorSpec) (portUUID, mirrorUUID string, err error) {
	br, err := c.bridge(ctx, spec.Bridge)
	if err != nil {
		return "", "", err
	}
	var ports []PortRow
	if err := c.selects(ctx, sel{table: "Port", columns: []string{"_uuid", "name"}, decode: rowsInto(&ports)}); err != nil {
		return "", "", err
	}
	byName := map[string]string{}
	for _, p := range ports {
		byName[p.Name] = p.UUID
	}
	if _, ok := byName[spec.Port]; ok {
		return "", "", fmt.Errorf("a port named %s already exists", spec.Port)
	}
	var sel []string
	for _, name := range spec.SelectPort {
		u, ok := byName[name]
		if !ok {
			return "", "", fmt.Errorf("no port named %s to mirror", name)
		}
		sel = append(sel, u)
	}
	mirror := ovsdb.Row{"name": spec.Mirror, "select_all": len(sel) == 0, "select_src_port": uuidSet(sel...), "select_dst_port": uuidSet(sel...),
		"output_port": ovsdb.UUID{GoUUID: "capport"}, "external_ids": strMap(spec.Tags)}
	if len(spec.SelectVLAN) > 0 {
		set := ovsdb.OvsSet{GoSet: make([]any, len(spec.SelectVLAN))}
		for i, v := range spec.SelectVLAN {
			set.GoSet[i] = v
		}
		mirror["select_vlan"] = set
	}
	ops := []ovsdb.Operation{
		{Op: ovsdb.OperationInsert, Table: "Interface", UUIDName: "capiface", Row: ovsdb.Row{"name": spec.Port, "external_ids": strMap(spec.Tags)}},
		{Op: ovsdb.OperationInsert, Table: "Port", UUIDName: "capport",
			Row: ovsdb.Row{"name": spec.Port, "interfaces": uuidSet("capiface"), "external_ids": strMap(spec.Tags)}},
		{Op: ovsdb.OperationInsert, Table: "Mirror", UUIDName: "capmirror", Row: mirror},
		{Op: ovsdb.OperationMutate, Table: "Bridge", Where: byUUID(br.UUID), Mutations: []ovsdb.Mutation{
			{Column: "ports", Mutator: ovsdb.MutateOperationInsert, Value: uuidSet("capport")},
			{Column: "mirrors", Mutator: ovsdb.MutateOperationInsert, Value: uuidSet("capmirror")}}},
	}
	res, err := c.transact(ctx, ops...)
	if err != nil {
		return "", "", err
	}
	return res[1].UUID.GoUUID, res[2].UUID.GoUUID, nil
}

// RemoveMirror takes the mirror and the port off the bridge in one transaction (OVSDB then
// deletes the unreferenced rows). Rows already gone are not an error.
func (c *Client) RemoveMirror(ctx context.Context, bridge, portUUID, mirrorUUID string) error {
	br, err := c.bridge(ctx, bridge)
	if err != nil {
		return err
	}
	_, err = c.transact(ctx, ovsdb.Operation{Op: ovsdb.OperationMutate, Table: "Bridge", Where: byUUID(br.UUID), Mutations: []ovsdb.Mutation{
		{Column: "ports", Mutator: ovsdb.MutateOperationDelete, Value: uuidSet(portUUID)},
		{Column: "mirrors", Mutator: ovsdb.MutateOperationDelete, Value: uuidSet(mirrorUUID)}}})
	return err
}

// Leftover is a port or mirror a dpdk-doctor run created and did not remove.
type Leftover struct {
	Bridge, Kind, Name, UUID string
	PID                      int
	Alive                    bool // the process that made it still runs
	Peer                     string
}

// Leftovers finds the ports and mirrors tagged as made by `traffic` (owner and pid).
func (c *Client) Leftovers(ctx context.Context) ([]Leftover, error) {
	t, err := c.tables(ctx)
	if err != nil {
		return nil, err
	}
	portBy, mirBy := map[string]PortRow{}, map[string]MirrorRow{}
	for _, p := range t.ports {
		portBy[p.UUID] = p
	}
	for _, m := range t.mirrors {
		mirBy[m.UUID] = m
	}
	var out []Leftover
	for _, b := range t.bridges {
		for _, u := range b.Ports {
			if p, ok := portBy[u]; ok && ownedByTraffic(p.ExternalIDs) {
				out = append(out, leftover(b.Name, "port", p.Name, p.UUID, p.ExternalIDs))
			}
		}
		for _, u := range b.Mirrors {
			if m, ok := mirBy[u]; ok && ownedByTraffic(m.ExternalIDs) {
				out = append(out, leftover(b.Name, "mirror", m.Name, m.UUID, m.ExternalIDs))
			}
		}
	}
	return out, nil
}

func leftover(bridge, kind, name, uuid string, ids map[string]string) Leftover {
	pid, _ := strconv.Atoi(ids[TagPID])
	return Leftover{Bridge: bridge, Kind: kind, Name: name, UUID: uuid, PID: pid, Alive: ProcessAlive(pid), Peer: ids[TagPeer]}
}

// ProcessAlive reports whether pid is a running dpdk-doctor.
func ProcessAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	if err := syscall.Kill(pid, 0); err != nil {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	return err == nil && len(b) > 0 && string(b[:len(b)-1]) == "dpdk-doctor"
}

// RemoveLeftovers removes the given leftovers, bridge by bridge, each in one transaction.
func (c *Client) RemoveLeftovers(ctx context.Context, ls []Leftover) error {
	per := map[string][2][]string{}
	for _, l := range ls {
		e := per[l.Bridge]
		if l.Kind == "port" {
			e[0] = append(e[0], l.UUID)
		} else {
			e[1] = append(e[1], l.UUID)
		}
		per[l.Bridge] = e
	}
	for bname, e := range per {
		br, err := c.bridge(ctx, bname)
		if err != nil {
			return err
		}
		var muts []ovsdb.Mutation
		if len(e[0]) > 0 {
			muts = append(muts, ovsdb.Mutation{Column: "ports", Mutator: ovsdb.MutateOperationDelete, Value: uuidSet(e[0]...)})
		}
		if len(e[1]) > 0 {
			muts = append(muts, ovsdb.Mutation{Column: "mirrors", Mutator: ovsdb.MutateOperationDelete, Value: uuidSet(e[1]...)})
		}
		op := ovsdb.Operation{Op: ovsdb.OperationMutate, Table: "Bridge", Where: byUUID(br.UUID), Mutations: muts}
		if _, err := c.transact(ctx, op); err != nil {
			return err
		}
	}
	return nil
}

// OFPort returns the OpenFlow port number OVS gave an interface, 0 while it has none.
func (c *Client) OFPort(ctx context.Context, name string) (int, string, error) {
	var ifaces []InterfaceRow
	if err := c.selects(ctx, sel{table: "Interface", where: byName(name), columns: []string{"name", "ofport", "error"}, decode: rowsInto(&ifaces)}); err != nil {
		return 0, "", err
	}
	for _, i := range ifaces {
		if i.Error != nil && *i.Error != "" {
			return -1, *i.Error, nil
		}
		if i.OFPort != nil && *i.OFPort > 0 {
			return *i.OFPort, "", nil
		}
	}
	return 0, "", nil
}
