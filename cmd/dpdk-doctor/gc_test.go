package main

import (
	"os"
	"runtime/debug"
	"testing"
)

// TestGCPercent: without GOGC the collector's target is oneShotGCPercent (Go's default, 100,
// spent a collection on a 512-port `ovs show`); a GOGC the user sets is left alone.
func TestGCPercent(t *testing.T) {
	got := debug.SetGCPercent(oneShotGCPercent)
	if os.Getenv("GOGC") == "" && got != oneShotGCPercent {
		t.Errorf("GC target %d, want %d", got, oneShotGCPercent)
	}
}
