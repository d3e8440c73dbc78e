package check

import (
	"sync/atomic"
	"testing"

	"github.com/dpdk-doctor/dpdk-doctor/host"

	"github.com/dpdk-doctor/dpdk-doctor/internal/testenv"
)

// TestGatherNoNames: on the live host Gather reads pci.ids ahead for the report's names,
// unless the caller prints none (NoNames, as ovs show does); the facts do not depend on it.
func TestGatherNoNames(t *testing.T) {
	var n atomic.Int32
	saved := readIDsAhead
	readIDsAhead = func(host.Root) { n.Add(1) }
	defer func() { readIDsAhead = saved }()
	a, err := Gather(host.Live(), Options{})
	if err != nil {
		testenv.Unavailable(t, "the live host cannot be gathered: %v", err)
	}
	if n.Load() != 1 {
		t.Fatalf("pci.ids read ahead %d times by a plain Gather, want 1", n.Load())
	}
	b, err := Gather(host.Live(), Options{NoNames: true})
	if err != nil {
		t.Fatal(err)
	}
	if n.Load() != 1 {
		t.Errorf("pci.ids read ahead with NoNames")
	}
	if len(a.Devices.List) != len(b.Devices.List) || len(a.Selected) != len(b.Selected) {
		t.Errorf("different facts: %d/%d devices, %d/%d selected", len(a.Devices.List), len(b.Devices.List), len(a.Selected), len(b.Selected))
	}
}
