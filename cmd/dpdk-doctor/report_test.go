package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReportHTML writes the demo's page through the command: exit 1 (the X520 fails), the file is
// one HTML document naming the locked X520; without --html it is a usage error.
func TestReportHTML(t *testing.T) {
	out := filepath.Join(t.TempDir(), "r.html")
	_, stderr, code := runBin(t, "report", "--demo", "--html", out)
	if code != 1 {
		t.Fatalf("exit %d, want 1 (the demo fails); stderr %s", code, stderr)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{"<!DOCTYPE html>", `id="dev-0000:03:00.0"`, `data-rmrr="locked"`, "IOMMU group 14", "slot 2", "dpdk-doctor fix rmrr 0000:03:00.0"} {
		if !strings.Contains(s, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if _, stderr, code := runBin(t, "report", "--demo"); code != 2 || !strings.Contains(stderr, "--html FILE is required") {
		t.Errorf("without --html: exit %d, stderr %q; want 2 and a usage message", code, stderr)
	}
	if _, stderr, code := runBin(t, "report", "--demo", "--html", filepath.Join(t.TempDir(), "no", "such", "dir", "r.html")); code != 2 || !strings.Contains(stderr, "--html") {
		t.Errorf("unwritable --html: exit %d, stderr %q; want 2 naming --html", code, stderr)
	}
	if entries, _ := os.ReadDir(filepath.Dir(out)); len(entries) != 1 {
		t.Errorf("left temporary files beside the report: %v", entries)
	}
}
