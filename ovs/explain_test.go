package ovs

import (
	"strings"
	"testing"

	"github.com/dpdk-doctor/dpdk-doctor/check"
	"github.com/dpdk-doctor/dpdk-doctor/host"
)

func facts(t testing.TB, tree string) *check.Facts {
	r, err := host.Dir("../testdata/hosts/" + tree)
	if err != nil {
		t.Fatal(err)
	}
	f, err := check.Gather(r, check.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestExplainCatalog feeds every known Interface error, as OVS words it, with the host trees
// that cause it, and checks the root cause found.
func TestExplainCatalog(t *testing.T) {
	attach := func(a string) string { return "Error attaching device '" + a + "' to DPDK" }
	cases := []struct {
		tree, err, devargs, typ, datapath, want string
		remedy                                  string
	}{
		{"dl360e-gen8", attach("0000:03:00.0"), "0000:03:00.0", "dpdk", "netdev", "RMRR-locked by the firmware's RMRR 0x7df83000-0x7df84fff (scope 00:02.0/00.0), physical slot 2", "dpdk-doctor fix rmrr 0000:03:00.0"},
		{"dl360e-gen8", attach("0000:03:00.0") + ": Invalid argument", "0000:03:00.0", "dpdk", "netdev", "RMRR-locked", ""},
		{"nic-on-ixgbe", attach("0000:02:00.0"), "0000:02:00.0", "dpdk", "netdev", "on ixgbe, not on vfio-pci (kernel interface ens1f0)", "dpdk-devbind.py --bind=vfio-pci 0000:02:00.0"},
		{"shared-group", attach("0000:02:00.0"), "0000:02:00.0", "dpdk", "netdev", "IOMMU group 6 is not viable: 0000:02:00.1 on ixgbe", ""},
		{"iommu-off-kernel", attach("0000:02:00.0"), "0000:02:00.0", "dpdk", "netdev", "no IOMMU group: the IOMMU is off (off in the kernel)", ""},
		{"iommu-off-firmware", attach("0000:02:00.0"), "0000:02:00.0", "dpdk", "netdev", "off in firmware", ""},
		{"usb-only-rmrr", attach("0000:05:00.0"), "0000:05:00.0", "dpdk", "netdev", "there is no PCI device 0000:05:00.0 on this host", "dpdk-doctor devices"},
		{"usb-only-rmrr", attach("0000:02:00.0"), "0000:02:00.0", "dpdk", "netdev", "looks ready", ""},
		{"usb-only-rmrr", attach("net_af_packet0,iface=nope"), "net_af_packet0,iface=nope", "dpdk", "netdev", "could not create the virtual device", ""},
		{"usb-only-rmrr", "'dpdk1' is trying to use device '0000:02:00.0' which is already in use by 'dpdk0'", "0000:02:00.0", "dpdk", "netdev", "already used by interface dpdk0", "del-port dpdk0"},
		{"usb-only-rmrr", "'dpdk0' is missing 'options:dpdk-devargs'. The old 'dpdk<port_id>' names are not supported", "", "dpdk", "netdev", "no options:dpdk-devargs", ""},
		{"usb-only-rmrr", "could not open network device dpdk0 (Address family not supported by protocol)", "0000:02:00.0", "dpdk", "netdev", "DPDK is not enabled", "dpdk-init=true"},
		{"usb-only-rmrr", "could not add network device dpdk0 to ofproto (Invalid argument)", "0000:02:00.0", "dpdk", "system", "kernel datapath", "datapath_type=netdev"},
		{"usb-only-rmrr", "something new", "0000:02:00.0", "dpdk", "netdev", "no explanation", ""},
	}
	for _, c := range cases {
		f := facts(t, c.tree)
		st := &State{DPDKInit: "false"}
		b := &Bridge{Name: "br0", DatapathType: c.datapath}
		i := &Interface{Name: "dpdk0", Type: c.typ, Options: map[string]string{"dpdk-devargs": c.devargs}, Error: c.err}
		e := Explain(st, b, i, f)
		if e == nil || e.Raw != c.err || !strings.Contains(e.Cause, c.want) {
			t.Errorf("%s %q: cause %+v, want %q", c.tree, c.err, e, c.want)
			continue
		}
		if c.remedy != "" && !strings.Contains(strings.Join(e.Remedy, "\n"), c.remedy) {
			t.Errorf("%s %q: remedy %v lacks %q", c.tree, c.err, e.Remedy, c.remedy)
		}
	}
	// Huge pages missing on the device's node: a healthy device on a host with none free.
	f := facts(t, "usb-only-rmrr")
	for i := range f.Hugepages.Pools {
		f.Hugepages.Pools[i].Free = 0
	}
	e := Explain(&State{}, nil, &Interface{Name: "x", Type: "dpdk", Error: attach("0000:02:00.0")}, f)
	if !strings.Contains(e.Cause, "no free huge pages") {
		t.Errorf("huge pages: %s", e.Cause)
	}
	if Explain(&State{}, nil, &Interface{Name: "ok"}, f) != nil {
		t.Error("no error, no explanation")
	}
}

// TestRealOVSTexts explains the real-world OVS outputs in testdata/fixtures/ovs.
func TestRealOVSTexts(t *testing.T) {
	f := facts(t, "dl360e-gen8")
	e := Explain(&State{}, nil, &Interface{Name: "dpdk-p0", Type: "dpdk", Error: "Error attaching device '0000:03:00.0' to DPDK"}, f)
	if !strings.Contains(e.Cause, "RMRR-locked") {
		t.Errorf("seed: %s", e.Cause)
	}
}

func TestFindingsSocketMemAndMask(t *testing.T) {
	f := facts(t, "dl360e-gen8")
	st := &State{DPDKInit: "true", DPDKInitialized: false, OtherConfig: map[string]string{"dpdk-socket-mem": "4096,0", "pmd-cpu-mask": "0x1000000000"}}
	var mem, mask, init *check.Finding
	fs := Findings(st, f, "test")
	for i := range fs {
		switch fs[i].ID {
		case "ovs.socket-mem":
			mem = &fs[i]
		case "ovs.pmd-cpu-mask":
			mask = &fs[i]
		case "ovs.dpdk-init":
			init = &fs[i]
		}
	}
	if mem == nil || mem.Severity != check.Fail || !strings.Contains(mem.Summary, "node 0 asks 4096 MiB") {
		t.Errorf("socket-mem: %+v", mem)
	}
	if mask == nil || mask.Severity != check.Fail {
		t.Errorf("pmd mask naming CPU 36 on a 24-CPU host: %+v", mask)
	}
	if init == nil || init.Severity != check.Fail {
		t.Errorf("requested but not initialized: %+v", init)
	}
	// A mask whose cores are all on node 1 while the NICs sit on node 0.
	st = &State{DPDKInitialized: true, OtherConfig: map[string]string{"pmd-cpu-mask": "0xff000"}}
	for _, fd := range Findings(st, f, "test") {
		if fd.ID == "ovs.pmd-cpu-mask" && (fd.Severity != check.Warn || !strings.Contains(fd.Summary, "no PMD core on the NUMA node")) {
			t.Errorf("cross-node PMDs: %+v", fd)
		}
	}
}

func FuzzExplain(f *testing.F) {
	fc := facts(f, "dl360e-gen8")
	f.Add("Error attaching device '0000:03:00.0' to DPDK", "0000:03:00.0")
	f.Add("'a' is trying to use device 'x' which is already in use by 'b'", "x")
	f.Add("could not add network device dpdk0 to ofproto (File exists)", "")
	f.Fuzz(func(t *testing.T, errText, devargs string) {
		e := Explain(&State{}, &Bridge{}, &Interface{Name: "x", Type: "dpdk", Error: errText, Options: map[string]string{"dpdk-devargs": devargs}}, fc)
		if errText != "" && (e == nil || e.Cause == "" || e.Raw != errText) {
			t.Fatalf("no explanation for %q", errText)
		}
	})
}

func FuzzCPUList(f *testing.F) {
	f.Add("0-3,8,10-11")
	f.Fuzz(func(t *testing.T, s string) {
		if len(cpuList(s)) > 4097*len(s) {
			t.Fatal("cpu list larger than its text allows")
		}
	})
}

// TestPreflight: a device the host has ready passes; a locked one is refused with the cause.
func TestPreflight(t *testing.T) {
	st := &State{DPDKInitialized: true}
	if e := Preflight(st, "0000:02:00.0", facts(t, "usb-only-rmrr")); e != nil {
		t.Errorf("a ready device is refused: %+v", e)
	}
	if e := Preflight(st, "0000:03:00.0", facts(t, "dl360e-gen8")); e == nil || e.HostReady || !strings.Contains(e.Cause, "RMRR-locked") {
		t.Errorf("an RMRR-locked device passes preflight: %+v", e)
	}
	if e := Preflight(st, "net_af_packet0,iface=x", facts(t, "usb-only-rmrr")); e != nil {
		t.Errorf("a vdev has nothing to check beforehand: %+v", e)
	}
}
