package ovs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"sort"
	"strings"

	"github.com/dpdk-doctor/dpdk-doctor/host"
)

// State is the part of Open vSwitch's configuration and status that matters for DPDK: what
// `ovs-vsctl show` prints, plus the DPDK settings of the Open_vSwitch row. It is also the form
// in which a captured host tree carries OVS (SnapshotFile).
type State struct {
	UUID            string            `json:"uuid,omitempty"` // the Open_vSwitch row's, ovs-vsctl show's first line
	Managers        []Controller      `json:"managers,omitempty"`
	OVSVersion      string            `json:"ovs_version"`
	DPDKInit        string            `json:"dpdk_init"` // other_config:dpdk-init: "true", "try", "false" or ""
	DPDKInitialized bool              `json:"dpdk_initialized"`
	DPDKVersion     string            `json:"dpdk_version"`
	OtherConfig     map[string]string `json:"other_config"`
	Bridges         []Bridge          `json:"bridges"`
}

// Bridge is a bridge with its ports.
type Bridge struct {
	Name         string            `json:"name"`
	Controllers  []Controller      `json:"controllers,omitempty"`
	FailMode     string            `json:"fail_mode,omitempty"` // "standalone", "secure" or "" (OVS's default: standalone)
	DatapathType string            `json:"datapath_type"`
	OtherConfig  map[string]string `json:"other_config,omitempty"`
	Ports        []Port            `json:"ports"`
	Mirrors      []Mirror          `json:"mirrors,omitempty"`
}

// Port is a port with its interfaces.
type Port struct {
	Name        string            `json:"name"`
	Tag         *int              `json:"tag,omitempty"`    // access VLAN
	Trunks      []int             `json:"trunks,omitempty"` // trunked VLANs; none means all
	Interfaces  []Interface       `json:"interfaces"`
	ExternalIDs map[string]string `json:"external_ids,omitempty"`
}

// Controller is an OpenFlow controller of a bridge or an OVSDB manager: its target and
// whether OVS is connected to it.
type Controller struct {
	Target      string `json:"target"`
	IsConnected bool   `json:"is_connected"`
}

// Interface is an interface's configuration and status.
type Interface struct {
	Name        string            `json:"name"`
	Type        string            `json:"type"`
	Options     map[string]string `json:"options,omitempty"`
	Error       string            `json:"error,omitempty"`
	OFPort      *int              `json:"ofport"` // nil until vswitchd has looked at it; -1 on failure
	LinkState   string            `json:"link_state,omitempty"`
	ExternalIDs map[string]string `json:"external_ids,omitempty"`
}

// Mirror is a mirror on a bridge.
type Mirror struct {
	Name        string            `json:"name"`
	SelectAll   bool              `json:"select_all"`
	OutputPort  string            `json:"output_port,omitempty"`
	ExternalIDs map[string]string `json:"external_ids,omitempty"`
}

// IsDPDK reports whether an interface type is one of DPDK's.
func IsDPDK(typ string) bool {
	return typ == "dpdk" || typ == "dpdkvhostuser" || typ == "dpdkvhostuserclient"
}

// tables is one read of every table dpdk-doctor models.
type tables struct {
	roots   []OpenvSwitch
	bridges []BridgeRow
	ports   []PortRow
	ifaces  []InterfaceRow
	mirrors []MirrorRow
	ctrls   []ControllerRow
	mgrs    []ManagerRow
}

func (c *Client) tables(ctx context.Context) (*tables, error) {
	t, err := readTables(func(ops []any) ([]json.RawMessage, error) { return c.call(ctx, "reading the tables", ops...) })
	if err != nil {
		return nil, fmt.Errorf("OVSDB %s: %w", c.db, err)
	}
	return t, nil
}

