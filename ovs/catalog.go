package ovs

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/dpdk-doctor/dpdk-doctor/check"
	"github.com/dpdk-doctor/dpdk-doctor/dmar"
	"github.com/dpdk-doctor/dpdk-doctor/host"
	"github.com/dpdk-doctor/dpdk-doctor/pci"
)

// Kind names the cause an Interface error was traced to: one per distinct root cause, so
// tests and scripts can tell them apart without reading the sentence.
type Kind string

// The kinds of cause the catalog gives.
const (
	KindUnknown          Kind = "unknown" // the fallback: no entry matched
	KindAttachPCI        Kind = "attach-pci"
	KindAttachMAC        Kind = "attach-mac"
	KindAttachVdev       Kind = "attach-vdev"
	KindBadDevargs       Kind = "bad-devargs"
	KindInUse            Kind = "device-in-use"
	KindMissingDevargs   Kind = "missing-devargs"
	KindVFMAC            Kind = "vf-mac"
	KindRxSteering       Kind = "rx-steering"
	KindDeviceInfo       Kind = "device-info"
	KindLSCInterrupt     Kind = "lsc-interrupt"
	KindFlowControl      Kind = "flow-control"
	KindNoKernelIface    Kind = "no-kernel-interface"
	KindMissingDPDKType  Kind = "missing-type-dpdk"
	KindDPDKOff          Kind = "dpdk-not-initialized"
	KindUnknownType      Kind = "unknown-type"
	KindRemovedType      Kind = "removed-type"
	KindVhostSocket      Kind = "vhost-socket"
	KindVhostName        Kind = "vhost-name"
	KindOpenFailed       Kind = "open-failed"
	KindSetConfig        Kind = "set-config"
	KindKernelDatapath   Kind = "kernel-datapath"
	KindDatapathConfig   Kind = "datapath-config"
	KindPortExists       Kind = "port-exists"
	KindNoMemory         Kind = "no-memory"
	KindNoPermission     Kind = "no-permission"
	KindOfprotoOther     Kind = "ofproto-other"
	KindPatchNoPeer      Kind = "patch-no-peer"
	KindPatchArgs        Kind = "patch-args"
	KindPatchSelf        Kind = "patch-self"
	KindPatchDatapath    Kind = "patch-datapath-types"
	KindPatchPeerMissing Kind = "patch-peer-missing"
	KindPatchUnpaired    Kind = "patch-unpaired"
	KindTunnelConfig     Kind = "tunnel-config"
)

// Entry is one string OVS can put in Interface.error, as its source prints it.
type Entry struct {
	Format   string // the format string in OVS's source
	Source   string // file:function that produces it
	Versions string // the OVS releases that have it (checked from v3.1.0 to v3.7.1)
	Example  string // an instantiated example, as ovs-vsctl shows it
	Causes   string // the causes, after joining with the host facts and the OVS state
	re       *lazyRegexp
	explain  func(c *errCtx, m []string)
	// hostOnly says that explain reads nothing but the submatches and the host's facts (not
	// the interface, its bridge or the state): interfaces with the same error text share one
	// explanation.
	hostOnly bool
}

const pciRe = `(?:[0-9a-fA-F]{4}:)?[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]`

