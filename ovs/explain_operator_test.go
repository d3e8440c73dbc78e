package ovs

import (
	"strings"
	"testing"
)

// TestExplainRemediesFitTheHost: conrep's `fix rmrr` only on a ProLiant, and no unbind recipe
// for a dpdk-devargs device whose interface the host uses.
func TestExplainRemediesFitTheHost(t *testing.T) {
	attach := func(a string) *Interface {
		return &Interface{Name: "dpdk0", Type: "dpdk", Options: map[string]string{"dpdk-devargs": a}, Error: "Error attaching device '" + a + "' to DPDK"}
	}
	e := Explain(&State{}, nil, attach("0000:07:00.0"), facts(t, "bridge-scope")) // Supermicro, slot 4
	if r := strings.Join(e.Remedy, "\n"); !strings.Contains(e.Cause, "RMRR-locked") || strings.Contains(r, "fix rmrr") {
		t.Errorf("Supermicro: %s\n%s", e.Cause, r)
	}
	e = Explain(&State{}, nil, attach("0000:03:00.0"), facts(t, "dl380p-gen8-hewlett-packard"))
	if r := strings.Join(e.Remedy, "\n"); !strings.Contains(r, "dpdk-doctor fix rmrr 0000:03:00.0") {
		t.Errorf("Hewlett-Packard Company ProLiant: %s", r)
	}
	e = Explain(&State{}, nil, attach("0000:02:00.1"), facts(t, "shared-group")) // ens1f1: the uplink
	r := strings.Join(e.Remedy, "\n")
	if !strings.Contains(r, "WARNING: ens1f1 carries the default route") || strings.Contains(r, "dpdk-devbind") || strings.Contains(r, "ip link set") {
		t.Errorf("uplink as dpdk-devargs: %s", r)
	}
}