// Read takes a snapshot of the database through c: one transaction of selects, as ReadOnce.
func (c *Client) Read(ctx context.Context) (*State, error) {
	t, err := c.tables(ctx)
	if err != nil {
		return nil, err
	}
	return t.state(c.db)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func assemble(root OpenvSwitch, bridges []BridgeRow, ports []PortRow, ifaces []InterfaceRow, mirrors []MirrorRow) *State {
	st := &State{OVSVersion: deref(root.OVSVersion), DPDKInit: root.OtherConfig["dpdk-init"], DPDKInitialized: root.DPDKInitialized,
		DPDKVersion: deref(root.DPDKVersion), OtherConfig: root.OtherConfig, Bridges: []Bridge{}}
	// Rows by UUID (as indices: the rows are not copied) and the UUIDs by name, each map made
	// once at its size.
	portBy := make(map[string]int, len(ports))
	for k := range ports {
		portBy[ports[k].UUID] = k
	}
	ifBy := make(map[string]int, len(ifaces))
	for k := range ifaces {
		ifBy[ifaces[k].UUID] = k
	}
	mirBy := make(map[string]int, len(mirrors))
	for k := range mirrors {
		mirBy[mirrors[k].UUID] = k
	}
	// ovs-vsctl show lists every set of rows in UUID order (an OVSDB set is sorted): so do we.
	puuid, iuuid, buuid := make(map[string]string, len(ports)), make(map[string]string, len(ifaces)), make(map[string]string, len(bridges))
	for k := range ports {
		puuid[ports[k].Name] = ports[k].UUID
	}
	for k := range ifaces {
		iuuid[ifaces[k].Name] = ifaces[k].UUID
	}
	for k := range bridges {
		buuid[bridges[k].Name] = bridges[k].UUID
	}
	inRoot := map[string]bool{}
	for _, b := range root.Bridges {
		inRoot[b] = true
	}
	for _, b := range bridges {
		if !inRoot[b.UUID] {
			continue
		}
		br := Bridge{Name: b.Name, FailMode: deref(b.FailMode), DatapathType: b.DatapathType, OtherConfig: b.OtherConfig, Ports: []Port{}}
		br.Ports = make([]Port, 0, len(b.Ports))
		for _, pu := range b.Ports {
			pk, ok := portBy[pu]
			if !ok {
				continue
			}
			p := &ports[pk]
			port := Port{Name: p.Name, Tag: p.Tag, Trunks: sortedInts(p.Trunks), ExternalIDs: p.ExternalIDs, Interfaces: make([]Interface, 0, len(p.Interfaces))}
			for _, iu := range p.Interfaces {
				ik, ok := ifBy[iu]
				if !ok {
					continue
				}
				i := &ifaces[ik]
				port.Interfaces = append(port.Interfaces, Interface{Name: i.Name, Type: i.Type, Options: i.Options, Error: deref(i.Error),
					OFPort: i.OFPort, LinkState: deref(i.LinkState), ExternalIDs: i.ExternalIDs})
			}
			sortByUUID(port.Interfaces, iuuid)
			br.Ports = append(br.Ports, port)
		}
		sortByUUID(br.Ports, puuid)
		for _, mu := range b.Mirrors {
			if mk, ok := mirBy[mu]; ok {
				m := &mirrors[mk]
				out := ""
				if m.OutputPort != nil {
					if pk, ok := portBy[*m.OutputPort]; ok {
						out = ports[pk].Name
					}
				}
				br.Mirrors = append(br.Mirrors, Mirror{Name: m.Name, SelectAll: m.SelectAll, OutputPort: out, ExternalIDs: m.ExternalIDs})
			}
		}
		st.Bridges = append(st.Bridges, br)
	}
	sortByUUID(st.Bridges, buuid)
	return st
}

// sortByUUID sorts bridges, ports or interfaces by their rows' UUIDs, given by name.
func sortByUUID[T interface{ Bridge | Port | Interface }](v []T, uuid map[string]string) {
	name := func(x T) string {
		switch x := any(x).(type) {
		case Bridge:
			return x.Name
		case Port:
			return x.Name
		case Interface:
			return x.Name
		}
		return ""
	}
	if len(v) < 2 {
		return
	}
	// Each element's key is looked up once, not at every comparison; the order is the stable
	// sort's by key, as before.
	keys := make([]string, len(v))
	idx := make([]int, len(v))
	for k := range v {
		keys[k], idx[k] = uuid[name(v[k])], k
	}
	sorted := true
	for k := 1; k < len(keys) && sorted; k++ {
		sorted = keys[k-1] <= keys[k]
	}
	if sorted {
		return
	}
	slices.SortStableFunc(idx, func(x, y int) int { return strings.Compare(keys[x], keys[y]) })
	out := make([]T, len(v))
	for k, from := range idx {
		out[k] = v[from]
	}
	copy(v, out)
}

// link adds what assemble leaves out: the root's UUID, its managers and the bridges'
// controllers, in ovs-vsctl show's order (by UUID).
func link(st *State, t *tables) {
	root := t.roots[0]
	st.UUID = root.UUID
	mgrBy := map[string]ManagerRow{}
	for _, m := range t.mgrs {
		mgrBy[m.UUID] = m
	}
	ctrlBy := map[string]ControllerRow{}
	for _, c := range t.ctrls {
		ctrlBy[c.UUID] = c
	}
	// manager_options holds Manager rows.
	for _, u := range sortedStrings(root.ManagerOptions) {
		if m, ok := mgrBy[u]; ok {
			st.Managers = append(st.Managers, Controller{Target: m.Target, IsConnected: m.IsConnected})
		}
	}
	brBy := map[string]BridgeRow{}
	for _, b := range t.bridges {
		brBy[b.Name] = b
	}
	for i := range st.Bridges {
		for _, u := range sortedStrings(brBy[st.Bridges[i].Name].Controller) {
			if c, ok := ctrlBy[u]; ok {
				st.Bridges[i].Controllers = append(st.Bridges[i].Controllers, Controller{Target: c.Target, IsConnected: c.IsConnected})
			}
		}
	}
}

func sortedStrings(v []string) []string {
	out := append([]string(nil), v...)
	sort.Strings(out)
	return out
}

func sortedInts(v []int) []int {
	if len(v) == 0 {
		return nil
	}
	out := append([]int(nil), v...)
	sort.Ints(out)
	return out
}

// SnapshotFile is where a captured host tree keeps the OVS state.
const SnapshotFile = "var/lib/dpdk-doctor/ovs-state.json"

// ReadSnapshot reads the OVS state a captured tree carries. A tree without one gives nil and no
// error: OVS was not running there.
func ReadSnapshot(r host.Root) (*State, error) {
	b, err := r.ReadFile(SnapshotFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	st, err := DecodeSnapshot(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", r.Path(SnapshotFile), err)
	}
	return st, nil
}

// DecodeSnapshot reads a snapshot's JSON (as capture writes it). Anything but one JSON object
// of the State's shape is an error.
func DecodeSnapshot(b []byte) (*State, error) {
	var st State
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("not an OVS snapshot: %w", err)
	}
	if st.Bridges == nil {
		st.Bridges = []Bridge{}
	}
	return &st, nil
}

// Interfaces calls fn for every interface with its bridge and port.
func (s *State) Interfaces(fn func(b *Bridge, p *Port, i *Interface)) {
	for bi := range s.Bridges {
		b := &s.Bridges[bi]
		for pi := range b.Ports {
			p := &b.Ports[pi]
			for ii := range p.Interfaces {
				fn(b, p, &p.Interfaces[ii])
			}
		}
	}
}
