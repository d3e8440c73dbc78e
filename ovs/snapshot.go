package ovs

import (
	"encoding/json"
	"fmt"

	"github.com/dpdk-doctor/dpdk-doctor/host"
)

// Snapshot encodes st as the file a captured tree carries at SnapshotFile, which ReadSnapshot
// reads back for --root.
func Snapshot(st *State) (host.File, error) {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return host.File{}, fmt.Errorf("the OVS snapshot: %w", err)
	}
	return host.File{Path: SnapshotFile, Data: b}, nil
}