// Catalog is every string, found by reading OVS's sources, that can reach the error column of
// the Interface table, first match wins (so the specific forms of a format come first).
// Strings OVS only logs (or sets in an errp that bridge.c then frees, such as "arguments
// provided to device that is not configurable") are not here: they never reach the column.
var Catalog = []Entry{
	{
		Format: "Error attaching device '%s' to DPDK",
		Source: "lib/netdev-dpdk.c:netdev_dpdk_process_devargs", Versions: "3.1-3.7",
		Example:  "Error attaching device '0000:03:00.0' to DPDK",
		Causes:   "devargs is a PCI address: the first obstacle on the host in the order it bites (no such device, kernel driver instead of vfio-pci, RMRR lock, no IOMMU, group not viable, no huge pages on the node), with EAL's own line from ovs-vswitchd's log",
		re:       lazyRE(`^Error attaching device '(` + pciRe + `)((?:,[^']*)?)' to DPDK`),
		explain:  explainAttachPCI,
		hostOnly: true,
	},
	{
		Format: "Error attaching device '%s' to DPDK",
		Source: "lib/netdev-dpdk.c:netdev_dpdk_process_devargs", Versions: "3.1-3.7",
		Example: "Error attaching device 'class=eth,mac=52:54:00:12:34:56' to DPDK",
		Causes:  "devargs class=eth,mac=...: OVS never probes for it, it only looks among the ports DPDK already has: no probed port has that MAC (its device is not on vfio-pci, not allowed by dpdk-extra, or the MAC is wrong)",
		re:      lazyRE(`^Error attaching device 'class=eth,mac=([^']*)' to DPDK`),
		explain: explainAttachMAC,
	},
	{
		Format: "Error attaching device '%s' to DPDK",
		Source: "lib/netdev-dpdk.c:netdev_dpdk_process_devargs", Versions: "3.1-3.7",
		Example: "Error attaching device 'net_af_packet0,iface=nope' to DPDK",
		Causes:  "devargs names a virtual device (net_af_packet, net_tap, net_vhost, ...): its driver refused its arguments, or the kernel interface it names does not exist",
		re:      lazyRE(`^Error attaching device '(net_[^',]*)((?:,[^']*)?)' to DPDK`),
		explain: explainAttachVdev,
	},
	{
		Format: "Error attaching device '%s' to DPDK",
		Source: "lib/netdev-dpdk.c:netdev_dpdk_process_devargs", Versions: "3.1-3.7",
		Example: "Error attaching device 'eth3' to DPDK",
		Causes:  "devargs is neither a PCI address, a vdev (net_...) nor class=eth,mac=...: DPDK cannot parse it",
		re:      lazyRE(`^Error attaching device '([^']*)' to DPDK`),
		explain: func(c *errCtx, m []string) {
			c.set(KindBadDevargs, fmt.Sprintf("options:dpdk-devargs=%q is not something DPDK can attach: it is neither a PCI address (0000:03:00.0), a virtual device (net_af_packet0,iface=eth1) nor class=eth,mac=...", m[1]),
				"A kernel interface name is not a devargs: DPDK takes the device's PCI address, and the device must be on vfio-pci.",
				fmt.Sprintf("ovs-vsctl set Interface %s options:dpdk-devargs=0000:03:00.0   # the NIC's PCI address (dpdk-doctor devices)", c.i.Name))
		},
	},
	{
		Format: "'%s' is trying to use device '%s' which is already in use by '%s'",
		Source: "lib/netdev-dpdk.c:netdev_dpdk_set_config", Versions: "3.1-3.7",
		Example: "'dpdk1' is trying to use device '0000:02:00.0' which is already in use by 'dpdk0'",
		Causes:  "two Interfaces name the same device: the other one owns it",
		re:      lazyRE(`^'([^']*)' is trying to use device '([^']*)' which is already in use by '([^']*)'`),
		explain: func(c *errCtx, m []string) {
			c.set(KindInUse, fmt.Sprintf("the device %q is already used by interface %s", m[2], m[3]),
				"A DPDK port owns its device: two Interfaces cannot name the same dpdk-devargs.",
				fmt.Sprintf("ovs-vsctl del-port %s   # or give %s another device", m[3], m[1]))
		},
	},
	{
		Format: "'%s' is missing 'options:dpdk-devargs'. The old 'dpdk<port_id>' names are not supported",
		Source: "lib/netdev-dpdk.c:netdev_dpdk_set_config", Versions: "3.1-3.7",
		Example: "'dpdk0' is missing 'options:dpdk-devargs'. The old 'dpdk<port_id>' names are not supported",
		Causes:  "a type=dpdk interface without options:dpdk-devargs",
		re:      lazyRE(`^'([^']*)' is missing 'options:dpdk-devargs'`),
		explain: func(c *errCtx, m []string) {
			c.set(KindMissingDevargs, "the interface has no options:dpdk-devargs",
				"Since OVS 2.7 a type=dpdk interface must say which device it uses (a PCI address such as 0000:03:00.0, or a vdev); the old dpdkN names are gone.",
				fmt.Sprintf("ovs-vsctl set Interface %s options:dpdk-devargs=0000:03:00.0   # your NIC's PCI address (dpdk-doctor devices)", m[1]))
		},
	},
	{
		Format: "'%s' is trying to set the VF MAC '%s' but 'options:dpdk-vf-mac' is only supported for VF representors.",
		Source: "lib/netdev-dpdk.c:netdev_dpdk_set_config", Versions: "3.1-3.7",
		Example: "'dpdk0' is trying to set the VF MAC '52:54:00:12:34:56' but 'options:dpdk-vf-mac' is only supported for VF representors.",
		Causes:  "options:dpdk-vf-mac on a port that is not a VF representor",
		re:      lazyRE(`^'([^']*)' is trying to set the VF MAC '([^']*)' but`),
		explain: func(c *errCtx, m []string) {
			c.set(KindVFMAC, fmt.Sprintf("options:dpdk-vf-mac=%s is set on %s, which is not a VF representor", m[2], m[1]),
				"dpdk-vf-mac sets the MAC of the VF behind a representor port (devargs like 0000:08:00.0,representor=[0]); a plain PF or VF port has no such VF.",
				fmt.Sprintf("ovs-vsctl remove Interface %s options dpdk-vf-mac", m[1]))
		},
	},
	{
		Format: "interface '%s': cannot parse VF MAC '%s'. / interface '%s': cannot set VF MAC to multicast address '%s'.",
		Source: "lib/netdev-dpdk.c:netdev_dpdk_set_config", Versions: "3.1-3.7",
		Example: "interface 'dpdk0': cannot parse VF MAC 'zz:00'.",
		Causes:  "options:dpdk-vf-mac is not a unicast MAC address",
		re:      lazyRE(`^interface '([^']*)': cannot (?:parse VF MAC|set VF MAC to multicast address) '([^']*)'`),
		explain: func(c *errCtx, m []string) {
			c.set(KindVFMAC, fmt.Sprintf("options:dpdk-vf-mac=%q of %s is not a unicast MAC address", m[2], m[1]),
				"The VF MAC must be six hex pairs (52:54:00:12:34:56) with the multicast bit (lowest bit of the first byte) clear.",
				fmt.Sprintf("ovs-vsctl set Interface %s options:dpdk-vf-mac=52:54:00:12:34:56", m[1]))
		},
	},
	{
		Format: "%s: options:rx-steering unsupported parameter value '%s' / is only supported on ethernet ports / is incompatible with hw-offload",
		Source: "lib/netdev-dpdk.c:dpdk_set_rx_steer_config", Versions: "3.2-3.7",
		Example: "dpdk0: options:rx-steering is incompatible with hw-offload",
		Causes:  "options:rx-steering: a value other than rss+lacp, a port that is not Ethernet, or other_config:hw-offload=true",
		re:      lazyRE(`^(\S+): options:rx-steering (.*)$`),
		explain: func(c *errCtx, m []string) {
			why := "options:rx-steering of " + m[1] + " " + m[2]
			d := "rx-steering=rss+lacp is the only value; it needs an Ethernet DPDK port and is off when hardware offload is on. OVS ignores the setting and keeps the port."
			r := "ovs-vsctl remove Interface " + m[1] + " options rx-steering"
			if strings.Contains(m[2], "hw-offload") {
				r = "ovs-vsctl set Open_vSwitch . other_config:hw-offload=false   # or drop rx-steering: " + r
			}
			c.set(KindRxSteering, why, d, r)
		},
	},
	{
		Format: "%s: Failed to get device info: %s",
		Source: "lib/netdev-dpdk.c:netdev_dpdk_set_config", Versions: "3.6-3.7",
		Example: "dpdk0: Failed to get device info: Operation not supported",
		Causes:  "the DPDK driver of the port cannot describe it (a removed or half-probed device)",
		re:      lazyRE(`^(\S+): Failed to get device info: (.*)$`),
		explain: func(c *errCtx, m []string) {
			c.set(KindDeviceInfo, fmt.Sprintf("DPDK's driver could not describe %s's device (%s)", m[1], m[2]),
				"rte_eth_dev_info_get failed: the device was unplugged, reset, or its driver is broken; ovs-vswitchd's log has the driver's lines.",
				"ovs-appctl netdev-dpdk/detach "+c.devargs()+"   # then re-add the port")
		},
	},
	{
		Format: "'%s': link status interrupt is not supported.",
		Source: "lib/netdev-dpdk.c:netdev_dpdk_set_config", Versions: "3.4-3.7",
		Example: "'dpdk0': link status interrupt is not supported.",
		Causes:  "options:dpdk-lsc-interrupt=true on a device whose DPDK driver has no link-state interrupt (virtual devices such as net_af_packet, net_tap, many VFs)",
		re:      lazyRE(`^'([^']*)': link status interrupt is not supported`),
		explain: func(c *errCtx, m []string) {
			c.set(KindLSCInterrupt, fmt.Sprintf("%s asks for link-state interrupts (options:dpdk-lsc-interrupt=true) but the DPDK driver of %s has none", m[1], orNone(c.devargs())),
				"Only some physical NIC drivers signal link changes by interrupt; the others must be polled, which is OVS's default.",
				"ovs-vsctl remove Interface "+m[1]+" options dpdk-lsc-interrupt")
		},
	},
	{
		Format: "%s: Cannot get flow control parameters: %s",
		Source: "lib/netdev-dpdk.c:netdev_dpdk_set_config", Versions: "3.1-3.7",
		Example: "dpdk0: Cannot get flow control parameters: Input/output error",
		Causes:  "the device's DPDK driver failed to report flow control (other than 'not supported', which OVS tolerates)",
		re:      lazyRE(`^(\S+): Cannot get flow control parameters: (.*)$`),
		explain: func(c *errCtx, m []string) {
			c.set(KindFlowControl, fmt.Sprintf("the DPDK driver of %s failed to report flow control (%s)", m[1], m[2]),
				"rte_eth_dev_flow_ctrl_get failed with something other than 'not supported': the device is in a bad state or its firmware refuses; the log has the driver's lines.",
				"ovs-vsctl remove Interface "+m[1]+" options rx-flow-ctrl tx-flow-ctrl flow-ctrl-autoneg   # then re-add the port")
		},
	},
	{
		Format: "could not open network device %s (%s)",
		Source: "vswitchd/bridge.c:iface_do_create (netdev_open)", Versions: "3.1-3.7",
		Example: "could not open network device eth9 (No such device)",
		Causes:  "ENODEV: a system port (no type) or tap whose kernel interface does not exist; a DPDK port added without type=dpdk; for an internal port, the datapath could not make it",
		re:      lazyRE(`^could not open network device (\S+) \(No such device\)`),
		explain: explainNoDevice,
	},
	{
		Format: "could not open network device %s (%s)",
		Source: "vswitchd/bridge.c:iface_do_create (netdev_open)", Versions: "3.1-3.7",
		Example: "could not open network device dpdkr0 (Address family not supported by protocol)",
		Causes:  "EAFNOSUPPORT: no netdev class has the type: DPDK not initialized (dpdk types), a removed type (dpdkr since 2.14...), or a misspelled type",
		re:      lazyRE(`^could not open network device (\S+) \(Address family not supported by protocol\)`),
		explain: explainNoClass,
	},
	{
		Format: "could not open network device %s (%s)",
		Source: "vswitchd/bridge.c:iface_do_create (netdev_open -> netdev_dpdk_vhost_construct)", Versions: "3.1-3.7",
		Example: "could not open network device vhu0 (Unknown error -1)",
		Causes:  "a dpdkvhostuser port: DPDK could not create or listen on its socket (directory missing, socket path too long, a stale file) or the name holds a '/'",
		re:      lazyRE(`^could not open network device (\S+) \((.*)\)`),
		explain: explainOpenOther,
	},
	{
		Format: "%s: could not set configuration (%s)",
		Source: "lib/netdev.c:netdev_set_config", Versions: "3.1-3.7",
		Example: "dpdk0: could not set configuration (Invalid argument)",
		Causes:  "the netdev refused its options without a message of its own",
		re:      lazyRE(`^(\S+): could not set configuration \((.*)\)`),
		explain: func(c *errCtx, m []string) {
			if m[2] == "Resource temporarily unavailable" && IsDPDK(c.i.Type) {
				c.set(KindSetConfig, fmt.Sprintf("options:dpdk-devargs of %s changed while the port was up: OVS drops the port and creates it again with the new device", m[1]),
					"netdev_dpdk_set_config answers EAGAIN on a new devargs so that the bridge re-creates the netdev; the error lasts until the next reconfiguration, which shows the new device's own error if it fails.",
					"ovs-vsctl get Interface "+m[1]+" error   # again in a second")
				return
			}
			c.set(KindSetConfig, fmt.Sprintf("%s refused its options (%s)", m[1], m[2]),
				fmt.Sprintf("The %s netdev's set_config failed without saying why; check the options against the type's documentation (ovs-vswitchd.conf.db(5)).", orNone(c.i.Type)),
				"ovs-vsctl list Interface "+m[1])
		},
	},
	{
		Format: "could not add network device %s to ofproto (%s)",
		Source: "vswitchd/bridge.c:iface_do_create (ofproto_port_add)", Versions: "3.1-3.7",
		Example: "could not add network device dpdk0 to ofproto (Invalid argument)",
		Causes:  "a DPDK port on a kernel-datapath bridge; on a netdev bridge, the datapath could not set the port up (queues, mempool: the log's line), a port of that name already in the datapath (File exists), no huge pages (Cannot allocate memory), missing CAP_NET_RAW (Operation not permitted)",
		re:      lazyRE(`^could not add network device (\S+) to ofproto \((.*)\)`),
		explain: explainOfproto,
	},
	{
		Format: "%s: patch type requires valid 'peer' argument",
		Source: "lib/netdev-vport.c:set_patch_config", Versions: "3.1-3.7",
		Example: "patch0: patch type requires valid 'peer' argument",
		Causes:  "a patch port without options:peer",
		re:      lazyRE(`^(\S+): patch type requires valid 'peer' argument`),
		explain: func(c *errCtx, m []string) {
			c.set(KindPatchNoPeer, m[1]+" is a patch port without options:peer",
				"A patch port is one end of a pair: options:peer names the patch port at the other end.",
				"ovs-vsctl set Interface "+m[1]+" options:peer=PEER")
		},
	},
	{
		Format: "%s: patch type takes only a 'peer' argument",
		Source: "lib/netdev-vport.c:set_patch_config", Versions: "3.1-3.7",
		Example: "patch0: patch type takes only a 'peer' argument",
		Causes:  "a patch port with options other than peer",
		re:      lazyRE(`^(\S+): patch type takes only a 'peer' argument`),
		explain: func(c *errCtx, m []string) {
			c.set(KindPatchArgs, m[1]+" is a patch port with options other than peer",
				"Patch ports take options:peer and nothing else.",
				"ovs-vsctl set Interface "+m[1]+" options={peer="+c.i.Options["peer"]+"}")
		},
	},
	{
		Format: "%s: patch peer must not be self",
		Source: "lib/netdev-vport.c:set_patch_config", Versions: "3.1-3.7",
		Example: "patch0: patch peer must not be self",
		Causes:  "options:peer names the port itself",
		re:      lazyRE(`^(\S+): patch peer must not be self`),
		explain: func(c *errCtx, m []string) {
			c.set(KindPatchSelf, m[1]+"'s options:peer names itself",
				"The peer must be the other patch port of the pair, usually on another bridge.",
				"ovs-vsctl set Interface "+m[1]+" options:peer=PEER")
		},
	},
	{
		Format: "No usable peer '%s' exists in '%s' datapath.",
		Source: "ofproto/ofproto-dpif.c:vport_get_status (bridge.c:iface_refresh_ofproto_status)", Versions: "3.1-3.7",
		Example: "No usable peer 'patch1' exists in 'netdev' datapath.",
		Causes:  "the peer does not exist, is on a bridge of the other datapath type (netdev vs system), or does not point back",
		re:      lazyRE(`^No usable peer '([^']*)' exists in '([^']*)' datapath`),
		explain: explainPatchPeer,
	},
	{
		Format: "%s: bad %s 'remote_ip' / %s: %s type requires valid 'remote_ip' argument / %s: unknown %s argument '%s' / ...",
		Source: "lib/netdev-vport.c:set_tunnel_config", Versions: "3.1-3.7",
		Example: "vx0: vxlan type requires valid 'remote_ip' argument",
		Causes:  "a tunnel port's options are wrong (the message names the option)",
		re:      lazyRE(`^(\S+): (?:bad \S+ '\w+'|\S+ type requires valid '\w+' argument|unknown \S+ argument '[^']*'|multicast remote_ip=\S+ not allowed|invalid (?:TOS|erspan [a-zA-Z ]+?):? |unknown (?:extension|packet_type) '|legacy_l[23] configured|\S+ type requires 'remote_ip=flow'|'remote_ip' and 'local_ip' has to be|VXLAN-GBP, and non-VXLAN-GBP)`),
		explain: func(c *errCtx, m []string) {
			c.set(KindTunnelConfig, fmt.Sprintf("the tunnel options of %s are wrong: %s", m[1], strings.TrimPrefix(c.raw, m[1]+": ")),
				"Tunnel ports (vxlan, geneve, gre, ...) need options:remote_ip (an IP address or flow) and accept only their documented options.",
				"ovs-vsctl list Interface "+m[1])
		},
	},
}

