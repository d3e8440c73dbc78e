package top

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

// Write draws the view as text. lines bounds the output to a terminal's height (0: no bound).
func (v *View) Write(w io.Writer, lines int) {
	var out []string
	out = append(out, fmt.Sprintf("dpdk-doctor top: %d port(s), %d PMD thread(s), over %.2fs", len(v.Ports), len(v.PMDs), v.Interval))
	out = append(out, fmt.Sprintf("%-18s %-20s %-5s %5s %12s %12s  %s", "PORT", "TYPE", "LINK", "MTU", "RX pkt/s", "TX pkt/s", "DROPS (total, +/s)"))
	for _, p := range v.Ports {
		var drops []string
		keys := make([]string, 0, len(p.Drops))
		for k := range p.Drops {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			d := fmt.Sprintf("%s=%d", k, p.Drops[k])
			if r := p.DropRates[k]; r > 0 {
				d += fmt.Sprintf(" (+%.0f/s)", r)
			}
			drops = append(drops, d)
		}
		link := p.LinkState
		if link == "" {
			link = "-"
		}
		out = append(out, fmt.Sprintf("%-18s %-20s %-5s %5d %12.0f %12.0f  %s", p.Name, p.Type, link, p.MTU, p.RxPPS, p.TxPPS, strings.Join(drops, " ")))
		for _, q := range p.Rxqs {
			en := ""
			if !q.Enabled {
				en = " (disabled)"
			}
			out = append(out, fmt.Sprintf("    rxq %d%s -> pmd numa %d core %d", q.Queue, en, q.NUMA, q.Core))
		}
		if p.Error != "" {
			out = append(out, "    error: "+p.Error)
		}
	}
	out = append(out, "", fmt.Sprintf("%-6s %-6s %8s %12s %12s %6s", "NUMA", "CORE", "BUSY %", "CYC/PKT", "PKT/s", "RXQS"))
	for _, t := range v.PMDs {
		out = append(out, fmt.Sprintf("%-6d %-6d %8.1f %12.0f %12.0f %6d", t.NUMA, t.Core, t.BusyPct, t.CyclesPerPkt, t.PPS, t.Rxqs))
	}
	if lines > 0 && len(out) > lines {
		out = append(out[:lines-1], fmt.Sprintf("... %d more line(s): enlarge the terminal or use --once", len(out)-lines+1))
	}
	for _, l := range out {
		fmt.Fprintln(w, l)
	}
}
