// Package top samples what OVS-DPDK is doing: every DPDK and vhost port's packet and drop
// counters (Interface statistics over OVSDB) and every PMD thread's cycles and queues
// (ovs-vswitchd's dpif-netdev/pmd-* unixctl commands), and turns two samples into rates.
package top

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/dpdk-doctor/dpdk-doctor/internal/ovsrpc"
)

// Port is one DPDK or vhost interface at a sample.
type Port struct {
	Name      string            `json:"name"`
	Type      string            `json:"type"`
	LinkState string            `json:"link_state"`
	MTU       int               `json:"mtu"`
	Stats     map[string]uint64 `json:"statistics"`
	Error     string            `json:"error,omitempty"`
	Live      bool              `json:"live"` // the datapath's counters were read live
}

// liveKeys are the counters dpctl/show -s reads live; the others come from OVSDB's statistics
// column, which OVS refreshes every 5 s.
var liveKeys = map[string]bool{"rx_packets": true, "tx_packets": true, "rx_bytes": true, "tx_bytes": true, "rx_errors": true, "tx_errors": true,
	"rx_dropped": true, "tx_dropped": true, "rx_over_err": true, "rx_frame_err": true, "collisions": true, "tx_aborted_errors": true, "tx_carrier_errors": true}

// Sample is one reading.
type Sample struct {
	At      time.Time `json:"at"`
	Ports   []Port    `json:"ports"`
	Threads []Thread  `json:"threads"`
	Rxqs    []Rxq     `json:"rxqs"`
	Perf    []Perf    `json:"perf"`
}

// Source names where to read: the OVSDB endpoint and ovs-vswitchd's unixctl socket.
type Source struct {
	DB  string // "unix:PATH" or "tcp:HOST:PORT"
	Ctl string // ovs-vswitchd's unixctl socket path; "" skips the PMD part
}

// Read takes one sample.
func Read(ctx context.Context, src Source) (*Sample, error) {
	s := &Sample{At: time.Now()}
	db, err := ovsrpc.Dial(ctx, src.DB)
	if err != nil {
		return nil, fmt.Errorf("OVSDB: %w", err)
	}
	defer db.Close()
	res, err := db.Transact("Open_vSwitch", map[string]any{"op": "select", "table": "Interface", "where": []any{},
		"columns": []string{"name", "type", "statistics", "link_state", "mtu", "error"}})
	if err != nil {
		return nil, fmt.Errorf("OVSDB %s: %w", src.DB, err)
	}
	var rows []map[string]json.RawMessage
	if err := ovsrpc.Rows(res[0], &rows); err != nil {
		return nil, fmt.Errorf("OVSDB %s: Interface rows: %w", src.DB, err)
	}
	for _, r := range rows {
		var p Port
		json.Unmarshal(r["name"], &p.Name)
		json.Unmarshal(r["type"], &p.Type)
		if !IsDPDK(p.Type) {
			continue
		}
		p.LinkState = ovsrpc.Optional(r["link_state"])
		p.Error = ovsrpc.Optional(r["error"])
		p.MTU, _ = strconv.Atoi(ovsrpc.Optional(r["mtu"]))
		m, err := ovsrpc.Map(r["statistics"])
		if err != nil {
			return nil, fmt.Errorf("OVSDB %s: Interface %s statistics: %w", src.DB, p.Name, err)
		}
		p.Stats = map[string]uint64{}
		for k, v := range m {
			if n, err := strconv.ParseUint(v, 10, 64); err == nil {
				p.Stats[k] = n
			}
		}
		s.Ports = append(s.Ports, p)
	}
	sort.Slice(s.Ports, func(i, j int) bool { return s.Ports[i].Name < s.Ports[j].Name })
	if src.Ctl == "" {
		return s, nil
	}
	ctl, err := ovsrpc.Dial(ctx, "unix:"+src.Ctl)
	if err != nil {
		return nil, fmt.Errorf("ovs-vswitchd: %w", err)
	}
	defer ctl.Close()
	text, err := ctl.Appctl("dpif-netdev/pmd-stats-show")
	if err != nil && strings.Contains(err.Error(), "existing datapath") {
		return s, nil // no user-space (netdev) bridge: no PMDs, and no DPDK port is polled
	}
	if err != nil {
		return nil, fmt.Errorf("ovs-vswitchd %s: %w", src.Ctl, err)
	}
	if s.Threads, err = ParseStats(text); err != nil {
		return nil, err
	}
	if text, err = ctl.Appctl("dpif-netdev/pmd-rxq-show"); err != nil {
		return nil, fmt.Errorf("ovs-vswitchd %s: %w", src.Ctl, err)
	}
	if s.Rxqs, err = ParseRxqs(text); err != nil {
		return nil, err
	}
	if text, err = ctl.Appctl("dpif-netdev/pmd-perf-show"); err == nil {
		s.Perf, _ = ParsePerf(text) // informational: its detailed form varies
	}
	// The statistics column is refreshed every 5 s at most (other_config:stats-update-interval
	// has a 5000 ms floor): the datapath's own counters are read live.
	if text, err = ctl.Appctl("dpctl/show", "-s"); err != nil {
		return nil, fmt.Errorf("ovs-vswitchd %s: %w", src.Ctl, err)
	}
	live, err := ParseDpctl(text)
	if err != nil {
		return nil, err
	}
	for i := range s.Ports {
		if l, ok := live[s.Ports[i].Name]; ok {
			for k, v := range l {
				s.Ports[i].Stats[k] = v
			}
			s.Ports[i].Live = true
		}
	}
	return s, nil
}