// errCtx is what an entry joins OVS's text with.
type errCtx struct {
	e   *Explanation
	raw string
	st  *State
	b   *Bridge
	i   *Interface
	f   *check.Facts
}

func (c *errCtx) set(k Kind, cause, detail string, remedy ...string) {
	c.e.Kind, c.e.Cause, c.e.Detail, c.e.Remedy = k, cause, detail, remedy
}

func (c *errCtx) devargs() string { return c.i.Options["dpdk-devargs"] }

// MatchError returns the catalog entry for an Interface error and the submatches, or nil.
func MatchError(raw string) (*Entry, []string) {
	raw = strings.TrimSpace(raw)
	for k := range Catalog {
		if m := Catalog[k].re.FindStringSubmatch(raw); m != nil {
			return &Catalog[k], m
		}
	}
	return nil, nil
}

// match is MatchError, remembered by error text when x keeps matches.
func (x *explainer) match(raw string) (*Entry, []string) {
	if x.matches == nil {
		return MatchError(raw)
	}
	if cm, ok := x.matches[raw]; ok {
		return cm.ent, cm.m
	}
	ent, m := MatchError(raw)
	x.matches[raw] = catalogMatch{ent, m}
	return ent, m
}

// catalog fills e from the catalog and the host; it reports whether an entry matched.
// Where ovs-vswitchd's log names the interface or device, its last such lines are quoted.
func (x *explainer) catalog(e *Explanation, b *Bridge, i *Interface) bool {
	ent, m := x.match(i.Error)
	if ent == nil {
		e.Kind = KindUnknown
		return false
	}
	f := x.f
	c := &errCtx{e: e, raw: strings.TrimSpace(i.Error), st: x.st, b: b, i: i, f: f}
	if ent.hostOnly && x.shared != nil {
		k := sharedKey{ent, i.Error}
		if done, ok := x.shared[k]; ok {
			*e = done
		} else {
			ent.explain(c, m)
			e.Remedy = slices.Clip(e.Remedy) // an append to one interface's remedies copies them
			x.shared[k] = *e
		}
	} else {
		ent.explain(c, m)
	}
	if f != nil && len(warningsOf(f)) > 0 {
		keys := []string{i.Name}
		if d := c.devargs(); d != "" {
			keys = append(keys, d)
			if a, err := pci.ParseAddress(strings.SplitN(d, ",", 2)[0]); err == nil {
				keys = append(keys, a.String())
			}
		}
		if lines := RelevantLogLines(warningsOf(f), 3, keys...); len(lines) > 0 {
			e.Log = lines
			if e.HostReady {
				for k := len(lines) - 1; k >= 0; k-- {
					if _, eal, ok := strings.Cut(lines[k], "|EAL: "); ok {
						e.Cause += "; DPDK's EAL says: " + eal
						break
					}
				}
			}
			e.Detail += " ovs-vswitchd's log says: " + strings.Join(quoteAll(lines), "; ") + "."
		}
	}
	return true
}

