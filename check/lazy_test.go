package check

import (
	"path/filepath"
	"reflect"
	"testing"

	"github.com/dpdk-doctor/dpdk-doctor/host"
)

// TestLazyJudgesAlike holds Options.Lazy to its promise on every fixture tree: the kernel log,
// the interfaces' use and vfio-pci's availability are left unread until something asks for a
// verdict, and the verdict then computed is the one an eager Gather computes, device by
// device, with the same log, events, interfaces, IOMMU facts and findings.
func TestLazyJudgesAlike(t *testing.T) {
	trees, _ := filepath.Glob("../testdata/hosts/*")
	if len(trees) < 10 {
		t.Fatalf("%d test trees, want the fixtures", len(trees))
	}
	withLog := 0
	for _, tree := range trees {
		r, err := host.Dir(tree)
		if err != nil {
			t.Fatal(err)
		}
		eager, err := Gather(r, Options{})
		if err != nil {
			t.Fatalf("%s: %v", tree, err)
		}
		lazy, err := Gather(r, Options{Lazy: true})
		if err != nil {
			t.Fatalf("%s lazily: %v", tree, err)
		}
		if lazy.Verdict != nil || lazy.Log != nil || lazy.LogSource != "" || lazy.Net != nil || lazy.IOMMU.VFIOKernel != "" {
			t.Fatalf("%s: the lazy facts were judged before anything asked (log source %q)", tree, lazy.LogSource)
		}
		for _, d := range eager.Devices.List {
			got, want := lazy.Judged(lazy.Devices.Get(d.Address)), eager.Judged(d)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s %s: lazily %+v, eagerly %+v", tree, d.Address, *got, *want)
			}
		}
		if !reflect.DeepEqual(lazy.Events, eager.Events) || len(lazy.Log) != len(eager.Log) || lazy.LogSource != eager.LogSource {
			t.Errorf("%s: lazily %d lines, %d events from %q; eagerly %d, %d from %q", tree, len(lazy.Log), len(lazy.Events), lazy.LogSource, len(eager.Log), len(eager.Events), eager.LogSource)
		}
		if !reflect.DeepEqual(lazy.IOMMU, eager.IOMMU) {
			t.Errorf("%s: lazily IOMMU %+v, eagerly %+v", tree, lazy.IOMMU, eager.IOMMU)
		}
		if !reflect.DeepEqual(lazy.Net, eager.Net) || (lazy.NetErr == nil) != (eager.NetErr == nil) {
			t.Errorf("%s: lazily interfaces %+v (%v), eagerly %+v (%v)", tree, lazy.Net, lazy.NetErr, eager.Net, eager.NetErr)
		}
		if !reflect.DeepEqual(lazy.RMRR, eager.RMRR) || !reflect.DeepEqual(Run(lazy), Run(eager)) {
			t.Errorf("%s: the RMRR views or the findings differ", tree)
		}
		// Asked first for an interface's use (fix bind's question), lazy facts judge first too.
		lazy2, err := Gather(r, Options{Lazy: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range eager.Devices.List {
			if got, want := lazy2.Uses(lazy2.Devices.Get(d.Address)), eager.Uses(d); !reflect.DeepEqual(got, want) {
				t.Errorf("%s %s: lazily used %+v, eagerly %+v", tree, d.Address, got, want)
			}
		}
		if lazy2.Verdict == nil {
			t.Errorf("%s: Uses did not judge", tree)
		}
		if len(eager.Events) > 0 {
			withLog++
		}
	}
	if withLog == 0 {
		t.Fatal("no tree has kernel log events: the comparison proved nothing about the log")
	}
}
