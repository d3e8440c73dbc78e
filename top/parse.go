package top

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"
)

// MaxText bounds the text a parser accepts (one reply of ovs-vswitchd).
const MaxText = 16 << 20

// Thread is one datapath thread's section of pmd-stats-show: a PMD or the main thread.
type Thread struct {
	Main  bool               `json:"main"`
	NUMA  int                `json:"numa_id"` // -1 for the main thread
	Core  int                `json:"core_id"` // -1 for the main thread
	Stats map[string]float64 `json:"stats"`   // "packets received", "idle cycles", "processing cycles", ...
}

// Name is how OVS names the thread.
func (t Thread) Name() string {
	if t.Main {
		return "main"
	}
	return fmt.Sprintf("pmd numa %d core %d", t.NUMA, t.Core)
}

// parseHeader reads "pmd thread numa_id 0 core_id 1:" or "main thread:".
func parseHeader(line string) (Thread, bool, error) {
	if !strings.HasSuffix(line, ":") || strings.HasPrefix(line, " ") {
		return Thread{}, false, nil
	}
	h := strings.TrimSuffix(line, ":")
	if h == "main thread" {
		return Thread{Main: true, NUMA: -1, Core: -1, Stats: map[string]float64{}}, true, nil
	}
	var numa, core int
	if _, err := fmt.Sscanf(h, "pmd thread numa_id %d core_id %d", &numa, &core); err != nil {
		return Thread{}, false, fmt.Errorf("thread header %q: want \"pmd thread numa_id N core_id M:\"", line)
	}
	if numa < -1 || core < 0 {
		return Thread{}, false, fmt.Errorf("thread header %q: negative id", line)
	}
	return Thread{NUMA: numa, Core: core, Stats: map[string]float64{}}, true, nil
}

