package verdict_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dpdk-doctor/dpdk-doctor/check"
	"github.com/dpdk-doctor/dpdk-doctor/dmar"
	"github.com/dpdk-doctor/dpdk-doctor/host"
	"github.com/dpdk-doctor/dpdk-doctor/internal/agree"
	"github.com/dpdk-doctor/dpdk-doctor/internal/testhost"
	"github.com/dpdk-doctor/dpdk-doctor/pci"
	"github.com/dpdk-doctor/dpdk-doctor/verdict"
)

// gather reads a test tree with every device named, so that check judges each of them.
func gather(t *testing.T, tree string) *check.Facts {
	t.Helper()
	r, err := host.Dir(filepath.Join("..", "testdata", "hosts", tree))
	if err != nil {
		t.Fatal(err)
	}
	f, err := check.Gather(r, check.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var all []pci.Address
	for _, d := range f.Devices.List {
		all = append(all, d.Address)
	}
	if f, err = check.Gather(r, check.Options{Devices: all}); err != nil {
		t.Fatal(err)
	}
	return f
}

// agreeWith checks that every reader's answer follows the verdict x.
func agreeWith(t *testing.T, tree string, x *verdict.Device, ans agree.Answers) {
	t.Helper()
	for _, d := range agree.Disagreements(x, ans) {
		t.Errorf("%s %s: %s", tree, x.Device.Address, d)
	}
}

func ask(t *testing.T, f *check.Facts, d *pci.Device) agree.Answers {
	t.Helper()
	return agree.Ask(f, d, t.TempDir())
}

// TestReadersAgree: on every device of every test tree, check's device.rmrr, the devices rmrr
// column, the OVS explanation of a failing dpdk port on the device and fix rmrr's plan all give
// the verdict's answer.
func TestReadersAgree(t *testing.T) {
	n := 0
	for _, tree := range testhost.Names {
		f := gather(t, tree)
		for _, d := range f.Devices.List {
			agreeWith(t, tree, f.Judged(d), ask(t, f, d))
			n++
		}
	}
	if n < 50 {
		t.Fatalf("only %d devices judged", n)
	}
}

// TestReadersDoNotRecompute changes the verdict after Gather, both ways, and checks that every
// reader follows it: one that decided again from the host's facts would not. The whole IOMMU
// group is changed at once, as the verdict locks groups whole (VFIO takes whole groups).
func TestReadersDoNotRecompute(t *testing.T) {
	for _, tree := range []string{"dl360e-gen8", "bridge-scope", "amd-ivmd-6.12", "amd-ivmd-6.1", "shared-group"} {
		f := gather(t, tree)
		for _, d := range f.Devices.List {
			lock := !f.Judged(d).Lock.Locked()
			group := []*pci.Device{d}
			if d.IOMMUGroup >= 0 {
				group = f.Devices.Group(d.IOMMUGroup)
			}
			was := map[pci.Address]*verdict.Device{}
			for _, m := range group {
				was[m.Address] = f.Judged(m)
				f.Verdict.Devices[m.Address] = tamper(f.Verdict.Host, f.Judged(m), lock)
			}
			agreeWith(t, tree+" (tampered)", f.Judged(d), ask(t, f, d))
			for a, x := range was {
				f.Verdict.Devices[a] = x
			}
		}
	}
}

// tamper returns a copy of x locked or cleared, with the remedies and bindability to match.
func tamper(h verdict.Host, x *verdict.Device, lock bool) *verdict.Device {
	flip := *x
	flip.BindWhyNot = nil
	for _, w := range x.BindWhyNot {
		if !strings.Contains(w, " locks it") {
			flip.BindWhyNot = append(flip.BindWhyNot, w)
		}
	}
	if lock {
		flip.Lock.State = dmar.Locked
		flip.Remedies = []verdict.Remedy{{ID: "move-slot", Text: "# or move it"}}
		flip.Conrep, flip.ConrepWhyNot = false, "tampered"
		flip.BindWhyNot = append(flip.BindWhyNot, "an "+x.Lock.Kind+" locks it (tampered)")
	} else {
		flip.Lock.State, flip.Remedies, flip.Conrep = dmar.Clear, nil, false
		flip.Lock.Regions, flip.Lock.Logged = nil, nil
	}
	flip.Bindable = len(flip.BindWhyNot) == 0 && h.VFIO && !x.Active
	return &flip
}

// TestReadersAgreeWithoutDMAR: with no DMAR table to read (the first reproduction),
// the kernel's word alone locks the NIC, and check, devices, ovs and fix rmrr still agree:
// check offers no `fix rmrr` (no table says which RMRR) and fix rmrr says it cannot tell,
// never "nothing to fix".
func TestReadersAgreeWithoutDMAR(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tree")
	if err := os.CopyFS(dir, os.DirFS(filepath.Join("..", "testdata", "hosts", "dl360e-gen8"))); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "sys/firmware/acpi/tables/DMAR")); err != nil {
		t.Fatal(err)
	}
	r, err := host.Dir(dir)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := pci.ParseAddress("0000:03:00.0")
	f, err := check.Gather(r, check.Options{Devices: []pci.Address{a}})
	if err != nil {
		t.Fatal(err)
	}
	d := f.Devices.Get(a)
	x := f.Judged(d)
	if !x.Lock.Locked() || x.Conrep {
		t.Fatalf("the kernel log's refusal: want locked, without conrep (no table says which RMRR), got %s conrep=%v (%s)", x.Lock.State, x.Conrep, x.ConrepWhyNot)
	}
	agreeWith(t, "dl360e-gen8 without DMAR", x, ask(t, f, d))
}
