// Package metrics turns a check's result into the Prometheus text exposition format, for
// node_exporter's textfile collector: every metric with HELP and TYPE, names prefixed
// dpdk_doctor_, label values escaped, and the file replaced atomically so that a scrape never
// sees half of it.
package metrics

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/dpdk-doctor/dpdk-doctor/check"
	"github.com/dpdk-doctor/dpdk-doctor/dmar"
	"github.com/dpdk-doctor/dpdk-doctor/ovs"
)

// FileName is the file WriteFile writes in the collector's directory.
const FileName = "dpdk_doctor.prom"

// Input is what the metrics are made from: one check run.
type Input struct {
	Facts    *check.Facts
	Findings []check.Finding
	OVS      *ovs.State // nil when there is no OVS to look at
	Version  string     // the dpdk-doctor version, for dpdk_doctor_info
	Time     time.Time  // when the check ran
}

// metric is one metric family being written: its samples, in order.
type metric struct {
	name, help, typ string
	samples         []sample
}

type sample struct {
	labels []string // name, value, name, value, ...
	value  float64
}

func (m *metric) add(v float64, labels ...string) {
	m.samples = append(m.samples, sample{labels: labels, value: v})
}

// Families returns the metric families of in, in the order they are written.
func families(in Input) []*metric {
	f := in.Facts
	info := &metric{name: "dpdk_doctor_info", typ: "gauge",
		help: "Always 1; the version label says which dpdk-doctor wrote this file."}
	info.add(1, "version", in.Version)

	last := &metric{name: "dpdk_doctor_last_run_timestamp_seconds", typ: "gauge",
		help: "When the check that wrote this file ran, in seconds since the Unix epoch."}
	last.add(float64(in.Time.UnixMilli()) / 1000)

	counts := &metric{name: "dpdk_doctor_findings", typ: "gauge",
		help: "Number of findings of the last check, by severity (ok, warn, fail)."}
	n := map[check.Severity]int{}
	for _, fd := range in.Findings {
		n[fd.Severity]++
	}
	for _, s := range []check.Severity{check.OK, check.Warn, check.Fail} {
		counts.add(float64(n[s]), "severity", string(s))
	}

	// One series per finding; the same id, subject and severity twice (it should not happen)
	// is counted, never written as a duplicate series.
	finding := &metric{name: "dpdk_doctor_finding", typ: "gauge",
		help: "A finding of the last check: its id, subject and severity; the value is how many such findings there are (1)."}
	type key struct{ id, subject, severity string }
	seen := map[key]int{}
	var order []key
	for _, fd := range in.Findings {
		k := key{fd.ID, fd.Subject, string(fd.Severity)}
		if seen[k] == 0 {
			order = append(order, k)
		}
		seen[k]++
	}
	for _, k := range order {
		finding.add(float64(seen[k]), "id", k.id, "subject", k.subject, "severity", k.severity)
	}

	ready := &metric{name: "dpdk_doctor_device_ready", typ: "gauge",
		help: "1 when a judged PCI device is bound to a DPDK driver, not RMRR-locked and has no failing finding; else 0."}
	rmrr := &metric{name: "dpdk_doctor_device_rmrr_locked", typ: "gauge",
		help: "1 when the firmware's RMRRs lock a judged PCI device out of VFIO; state is locked, relaxable, clear or unknown."}
	failing := map[string]bool{}
	for _, fd := range in.Findings {
		if fd.Severity == check.Fail {
			failing[fd.Subject] = true
		}
	}
	if f != nil {
		for _, d := range f.Selected {
			addr := d.Address.String()
			state := f.RMRR[d.Address].State
			if state == "" {
				state = dmar.Unknown
			}
			locked := state == dmar.Locked
			ok := check.IsDPDKDriver(d.Driver) && !locked && !failing[addr]
			ready.add(b2f(ok), "device", addr, "driver", d.Driver, "slot", d.Slot)
			rmrr.add(b2f(locked), "device", addr, "state", string(state))
		}
	}

	free := &metric{name: "dpdk_doctor_hugepages_free_pages", typ: "gauge",
		help: "Free huge pages per NUMA node and page size."}
	reserved := &metric{name: "dpdk_doctor_hugepages_reserved_pages", typ: "gauge",
		help: "Reserved (nr_hugepages) huge pages per NUMA node and page size."}
	hostFree := &metric{name: "dpdk_doctor_hugepages_host_free_pages", typ: "gauge",
		help: "Free huge pages on the whole host, per page size."}
	hostReserved := &metric{name: "dpdk_doctor_hugepages_host_reserved_pages", typ: "gauge",
		help: "Reserved (nr_hugepages) huge pages on the whole host, per page size."}
	if f != nil {
		for _, p := range f.Hugepages.Pools {
			size := strconv.FormatUint(p.SizeKB, 10) + "kB"
			if p.Node < 0 {
				hostFree.add(float64(p.Free), "size", size)
				hostReserved.add(float64(p.Total), "size", size)
				continue
			}
			node := strconv.Itoa(p.Node)
			free.add(float64(p.Free), "node", node, "size", size)
			reserved.add(float64(p.Total), "node", node, "size", size)
		}
	}

	ifErr := &metric{name: "dpdk_doctor_ovs_interface_error", typ: "gauge",
		help: "1 for each Open vSwitch Interface whose error column is set; the error label holds the message."}
	if in.OVS != nil {
		type k struct{ b, p, i string }
		done := map[k]bool{}
		for _, b := range in.OVS.Bridges {
			for _, p := range b.Ports {
				for _, i := range p.Interfaces {
					if i.Error == "" || done[k{b.Name, p.Name, i.Name}] {
						continue
					}
					done[k{b.Name, p.Name, i.Name}] = true
					ifErr.add(1, "bridge", b.Name, "port", p.Name, "interface", i.Name, "type", i.Type, "error", i.Error)
				}
			}
		}
	}
	return []*metric{info, last, counts, finding, ready, rmrr, free, reserved, hostFree, hostReserved, ifErr}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Write writes in's metrics to w in the Prometheus text exposition format (version 0.0.4).
func Write(w io.Writer, in Input) error {
	bw := bufio.NewWriter(w)
	for _, m := range families(in) {
		fmt.Fprintf(bw, "# HELP %s %s\n# TYPE %s %s\n", m.name, escapeHelp(m.help), m.name, m.typ)
		for _, s := range m.samples {
			bw.WriteString(m.name)
			if len(s.labels) > 0 {
				bw.WriteByte('{')
				for i := 0; i < len(s.labels); i += 2 {
					if i > 0 {
						bw.WriteByte(',')
					}
					bw.WriteString(s.labels[i])
					bw.WriteString(`="`)
					bw.WriteString(EscapeLabel(s.labels[i+1]))
					bw.WriteByte('"')
				}
				bw.WriteByte('}')
			}
			bw.WriteByte(' ')
			bw.WriteString(strconv.FormatFloat(s.value, 'f', -1, 64))
			bw.WriteByte('\n')
		}
	}
	return bw.Flush()
}

var (
	labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
)

// EscapeLabel escapes a label value for the text format: backslash, double quote and line feed.
func EscapeLabel(s string) string { return labelEscaper.Replace(s) }

func escapeHelp(s string) string { return helpEscaper.Replace(s) }

// WriteFile writes in's metrics to dir/dpdk_doctor.prom the way the textfile collector needs it:
// into a temporary file in the same directory (whose name does not end in .prom, so the
// collector ignores it), synced, then renamed over the old file. On any error the old file is
// left as it was and the temporary file is removed.
func WriteFile(dir string, in Input) (err error) {
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("textfile directory: %w", err)
	}
	if !st.IsDir() {
		return fmt.Errorf("textfile directory %s: not a directory", dir)
	}
	tmp, err := os.CreateTemp(dir, "."+FileName+".*.tmp")
	if err != nil {
		return fmt.Errorf("textfile directory: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err = Write(tmp, in); err != nil {
		return fmt.Errorf("writing %s: %w", tmp.Name(), err)
	}
	// node_exporter runs as its own user: the file must be readable by others, not 0600.
	if err = tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("writing %s: %w", tmp.Name(), err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("writing %s: %w", tmp.Name(), err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", tmp.Name(), err)
	}
	dst := filepath.Join(dir, FileName)
	if err = os.Rename(tmp.Name(), dst); err != nil {
		return fmt.Errorf("replacing %s: %w", dst, err)
	}
	return nil
}

// Names returns the names of every metric family Write writes, sorted: the contract.
func Names() []string {
	var out []string
	for _, m := range families(Input{}) {
		out = append(out, m.name)
	}
	sort.Strings(out)
	return out
}
