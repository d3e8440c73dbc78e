package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckTextfile: check --textfile writes the metrics file and prints nothing, keeps exit code
// 1 for failures, prints JSON as well with --json, and names a bad directory with exit 2.
func TestCheckTextfile(t *testing.T) {
	dir := t.TempDir()
	out, errOut, code := runBin(t, "check", "--demo", "--textfile", dir)
	if code != 1 || out != "" {
		t.Fatalf("exit %d (want 1: the demo fails), stdout %q, stderr %q", code, out, errOut)
	}
	b, err := os.ReadFile(filepath.Join(dir, "dpdk_doctor.prom"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{
		`dpdk_doctor_findings{severity="fail"} 4`,
		`dpdk_doctor_device_rmrr_locked{device="0000:03:00.0",state="locked"} 1`,
		`dpdk_doctor_ovs_interface_error{bridge="br-provider",port="dpdk-p0"`,
		`dpdk_doctor_info{version="`,
	} {
		if !strings.Contains(string(b), s) {
			t.Errorf("metrics lack %s", s)
		}
	}
	out, _, code = runBin(t, "check", "--demo", "--textfile", dir, "--json")
	var doc map[string]any
	if code != 1 || json.Unmarshal([]byte(out), &doc) != nil || doc["findings"] == nil {
		t.Errorf("--textfile --json: exit %d, stdout not the JSON document: %.200s", code, out)
	}
	_, errOut, code = runBin(t, "check", "--demo", "--textfile", filepath.Join(dir, "missing"))
	if code != 2 || !strings.Contains(errOut, "missing") {
		t.Errorf("missing directory: exit %d, stderr %q", code, errOut)
	}
}
