// Package ovs reads and changes Open vSwitch's database natively (OVSDB over JSON-RPC with
// libovsdb), snapshots its DPDK-relevant state, explains every Interface error by joining it
// with the host's facts, and adds and removes DPDK ports with a preflight.
package ovs

import "github.com/ovn-kubernetes/libovsdb/model"

// Small hand-written models: only the columns dpdk-doctor reads or writes.

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
	ExternalIDs  map[string]string `ovsdb:"external_ids"`
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
	Status      map[string]string `ovsdb:"status"`
	ExternalIDs map[string]string `ovsdb:"external_ids"`
}

// MirrorRow is a row of the Mirror table.
type MirrorRow struct {
	UUID          string            `ovsdb:"_uuid"`
	Name          string            `ovsdb:"name"`
	SelectAll     bool              `ovsdb:"select_all"`
	SelectSrcPort []string          `ovsdb:"select_src_port"`
	SelectDstPort []string          `ovsdb:"select_dst_port"`
	OutputPort    *string           `ovsdb:"output_port"`
	ExternalIDs   map[string]string `ovsdb:"external_ids"`
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

// dbModel is the client model of the Open_vSwitch database.
func dbModel() (model.ClientDBModel, error) {
	return model.NewClientDBModel("Open_vSwitch", map[string]model.Model{
		"Open_vSwitch": &OpenvSwitch{},
		"Bridge":       &BridgeRow{},
		"Port":         &PortRow{},
		"Interface":    &InterfaceRow{},
		"Mirror":       &MirrorRow{},
		"Controller":   &ControllerRow{},
		"Manager":      &ManagerRow{},
	})
}