// IsDPDK reports whether an Interface type is a DPDK or vhost-user port.
func IsDPDK(typ string) bool {
	return typ == "dpdk" || typ == "dpdkvhostuser" || typ == "dpdkvhostuserclient"
}

// DropKeys are the Interface statistics that count packets lost, with what each means.
var DropKeys = map[string]string{
	"rx_dropped":                "dropped on receive (no mbuf, or filtered)",
	"rx_missed_errors":          "the NIC had no free descriptor: the PMD did not poll fast enough",
	"rx_errors":                 "receive errors",
	"rx_crc_errors":             "bad CRC",
	"rx_length_errors":          "bad length",
	"tx_dropped":                "dropped on transmit",
	"tx_errors":                 "transmit errors",
	"ovs_tx_failure_drops":      "the device refused the packets (tx queue full, or link down)",
	"ovs_tx_mtu_exceeded_drops": "longer than the port's MTU",
	"ovs_tx_qos_drops":          "egress policer",
	"ovs_rx_qos_drops":          "ingress policer",
	"ovs_tx_invalid_hwol_drops": "invalid offload request",
	"rx_mbuf_allocation_errors": "no mbuf: the mempool is exhausted",
	"ovs_rx_qos_drops_pkts":     "ingress policer",
	"rx_undersized_errors":      "undersized frames",
	"rx_oversize_errors":        "oversized frames",
	"rx_fragmented_errors":      "fragments",
	"rx_jabber_errors":          "jabber",
}

func isDrop(k string) bool {
	if _, ok := DropKeys[k]; ok {
		return true
	}
	return strings.HasSuffix(k, "_drops") || strings.HasSuffix(k, "_dropped") || strings.HasSuffix(k, "_errors") || strings.HasSuffix(k, "_err") || strings.HasSuffix(k, "missed")
}

// PortRate is a port between two samples.
type PortRate struct {
	Name      string             `json:"name"`
	Type      string             `json:"type"`
	LinkState string             `json:"link_state"`
	MTU       int                `json:"mtu"`
	RxPPS     float64            `json:"rx_pps"`
	TxPPS     float64            `json:"tx_pps"`
	RxBPS     float64            `json:"rx_bytes_per_s"`
	TxBPS     float64            `json:"tx_bytes_per_s"`
	Drops     map[string]uint64  `json:"drops"`      // every drop counter, cumulative, nonzero; the ovs_* and NIC-specific ones lag up to 5 s (OVSDB statistics)
	DropRates map[string]float64 `json:"drop_rates"` // per second between the samples, nonzero, for the counters read live
	Rxqs      []Rxq              `json:"rxqs"`
	Error     string             `json:"error,omitempty"`
}

