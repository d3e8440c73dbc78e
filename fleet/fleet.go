// Package fleet merges the check results of many hosts into one report grouped by root cause:
// "37 hosts have RMRR-locked NICs in slot 2, all HP ProLiant DL360e Gen8 with ROM P73". Its
// input is what the Ansible check module returns per host (the check document, the platform and
// the device rows) or bare `dpdk-doctor check --json` documents.
package fleet

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
)

// Finding is the part of a check finding the report uses.
type Finding struct {
	ID       string   `json:"id"`
	Severity string   `json:"severity"`
	Subject  string   `json:"subject"`
	Summary  string   `json:"summary"`
	Remedy   []string `json:"remedy"`
}

// Check is the part of a `check --json` document the report uses.
type Check struct {
	Host     string         `json:"host"`
	Root     string         `json:"root"`
	Findings []Finding      `json:"findings"`
	Counts   map[string]int `json:"counts"`
}

// Platform is the check module's dpdk_doctor_platform fact.
type Platform struct {
	Vendor      string `json:"vendor"`
	Product     string `json:"product"`
	BIOSVersion string `json:"bios_version"`
	BIOSDate    string `json:"bios_date"`
	Hypervisor  string `json:"hypervisor"`
}

// String names the platform for grouping: "HP ProLiant DL360e Gen8 with ROM P73".
func (p Platform) String() string {
	s := strings.TrimSpace(p.Vendor + " " + p.Product)
	if s == "" {
		s = "unknown platform"
	}
	if p.BIOSVersion != "" {
		s += " with ROM " + p.BIOSVersion
	}
	if p.Hypervisor != "" {
		s += " (VM, " + p.Hypervisor + ")"
	}
	return s
}

// Device is the part of a device row the report uses.
type Device struct {
	Address string `json:"address"`
	Slot    string `json:"slot"`
	RMRR    string `json:"rmrr"`
}

// Host is one host's input: its check, or the error that kept it from one.
type Host struct {
	Name     string    `json:"name"`
	Check    *Check    `json:"dpdk_doctor,omitempty"`
	Platform *Platform `json:"dpdk_doctor_platform,omitempty"`
	Devices  []Device  `json:"dpdk_doctor_devices,omitempty"`
	Error    string    `json:"error,omitempty"`
}

// Group is one root cause and the hosts that have it.
type Group struct {
	Cause     string         `json:"cause"` // "device.rmrr fail, slot 2"
	ID        string         `json:"id"`
	Severity  string         `json:"severity"`
	Slot      string         `json:"slot,omitempty"` // physical slot, "on-board", or "" for non-device findings
	Sentence  string         `json:"sentence"`
	Hosts     []string       `json:"hosts"`
	Findings  int            `json:"findings"` // findings over all hosts (one per device)
	Platforms map[string]int `json:"platforms"`
	Example   string         `json:"example"`
	Remedy    []string       `json:"remedy"`
	relaxable bool
}

// HostSummary is one row of the hosts table.
type HostSummary struct {
	Name     string         `json:"name"`
	Platform string         `json:"platform"`
	Status   string         `json:"status"` // "ok", "warn", "fail", or "error"
	Counts   map[string]int `json:"counts,omitempty"`
	Causes   []string       `json:"causes"`
	Error    string         `json:"error,omitempty"`
}

// Report is the fleet report.
type Report struct {
	Hosts     int            `json:"hosts"`
	Status    map[string]int `json:"status"` // hosts per status
	Groups    []Group        `json:"groups"`
	HostTable []HostSummary  `json:"host_table"`
}

// titles name well-known findings for the sentence.
var titles = map[string]string{
	"device.rmrr":            "RMRR-locked NICs",
	"device.driver":          "NICs not bound for DPDK",
	"device.iommu_group":     "NICs without a usable IOMMU group",
	"iommu.firmware":         "the IOMMU off in firmware",
	"iommu.kernel":           "the IOMMU off in the kernel",
	"hugepages.pool":         "no huge pages reserved",
	"hugepages.mount":        "no hugetlbfs mounted",
	"hugepages.boot":         "huge pages reserved at run time only",
	"ovs.interface":          "OVS-DPDK interfaces in error",
	"ovs.socket-mem":         "OVS dpdk-socket-mem beyond the huge pages",
	"vfio.noiommu":           "VFIO in unsafe no-IOMMU mode",
	"kernellog.rmrr-relaxed": "the kernel relaxing every RMRR",
}