// logCache keeps the warnings and errors of the parsed log of the last facts explained with,
// so that explaining many interfaces of one host reads the log once, and each interface looks
// only at the lines RelevantLogLines can return (an INFO line never is). pre is a read
// PreloadLog started, for the first facts of its root.
var logCache struct {
	sync.Mutex
	f     *check.Facts
	lines []LogLine
	pre   *logRead
}

// logRead is a read of ovs-vswitchd's log under way: lines are set when done is closed.
type logRead struct {
	r     host.Root
	done  chan struct{}
	lines []LogLine
}

// PreloadLog starts reading ovs-vswitchd's log of r now, in the background, for the first
// explanations made with facts of r. On the live host finding the log means reading
// ovs-vswitchd's pidfile (in runDirs, say the directory of the database's socket, or the
// standard ones) or else looking at every process (host.OVSLogPath): ovs show does that while
// it gathers the host's facts rather than after.
func PreloadLog(r host.Root, runDirs ...string) {
	l := &logRead{r: r, done: make(chan struct{})}
	logCache.Lock()
	logCache.pre = l
	logCache.Unlock()
	go func() {
		l.lines = warnings(ReadOVSLog(r, runDirs...))
		close(l.done)
	}()
}

func warningsOf(f *check.Facts) []LogLine {
	logCache.Lock()
	defer logCache.Unlock()
	if logCache.f != f {
		if pre := logCache.pre; pre != nil && pre.r == f.Root {
			<-pre.done
			logCache.f, logCache.lines, logCache.pre = f, pre.lines, nil
		} else {
			logCache.f, logCache.lines = f, warnings(ReadOVSLog(f.Root))
		}
	}
	return logCache.lines
}

