package top

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden .json files from testdata/*.txt")

// TestGolden parses the replies captured from the real ovs-vswitchd-dpdk (OVS 3.1; see
// TestTopGoldenCapture in cmd/dpdk-doctor) and compares with the reviewed golden JSON.
func TestGolden(t *testing.T) {
	for _, c := range []struct {
		file  string
		parse func(string) (any, error)
	}{
		{"pmd-stats-show", func(s string) (any, error) { return ParseStats(s) }},
		{"pmd-rxq-show", func(s string) (any, error) { return ParseRxqs(s) }},
		{"pmd-perf-show", func(s string) (any, error) { return ParsePerf(s) }},
		{"dpctl-show", func(s string) (any, error) { return ParseDpctl(s) }},
	} {
		text, err := os.ReadFile(filepath.Join("testdata", c.file+".txt"))
		if err != nil {
			t.Fatal(err)
		}
		v, err := c.parse(string(text))
		if err != nil {
			t.Fatalf("%s: %v", c.file, err)
		}
		got, _ := json.MarshalIndent(v, "", "  ")
		got = append(got, '\n')
		golden := filepath.Join("testdata", c.file+".json")
		if *update {
			os.WriteFile(golden, got, 0o644)
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: parsed\n%s\nwant\n%s", c.file, got, want)
		}
	}
}

const stats31 = `pmd thread numa_id 0 core_id 1:
  packets received: 6000
  packet recirculations: 0
  avg. datapath passes per packet: 1.00
  phwol hits: 0
  mfex opt hits: 0
  simple match hits: 0
  emc hits: 5990
  smc hits: 0
  megaflow hits: 9
  avg. subtable lookups per megaflow hit: 1.00
  miss with success upcall: 1
  miss with failed upcall: 0
  avg. packets per output batch: 1.00
  idle cycles: 900000000 (90.00%)
  processing cycles: 100000000 (10.00%)
  avg cycles per packet: 166666.67 (1000000000/6000)
  avg processing cycles per packet: 16666.67 (100000000/6000)
main thread:
  packets received: 0
  packet recirculations: 0
  avg. datapath passes per packet: 0.00
`

func TestParseStats(t *testing.T) {
	th, err := ParseStats(stats31)
	if err != nil {
		t.Fatal(err)
	}
	if len(th) != 2 || th[0].Core != 1 || th[0].NUMA != 0 || th[0].Stats["processing cycles"] != 1e8 || !th[1].Main {
		t.Fatalf("%+v", th)
	}
	for _, bad := range []string{"  packets received: 1\n", "pmd thread numa_id x core_id 1:\n", "pmd thread numa_id 0 core_id 1:\n  packets received: many\n", "garbage\n"} {
		if _, err := ParseStats(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestParseRxqs(t *testing.T) {
	q, err := ParseRxqs("pmd thread numa_id 0 core_id 1:\n  isolated : false\n  port: dpdk-top0        queue-id:  0 (enabled)   pmd usage:  7 %\n  port: vhu1             queue-id:  1 (disabled)  pmd usage: NOT AVAIL\n  overhead:  0 %\n")
	if err != nil {
		t.Fatal(err)
	}
	if len(q) != 2 || q[0].Port != "dpdk-top0" || q[0].Usage != 7 || !q[0].Enabled || q[1].Enabled || q[1].Usage != -1 || q[1].Queue != 1 {
		t.Fatalf("%+v", q)
	}
	if _, err := ParseRxqs("  port: x queue-id: 0\n"); err == nil {
		t.Error("queue before header: no error")
	}
}

// TestRates: 6000 packets in 3 s is 2000/s; 1e8 of 1e9 cycles busy is 10%, 1e8/6000 cycles
// per packet.
func TestRates(t *testing.T) {
	t0 := time.Unix(100, 0)
	a := &Sample{At: t0, Ports: []Port{{Name: "p", Type: "dpdk", Stats: map[string]uint64{"rx_packets": 100, "ovs_tx_mtu_exceeded_drops": 5}}},
		Threads: []Thread{{NUMA: 0, Core: 1, Stats: map[string]float64{}}}}
	th, _ := ParseStats(stats31)
	b := &Sample{At: t0.Add(3 * time.Second), Ports: []Port{{Name: "p", Type: "dpdk", Stats: map[string]uint64{"rx_packets": 6100, "ovs_tx_mtu_exceeded_drops": 605, "rx_bytes": 10}}},
		Threads: th, Rxqs: []Rxq{{NUMA: 0, Core: 1, Port: "p", Enabled: true}}}
	v := Rates(a, b)
	p := v.Ports[0]
	if p.RxPPS != 2000 || p.DropRates["ovs_tx_mtu_exceeded_drops"] != 200 || p.Drops["ovs_tx_mtu_exceeded_drops"] != 605 || len(p.Rxqs) != 1 {
		t.Errorf("%+v", p)
	}
	if len(v.PMDs) != 1 || v.PMDs[0].BusyPct != 10 || v.PMDs[0].Rxqs != 1 || v.PMDs[0].PPS != 2000 {
		t.Errorf("%+v", v.PMDs)
	}
	// A cycle counter that jumped by more than 2^63 gives no busy % or cycles per packet.
	c := *b
	c.Threads = []Thread{{NUMA: 0, Core: 1, Stats: map[string]float64{"idle cycles": 1e9, "processing cycles": 1.8e19, "packets received": 6000}}}
	if w := Rates(a, &c); w.PMDs[0].BusyPct != 0 || w.PMDs[0].CyclesPerPkt != 0 {
		t.Errorf("counter glitch: %+v", w.PMDs[0])
	}
	var buf bytes.Buffer
	v.Write(&buf, 3)
	if lines := strings.Count(buf.String(), "\n"); lines != 3 || !strings.Contains(buf.String(), "more line(s)") {
		t.Errorf("bounded to 3 lines: %d\n%s", lines, buf.String())
	}
}

func FuzzParseStats(f *testing.F) {
	f.Add(stats31)
	if b, err := os.ReadFile("testdata/pmd-stats-show.txt"); err == nil {
		f.Add(string(b))
	}
	f.Fuzz(func(t *testing.T, s string) {
		th, err := ParseStats(s)
		if err == nil {
			for _, x := range th {
				if x.Stats == nil {
					t.Fatal("nil stats")
				}
			}
		}
	})
}

func FuzzParseRxqs(f *testing.F) {
	f.Add("pmd thread numa_id 0 core_id 1:\n  port: a queue-id: 0 (enabled) pmd usage: 1 %\n")
	if b, err := os.ReadFile("testdata/pmd-rxq-show.txt"); err == nil {
		f.Add(string(b))
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := ParseRxqs(s)
		if err == nil {
			for _, x := range q {
				if x.Queue < 0 || x.Port == "" {
					t.Fatalf("%+v", x)
				}
			}
		}
	})
}

func FuzzParsePerf(f *testing.F) {
	f.Add("\nTime: 10:00:00.000\nMeasurement duration: 1.000 s\n\npmd thread numa_id 0 core_id 1:\n\n  Iterations:                 100  (1.00 us/it)\n  - Used TSC cycles:       1000  (100.0 % of total cycles)\n")
	if b, err := os.ReadFile("testdata/pmd-perf-show.txt"); err == nil {
		f.Add(string(b))
	}
	f.Fuzz(func(t *testing.T, s string) {
		ParsePerf(s)
	})
}

const dpctl31 = `netdev@ovs-netdev:
  lookups: hit:5990 missed:10 lost:0
  flows: 2
  port 0: ovs-netdev (tap)
    RX packets:0 errors:0 dropped:0 overrun:0 frame:0
    TX packets:0 errors:0 dropped:0 aborted:0 carrier:0
    collisions:0
    RX bytes:0  TX bytes:0
  port 1: dpdk-top0 (dpdk: configured_rx_queues=1, configured_rxq_descriptors=2048, mtu=2000)
    RX packets:6000 errors:0 dropped:0 overrun:? frame:?
    TX packets:0 errors:0 dropped:0 aborted:? carrier:?
    collisions:?
    RX bytes:504000 (492.2 KiB)  TX bytes:0
`

func TestParseDpctl(t *testing.T) {
	m, err := ParseDpctl(dpctl31)
	if err != nil {
		t.Fatal(err)
	}
	p := m["dpdk-top0"]
	if p["rx_packets"] != 6000 || p["rx_bytes"] != 504000 || p["tx_dropped"] != 0 || len(m) != 2 {
		t.Fatalf("%v", m)
	}
	if _, ok := p["rx_over_err"]; ok {
		t.Error("a ? counter was kept")
	}
	if _, err := ParseDpctl("  port 3:\n"); err == nil {
		t.Error("a port line without a name: no error")
	}
}

func FuzzParseDpctl(f *testing.F) {
	f.Add(dpctl31)
	f.Fuzz(func(t *testing.T, s string) {
		ParseDpctl(s)
	})
}
