package ovs_test

import (
	"fmt"
	"io"
	"testing"

	"github.com/dpdk-doctor/dpdk-doctor/check"
	"github.com/dpdk-doctor/dpdk-doctor/host"
	"github.com/dpdk-doctor/dpdk-doctor/ovs"
)

// speedState is the state TestPairedSpeed writes: one netdev bridge with n ports, half
// type=internal, half type=dpdk on 0000:99:00.x with the error vswitchd writes for them.
func speedState(n int) *ovs.State {
	st := &ovs.State{UUID: "34cebcb8-15f6-442f-9725-d9ea3a13b216", OVSVersion: "3.1.0", DPDKInit: "true", DPDKInitialized: true}
	b := ovs.Bridge{Name: "br-speed", DatapathType: "netdev"}
	b.Ports = append(b.Ports, ovs.Port{Name: "br-speed", Interfaces: []ovs.Interface{{Name: "br-speed", Type: "internal"}}})
	for i := range n {
		p := fmt.Sprintf("p%d", i)
		ifc := ovs.Interface{Name: p, Type: "internal"}
		if i%2 == 1 {
			addr := fmt.Sprintf("0000:99:00.%d", i%8)
			port := -1
			ifc = ovs.Interface{Name: p, Type: "dpdk", Options: map[string]string{"dpdk-devargs": addr},
				Error: "Error attaching device '" + addr + "' to DPDK", OFPort: &port}
		}
		b.Ports = append(b.Ports, ovs.Port{Name: p, Interfaces: []ovs.Interface{ifc}})
	}
	st.Bridges = []ovs.Bridge{b}
	return st
}

// BenchmarkExplainShow512 explains and prints speedState(512) with a tree's facts: the part
// of `ovs show` after the read.
func BenchmarkExplainShow512(b *testing.B) {
	r, err := host.Dir("../testdata/hosts/dl360e-gen8")
	if err != nil {
		b.Fatal(err)
	}
	f, err := check.Gather(r, check.Options{})
	if err != nil {
		b.Fatal(err)
	}
	st := speedState(512)
	b.ReportAllocs()
	for b.Loop() {
		if err := ovs.NewShow(st, f).WriteText(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}
