package ovs

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dpdk-doctor/dpdk-doctor/check"
	"github.com/dpdk-doctor/dpdk-doctor/host"
	"github.com/dpdk-doctor/dpdk-doctor/pci"
)

var update = flag.Bool("update", false, "rewrite docs/ovs-errors.md from the catalog")

// catalogCase is one Interface error, the configuration and host it happens on, and the cause
// the catalog must give.
type catalogCase struct {
	name     string
	raw      string
	typ      string
	options  map[string]string
	datapath string
	tree     string             // host tree for the facts, "" for none
	mutate   func(*check.Facts) // changes to the facts
	state    *State
	kind     Kind
	cause    string // a part of the cause that only the right explanation has
}

func catalogCases() []catalogCase {
	dev := func(a string) map[string]string { return map[string]string{"dpdk-devargs": a} }
	up := &State{DPDKInit: "true", DPDKInitialized: true}
	onIgb := func(f *check.Facts) {
		a, _ := pci.ParseAddress("0000:03:00.0")
		d := f.Devices.Get(a)
		d.Driver, d.Interfaces = "igb", []string{"eno3"}
	}
	patchState := func(peerDP string, peerType string, peerOpts map[string]string) *State {
		return &State{DPDKInit: "true", DPDKInitialized: true, Bridges: []Bridge{
			{Name: "br-int", DatapathType: "netdev", Ports: []Port{{Name: "patch0", Interfaces: []Interface{{Name: "patch0", Type: "patch", Options: map[string]string{"peer": "patch1"}}}}}},
			{Name: "br-ex", DatapathType: peerDP, Ports: []Port{{Name: "patch1", Interfaces: []Interface{{Name: "patch1", Type: peerType, Options: peerOpts}}}}},
		}}
	}
	return []catalogCase{
		{"pci-rmrr", "Error attaching device '0000:03:00.0' to DPDK", "dpdk", dev("0000:03:00.0"), "netdev", "dl360e-gen8", nil, up, KindAttachPCI, "RMRR-locked by the firmware's RMRR"},
		{"pci-rmrr-on-igb", "Error attaching device '0000:03:00.0' to DPDK", "dpdk", dev("0000:03:00.0"), "netdev", "dl360e-gen8", onIgb, up, KindAttachPCI, "first, 0000:03:00.0 is on igb, not on vfio-pci (kernel interface eno3); then, once bound, 0000:03:00.0 is RMRR-locked"},
		{"pci-kernel-driver", "Error attaching device '0000:02:00.0' to DPDK", "dpdk", dev("0000:02:00.0"), "netdev", "nic-on-ixgbe", nil, up, KindAttachPCI, "on ixgbe, not on vfio-pci"},
		{"pci-absent", "Error attaching device '0000:05:00.0' to DPDK", "dpdk", dev("0000:05:00.0"), "netdev", "usb-only-rmrr", nil, up, KindAttachPCI, "no PCI device 0000:05:00.0"},
		{"pci-group", "Error attaching device '0000:02:00.0' to DPDK", "dpdk", dev("0000:02:00.0"), "netdev", "shared-group", nil, up, KindAttachPCI, "IOMMU group 6 is not viable"},
		{"pci-with-args", "Error attaching device '0000:02:00.0,n_rxq=2' to DPDK", "dpdk", dev("0000:02:00.0,n_rxq=2"), "netdev", "nic-on-ixgbe", nil, up, KindAttachPCI, "on ixgbe"},
		{"mac-kernel", "Error attaching device 'class=eth,mac=02:00:00:00:00:01' to DPDK", "dpdk", dev("class=eth,mac=02:00:00:00:00:01"), "netdev", "mac", nil, up, KindAttachMAC, "belongs to 0000:02:00.0 (kernel interface ens1f0 on ixgbe), which DPDK has not probed"},
		{"mac-none", "Error attaching device 'class=eth,mac=52:54:00:12:34:56' to DPDK", "dpdk", dev("class=eth,mac=52:54:00:12:34:56"), "netdev", "usb-only-rmrr", nil, up, KindAttachMAC, "no port DPDK has probed has the MAC 52:54:00:12:34:56"},
		{"vdev-iface", "Error attaching device 'net_af_packet0,iface=nope' to DPDK", "dpdk", dev("net_af_packet0,iface=nope"), "netdev", "usb-only-rmrr", nil, up, KindAttachVdev, "kernel interface nope it names does not exist"},
		{"vdev", "Error attaching device 'net_tap0,iface=tap0,bad=1' to DPDK", "dpdk", dev("net_tap0,iface=tap0,bad=1"), "netdev", "", nil, up, KindAttachVdev, "could not create the virtual device"},
		{"bad-devargs", "Error attaching device 'eth3' to DPDK", "dpdk", dev("eth3"), "netdev", "", nil, up, KindBadDevargs, "neither a PCI address"},
		{"in-use", "'dpdk1' is trying to use device '0000:02:00.0' which is already in use by 'dpdk0'", "dpdk", dev("0000:02:00.0"), "netdev", "", nil, up, KindInUse, "already used by interface dpdk0"},
		{"no-devargs", "'dpdk0' is missing 'options:dpdk-devargs'. The old 'dpdk<port_id>' names are not supported", "dpdk", nil, "netdev", "", nil, up, KindMissingDevargs, "no options:dpdk-devargs"},
		{"vf-mac-representor", "'dpdk0' is trying to set the VF MAC '52:54:00:12:34:56' but 'options:dpdk-vf-mac' is only supported for VF representors.", "dpdk", dev("0000:02:00.0"), "netdev", "", nil, up, KindVFMAC, "not a VF representor"},
		{"vf-mac-parse", "interface 'dpdk0': cannot parse VF MAC 'zz:00'.", "dpdk", dev("0000:02:00.0"), "netdev", "", nil, up, KindVFMAC, "not a unicast MAC"},
		{"vf-mac-multicast", "interface 'dpdk0': cannot set VF MAC to multicast address '01:00:5e:00:00:01'.", "dpdk", dev("0000:02:00.0"), "netdev", "", nil, up, KindVFMAC, "not a unicast MAC"},
		{"rx-steering", "dpdk0: options:rx-steering is incompatible with hw-offload", "dpdk", dev("0000:02:00.0"), "netdev", "", nil, up, KindRxSteering, "is incompatible with hw-offload"},
		{"device-info", "dpdk0: Failed to get device info: Operation not supported", "dpdk", dev("0000:02:00.0"), "netdev", "", nil, up, KindDeviceInfo, "could not describe dpdk0's device"},
		{"lsc", "'dpdk0': link status interrupt is not supported.", "dpdk", map[string]string{"dpdk-devargs": "net_af_packet0,iface=veth0", "dpdk-lsc-interrupt": "true"}, "netdev", "", nil, up, KindLSCInterrupt, "dpdk-lsc-interrupt=true) but the DPDK driver of net_af_packet0,iface=veth0 has none"},
		{"flow-control", "dpdk0: Cannot get flow control parameters: Input/output error", "dpdk", dev("0000:02:00.0"), "netdev", "", nil, up, KindFlowControl, "failed to report flow control"},
		{"enodev-no-kernel-iface", "could not open network device eth9 (No such device)", "", nil, "netdev", "usb-only-rmrr", nil, up, KindNoKernelIface, "there is no kernel interface named eth9"},
		{"enodev-untyped-dpdk", "could not open network device dpdk-p0 (No such device)", "", dev("0000:03:00.0"), "netdev", "", nil, up, KindMissingDPDKType, "added without type=dpdk"},
		{"enodev-internal", "could not open network device br1 (No such device)", "internal", nil, "system", "", nil, up, KindNoKernelIface, "could not create the internal interface"},
		{"eafnosupport-dpdkr", "could not open network device dpdkr0 (Address family not supported by protocol)", "dpdkr", nil, "netdev", "", nil, up, KindRemovedType, "OVS 2.14 removed dpdkr"},
		{"eafnosupport-typo", "could not open network device p0 (Address family not supported by protocol)", "dpkd", nil, "netdev", "", nil, up, KindUnknownType, `no interface type "dpkd"`},
		{"eafnosupport-dpdk-off", "could not open network device dpdk0 (Address family not supported by protocol)", "dpdk", dev("0000:02:00.0"), "netdev", "", nil, &State{DPDKInit: "false"}, KindDPDKOff, "DPDK is not enabled"},
		{"eafnosupport-dpdk-failed", "could not open network device dpdk0 (Address family not supported by protocol)", "dpdk", dev("0000:02:00.0"), "netdev", "", nil, &State{DPDKInit: "true"}, KindDPDKOff, "failed to initialize"},
		{"eafnosupport-afxdp", "could not open network device p0 (Address family not supported by protocol)", "afxdp", nil, "netdev", "", nil, up, KindUnknownType, "without AF_XDP"},
		{"vhost-socket", "could not open network device vhu0 (Unknown error -1)", "dpdkvhostuser", nil, "netdev", "", nil, up, KindVhostSocket, "could not create the vhost-user socket of vhu0"},
		{"vhost-name", "could not open network device a/b (Invalid argument)", "dpdkvhostuser", nil, "netdev", "", nil, up, KindVhostName, "not a valid name for a vhost-user port"},
		{"open-eperm", "could not open network device eth1 (Operation not permitted)", "", nil, "netdev", "", nil, up, KindNoPermission, "may not open eth1"},
		{"open-other", "could not open network device tap0 (Device or resource busy)", "tap", nil, "netdev", "", nil, up, KindOpenFailed, "could not open tap0 (Device or resource busy)"},
		{"set-config", "dpdk0: could not set configuration (Invalid argument)", "dpdk", dev("0000:02:00.0"), "netdev", "", nil, up, KindSetConfig, "refused its options"},
		{"set-config-devargs-changed", "dpdk0: could not set configuration (Resource temporarily unavailable)", "dpdk", dev("0000:02:00.0"), "netdev", "", nil, up, KindSetConfig, "dpdk-devargs of dpdk0 changed while the port was up"},
		{"ofproto-kernel-dp", "could not add network device dpdk0 to ofproto (Invalid argument)", "dpdk", dev("0000:02:00.0"), "system", "", nil, up, KindKernelDatapath, "uses the kernel datapath"},
		{"ofproto-netdev", "could not add network device dpdk0 to ofproto (Invalid argument)", "dpdk", dev("0000:02:00.0"), "netdev", "", nil, up, KindDatapathConfig, "userspace datapath of bridge br0 could not set dpdk0 up"},
		{"ofproto-exists", "could not add network device p0 to ofproto (File exists)", "", nil, "netdev", "", nil, up, KindPortExists, "already has a port named p0"},
		{"ofproto-nomem", "could not add network device dpdk0 to ofproto (Cannot allocate memory)", "dpdk", dev("0000:02:00.0"), "netdev", "", nil, up, KindNoMemory, "huge pages"},
		{"ofproto-eperm", "could not add network device eth1 to ofproto (Operation not permitted)", "", nil, "netdev", "", nil, up, KindNoPermission, "userspace datapath may not open eth1"},
		{"ofproto-other", "could not add network device p0 to ofproto (Invalid argument)", "", nil, "system", "", nil, up, KindOfprotoOther, "refused p0"},
		{"patch-no-peer", "patch0: patch type requires valid 'peer' argument", "patch", nil, "netdev", "", nil, up, KindPatchNoPeer, "without options:peer"},
		{"patch-args", "patch0: patch type takes only a 'peer' argument", "patch", map[string]string{"peer": "patch1", "x": "y"}, "netdev", "", nil, up, KindPatchArgs, "options other than peer"},
		{"patch-self", "patch0: patch peer must not be self", "patch", map[string]string{"peer": "patch0"}, "netdev", "", nil, up, KindPatchSelf, "names itself"},
		{"patch-missing", "No usable peer 'patch1' exists in 'netdev' datapath.", "patch", map[string]string{"peer": "patch1"}, "netdev", "", nil, up, KindPatchPeerMissing, "peer patch1 of patch0 does not exist"},
		{"patch-datapaths", "No usable peer 'patch1' exists in 'netdev' datapath.", "patch", map[string]string{"peer": "patch1"}, "netdev", "", nil, patchState("", "patch", map[string]string{"peer": "patch0"}), KindPatchDatapath, "bridge br-ex of datapath type system"},
		{"patch-unpaired", "No usable peer 'patch1' exists in 'netdev' datapath.", "patch", map[string]string{"peer": "patch1"}, "netdev", "", nil, patchState("netdev", "patch", map[string]string{"peer": "other"}), KindPatchUnpaired, "not a patch port pointing back"},
		{"tunnel", "vx0: vxlan type requires valid 'remote_ip' argument", "vxlan", nil, "system", "", nil, up, KindTunnelConfig, "tunnel options of vx0 are wrong"},
		{"tunnel-family", "vx1: 'remote_ip' and 'local_ip' has to be of the same address family", "vxlan", nil, "system", "", nil, up, KindTunnelConfig, "has to be of the same address family"},
		{"tunnel-gbp", "vx2: VXLAN-GBP, and non-VXLAN-GBP tunnels can't be configured on the same dst_port", "vxlan", nil, "system", "", nil, up, KindTunnelConfig, "VXLAN-GBP"},
		{"tunnel-unknown-arg", "gre0: unknown gre argument 'foo'", "gre", nil, "system", "", nil, up, KindTunnelConfig, "unknown gre argument 'foo'"},
	}
}