// ParseStats reads `ovs-appctl dpif-netdev/pmd-stats-show` text (OVS 2.x to 3.x): a header
// per thread, then "  key: number" lines, some with a percentage after the number.
func ParseStats(text string) ([]Thread, error) {
	var out []Thread
	err := eachLine(text, "pmd-stats-show", func(n int, line string) error {
		if !strings.HasPrefix(line, " ") {
			t, ok, err := parseHeader(line)
			if err != nil {
				return fmt.Errorf("pmd-stats-show line %d: %w", n, err)
			}
			if !ok {
				return fmt.Errorf("pmd-stats-show line %d: %q is neither a thread header nor an indented statistic", n, line)
			}
			out = append(out, t)
			return nil
		}
		if len(out) == 0 {
			return fmt.Errorf("pmd-stats-show line %d: a statistic before any thread header", n)
		}
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			return fmt.Errorf("pmd-stats-show line %d: %q has no \"key: value\"", n, line)
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			return fmt.Errorf("pmd-stats-show line %d: %q has no value", n, line)
		}
		x, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			return fmt.Errorf("pmd-stats-show line %d: %q: %q is not a number", n, line, f[0])
		}
		out[len(out)-1].Stats[k] = x
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Rxq is one receive queue and the thread polling it, from pmd-rxq-show.
type Rxq struct {
	NUMA    int     `json:"numa_id"`
	Core    int     `json:"core_id"`
	Port    string  `json:"port"`
	Queue   int     `json:"queue_id"`
	Enabled bool    `json:"enabled"`
	Usage   float64 `json:"pmd_usage_pct"` // -1 when OVS says NOT AVAIL
}

// ParseRxqs reads `ovs-appctl dpif-netdev/pmd-rxq-show` text: per PMD thread header, then
// "  port: NAME  queue-id: N (enabled)  pmd usage: X %" lines ("isolated", "overhead" lines
// are skipped).
func ParseRxqs(text string) ([]Rxq, error) {
	var out []Rxq
	var cur *Thread
	err := eachLine(text, "pmd-rxq-show", func(n int, line string) error {
		if !strings.HasPrefix(line, " ") {
			if !strings.HasPrefix(line, "pmd thread") {
				return nil // "Displaying last 60 seconds pmd usage %" (OVS 2.16 and later)
			}
			t, ok, err := parseHeader(line)
			if err != nil || !ok {
				return fmt.Errorf("pmd-rxq-show line %d: %q is not a PMD thread header", n, line)
			}
			cur = &t
			return nil
		}
		s := strings.TrimSpace(line)
		if !strings.HasPrefix(s, "port:") {
			return nil // isolated : false, overhead: 0 %
		}
		if cur == nil {
			return fmt.Errorf("pmd-rxq-show line %d: a queue before any thread header", n)
		}
		q := Rxq{NUMA: cur.NUMA, Core: cur.Core, Usage: -1}
		f := strings.Fields(s)
		if len(f) < 4 || f[2] != "queue-id:" {
			return fmt.Errorf("pmd-rxq-show line %d: %q: want \"port: NAME queue-id: N ...\"", n, line)
		}
		q.Port = f[1]
		id, err := strconv.Atoi(f[3])
		if err != nil || id < 0 {
			return fmt.Errorf("pmd-rxq-show line %d: queue-id %q is not a number", n, f[3])
		}
		q.Queue = id
		q.Enabled = !strings.Contains(s, "(disabled)")
		if _, u, ok := strings.Cut(s, "pmd usage:"); ok {
			uf := strings.Fields(u)
			if len(uf) > 0 {
				if x, err := strconv.ParseFloat(uf[0], 64); err == nil {
					q.Usage = x
				}
			}
		}
		out = append(out, q)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Perf is one PMD's section of pmd-perf-show: each "key: value" with the percentage in
// brackets after it when there is one (e.g. "busy iterations" and its % of used cycles).
type Perf struct {
	NUMA int                `json:"numa_id"`
	Core int                `json:"core_id"`
	Val  map[string]float64 `json:"values"`
	Pct  map[string]float64 `json:"percent"`
}

// ParsePerf reads `ovs-appctl dpif-netdev/pmd-perf-show` text. Lines before the first thread
// header (Time, Measurement duration) are skipped.
func ParsePerf(text string) ([]Perf, error) {
	var out []Perf
	err := eachLine(text, "pmd-perf-show", func(n int, line string) error {
		if strings.HasPrefix(line, "pmd thread") {
			t, ok, err := parseHeader(line)
			if err != nil || !ok {
				return fmt.Errorf("pmd-perf-show line %d: %q is not a PMD thread header", n, line)
			}
			out = append(out, Perf{NUMA: t.NUMA, Core: t.Core, Val: map[string]float64{}, Pct: map[string]float64{}})
			return nil
		}
		if len(out) == 0 || !strings.HasPrefix(line, " ") {
			return nil
		}
		s := strings.TrimPrefix(strings.TrimSpace(line), "- ")
		k, v, ok := strings.Cut(s, ":")
		if !ok {
			return nil // histogram and table lines of the detailed metrics
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			return nil
		}
		x, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			return nil
		}
		p := &out[len(out)-1]
		p.Val[k] = x
		if _, rest, ok := strings.Cut(v, "("); ok {
			if pf := strings.Fields(rest); len(pf) > 0 {
				if y, err := strconv.ParseFloat(pf[0], 64); err == nil && strings.Contains(rest, "%") {
					p.Pct[k] = y
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ParseDpctl reads `ovs-appctl dpctl/show -s` text: per datapath port, the counters the
// datapath reads live from the device (netdev_get_stats), keyed as the Interface statistics
// column keys them (rx_packets, rx_errors, rx_dropped, rx_over_err, rx_frame_err, tx_packets,
// tx_errors, tx_dropped, collisions, rx_bytes, tx_bytes). A "?" (not available) is left out.
func ParseDpctl(text string) (map[string]map[string]uint64, error) {
	if len(text) > MaxText {
		return nil, fmt.Errorf("dpctl/show: %d bytes, more than %d", len(text), MaxText)
	}
	out := map[string]map[string]uint64{}
	var cur map[string]uint64
	names := map[string]map[string]string{
		"RX": {"packets": "rx_packets", "errors": "rx_errors", "dropped": "rx_dropped", "overrun": "rx_over_err", "overruns": "rx_over_err", "frame": "rx_frame_err", "bytes": "rx_bytes"},
		"TX": {"packets": "tx_packets", "errors": "tx_errors", "dropped": "tx_dropped", "aborted": "tx_aborted_errors", "carrier": "tx_carrier_errors", "bytes": "tx_bytes"},
	}
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 4096), MaxText)
	for n := 1; sc.Scan(); n++ {
		s := strings.TrimSpace(sc.Text())
		if rest, ok := strings.CutPrefix(s, "port "); ok {
			_, after, ok := strings.Cut(rest, ": ")
			f := strings.Fields(after)
			if !ok || len(f) == 0 {
				return nil, fmt.Errorf("dpctl/show line %d: %q: want \"port N: NAME (TYPE...)\"", n, s)
			}
			cur = map[string]uint64{}
			out[f[0]] = cur
			continue
		}
		if cur == nil {
			continue // the datapath's own lines
		}
		dir := ""
		for _, f := range strings.Fields(s) {
			if f == "RX" || f == "TX" {
				dir = f
				continue
			}
			k, v, ok := strings.Cut(f, ":")
			if !ok || v == "?" || v == "" {
				continue
			}
			x, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				continue // "(1.2 KiB)" after a byte count
			}
			if k == "collisions" {
				cur["collisions"] = x
			} else if key, ok := names[dir][k]; ok {
				cur[key] = x
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("dpctl/show: %w", err)
	}
	return out, nil
}

// eachLine hands each non-blank line of an ovs-appctl answer (what names the command) to each,
// with its 1-based number and trailing blanks cut, after checking the answer's size.
func eachLine(text, what string, each func(n int, line string) error) error {
	if len(text) > MaxText {
		return fmt.Errorf("%s: %d bytes, more than %d", what, len(text), MaxText)
	}
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 4096), MaxText)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), " \t\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		if err := each(n, line); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}
