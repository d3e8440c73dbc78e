package ovs

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/dpdk-doctor/dpdk-doctor/check"
	"github.com/dpdk-doctor/dpdk-doctor/host"
)

// TestExplainerShares: NewShow and Findings work out the verdict on a device once for all the
// ports whose error names it, and each interface's explanation is still exactly what Explain
// gives it alone (the interface's own log lines included); appending to one interface's
// remedies does not change another's.
func TestExplainerShares(t *testing.T) {
	r, err := host.Dir("../testdata/hosts/dl360e-gen8")
	if err != nil {
		t.Fatal(err)
	}
	f, err := check.Gather(r, check.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b := Bridge{Name: "br0", DatapathType: "netdev"}
	// 0000:03:00.0 is RMRR-locked (remedies from check), 0000:99:00.0 is not there; the
	// vdev's entry reads the interface, so it is explained per interface.
	devs := []string{"0000:03:00.0", "0000:99:00.0", "0000:03:00.0,n_rxq=2", "net_af_packet0,iface=nope"}
	for k := range 40 {
		d := devs[k%len(devs)]
		name := fmt.Sprintf("dpdk%d", k)
		b.Ports = append(b.Ports, Port{Name: name, Interfaces: []Interface{{Name: name, Type: "dpdk",
			Options: map[string]string{"dpdk-devargs": d}, Error: "Error attaching device '" + d + "' to DPDK"}}})
	}
	st := &State{OVSVersion: "3.1.0", DPDKInit: "true", DPDKInitialized: true, Bridges: []Bridge{b}}

	pci := &Catalog[0]
	if !pci.hostOnly {
		t.Fatal("the PCI attach entry is not hostOnly")
	}
	calls := 0
	real := pci.explain
	pci.explain = func(c *errCtx, m []string) { calls++; real(c, m) }
	defer func() { pci.explain = real }()

	s := NewShow(st, f)
	if calls != 3 { // three distinct PCI devargs texts
		t.Errorf("the PCI entry ran %d times for 30 interfaces with 3 distinct errors, want 3", calls)
	}
	var got []*Explanation
	for _, sp := range s.Bridges[0].Ports {
		got = append(got, sp.Interfaces[0].Explanation)
	}
	calls = 0
	for k := range b.Ports {
		want := Explain(st, &st.Bridges[0], &st.Bridges[0].Ports[k].Interfaces[0], f)
		if !reflect.DeepEqual(got[k], want) {
			t.Errorf("%s: shared %+v\nalone %+v", b.Ports[k].Name, got[k], want)
		}
	}
	if calls != 30 {
		t.Errorf("Explain alone ran the entry %d times, want 30", calls)
	}
	if len(got[0].Remedy) == 0 {
		t.Fatalf("no remedy for the RMRR-locked device: %+v", got[0])
	}
	before := append([]string(nil), got[4].Remedy...)
	got[0].Remedy = append(got[0].Remedy, "mine")
	if !reflect.DeepEqual(got[4].Remedy, before) {
		t.Errorf("an append to one interface's remedies changed another's: %q", got[4].Remedy)
	}
	calls = 0
	Findings(st, f, "test")
	if calls != 3 {
		t.Errorf("Findings ran the PCI entry %d times, want 3", calls)
	}
}

// TestPreloadLog: the log PreloadLog reads ahead (ovs show, while it gathers the facts) is the
// one the first facts of that root explain with; facts made after them read the log again.
func TestPreloadLog(t *testing.T) {
	dir := t.TempDir()
	logf := filepath.Join(dir, host.OVSLog)
	os.MkdirAll(filepath.Dir(logf), 0o755)
	os.MkdirAll(filepath.Join(dir, "sys"), 0o755)
	line := "2026-11-26T14:00:00.004Z|00013|dpdk|ERR|EAL: Driver cannot attach the device (0000:03:00.0)\n"
	if err := os.WriteFile(logf, []byte(line), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := host.Dir(dir)
	if err != nil {
		t.Fatal(err)
	}
	PreloadLog(r)
	logCache.Lock()
	pre := logCache.pre
	logCache.Unlock()
	<-pre.done
	os.Remove(logf) // what is explained now comes from the read ahead
	i := &Interface{Name: "dpdk-p0", Type: "dpdk", Options: map[string]string{"dpdk-devargs": "0000:03:00.0"}, Error: "Error attaching device '0000:03:00.0' to DPDK"}
	f := facts(t, "dl360e-gen8")
	f.Root = r
	if e := Explain(up(), nil, i, f); len(e.Log) != 1 || !strings.Contains(e.Log[0], "Driver cannot attach") {
		t.Errorf("with the preloaded log: %q", e.Log)
	}
	g := facts(t, "dl360e-gen8")
	g.Root = r
	if e := Explain(up(), nil, i, g); len(e.Log) != 0 {
		t.Errorf("new facts read the (now removed) log again, got %q", e.Log)
	}
}
