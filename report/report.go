// Package report presents the result of a check to people and programs: a text report that
// opens with what blocks DPDK, grouped by root cause, and a JSON document with the host's
// identity and typed remedies (schema in schema/check.schema.json). The findings come from
// package check; this package only groups and renders them.
package report

import (
	"encoding/json"
	"io"
	"strings"
	"time"

	"github.com/dpdk-doctor/dpdk-doctor/check"
)

// SchemaVersion is the version of the JSON contract of `check --json`. Version "2" added the
// identity fields, explanation on every finding and typed remedies; every field of "1" is kept.
const SchemaVersion = "2"

// Machine is what the firmware (DMI) says the host is.
type Machine struct {
	Vendor      string `json:"vendor"` // normalised: "HPE", "Dell", ...
	SysVendor   string `json:"sys_vendor"`
	Product     string `json:"product"`
	BIOSVendor  string `json:"bios_vendor"`
	BIOSVersion string `json:"bios_version"`
	BIOSDate    string `json:"bios_date"`
	Hypervisor  string `json:"hypervisor,omitempty"`
}

// Identity says which host a result describes, when, and by which dpdk-doctor.
type Identity struct {
	Hostname string    // proc/sys/kernel/hostname, "" when unreadable
	Kernel   string    // proc/sys/kernel/osrelease, "" when unreadable
	Machine  Machine   // DMI
	Root     string    // "/" or the tree that was read
	Version  string    // dpdk-doctor's version
	Time     time.Time // when the check ran
}

// IdentityOf is the identity of the host f was gathered from (its platform, kernel release and
// hostname, read once by check.Gather). version is dpdk-doctor's own; now is the time to report
// (injectable so that output can be compared byte for byte).
func IdentityOf(f *check.Facts, version string, now time.Time) Identity {
	p := f.Platform
	return Identity{
		Hostname: strings.TrimSpace(f.Hostname),
		Kernel:   strings.TrimSpace(f.Release),
		Machine: Machine{Vendor: p.Vendor, SysVendor: p.SysVendor, Product: p.Product, BIOSVendor: p.BIOSVendor,
			BIOSVersion: p.BIOSVersion, BIOSDate: p.BIOSDate, Hypervisor: p.Hypervisor},
		Root:    f.Root.String(),
		Version: version,
		Time:    now.UTC(),
	}
}

// Device labels a PCI address in the report: its name and physical slot.
type Device struct {
	Name string // "Intel Corporation 82599ES ... (Ethernet Server Adapter X520-2)"
	Slot string // physical slot, "" when on-board or unreported
}

// Result is one check of one host: who it is and every finding.
type Result struct {
	Identity Identity
	Findings []check.Finding
	Devices  map[string]Device // by PCI address, for naming subjects; may be nil
}

// finding is a check.Finding as schema 2 writes it: the old fields, explanation always present
// and the remedy typed beside the old lines.
type finding struct {
	ID          string           `json:"id"`
	Area        string           `json:"area"`
	Severity    check.Severity   `json:"severity"`
	Subject     string           `json:"subject"`
	Summary     string           `json:"summary"`
	Explanation string           `json:"explanation"`
	Evidence    []check.Evidence `json:"evidence"`
	Remedy      []string         `json:"remedy"`   // schema 1: lines for a person
	Remedies    Remedy           `json:"remedies"` // typed: run or step, alternatives grouped
}

type document struct {
	SchemaVersion string         `json:"schema_version"`
	Version       string         `json:"dpdk_doctor_version"`
	Time          string         `json:"time"`
	Hostname      string         `json:"hostname"`
	Kernel        string         `json:"kernel_release"`
	Machine       Machine        `json:"machine"`
	Host          string         `json:"host"` // schema 1: DMI vendor and product
	Root          string         `json:"root"`
	Findings      []finding      `json:"findings"`
	Counts        map[string]int `json:"counts"`
}

// WriteJSON writes the result as one indented JSON document (schema/check.schema.json).
func WriteJSON(w io.Writer, r *Result) error {
	id := r.Identity
	d := document{
		SchemaVersion: SchemaVersion, Version: id.Version, Time: id.Time.UTC().Format(time.RFC3339),
		Hostname: id.Hostname, Kernel: id.Kernel, Machine: id.Machine,
		Host:     strings.TrimSpace(id.Machine.SysVendor + " " + id.Machine.Product),
		Root:     id.Root,
		Findings: make([]finding, 0, len(r.Findings)),
		Counts:   map[string]int{"ok": 0, "warn": 0, "fail": 0},
	}
	for _, f := range r.Findings {
		ev, rem := f.Evidence, f.Remedy
		if ev == nil {
			ev = []check.Evidence{}
		}
		if rem == nil {
			rem = []string{}
		}
		d.Findings = append(d.Findings, finding{ID: f.ID, Area: f.Area, Severity: f.Severity, Subject: f.Subject,
			Summary: f.Summary, Explanation: explanation(f), Evidence: ev, Remedy: rem, Remedies: ParseRemedy(f.Remedy)})
		d.Counts[string(f.Severity)]++
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(d)
}

// explanation is the finding's explanation, or for a warning or failure that has none, its
// summary: the contract promises a non-empty explanation for every finding that is not ok.
func explanation(f check.Finding) string {
	if f.Explanation != "" || f.Severity == check.OK {
		return f.Explanation
	}
	return f.Summary
}
