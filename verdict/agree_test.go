package verdict_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dpdk-doctor/dpdk-doctor/check"
	"github.com/dpdk-doctor/dpdk-doctor/dmar"
	"github.com/dpdk-doctor/dpdk-doctor/fix"
	"github.com/dpdk-doctor/dpdk-doctor/host"
	"github.com/dpdk-doctor/dpdk-doctor/internal/testhost"
	"github.com/dpdk-doctor/dpdk-doctor/ovs"
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

// answers is what each reader of the verdict says about one device's firmware-region lock.
type answers struct {
	checkSev     check.Severity // device.rmrr
	checkConrep  bool           // device.rmrr offers `fix rmrr`
	rows         string         // devices --json rmrr
	ovsLocked    bool           // the explanation of a failing dpdk port on it blames a lock
	ovsConrep    bool           // ... and offers `fix rmrr`
	fixErr       error          // fix rmrr's plan
	fixSkipped   bool           // fix rmrr: nothing to fix
	driverLocked bool           // device.driver mentions the lock
}

func ask(t *testing.T, f *check.Facts, d *pci.Device) answers {
	t.Helper()
	a := d.Address.String()
	var ans answers
	for _, fd := range check.Run(f) {
		if fd.Subject != a {
			continue
		}
		switch fd.ID {
		case "device.rmrr":
			ans.checkSev = fd.Severity
			ans.checkConrep = strings.Contains(strings.Join(fd.Remedy, "\n"), "dpdk-doctor fix rmrr")
		case "device.driver":
			ans.driverLocked = strings.Contains(fd.Summary, "-locked")
		}
	}
	ids, _ := pci.ParseIDs(nil)
	al, _ := pci.ParseAliases(nil)
	for _, r := range check.DeviceRows(f, ids, al, true) {
		if r.Address == a {
			ans.rows = r.RMRR
		}
	}
	i := &ovs.Interface{Name: "dpdk0", Type: "dpdk", Options: map[string]string{"dpdk-devargs": a},
		Error: "Error attaching device '" + a + "' to DPDK"}
	e := ovs.Explain(nil, nil, i, f)
	ans.ovsLocked = strings.Contains(e.Cause, "-locked")
	ans.ovsConrep = strings.Contains(strings.Join(e.Remedy, "\n"), "dpdk-doctor fix rmrr")
	p, err := fix.PlanRMRR(f, fix.RMRROptions{Devices: []pci.Address{d.Address}, StateDir: t.TempDir(), Conrep: "/nonexistent/conrep"})
	ans.fixErr = err
	ans.fixSkipped = err == nil && len(p.Skipped) > 0
	return ans
}

// agree checks that every reader's answer follows the verdict x.
func agree(t *testing.T, tree string, x *verdict.Device, ans answers) {
	t.Helper()
	a := x.Device.Address.String()
	locked := x.Lock.Locked()
	if (ans.checkSev == check.Fail) != locked {
		t.Errorf("%s %s: verdict locked=%v, check device.rmrr %s", tree, a, locked, ans.checkSev)
	}
	if ans.rows != string(x.Lock.State) {
		t.Errorf("%s %s: verdict %s, devices rmrr %q", tree, a, x.Lock.State, ans.rows)
	}
	if ans.ovsLocked != locked {
		t.Errorf("%s %s: verdict locked=%v, ovs explanation blames a lock: %v", tree, a, locked, ans.ovsLocked)
	}
	if ans.driverLocked != locked && x.Device.Driver != "" && !check.IsDPDKDriver(x.Device.Driver) &&
		x.Device.Driver != "mlx5_core" && x.Device.Driver != "mlx4_core" {
		t.Errorf("%s %s: verdict locked=%v, device.driver says locked: %v", tree, a, locked, ans.driverLocked)
	}
	if ans.checkConrep != x.Conrep || ans.ovsConrep != x.Conrep {
		t.Errorf("%s %s: verdict conrep=%v (%s), check offers fix rmrr: %v, ovs: %v", tree, a, x.Conrep, x.ConrepWhyNot, ans.checkConrep, ans.ovsConrep)
	}
	switch {
	case x.Lock.State == dmar.Unknown || locked && x.Lock.Kind == verdict.RMRR && x.Lock.RMRR.State == dmar.Unknown:
		if !errors.Is(ans.fixErr, fix.ErrCannotTell) {
			t.Errorf("%s %s: verdict unknown, fix rmrr: %v", tree, a, ans.fixErr)
		}
	case !locked:
		if !ans.fixSkipped {
			t.Errorf("%s %s: verdict %s, fix rmrr does not say nothing to fix (err %v)", tree, a, x.Lock.State, ans.fixErr)
		}
	case x.Conrep:
		// conrep is absent here: the plan fails for want of the tool, never as not applicable.
		if ans.fixErr == nil || errors.Is(ans.fixErr, fix.ErrNotApplicable) {
			t.Errorf("%s %s: verdict says conrep helps, fix rmrr: %v", tree, a, ans.fixErr)
		}
	default:
		if !errors.Is(ans.fixErr, fix.ErrNotApplicable) {
			t.Errorf("%s %s: verdict says conrep cannot help (%s), fix rmrr: %v", tree, a, x.ConrepWhyNot, ans.fixErr)
		}
	}
}

// TestReadersAgree: on every device of every test tree, check's device.rmrr, the devices rmrr
// column, the OVS explanation of a failing dpdk port on the device and fix rmrr's plan all give
// the verdict's answer.
func TestReadersAgree(t *testing.T) {
	n := 0
	for _, tree := range testhost.Names {
		f := gather(t, tree)
		for _, d := range f.Devices.List {
			agree(t, tree, f.Judged(d), ask(t, f, d))
			n++
		}
	}
	if n < 50 {
		t.Fatalf("only %d devices judged", n)
	}
}

// TestReadersDoNotRecompute changes the verdict after Gather, both ways, and checks that every
// reader follows it: one that decided again from the host's facts would not.
func TestReadersDoNotRecompute(t *testing.T) {
	for _, tree := range []string{"dl360e-gen8", "bridge-scope", "amd-ivmd-6.12", "amd-ivmd-6.1", "shared-group"} {
		f := gather(t, tree)
		for _, d := range f.Devices.List {
			x := f.Judged(d)
			was := *x
			flip := *x
			if x.Lock.Locked() {
				flip.Lock.State, flip.Remedies, flip.Conrep = dmar.Clear, nil, false
				flip.Lock.Regions, flip.Lock.Logged = nil, nil
			} else {
				flip.Lock.State = dmar.Locked
				flip.Remedies = []verdict.Remedy{{ID: "move-slot", Text: "# or move it"}}
				flip.Conrep, flip.ConrepWhyNot = false, "tampered"
			}
			f.Verdict.Devices[d.Address] = &flip
			agree(t, tree+" (tampered)", &flip, ask(t, f, d))
			f.Verdict.Devices[d.Address] = &was
		}
	}
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
	agree(t, "dl360e-gen8 without DMAR", x, ask(t, f, d))
}
