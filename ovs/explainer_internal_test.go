package ovs

import (
	"fmt"
	"reflect"
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