// Build groups the hosts' non-ok findings by root cause: the finding's id and severity, and
// for a device finding the device's physical slot (or "on-board"), read from the device rows.
func Build(hosts []Host) *Report {
	r := &Report{Hosts: len(hosts), Status: map[string]int{}, Groups: []Group{}, HostTable: []HostSummary{}}
	groups := map[string]*Group{}
	for _, h := range hosts {
		plat := "unknown platform"
		if h.Platform != nil {
			plat = h.Platform.String()
		} else if h.Check != nil && h.Check.Host != "" {
			plat = h.Check.Host
		}
		row := HostSummary{Name: h.Name, Platform: plat, Causes: []string{}}
		if h.Check == nil {
			row.Status, row.Error = "error", h.Error
			if row.Error == "" {
				row.Error = "no check result (unreachable, or the check failed)"
			}
			r.HostTable = append(r.HostTable, row)
			r.Status["error"]++
			continue
		}
		row.Counts = h.Check.Counts
		row.Status = "ok"
		slots, rmrr := map[string]string{}, map[string]string{}
		for _, d := range h.Devices {
			slots[d.Address] = d.Slot
			rmrr[d.Address] = d.RMRR
		}
		seen := map[string]bool{}
		for _, f := range h.Check.Findings {
			if f.Severity == "ok" || f.Severity == "" {
				continue
			}
			if f.Severity == "fail" || row.Status == "ok" {
				row.Status = f.Severity
			}
			slot := ""
			if strings.HasPrefix(f.ID, "device.") {
				slot = slots[f.Subject]
				if slot == "" {
					slot = "on-board"
				}
			}
			key := f.ID + " " + f.Severity
			if slot != "" {
				key += ", slot " + slot
			}
			relaxable := f.ID == "device.rmrr" && rmrr[f.Subject] == "relaxable"
			if relaxable {
				key += ", relaxable" // covered, but the kernel lets it go: another cause than a lock
			}
			g := groups[key]
			if g == nil {
				g = &Group{Cause: key, ID: f.ID, Severity: f.Severity, Slot: slot, Platforms: map[string]int{}, Example: f.Summary, Remedy: f.Remedy, relaxable: relaxable}
				groups[key] = g
			}
			g.Findings++
			if !seen[key] {
				seen[key] = true
				g.Hosts = append(g.Hosts, h.Name)
				g.Platforms[plat]++
				row.Causes = append(row.Causes, key)
			}
		}
		r.Status[row.Status]++
		r.HostTable = append(r.HostTable, row)
	}
	for _, g := range groups {
		sort.Strings(g.Hosts)
		g.Sentence = sentence(g)
		r.Groups = append(r.Groups, *g)
	}
	rank := map[string]int{"fail": 0, "warn": 1}
	sort.Slice(r.Groups, func(i, j int) bool {
		a, b := r.Groups[i], r.Groups[j]
		if rank[a.Severity] != rank[b.Severity] {
			return rank[a.Severity] < rank[b.Severity]
		}
		if len(a.Hosts) != len(b.Hosts) {
			return len(a.Hosts) > len(b.Hosts)
		}
		return a.Cause < b.Cause
	})
	sort.Slice(r.HostTable, func(i, j int) bool { return r.HostTable[i].Name < r.HostTable[j].Name })
	return r
}

func sentence(g *Group) string {
	what := titles[g.ID]
	if g.relaxable {
		what = "NICs under an RMRR the kernel relaxes"
	}
	if what == "" {
		what = g.ID + " findings"
	}
	switch g.Slot {
	case "":
	case "on-board":
		what += " on board"
	default:
		what += " in slot " + g.Slot
	}
	n := len(g.Hosts)
	s := fmt.Sprintf("%d host%s %s %s (%s)", n, plural(n), hasHave(n), what, g.Severity)
	var plats []string
	for p := range g.Platforms {
		plats = append(plats, p)
	}
	sort.Slice(plats, func(i, j int) bool {
		if g.Platforms[plats[i]] != g.Platforms[plats[j]] {
			return g.Platforms[plats[i]] > g.Platforms[plats[j]]
		}
		return plats[i] < plats[j]
	})
	if len(plats) == 1 {
		if n == 1 {
			return s + ", a " + plats[0]
		}
		return s + ", all " + plats[0]
	}
	var parts []string
	for _, p := range plats {
		parts = append(parts, p+": "+strconv.Itoa(g.Platforms[p]))
	}
	return s + "; " + strings.Join(parts, ", ")
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func hasHave(n int) string {
	if n == 1 {
		return "has"
	}
	return "have"
}

// WriteJSON writes the report as one indented JSON document.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes the report for a person: the causes, most hosts first, then every host.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "dpdk-doctor fleet report: %d host%s", r.Hosts, plural(r.Hosts))
	for _, s := range []string{"fail", "warn", "ok", "error"} {
		if r.Status[s] > 0 {
			fmt.Fprintf(&b, ", %d %s", r.Status[s], s)
		}
	}
	b.WriteString("\n\nBy root cause:\n")
	if len(r.Groups) == 0 {
		b.WriteString("  nothing to report: every host is ready\n")
	}
	for _, g := range r.Groups {
		fmt.Fprintf(&b, "  %s\n    e.g. %s\n    hosts: %s\n", g.Sentence, g.Example, strings.Join(g.Hosts, ", "))
		if len(g.Remedy) > 0 {
			fmt.Fprintf(&b, "    remedy: %s\n", g.Remedy[0])
		}
	}
	b.WriteString("\nHosts:\n")
	for _, h := range r.HostTable {
		detail := strings.Join(h.Causes, "; ")
		if h.Error != "" {
			detail = h.Error
		}
		fmt.Fprintf(&b, "  %-5s %s  %s  %s\n", h.Status, h.Name, h.Platform, detail)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// ParseHost reads one host's input: the check module's facts (an object with dpdk_doctor,
// dpdk_doctor_platform, dpdk_doctor_devices), or a bare `check --json` document. name is used
// when the input does not name the host.
func ParseHost(b []byte, name string) (Host, error) {
	var h Host
	if err := json.Unmarshal(b, &h); err != nil {
		return h, fmt.Errorf("%s: not a JSON object of check facts: %w", name, err)
	}
	if h.Check == nil && h.Error == "" {
		var c Check
		if err := json.Unmarshal(b, &c); err != nil || c.Findings == nil || c.Counts == nil {
			return h, fmt.Errorf("%s: neither a dpdk-doctor check document (findings, counts) nor the check module's facts (dpdk_doctor)", name)
		}
		h.Check = &c
	}
	if h.Name == "" {
		h.Name = name
	}
	return h, nil
}