// warnings keeps the lines RelevantLogLines can return.
func warnings(lines []LogLine) []LogLine {
	var warn []LogLine
	for _, l := range lines {
		if l.Level == "ERR" || l.Level == "WARN" || l.Level == "EMER" {
			warn = append(warn, l)
		}
	}
	return warn
}

func quoteAll(s []string) []string {
	out := make([]string, len(s))
	for k, x := range s {
		out[k] = fmt.Sprintf("%q", x)
	}
	return out
}

func explainAttachPCI(c *errCtx, m []string) {
	explainAttach(c.e, m[1]+m[2], "", c.f)
	c.e.Kind = KindAttachPCI
	if c.f == nil {
		return
	}
	a, err := pci.ParseAddress(m[1])
	if err != nil {
		return
	}
	d := c.f.Devices.Get(a)
	if d == nil {
		return
	}
	// An RMRR-locked device still on its kernel driver: binding to vfio-pci is the first
	// obstacle (EAL skips the device), the RMRR lock the second (VFIO refuses the group).
	rmrr := c.f.Judged(d).Lock.RMRR.State == dmar.Locked || strings.Contains(c.e.Cause, "RMRR-locked")
	if rmrr && !check.IsDPDKDriver(d.Driver) && d.Driver != "mlx5_core" && d.Driver != "mlx4_core" {
		drv := d.Driver
		if drv == "" {
			drv = "no driver"
		}
		first := fmt.Sprintf("%s is on %s, not on vfio-pci", a, drv)
		if len(d.Interfaces) > 0 {
			first += " (kernel interface " + strings.Join(d.Interfaces, ", ") + ")"
		}
		c.e.Cause = "first, " + first + "; then, once bound, " + c.e.Cause
		c.e.Detail = "DPDK only attaches a device a user-space driver owns, so the kernel driver stops it first; binding it to vfio-pci will then fail on the RMRR lock. " + c.e.Detail
		c.e.Remedy = append(c.f.BindRemedy(d), c.e.Remedy...)
	}
}

