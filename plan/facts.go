package plan

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/dpdk-doctor/dpdk-doctor/host"
	"github.com/dpdk-doctor/dpdk-doctor/internal/ovsrpc"
	"github.com/dpdk-doctor/dpdk-doctor/pci"
)

// Device returns the NIC at a PCI address with its NUMA node (sys/bus/pci/devices/ADDR/numa_node;
// -1 or missing is taken as node 0 and marked unknown). A device the host does not have is an
// error naming it.
func Device(r host.Root, addr string, mtu int) (NIC, error) {
	a, err := pci.ParseAddress(addr)
	if err != nil {
		return NIC{}, err
	}
	rel := "sys/bus/pci/devices/" + a.String()
	if !r.Exists(rel) {
		return NIC{}, fmt.Errorf("PCI device %s: not on this host (no %s)", a, r.Path(rel))
	}
	n := NIC{Addr: a.String(), MTU: mtu}
	if v, err := r.ReadInt(rel + "/numa_node"); err == nil && v >= 0 {
		n.Node, n.NodeKnown = int(v), true
	}
	return n, nil
}

// OVSPort is a DPDK Interface of OVS that names a PCI device.
type OVSPort struct {
	Interface string
	Addr      string
	MTU       int // mtu_request; 0 when unset
}

// DevargsAddress returns the PCI address in a dpdk-devargs value ("0000:03:00.0" or
// "0000:03:00.0,n_rxq=2"), or "" for a virtual device (net_af_packet0,...; class=eth,mac=...).
func DevargsAddress(devargs string) string {
	first, _, _ := strings.Cut(devargs, ",")
	a, err := pci.ParseAddress(strings.TrimSpace(first))
	if err != nil {
		return ""
	}
	return a.String()
}

// ReadOVS reads the DPDK Interfaces that name PCI devices, with their mtu_request, and the
// Open_vSwitch row's other_config, in one transaction.
func ReadOVS(c *ovsrpc.Conn) ([]OVSPort, map[string]string, error) {
	res, err := c.Transact("Open_vSwitch",
		map[string]any{"op": "select", "table": "Interface", "where": []any{[]any{"type", "==", "dpdk"}}, "columns": []string{"name", "options", "mtu_request"}},
		map[string]any{"op": "select", "table": "Open_vSwitch", "where": []any{}, "columns": []string{"other_config"}})
	if err != nil {
		return nil, nil, err
	}
	var rows []map[string]json.RawMessage
	if err := ovsrpc.Rows(res[0], &rows); err != nil {
		return nil, nil, fmt.Errorf("reading the Interface rows: %w", err)
	}
	var ports []OVSPort
	for _, r := range rows {
		var p OVSPort
		json.Unmarshal(r["name"], &p.Interface)
		opts, err := ovsrpc.Map(r["options"])
		if err != nil {
			return nil, nil, fmt.Errorf("the options of Interface %s: %w", p.Interface, err)
		}
		if p.Addr = DevargsAddress(opts["dpdk-devargs"]); p.Addr == "" {
			continue
		}
		p.MTU, _ = strconv.Atoi(ovsrpc.Optional(r["mtu_request"]))
		ports = append(ports, p)
	}
	sort.Slice(ports, func(i, j int) bool { return ports[i].Addr < ports[j].Addr })
	var roots []map[string]json.RawMessage
	if err := ovsrpc.Rows(res[1], &roots); err != nil || len(roots) != 1 {
		return nil, nil, fmt.Errorf("the Open_vSwitch table: want one row (run ovs-vsctl init)")
	}
	oc, err := ovsrpc.Map(roots[0]["other_config"])
	return ports, oc, err
}
