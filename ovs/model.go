// Package ovs reads and changes Open vSwitch's database natively (OVSDB's JSON-RPC through
// internal/ovsrpc, operations built from libovsdb's ovsdb types), snapshots its DPDK-relevant
// state, explains every Interface error by joining it with the host's facts, and adds and
// removes DPDK ports with a preflight.
package ovs

// Small hand-written models: only the columns a State is made of, which are the columns every
// read selects (readColumns). A column added here is read everywhere.

// OpenvSwitch is the root row of the Open_vSwitch table.
type OpenvSwitch struct {
	UUID            string            `ovsdb:"_uuid"`
	Bridges         []string          `ovsdb:"bridges"`
	OtherConfig     map[string]string `ovsdb:"other_config"`
	DPDKInitialized bool              `ovsdb:"dpdk_initialized"`
	DPDKVersion     *string           `ovsdb:"dpdk_version"`
	OVSVersion      *string           `ovsdb:"ovs_version"`
	ManagerOptions  []string          `ovsdb:"manager_options"`
}

// BridgeRow is a row of the Bridge table.
type BridgeRow struct {
	UUID         string            `ovsdb:"_uuid"`
	Name         string            `ovsdb:"name"`
	Ports        []string          `ovsdb:"ports"`
	Mirrors      []string          `ovsdb:"mirrors"`
	Controller   []string          `ovsdb:"controller"`
	FailMode     *string           `ovsdb:"fail_mode"`
	DatapathType string            `ovsdb:"datapath_type"`
	OtherConfig  map[string]string `ovsdb:"other_config"`
}

// PortRow is a row of the Port table.
type PortRow struct {
	UUID        string            `ovsdb:"_uuid"`
	Name        string            `ovsdb:"name"`
	Interfaces  []string          `ovsdb:"interfaces"`
	Tag         *int              `ovsdb:"tag"`
	Trunks      []int             `ovsdb:"trunks"`
	ExternalIDs map[string]string `ovsdb:"external_ids"`
}

// InterfaceRow is a row of the Interface table.
type InterfaceRow struct {
	UUID        string            `ovsdb:"_uuid"`
	Name        string            `ovsdb:"name"`
	Type        string            `ovsdb:"type"`
	Options     map[string]string `ovsdb:"options"`
	Error       *string           `ovsdb:"error"`
	OFPort      *int              `ovsdb:"ofport"`
	LinkState   *string           `ovsdb:"link_state"`
	ExternalIDs map[string]string `ovsdb:"external_ids"`
}

// MirrorRow is a row of the Mirror table.
type MirrorRow struct {
	UUID        string            `ovsdb:"_uuid"`
	Name        string            `ovsdb:"name"`
	SelectAll   bool              `ovsdb:"select_all"`
	OutputPort  *string           `ovsdb:"output_port"`
	ExternalIDs map[string]string `ovsdb:"external_ids"`
}

// ControllerRow is a row of the Controller table: an OpenFlow controller of a bridge.
type ControllerRow struct {
	UUID        string `ovsdb:"_uuid"`
	Target      string `ovsdb:"target"`
	IsConnected bool   `ovsdb:"is_connected"`
}

// ManagerRow is a row of the Manager table: an OVSDB manager connection.
type ManagerRow struct {
	UUID        string `ovsdb:"_uuid"`
	Target      string `ovsdb:"target"`
	IsConnected bool   `ovsdb:"is_connected"`
}
