package check

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/dpdk-doctor/dpdk-doctor/internal/quote"
)

// Report is the result of a check: what was read and every finding.
type Report struct {
	Host     string         `json:"host"` // what the host calls itself (DMI), or ""
	Root     string         `json:"root"` // "/" or the tree that was read
	Findings []Finding      `json:"findings"`
	Counts   map[string]int `json:"counts"` // findings per severity
}

// NewReport wraps findings into a report.
func NewReport(f *Facts, findings []Finding) *Report {
	r := &Report{Host: strings.TrimSpace(f.Platform.SysVendor + " " + f.Platform.Product), Root: f.Root.String(), Findings: findings,
		Counts: map[string]int{"ok": 0, "warn": 0, "fail": 0}}
	for _, fd := range findings {
		r.Counts[string(fd.Severity)]++
	}
	return r
}

// WriteJSON writes the report as one indented JSON document.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

var areaTitles = map[string]string{
	"cpu": "CPU", "iommu": "IOMMU", "hugepages": "Huge pages", "vfio": "VFIO", "device": "Devices",
	"kernel-log": "Kernel log", "ovs": "Open vSwitch",
}

var marks = map[Severity]string{OK: "ok  ", Warn: "WARN", Fail: "FAIL"}

// WriteText writes the report for a person: area by area, each finding with its verdict,
// evidence, explanation and remedy. names, when given, labels device subjects.
func (r *Report) WriteText(w io.Writer, names map[string]string) error {
	var b strings.Builder
	title := r.Host
	if title == "" {
		title = "host"
	}
	// Everything below may hold names read from the host or a tree (DMI strings, drivers,
	// interfaces, pci.ids, OVS): control characters are escaped so they cannot drive the terminal.
	q := quote.Text
	fmt.Fprintf(&b, "dpdk-doctor check: %s (root %s)\n", q(title), q(r.Root))
	for _, area := range Areas() {
		first := true
		lastSubj := ""
		for _, f := range r.Findings {
			if f.Area != area {
				continue
			}
			if first {
				fmt.Fprintf(&b, "\n%s\n", areaTitles[area])
				first = false
			}
			if area == "device" && f.Subject != lastSubj {
				fmt.Fprintf(&b, "  %s", q(f.Subject))
				if n := names[f.Subject]; n != "" {
					fmt.Fprintf(&b, "  %s", q(n))
				}
				b.WriteString("\n")
				lastSubj = f.Subject
			}
			subj := ""
			if area != "device" && f.Subject != "host" {
				subj = f.Subject + ": "
			}
			fmt.Fprintf(&b, "  [%s] %-20s %s%s\n", marks[f.Severity], q(f.ID), q(subj), q(f.Summary))
			if f.Severity == OK {
				continue
			}
			for _, e := range f.Evidence {
				fmt.Fprintf(&b, "         evidence: %s: %s\n", q(e.File), q(e.Value))
			}
			if f.Explanation != "" {
				wrap(&b, q(f.Explanation), "         ", 100)
			}
			if len(f.Remedy) > 0 {
				b.WriteString("         remedy:\n")
				for _, c := range f.Remedy {
					fmt.Fprintf(&b, "           %s\n", q(c))
				}
			}
		}
	}
	fmt.Fprintf(&b, "\n%d ok, %d warnings, %d failures\n", r.Counts["ok"], r.Counts["warn"], r.Counts["fail"])
	_, err := io.WriteString(w, b.String())
	return err
}

func wrap(b *strings.Builder, text, indent string, width int) {
	line := indent
	for _, word := range strings.Fields(text) {
		if len(line)+len(word)+1 > width && strings.TrimSpace(line) != "" {
			b.WriteString(strings.TrimRight(line, " ") + "\n")
			line = indent
		}
		line += word + " "
	}
	if strings.TrimSpace(line) != "" {
		b.WriteString(strings.TrimRight(line, " ") + "\n")
	}
}
