package ovs

import "testing"

// TestSnapshotRoundTrip: what Snapshot writes, DecodeSnapshot reads back.
func TestSnapshotRoundTrip(t *testing.T) {
	port := 3
	st := &State{Bridges: []Bridge{{Name: "br0", DatapathType: "netdev", Ports: []Port{{Name: "dpdk0",
		Interfaces: []Interface{{Name: "dpdk0", Type: "dpdk", OFPort: &port, Error: "Error attaching device '0000:03:00.0' to DPDK"}}}}}}}
	f, err := Snapshot(st)
	if err != nil {
		t.Fatal(err)
	}
	if f.Path != SnapshotFile {
		t.Errorf("path %q", f.Path)
	}
	got, err := DecodeSnapshot(f.Data)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Bridges) != 1 || got.Bridges[0].Ports[0].Interfaces[0].Error != st.Bridges[0].Ports[0].Interfaces[0].Error {
		t.Errorf("round trip: %+v", got)
	}
}
