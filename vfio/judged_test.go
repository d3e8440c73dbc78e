package vfio

import (
	"strings"
	"testing"

	"github.com/dpdk-doctor/dpdk-doctor/dmar"
	"github.com/dpdk-doctor/dpdk-doctor/verdict"
)

// TestJudgedFindingReadsTheVerdict: a refusal of a locked device carries the verdict's
// remedies; an answer that contradicts the verdict says so.
func TestJudgedFindingReadsTheVerdict(t *testing.T) {
	locked := &verdict.Device{Lock: verdict.Lock{Kind: verdict.IVMD, State: dmar.Locked},
		Remedies: []verdict.Remedy{{ID: "bios-option", Text: "# Kernel DMA Protection Indicator"}}}
	clear := &verdict.Device{Lock: verdict.Lock{Kind: verdict.RMRR, State: dmar.Clear}}
	refused := Result{Device: "0000:41:00.0", Outcome: Refused, Error: "EINVAL"}
	attached := Result{Device: "0000:41:00.0", Outcome: Attached}
	f, ok := JudgedFinding(refused, locked)
	if !ok || !strings.Contains(strings.Join(f.Remedy, "\n"), "Kernel DMA Protection Indicator") {
		t.Errorf("refused and locked: %v %q", ok, f.Remedy)
	}
	if f, _ := JudgedFinding(refused, clear); !strings.Contains(f.Explanation, "predicted no RMRR lock") {
		t.Errorf("refused but predicted clear: %q", f.Explanation)
	}
	if f, _ := JudgedFinding(attached, locked); !strings.Contains(f.Explanation, "but the kernel attached it") {
		t.Errorf("attached but predicted locked: %q", f.Explanation)
	}
	if f, _ := JudgedFinding(attached, clear); f.Explanation != "" {
		t.Errorf("attached and clear: %q", f.Explanation)
	}
}
