package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestProbeRefusesTreesAndBadInput(t *testing.T) {
	for _, args := range [][]string{
		{"probe", "--demo", "0000:03:00.0"},
		{"probe", "--root", tree("dl360e-gen8"), "0000:03:00.0"},
		{"probe", "not-an-address"},
		{"probe"},
		{"probe", "0000:7f:1f.7"}, // no such device here
	} {
		_, stderr, code := runBin(t, args...)
		if code != 2 || stderr == "" {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 with a message", args, code, stderr)
		}
	}
	_, stderr, _ := runBin(t, "probe", "--demo", "0000:03:00.0")
	if !strings.Contains(stderr, "running kernel") {
		t.Errorf("--demo refusal does not say why: %q", stderr)
	}
}

func TestCheckProbeOnTreeSaysNotProbed(t *testing.T) {
	out, _, _ := runBin(t, "check", "--demo", "--probe", "--json")
	var rep struct {
		Findings []struct{ ID, Severity, Summary string }
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("check --json: %v\n%s", err, out)
	}
	found := false
	for _, f := range rep.Findings {
		if f.ID == "device.probe" {
			found = true
			if !strings.Contains(f.Summary, "not probed") {
				t.Errorf("device.probe on the demo: %q", f.Summary)
			}
		}
	}
	if !found {
		t.Error("check --probe added no device.probe finding")
	}
	// Without --probe the OVS hook still works and no probe is added.
	out, _, _ = runBin(t, "check", "--demo", "--json")
	if strings.Contains(out, "device.probe") {
		t.Error("device.probe without --probe")
	}
}