// PMDRate is a PMD thread between two samples.
type PMDRate struct {
	NUMA          int     `json:"numa_id"`
	Core          int     `json:"core_id"`
	BusyPct       float64 `json:"busy_pct"` // processing cycles / (idle + processing) between the samples
	CyclesPerPkt  float64 `json:"cycles_per_packet"`
	PPS           float64 `json:"packets_per_s"`
	Rxqs          int     `json:"rxqs"`
	SinceClearPct float64 `json:"busy_pct_since_clear"` // what pmd-stats-show says since the last clear
}

// View is what top shows.
type View struct {
	Interval float64    `json:"interval_s"`
	Ports    []PortRate `json:"ports"`
	PMDs     []PMDRate  `json:"pmds"`
}

// Rates turns two samples into rates.
func Rates(a, b *Sample) *View {
	dt := b.At.Sub(a.At).Seconds()
	if dt <= 0 {
		dt = 1e-9
	}
	v := &View{Interval: dt, Ports: []PortRate{}, PMDs: []PMDRate{}}
	prev := map[string]Port{}
	for _, p := range a.Ports {
		prev[p.Name] = p
	}
	delta := func(x, y uint64) float64 {
		if y < x {
			return 0 // counters were reset
		}
		return float64(y - x)
	}
	for _, p := range b.Ports {
		q := prev[p.Name]
		r := PortRate{Name: p.Name, Type: p.Type, LinkState: p.LinkState, MTU: p.MTU, Error: p.Error,
			Drops: map[string]uint64{}, DropRates: map[string]float64{}, Rxqs: []Rxq{}}
		if q.Stats != nil {
			r.RxPPS = delta(q.Stats["rx_packets"], p.Stats["rx_packets"]) / dt
			r.TxPPS = delta(q.Stats["tx_packets"], p.Stats["tx_packets"]) / dt
			r.RxBPS = delta(q.Stats["rx_bytes"], p.Stats["rx_bytes"]) / dt
			r.TxBPS = delta(q.Stats["tx_bytes"], p.Stats["tx_bytes"]) / dt
		}
		for k, n := range p.Stats {
			if !isDrop(k) || n == 0 {
				continue
			}
			r.Drops[k] = n
			if q.Stats != nil && (liveKeys[k] || !p.Live) {
				if d := delta(q.Stats[k], n); d > 0 {
					r.DropRates[k] = d / dt
				}
			}
		}
		for _, x := range b.Rxqs {
			if x.Port == p.Name {
				r.Rxqs = append(r.Rxqs, x)
			}
		}
		v.Ports = append(v.Ports, r)
	}
	old := map[[2]int]Thread{}
	for _, t := range a.Threads {
		if !t.Main {
			old[[2]int{t.NUMA, t.Core}] = t
		}
	}
	for _, t := range b.Threads {
		if t.Main {
			continue
		}
		r := PMDRate{NUMA: t.NUMA, Core: t.Core}
		idle, proc := t.Stats["idle cycles"], t.Stats["processing cycles"]
		if idle+proc > 0 {
			r.SinceClearPct = 100 * proc / (idle + proc)
		}
		if o, ok := old[[2]int{t.NUMA, t.Core}]; ok {
			di, dp := idle-o.Stats["idle cycles"], proc-o.Stats["processing cycles"]
			dpk := t.Stats["packets received"] - o.Stats["packets received"]
			// A delta beyond 2^63 cycles is a counter that went backwards inside OVS (seen
			// once here under heavy load), not decades of work: no rate from it.
			if di >= 1<<63 || dp >= 1<<63 {
				di, dp = -1, -1
			}
			if di >= 0 && dp >= 0 && di+dp > 0 {
				r.BusyPct = 100 * dp / (di + dp)
			}
			if dpk > 0 && dp >= 0 {
				r.CyclesPerPkt = dp / dpk
				r.PPS = dpk / dt
			}
		}
		for _, x := range b.Rxqs {
			if x.NUMA == t.NUMA && x.Core == t.Core {
				r.Rxqs++
			}
		}
		v.PMDs = append(v.PMDs, r)
	}
	sort.Slice(v.PMDs, func(i, j int) bool {
		if v.PMDs[i].NUMA != v.PMDs[j].NUMA {
			return v.PMDs[i].NUMA < v.PMDs[j].NUMA
		}
		return v.PMDs[i].Core < v.PMDs[j].Core
	})
	return v
}