func explainAttachMAC(c *errCtx, m []string) {
	mac := strings.ToLower(m[1])
	cause := fmt.Sprintf("no port DPDK has probed has the MAC %s", mac)
	detail := "With devargs class=eth,mac=... OVS does not probe anything: it only looks among the ports DPDK already probed (devices on vfio-pci at start-up, or named in other_config:dpdk-extra). "
	if c.f != nil {
		for _, d := range c.f.Devices.List {
			for _, ifc := range d.Interfaces {
				b, err := c.f.Root.ReadString(d.SysPath + "/net/" + ifc + "/address")
				if err == nil && strings.EqualFold(strings.TrimSpace(b), mac) {
					cause = fmt.Sprintf("the MAC %s belongs to %s (kernel interface %s on %s), which DPDK has not probed: it is not on vfio-pci", mac, d.Address, ifc, d.Driver)
					c.set(KindAttachMAC, cause, detail+"Bind it to vfio-pci and restart ovs-vswitchd, or name it by its PCI address.", c.f.BindRemedy(d)...)
					c.e.Remedy = append(c.e.Remedy, fmt.Sprintf("ovs-vsctl set Interface %s options:dpdk-devargs=%s", c.i.Name, d.Address))
					return
				}
			}
		}
	}
	c.set(KindAttachMAC, cause, detail+"A device on vfio-pci has no kernel interface to read its MAC from: check the MAC with the NIC's label or dpdk-testpmd, or name the device by its PCI address.",
		fmt.Sprintf("ovs-vsctl set Interface %s options:dpdk-devargs=0000:03:00.0   # the NIC's PCI address (dpdk-doctor devices)", c.i.Name))
}

var ifaceArg = lazyRE(`(?:^|,)iface=([^,]+)`)

func explainAttachVdev(c *errCtx, m []string) {
	cause := fmt.Sprintf("DPDK could not create the virtual device %q", m[1]+m[2])
	detail := "For a vdev (net_af_packet, net_tap, net_vhost...) the driver refused its arguments or the interface it names does not exist."
	if im := ifaceArg.FindStringSubmatch(m[2]); im != nil && c.f != nil && strings.HasPrefix(m[1], "net_af_packet") && !c.f.Root.Exists("sys/class/net/"+im[1]) {
		cause = fmt.Sprintf("DPDK could not create the virtual device %s: the kernel interface %s it names does not exist", m[1], im[1])
	}
	c.set(KindAttachVdev, cause, detail, "ip link show   # the kernel interfaces here")
}

// looksDPDK tells a name or options that meant a DPDK port.
func looksDPDK(i *Interface) bool {
	return i.Options["dpdk-devargs"] != "" || strings.HasPrefix(i.Name, "dpdk")
}

func explainNoDevice(c *errCtx, m []string) {
	name := m[1]
	switch typ := c.i.Type; {
	case (typ == "" || typ == "system") && looksDPDK(c.i):
		c.set(KindMissingDPDKType, fmt.Sprintf("%s was added without type=dpdk, so OVS looks for a kernel interface named %s and there is none", name, name),
			"Without a type an Interface is a kernel (system) interface; options:dpdk-devargs is ignored until type=dpdk is set.",
			fmt.Sprintf("ovs-vsctl set Interface %s type=dpdk", name))
	case typ == "" || typ == "system" || typ == "tap":
		cause := fmt.Sprintf("there is no kernel interface named %s", name)
		if c.f != nil && c.f.Root.Exists("sys/class/net/"+name) {
			cause = fmt.Sprintf("the kernel interface %s was not there when ovs-vswitchd opened it (it exists now: re-adding the port will pick it up)", name)
		}
		c.set(KindNoKernelIface, cause,
			"A port with no type (or type=system) is a kernel network interface of that exact name; in a network namespace ovs-vswitchd does not see, or renamed by udev, it does not exist for OVS.",
			"ip link show   # the kernel interfaces here", fmt.Sprintf("ovs-vsctl del-port %s", name))
	case typ == "internal":
		c.set(KindNoKernelIface, fmt.Sprintf("the datapath could not create the internal interface %s", name),
			"Internal ports are made by the datapath: on a kernel-datapath bridge the openvswitch kernel module must be loaded; on a netdev bridge a tap device is made (needs /dev/net/tun).",
			"modprobe openvswitch; ls -l /dev/net/tun")
	default:
		c.set(KindNoKernelIface, fmt.Sprintf("the %s interface %s found no device of that name", typ, name),
			"netdev_open answered ENODEV: the kernel or DPDK object the port names does not exist.",
			"ovs-vsctl list Interface "+name)
	}
}

