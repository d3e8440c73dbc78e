package pci

import (
	"strings"
	"testing"

	"github.com/dpdk-doctor/dpdk-doctor/host"
)

// TestVirtioInterfaces: a virtio-net device's interface is under virtioN/net, not net/.
func TestVirtioInterfaces(t *testing.T) {
	r, err := host.Dir("../testdata/hosts/kvm-guest")
	if err != nil {
		t.Fatal(err)
	}
	ds, err := Read(r)
	if err != nil {
		t.Fatal(err)
	}
	for addr, want := range map[string]string{"0000:01:00.0": "enp1s0", "0000:02:00.0": "enp2s0"} {
		a, _ := ParseAddress(addr)
		if d := ds.Get(a); d == nil || strings.Join(d.Interfaces, ",") != want {
			t.Errorf("%s: %+v, want interface %s", addr, d, want)
		}
	}
}
