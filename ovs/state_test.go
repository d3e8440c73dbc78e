package ovs

import (
	"encoding/json"
	"testing"
)

func TestDecodeSnapshot(t *testing.T) {
	st, err := DecodeSnapshot([]byte(`{"ovs_version":"3.1.0","bridges":[{"name":"br0","datapath_type":"netdev","ports":[{"name":"p","interfaces":[{"name":"p","type":"dpdk","ofport":-1}]}]}]}`))
	if err != nil || len(st.Bridges) != 1 || *st.Bridges[0].Ports[0].Interfaces[0].OFPort != -1 {
		t.Fatalf("%+v %v", st, err)
	}
	for _, bad := range []string{``, `[`, `[]`, `{"bridges":7}`, `{"bridges":[{"ports":"x"}]}`} {
		if _, err := DecodeSnapshot([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// FuzzDecodeSnapshot: whatever a tree's ovs-state.json holds, decoding it and judging it
// (findings, show, preflight) never panics.
func FuzzDecodeSnapshot(f *testing.F) {
	f.Add([]byte(`{"ovs_version":"3.1.0","dpdk_init":"true","dpdk_initialized":true,"other_config":{"pmd-cpu-mask":"0x6","dpdk-socket-mem":"1024,0"},"bridges":[{"name":"br0","datapath_type":"system","ports":[{"name":"p","interfaces":[{"name":"p","type":"dpdk","options":{"dpdk-devargs":"0000:03:00.0"},"error":"Error attaching device '0000:03:00.0' to DPDK","ofport":-1}]}],"mirrors":[{"name":"m","select_all":true,"output_port":"p","external_ids":{"dpdk-doctor":"traffic"}}]}]}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"bridges":[{"ports":[{"interfaces":[{}]}]}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := DecodeSnapshot(b)
		if err != nil {
			return
		}
		Findings(st, nil, "fuzz")
		NewShow(st, nil)
		Preflight(st, "0000:03:00.0", nil)
		if _, err := json.Marshal(st); err != nil {
			t.Fatal(err)
		}
	})
}