// removedTypes are Interface types OVS once had.
var removedTypes = map[string]string{
	"dpdkr":     "OVS 2.14 removed dpdkr (DPDK ring) ports; use dpdkvhostuserclient or a memif/af_xdp port instead",
	"dpdkvhost": "dpdkvhost (vhost-cuse) was removed in OVS 2.6; use dpdkvhostuserclient",
}

// knownTypes are the Interface types of OVS 3.x without DPDK.
var knownTypes = map[string]bool{"": true, "system": true, "internal": true, "tap": true, "patch": true,
	"geneve": true, "gre": true, "vxlan": true, "lisp": true, "stt": true, "erspan": true, "ip6erspan": true,
	"ip6gre": true, "gtpu": true, "bareudp": true, "srv6": true, "afxdp": true, "afxdp-nonpmd": true}

func explainNoClass(c *errCtx, m []string) {
	name, typ := m[1], c.i.Type
	switch {
	case removedTypes[typ] != "":
		c.set(KindRemovedType, fmt.Sprintf("type %s no longer exists in OVS: %s", typ, removedTypes[typ]),
			"netdev_open found no netdev class for the type, so it answers \"Address family not supported by protocol\"; DPDK being up or down has nothing to do with it.",
			"ovs-vsctl del-port "+name)
	case IsDPDK(typ):
		cause := "DPDK is not initialized in ovs-vswitchd, so interfaces of type " + typ + " cannot exist"
		if c.st != nil && c.st.DPDKInit != "true" && c.st.DPDKInit != "try" {
			cause = "DPDK is not enabled (other_config:dpdk-init is not true), so type " + typ + " is unknown to ovs-vswitchd"
		} else if c.st != nil && !c.st.DPDKInitialized {
			cause = "DPDK was requested but failed to initialize (dpdk_initialized is false): see the ovs-vswitchd log for EAL errors (huge pages, cores)"
		}
		c.set(KindDPDKOff, cause,
			"The dpdk port types are registered only when ovs-vswitchd starts DPDK; without it the netdev layer answers \"Address family not supported\". Is ovs-vswitchd the DPDK build (ovs-vswitchd-dpdk)?",
			"ovs-vsctl set Open_vSwitch . other_config:dpdk-init=true", "systemctl restart openvswitch-switch   # DPDK starts only when vswitchd starts",
			"update-alternatives --set ovs-vswitchd /usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk   # Debian/Ubuntu: use the DPDK build")
	case typ == "afxdp" || typ == "afxdp-nonpmd":
		c.set(KindUnknownType, "this ovs-vswitchd was built without AF_XDP, so type "+typ+" does not exist",
			"afxdp ports exist only in builds configured with --enable-afxdp.", "ovs-vsctl set Interface "+name+" type=system   # or use a build with AF_XDP")
	case !knownTypes[typ]:
		c.set(KindUnknownType, fmt.Sprintf("OVS has no interface type %q (a typo, or a type of another OVS build)", typ),
			"netdev_open found no netdev class for the type and answers \"Address family not supported by protocol\". Types: system (no type), internal, tap, patch, dpdk, dpdkvhostuserclient, vxlan, geneve, gre, ...",
			fmt.Sprintf("ovs-vsctl set Interface %s type=dpdk   # or the type you meant", name))
	default:
		c.set(KindUnknownType, fmt.Sprintf("the datapath of bridge %s cannot hold a port of type %q", bridgeName(c.b), typ),
			"The datapath type maps the port type to one it can open (ofproto_port_open_type); the result has no netdev class here.",
			"ovs-vsctl list Bridge "+bridgeName(c.b))
	}
}

func bridgeName(b *Bridge) string {
	if b == nil {
		return "(unknown)"
	}
	return b.Name
}