// macTree is nic-on-ixgbe with a real MAC on ens1f0.
func macTree(t *testing.T) *check.Facts {
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS("../testdata/hosts/nic-on-ixgbe")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sys/devices/pci0000:00/0000:00:02.0/0000:02:00.0/net/ens1f0/address"), []byte("02:00:00:00:00:01\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := host.Dir(dir)
	if err != nil {
		t.Fatal(err)
	}
	f, err := check.Gather(r, check.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func explainCase(t *testing.T, c catalogCase) *Explanation {
	t.Helper()
	var f *check.Facts
	switch c.tree {
	case "":
	case "mac":
		f = macTree(t)
	default:
		f = facts(t, c.tree)
	}
	if c.mutate != nil {
		c.mutate(f)
	}
	name := "dpdk0"
	if e, m := MatchError(c.raw); e != nil && len(m) > 1 {
		name = m[1]
		if strings.HasPrefix(c.raw, "No usable peer") {
			name = "patch0"
		}
	}
	b := &Bridge{Name: "br0", DatapathType: c.datapath}
	i := &Interface{Name: name, Type: c.typ, Options: c.options, Error: c.raw}
	return Explain(c.state, b, i, f)
}

// TestCatalogTable explains every string of the catalog on the configuration and host that
// cause it: the cause kind and a phrase only the right explanation has must come out; the
// fallback is a failure. Every catalog entry is exercised, its own example included.
func TestCatalogTable(t *testing.T) {
	hit := map[*Entry]bool{}
	for _, c := range catalogCases() {
		t.Run(c.name, func(t *testing.T) {
			e := explainCase(t, c)
			if e == nil || e.Kind == KindUnknown || strings.Contains(e.Cause, "no explanation") {
				t.Fatalf("%q: fell back to the generic text: %+v", c.raw, e)
			}
			if e.Kind != c.kind || !strings.Contains(e.Cause, c.cause) {
				t.Errorf("%q:\n kind %s, cause %q\n want %s, %q", c.raw, e.Kind, e.Cause, c.kind, c.cause)
			}
			if len(e.Remedy) == 0 || e.Detail == "" {
				t.Errorf("%q: no remedy or detail: %+v", c.raw, e)
			}
		})
		if ent, _ := MatchError(c.raw); ent != nil {
			hit[ent] = true
		}
	}
	for k := range Catalog {
		ent := &Catalog[k]
		if !hit[ent] {
			t.Errorf("catalog entry %d (%s) has no table row", k, ent.Format)
		}
		if got, _ := MatchError(ent.Example); got != ent {
			t.Errorf("example %q of entry %d does not match its own entry", ent.Example, k)
		}
		if ent.Source == "" || ent.Versions == "" || ent.Causes == "" {
			t.Errorf("entry %d lacks source, versions or causes", k)
		}
	}
	if e := Explain(up(), nil, &Interface{Name: "x", Error: "something new"}, nil); e.Kind != KindUnknown || !strings.Contains(e.Cause, "no explanation") {
		t.Errorf("an unknown string must say so: %+v", e)
	}
}

func up() *State { return &State{DPDKInit: "true", DPDKInitialized: true} }

// TestCatalogQuotesLog: the EAL line ovs-vswitchd logged for the device is quoted in the
// explanation, and only the device's own lines (not 0000:03:00.1's, not INFO lines).
func TestCatalogQuotesLog(t *testing.T) {
	f := facts(t, "dl360e-gen8")
	dir := t.TempDir()
	logf := filepath.Join(dir, host.OVSLog)
	os.MkdirAll(filepath.Dir(logf), 0o755)
	os.MkdirAll(filepath.Join(dir, "sys"), 0o755)
	log := strings.Join([]string{
		"2026-11-26T14:00:00.001Z|00010|dpdk|INFO|EAL: Probe PCI driver: net_e1000_igb (8086:1521) device: 0000:03:00.0 (socket 0)",
		"2026-11-26T14:00:00.002Z|00011|dpdk|ERR|EAL: 0000:03:00.1 cannot add VFIO group to container, error 1 (Operation not permitted)",
		"2026-11-26T14:00:00.003Z|00012|dpdk|ERR|EAL: 0000:03:00.0 cannot add VFIO group to container, error 1 (Operation not permitted)",
		"  a continuation line naming 0000:03:00.0",
		"2026-11-26T14:00:00.004Z|00013|dpdk|ERR|EAL: Driver cannot attach the device (0000:03:00.0)",
		"2026-11-26T14:00:00.005Z|00014|dpdk|ERR|EAL: Failed to attach device on primary process",
		"2026-11-26T14:00:00.006Z|00015|netdev_dpdk|WARN|Error attaching device '0000:03:00.0' to DPDK",
		"2026-11-26T14:00:00.007Z|00016|netdev|WARN|dpdk-p0: could not set configuration (Invalid argument)",
		"",
	}, "\n")
	if err := os.WriteFile(logf, []byte(log), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := host.Dir(dir)
	if err != nil {
		t.Fatal(err)
	}
	f.Root = r
	e := Explain(up(), nil, &Interface{Name: "dpdk-p0", Type: "dpdk", Options: map[string]string{"dpdk-devargs": "0000:03:00.0"}, Error: "Error attaching device '0000:03:00.0' to DPDK"}, f)
	want := []string{
		"dpdk|ERR|EAL: Driver cannot attach the device (0000:03:00.0)",
		"netdev_dpdk|WARN|Error attaching device '0000:03:00.0' to DPDK",
		"netdev|WARN|dpdk-p0: could not set configuration (Invalid argument)",
	}
	if fmt.Sprint(e.Log) != fmt.Sprint(want) {
		t.Errorf("log lines:\n%q\nwant\n%q", e.Log, want)
	}
	if !strings.Contains(e.Detail, `"dpdk|ERR|EAL: Driver cannot attach the device (0000:03:00.0)"`) || !strings.Contains(e.Cause, "RMRR-locked") {
		t.Errorf("detail %q cause %q", e.Detail, e.Cause)
	}
	lines := RelevantLogLines(ReadOVSLog(r), 5, "0000:03:00.0")
	if len(lines) != 3 || strings.Contains(strings.Join(lines, "\n"), "03:00.1") || strings.Contains(strings.Join(lines, "\n"), "INFO") {
		t.Errorf("relevant lines: %q", lines)
	}
	// A host that looks ready: EAL's own reason becomes part of the cause.
	g := facts(t, "usb-only-rmrr")
	os.WriteFile(logf, []byte("2026-11-26T14:00:00.003Z|00012|dpdk|ERR|EAL: 0000:02:00.0 cannot add VFIO group to container, error 1 (Operation not permitted)\n"), 0o644)
	g.Root = r
	e = Explain(up(), nil, &Interface{Name: "p1", Type: "dpdk", Options: map[string]string{"dpdk-devargs": "0000:02:00.0"}, Error: "Error attaching device '0000:02:00.0' to DPDK"}, g)
	if !e.HostReady || !strings.HasSuffix(e.Cause, "EAL says: 0000:02:00.0 cannot add VFIO group to container, error 1 (Operation not permitted)") {
		t.Errorf("host ready, EAL reason: %+v", e)
	}
	if containsWord("dpdk01 x", "dpdk0") || !containsWord("(dpdk0)", "dpdk0") {
		t.Error("containsWord")
	}
}

// TestCatalogDoc: docs/ovs-errors.md is generated from the catalog (go test ./ovs -run
// TestCatalogDoc -update) and must not drift from it.
func TestCatalogDoc(t *testing.T) {
	var b bytes.Buffer
	b.WriteString("# Every error OVS can put in Interface.error\n\n")
	b.WriteString("Generated from ovs/catalog.go by `go test ./ovs -run TestCatalogDoc -update`; do not edit.\n")
	b.WriteString("Read from OVS's sources, v3.1.0 to v3.7.1. dpdk-doctor joins each string with the host's facts\n")
	b.WriteString("and the OVS configuration, and quotes ovs-vswitchd's log lines about the interface or device.\n\n")
	b.WriteString("| OVS format | Source | Versions | Example | Causes dpdk-doctor tells apart |\n|---|---|---|---|---|\n")
	esc := func(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
	for _, e := range Catalog {
		fmt.Fprintf(&b, "| `%s` | %s | %s | `%s` | %s |\n", esc(e.Format), esc(e.Source), e.Versions, esc(e.Example), esc(e.Causes))
	}
	b.WriteString("\n## Cause kinds tested (ovs/catalog_test.go)\n\n| Case | Interface error | Kind |\n|---|---|---|\n")
	for _, c := range catalogCases() {
		fmt.Fprintf(&b, "| %s | `%s` | %s |\n", c.name, esc(c.raw), c.kind)
	}
	path := "../docs/ovs-errors.md"
	if *update {
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(got, b.Bytes()) {
		t.Errorf("%s is stale or missing (%v): run go test ./ovs -run TestCatalogDoc -update", path, err)
	}
}

// FuzzParseLogLine: any line parses or is refused, never panics; what parses keeps its text.
func FuzzParseLogLine(f *testing.F) {
	f.Add("2026-11-26T14:00:00.003Z|00012|dpdk|ERR|EAL: 0000:03:00.0 cannot add VFIO group to container, error 1 (Operation not permitted)")
	f.Add("2026-11-26T14:00:00.006Z|00015|netdev_dpdk|WARN|Error attaching device '0000:03:00.0' to DPDK")
	f.Add("  continuation")
	f.Add("||||")
	f.Add("2026-|x|a|ERR|b")
	f.Fuzz(func(t *testing.T, s string) {
		l, ok := ParseLogLine(s)
		if ok && !strings.HasSuffix(strings.TrimRight(s, "\r\n"), l.Text) {
			t.Errorf("%q: text %q is not the line's end", s, l.Text)
		}
		RelevantLogLines([]LogLine{l}, 2, "dpdk0", "")
	})
}
