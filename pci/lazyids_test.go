package pci_test

import (
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"

	"github.com/dpdk-doctor/dpdk-doctor/host"
	"github.com/dpdk-doctor/dpdk-doctor/internal/testhost"
	"github.com/dpdk-doctor/dpdk-doctor/pci"

	"github.com/dpdk-doctor/dpdk-doctor/internal/testenv"
)

// compareIDs checks that the lazy database names every device of ds as the eager parser did.
func compareIDs(t *testing.T, name string, b []byte, ds *pci.Devices) int {
	t.Helper()
	vendor, device, subsystem, class, err := pci.EagerNames(b)
	if err != nil {
		t.Fatalf("%s: eager parser: %v", name, err)
	}
	ids, err := pci.ParseIDs(b)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	named := 0
	for _, d := range ds.List {
		c := d.Config
		got := [4]string{ids.Vendor(c.VendorID), ids.Device(c.VendorID, c.DeviceID),
			ids.Subsystem(c.VendorID, c.DeviceID, c.SubVendorID, c.SubDeviceID), ids.Class(c.Class)}
		want := [4]string{vendor(c.VendorID), device(c.VendorID, c.DeviceID),
			subsystem(c.VendorID, c.DeviceID, c.SubVendorID, c.SubDeviceID), class(c.Class)}
		if got != want {
			t.Errorf("%s %s: lazy %q, eager %q", name, d.Address, got, want)
		}
		if got[1] != "" {
			named++
		}
	}
	return named
}

// TestLazyIDsSameNames compares the lazy pci.ids with the eager parser it replaced on every
// device of every test tree and of the 4,096-function tree, with the trees' pci.ids and with the
// system's full one.
func TestLazyIDsSameNames(t *testing.T) {
	system, _ := os.ReadFile("/usr/share/misc/pci.ids")
	trees, err := filepath.Glob("../testdata/hosts/*")
	if err != nil || len(trees) == 0 {
		t.Fatalf("no test trees: %v", err)
	}
	big := filepath.Join(t.TempDir(), "big")
	if err := testhost.Big(4096).Write(big); err != nil {
		t.Fatal(err)
	}
	named := 0
	for _, dir := range append(trees, big) {
		r, err := host.Dir(dir)
		if err != nil {
			t.Fatal(err)
		}
		ds, err := pci.Read(r)
		if err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		if b, err := r.ReadFile("usr/share/misc/pci.ids"); err == nil {
			named += compareIDs(t, dir, b, ds)
		}
		if system != nil {
			named += compareIDs(t, dir+" (system pci.ids)", system, ds)
		}
	}
	if named < 4096 {
		t.Errorf("only %d devices named: the comparison proves little", named)
	}
}

// TestLazyIDsWholeDatabase looks up every device and subsystem of the system's pci.ids in both
// parsers.
func TestLazyIDsWholeDatabase(t *testing.T) {
	b, err := os.ReadFile("/usr/share/misc/pci.ids")
	if err != nil {
		testenv.Unavailable(t, "the system pci.ids is needed: %v", err)
	}
	_, device, subsystem, _, err := pci.EagerNames(b)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := pci.ParseIDs(b)
	if err != nil {
		t.Fatal(err)
	}
	devs, subs := pci.EagerKeys(b)
	if len(devs) < 10000 {
		t.Fatalf("only %d devices in %d bytes", len(devs), len(b))
	}
	for _, k := range devs {
		v, d := uint16(k>>16), uint16(k)
		if got, want := ids.Device(v, d), device(v, d); got != want {
			t.Fatalf("%04x:%04x: lazy %q, eager %q", v, d, got, want)
		}
	}
	for _, k := range subs {
		v, d, sv, sd := uint16(k>>48), uint16(k>>32), uint16(k>>16), uint16(k)
		if got, want := ids.Subsystem(v, d, sv, sd), subsystem(v, d, sv, sd); got != want {
			t.Fatalf("%04x:%04x %04x:%04x: lazy %q, eager %q", v, d, sv, sd, got, want)
		}
	}
}

// BenchmarkIDsLookup reads the system's pci.ids and names the devices of a typical host (an
// Intel server with a Broadcom and a Matrox part): what a live `check` pays.
func BenchmarkIDsLookup(b *testing.B) {
	data, err := os.ReadFile("/usr/share/misc/pci.ids")
	if err != nil {
		b.Skip(err)
	}
	for b.Loop() {
		ids, _ := pci.ParseIDs(data)
		ids.Device(0x8086, 0x10fb)
		ids.Device(0x14e4, 0x165f)
		ids.Device(0x102b, 0x0533)
	}
}

// BenchmarkIDsEager is the same with the eager parser it replaced.
func BenchmarkIDsEager(b *testing.B) {
	data, err := os.ReadFile("/usr/share/misc/pci.ids")
	if err != nil {
		b.Skip(err)
	}
	for b.Loop() {
		_, device, _, _, _ := pci.EagerNames(data)
		device(0x8086, 0x10fb)
	}
}

// TestLiveIDsOnce: the live host's pci.ids is read once per process; a tree's at each call.
func TestLiveIDsOnce(t *testing.T) {
	a, err := pci.ReadIDs(host.Live())
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := pci.ReadIDs(host.Live()); a != b {
		t.Error("the live pci.ids was read twice")
	}
	tree := host.FS(fstest.MapFS{"usr/share/misc/pci.ids": {Data: []byte("8086  Intel Corporation\n")}}, "tree")
	x, _ := pci.ReadIDs(tree)
	if y, _ := pci.ReadIDs(tree); x == y || x.Vendor(0x8086) != "Intel Corporation" {
		t.Error("a tree's pci.ids is read at each call")
	}
}
