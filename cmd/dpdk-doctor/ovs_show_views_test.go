package main

import (
	"strings"
	"testing"
)

// TestOVSShowDemoSeedLines: the demo's `ovs show` carries the seed's own Controller,
// is_connected and fail_mode lines and its 2.9 quoting; --plain drops our explanation lines,
// which otherwise start with "=> ".
func TestOVSShowDemoSeedLines(t *testing.T) {
	full, stderr, code := runBin(t, "ovs", "show", "--demo")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	plain, stderr, code := runBin(t, "ovs", "show", "--demo", "--plain")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, l := range []string{"    Bridge br-provider", `        Controller "tcp:127.0.0.1:6633"`, "            is_connected: true",
		"        fail_mode: secure", `        Port "dpdk-p0"`, `                options: {dpdk-devargs="0000:03:00.0"}`, `    ovs_version: "2.9.0"`} {
		if !strings.Contains(plain, l+"\n") || !strings.Contains(full, l+"\n") {
			t.Errorf("no line %q in\n%s", l, plain)
		}
	}
	if strings.Contains(plain, "=> ") || !strings.Contains(full, "=> cause: ") {
		t.Errorf("explanations: plain\n%s\nfull\n%s", plain, full)
	}
}