func explainOpenOther(c *errCtx, m []string) {
	name, errno := m[1], m[2]
	switch {
	case c.i.Type == "dpdkvhostuser" && strings.ContainsAny(name, `/\`):
		c.set(KindVhostName, fmt.Sprintf("%q is not a valid name for a vhost-user port: it holds a '/' or '\\'", name),
			"The port name becomes the socket's file name in OVS's run directory.", "ovs-vsctl del-port "+name)
	case c.i.Type == "dpdkvhostuser":
		c.set(KindVhostSocket, fmt.Sprintf("DPDK could not create the vhost-user socket of %s (%s)", name, errno),
			"A dpdkvhostuser port is a socket OVS listens on in its run directory (other_config:vhost-sock-dir): the directory must exist and be writable, the path shorter than 108 bytes, no stale file in the way. dpdkvhostuser is deprecated: use dpdkvhostuserclient with options:vhost-server-path.",
			fmt.Sprintf("ovs-vsctl set Interface %s type=dpdkvhostuserclient options:vhost-server-path=/var/run/vhost/%s.sock", name, name))
	case errno == "Operation not permitted" || errno == "Permission denied":
		c.set(KindNoPermission, fmt.Sprintf("ovs-vswitchd may not open %s (%s)", name, errno),
			"Opening a kernel interface takes CAP_NET_ADMIN and CAP_NET_RAW; a vswitchd run as a user without them (--user, a container) cannot.",
			"systemctl cat ovs-vswitchd   # check User= and capabilities")
	default:
		c.set(KindOpenFailed, fmt.Sprintf("ovs-vswitchd could not open %s (%s)", name, errno),
			fmt.Sprintf("netdev_open of the %s netdev failed with %q.", orNone(c.i.Type), errno),
			"ovs-vsctl list Interface "+name)
	}
}

func explainOfproto(c *errCtx, m []string) {
	name, errno := m[1], m[2]
	b := c.b
	switch {
	case b != nil && (IsDPDK(c.i.Type) || c.i.Type == "afxdp") && b.DatapathType != "netdev":
		c.set(KindKernelDatapath, fmt.Sprintf("bridge %s uses the kernel datapath (datapath_type %q), which cannot hold DPDK ports", b.Name, b.DatapathType),
			"ofproto refuses a port when the datapath cannot open it: a DPDK port needs a bridge with datapath_type=netdev.",
			fmt.Sprintf("ovs-vsctl set Bridge %s datapath_type=netdev", b.Name))
	case errno == "File exists":
		c.set(KindPortExists, fmt.Sprintf("the datapath already has a port named %s", name),
			"Each datapath holds a name once: another bridge of the same datapath, or a stale port from an earlier configuration, already has it.",
			"ovs-appctl dpctl/show   # the datapath's ports")
	case errno == "Cannot allocate memory":
		c.set(KindNoMemory, fmt.Sprintf("the datapath could not allocate %s's packet buffers (huge pages)", name),
			"A DPDK port's mempool comes from huge pages on the device's NUMA node (other_config:dpdk-socket-mem).",
			"dpdk-doctor check   # huge pages per node", "ovs-vsctl set Open_vSwitch . other_config:dpdk-socket-mem=1024,1024")
	case errno == "Operation not permitted" || errno == "Permission denied":
		c.set(KindNoPermission, fmt.Sprintf("the userspace datapath may not open %s (%s)", name, errno),
			"On a netdev bridge a kernel interface is read through an AF_PACKET socket, which takes CAP_NET_RAW.",
			"systemctl cat ovs-vswitchd   # check User= and capabilities")
	case b != nil && b.DatapathType == "netdev":
		c.set(KindDatapathConfig, fmt.Sprintf("the userspace datapath of bridge %s could not set %s up (%s)", b.Name, name, errno),
			"dpif-netdev adds the port, then reconfigures it (queues, mempool, start); when that fails it drops the port. A loopback device is refused outright.",
			"ovs-vsctl set Interface "+name+" options:n_rxq=1   # fewer queues than the device has, or see the log line")
	default:
		c.set(KindOfprotoOther, fmt.Sprintf("the datapath of bridge %s refused %s (%s)", bridgeName(b), name, errno),
			"ofproto refuses a port when the datapath cannot open it; the kernel datapath needs the openvswitch module and refuses ports of user-space types.",
			"ovs-appctl dpctl/show")
	}
}

func explainPatchPeer(c *errCtx, m []string) {
	peer, dp := m[1], m[2]
	var pb *Bridge
	var pi *Interface
	if c.st != nil {
		for bi := range c.st.Bridges {
			for pj := range c.st.Bridges[bi].Ports {
				for ik := range c.st.Bridges[bi].Ports[pj].Interfaces {
					if x := &c.st.Bridges[bi].Ports[pj].Interfaces[ik]; x.Name == peer {
						pb, pi = &c.st.Bridges[bi], x
					}
				}
			}
		}
	}
	dt := func(b *Bridge) string {
		if b.DatapathType == "" {
			return "system"
		}
		return b.DatapathType
	}
	switch {
	case pi == nil:
		c.set(KindPatchPeerMissing, fmt.Sprintf("the peer %s of %s does not exist", peer, c.i.Name),
			"A patch port needs its peer: another patch port, usually on another bridge of the same datapath type, whose options:peer names this one.",
			fmt.Sprintf("ovs-vsctl add-port BRIDGE %s -- set Interface %s type=patch options:peer=%s", peer, peer, c.i.Name))
	case dt(pb) != dp:
		c.set(KindPatchDatapath, fmt.Sprintf("the peer %s is on bridge %s of datapath type %s, but %s is in the %s datapath: patch ports cannot cross datapath types", peer, pb.Name, dt(pb), c.i.Name, dp),
			"Patch ports are joined inside one datapath; a netdev (DPDK) bridge and a system (kernel) bridge cannot be patched together.",
			fmt.Sprintf("ovs-vsctl set Bridge %s datapath_type=%s", pb.Name, dp))
	case pi.Type != "patch" || pi.Options["peer"] != c.i.Name:
		c.set(KindPatchUnpaired, fmt.Sprintf("the peer %s is not a patch port pointing back at %s (type %q, options:peer=%q)", peer, c.i.Name, pi.Type, pi.Options["peer"]),
			"Both ends of a patch pair must be type=patch and name each other in options:peer.",
			fmt.Sprintf("ovs-vsctl set Interface %s type=patch options:peer=%s", peer, c.i.Name))
	default:
		c.set(KindPatchUnpaired, fmt.Sprintf("the peer %s exists but ovs-vswitchd has not joined them yet", peer),
			"The pair is joined on the next reconfiguration; a persisting error means the peer failed to be created (see its own error).",
			"ovs-vsctl get Interface "+peer+" error")
	}
}
