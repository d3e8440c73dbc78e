// Package netif says which kernel network interfaces a host is using: their state, addresses
// and routes and whether an SSH session runs over them. Before a NIC is unbound from its kernel
// driver for DPDK, this is what tells an operator that doing so would cut the host off, as
// dpdk-devbind.py's "*Active*" mark does.
//
// A captured tree is read from files through host.Root: sys/class/net/IF/{operstate,flags,master},
// proc/net/route (IPv4 main table, the routes `ip -o route` shows), proc/net/ipv6_route (the
// IPv6 routes of every table), proc/net/if_inet6 (IPv6 addresses with their interface),
// proc/net/fib_trie (IPv4 local addresses; the file names no interface, so an address is given
// to the interface of the connected route that holds it) and proc/net/tcp and tcp6 (established
// SSH connections).
//
// The live host is read over netlink instead (RTM_GETLINK, RTM_GETADDR and RTM_GETROUTE dumps
// and an INET_DIAG dump of established TCP sockets), which gives the same facts several times
// faster: proc/net/tcp walks every socket of the host, and sys/class/net takes three reads per
// interface. Netlink names each IPv4 address's interface and prefix directly (the files can
// only guess where the connected route is not in the main table, as with noprefixroute or a
// VRF); the facts are
// otherwise put into the same shape as the files' (flags as sys/class/net shows them, the same
// routes left out), and a test on the live host checks that both give the same Info. When
// netlink cannot be used, the live host is read from its files.
package netif

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	"github.com/dpdk-doctor/dpdk-doctor/host"
)

// Files read from the host.
const (
	classNet   = "sys/class/net"
	routeV4    = "proc/net/route"
	routeV6    = "proc/net/ipv6_route"
	addrV6     = "proc/net/if_inet6"
	fibTrie    = "proc/net/fib_trie"
	tcpV4      = "proc/net/tcp"
	tcpV6      = "proc/net/tcp6"
	maxRead    = 16 << 20 // a route table of a large router is a few MiB
	flagUp     = 0x1      // IFF_UP
	rtfUp      = 0x1      // RTF_UP
	rtfGate    = 0x2      // RTF_GATEWAY
	rtfReject  = 0x200    // RTF_REJECT
	rtfLocal   = 0x80000000
	rtfAnycast = 0x100000 // RTF_ANYCAST
)

// Files lists what Read reads, for a capture to copy (sys/class/net/*/{operstate,flags} too).
var Files = []string{routeV4, routeV6, addrV6, fibTrie, tcpV4, tcpV6}

// Route is one route through an interface.
type Route struct {
	Dst     netip.Prefix
	Gateway netip.Addr // invalid for a connected route
}

// IsDefault reports whether r is a default route (0.0.0.0/0 or ::/0).
func (r Route) IsDefault() bool { return r.Dst.Bits() == 0 }

// Link is one kernel network interface and what the host does with it.
type Link struct {
	Name      string
	OperState string // sys/class/net/IF/operstate: "up", "down", "unknown", ... ("" when unread)
	Flags     uint64 // sys/class/net/IF/flags (IFF_*)
	Master    string // the bond, bridge or OVS datapath it is enslaved to (sys/class/net/IF/master), "" for none
	Addrs     []netip.Prefix
	Routes    []Route
	SSHPeers  []netip.AddrPort // SSH clients whose session runs over this interface
}

// Up reports whether the interface is administratively up (IFF_UP) or its operstate says up.
func (l *Link) Up() bool { return l.Flags&flagUp != 0 || l.OperState == "up" }

// Activity says why an interface is in use; Active is false when nothing uses it.
type Activity struct {
	Active  bool     `json:"active"`
	Reasons []string `json:"reasons"` // "default route", "route to 10.0.0.0/24", "address 10.0.0.5/24", "SSH session from 192.0.2.7"
}

// Activity reports whether the host uses l: it has a route, is up with an address, or carries
// an SSH session. Routes to link-local space (169.254.0.0/16) do not count, as in dpdk-devbind.
func (l *Link) Activity() Activity {
	a := Activity{Reasons: []string{}}
	if l == nil {
		return a
	}
	def := false
	var routes []string
	connected := map[netip.Prefix]bool{} // the routes an address brings along say nothing more
	if l.Up() {
		for _, p := range l.Addrs {
			connected[p.Masked()] = true
		}
	}
	for _, r := range l.Routes {
		switch {
		case r.IsDefault():
			def = true
		case !r.Gateway.IsValid() && connected[r.Dst]:
		default:
			routes = append(routes, r.Dst.String())
		}
	}
	if def {
		a.Reasons = append(a.Reasons, "default route")
	}
	if len(routes) > 0 {
		a.Reasons = append(a.Reasons, "route to "+strings.Join(routes, ", "))
	}
	if l.Up() && len(l.Addrs) > 0 {
		var as []string
		for _, p := range l.Addrs {
			as = append(as, p.String())
		}
		a.Reasons = append(a.Reasons, "address "+strings.Join(as, ", "))
	}
	for _, p := range l.SSHPeers {
		a.Reasons = append(a.Reasons, "SSH session from "+p.Addr().String())
	}
	a.Active = len(a.Reasons) > 0
	return a
}

// Info is every interface the files name, by name.
type Info struct {
	Links map[string]*Link
	// Unreadable names the files that exist but could not be read (permission), so a caller
	// can say "run as root" instead of "not in use".
	Unreadable []string
}

// Link returns the interface called name, or nil.
func (i *Info) Link(name string) *Link {
	if i == nil {
		return nil
	}
	return i.Links[name]
}

// Activity is what the host does with the interface called name, including through the bond
// or bridge it is a member of: a port of an active bond or bridge is active, and so is a port of
// Open vSwitch's kernel datapath (ovs-system), whose bridges the files do not name.
func (i *Info) Activity(name string) Activity {
	l := i.Link(name)
	a := l.Activity()
	seen := map[string]bool{name: true}
	var chain []string // bond0, br0: the masters above it
	for depth := 0; l != nil && l.Master != "" && !seen[l.Master] && depth < 8; depth++ {
		seen[l.Master] = true
		if l.Master == "ovs-system" {
			a.Reasons = append(a.Reasons, "port of an Open vSwitch kernel bridge (ovs-system)")
			break
		}
		chain = append(chain, l.Master)
		m := i.Link(l.Master)
		if ma := m.Activity(); ma.Active {
			a.Reasons = append(a.Reasons, "member of "+strings.Join(chain, " in ")+", which has "+strings.Join(ma.Reasons, ", "))
			break
		}
		l = m
	}
	a.Active = len(a.Reasons) > 0
	return a
}

// Options tune Read.
type Options struct {
	// SSHConnection is the SSH_CONNECTION value of the session dpdk-doctor runs in
	// ("CLIENT_IP CLIENT_PORT SERVER_IP SERVER_PORT"), "" when none or when reading a tree.
	SSHConnection string
}

// Read reads r's interfaces, addresses, routes and SSH sessions. Missing files leave facts
// out (a tree captured without them shows no activity); a malformed file is an error naming it.
// On the live host the facts come from netlink (see the package doc); when netlink cannot be
// used, from the files as for a tree.
func Read(r host.Root, o Options) (*Info, error) {
	if r.IsLive() && !forceFiles {
		if f, err := readNetlink(); err == nil {
			return f.info(o), nil
		}
	}
	f, err := readFiles(r)
	if err != nil {
		return nil, err
	}
	return f.info(o), nil
}

// forceFiles makes Read use the files on the live host too (for the test that compares both).
var forceFiles = false

// facts is what Read gathers before it puts the interfaces together, from files or netlink.
type facts struct {
	links      []Link       // Name, OperState, Flags and Master only
	v4, v6     []IfaceRoute // IPv4 main table; IPv6 as proc/net/ipv6_route lists it
	addrs4     []IfaceAddr  // IPv4 addresses with their interface (loopback ones left out)
	addrs6     []IfaceAddr  // every IPv6 address
	conns      []TCPConn    // established TCP connections whose local port is 22
	unreadable []string
}

// readFiles reads the facts from r's files.
func readFiles(r host.Root) (*facts, error) {
	f := &facts{}
	ents, err := r.ReadDir(classNet)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		if !errors.Is(err, fs.ErrPermission) {
			return nil, fmt.Errorf("reading %s: %w", r.Path(classNet), err)
		}
		f.unreadable = append(f.unreadable, r.Path(classNet))
	}
	for _, e := range ents {
		l := Link{Name: e.Name()}
		l.OperState, _ = r.ReadString(classNet + "/" + e.Name() + "/operstate")
		if s, err := r.ReadString(classNet + "/" + e.Name() + "/flags"); err == nil {
			l.Flags, _ = strconv.ParseUint(strings.TrimPrefix(s, "0x"), 16, 64)
		}
		l.Master, _ = r.LinkBase(classNet + "/" + e.Name() + "/master")
		f.links = append(f.links, l)
	}
	read := func(rel string) []byte {
		b, err := r.ReadHead(rel, maxRead)
		if errors.Is(err, fs.ErrPermission) {
			f.unreadable = append(f.unreadable, r.Path(rel))
		}
		if len(b) == maxRead { // a huge table: keep the whole lines read
			b = b[:bytes.LastIndexByte(b, '\n')+1]
		}
		return b
	}
	var errs []error
	v4, err := ParseRoutes(read(routeV4))
	if err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", r.Path(routeV4), err))
	}
	v6, err := ParseIPv6Routes(read(routeV6))
	if err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", r.Path(routeV6), err))
	}
	addrs6, err := ParseIfInet6(read(addrV6))
	if err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", r.Path(addrV6), err))
	}
	local4, err := ParseFibTrie(read(fibTrie))
	if err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", r.Path(fibTrie), err))
	}
	conns, err := ParseTCP(read(tcpV4))
	if err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", r.Path(tcpV4), err))
	}
	conns6, err := ParseTCP(read(tcpV6))
	if err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", r.Path(tcpV6), err))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	f.v4, f.v6, f.addrs6 = v4, v6, addrs6
	// fib_trie names no interface: an address belongs to the interface of the connected route
	// that holds it, with that route's prefix length.
	for _, a := range local4 {
		if a.IsLoopback() {
			continue
		}
		if rt, ok := lookup(v4, a, true); ok {
			f.addrs4 = append(f.addrs4, IfaceAddr{netip.PrefixFrom(a, rt.Dst.Bits()), rt.Iface})
		}
	}
	for _, c := range append(conns, conns6...) {
		if c.State == tcpEstablished && c.Local.Port() == 22 {
			f.conns = append(f.conns, c)
		}
	}
	return f, nil
}

// info puts the facts together: each interface with its addresses, routes and SSH peers.
func (f *facts) info(o Options) *Info {
	i := &Info{Links: map[string]*Link{}, Unreadable: f.unreadable}
	link := func(name string) *Link {
		l := i.Links[name]
		if l == nil {
			l = &Link{Name: name}
			i.Links[name] = l
		}
		return l
	}
	for _, fl := range f.links {
		l := link(fl.Name)
		l.OperState, l.Flags, l.Master = fl.OperState, fl.Flags, fl.Master
	}
	all := append(f.v4[:len(f.v4):len(f.v4)], f.v6...)
	for _, rt := range all {
		if rt.Iface == "lo" || linkLocal4.Contains(rt.Dst.Addr()) && rt.Dst.Bits() >= 16 {
			continue
		}
		l := link(rt.Iface)
		l.Routes = append(l.Routes, rt.Route)
	}
	owner := map[netip.Addr]string{}
	for _, a := range f.addrs6 {
		owner[a.Prefix.Addr()] = a.Iface
	}
	for _, a := range f.addrs4 {
		owner[a.Prefix.Addr()] = a.Iface
		l := link(a.Iface)
		l.Addrs = append(l.Addrs, a.Prefix)
	}
	for _, a := range f.addrs6 {
		if a.Iface != "lo" && a.Prefix.Addr().IsGlobalUnicast() {
			l := link(a.Iface)
			l.Addrs = append(l.Addrs, a.Prefix)
		}
	}
	// SSH sessions: this process's own, and every established connection to port 22.
	peers := map[netip.AddrPort]netip.Addr{} // peer -> local address
	if c, ok := parseSSHConnection(o.SSHConnection); ok {
		peers[c[0]] = c[1].Addr()
	}
	for _, c := range f.conns {
		peers[c.Remote] = c.Local.Addr()
	}
	for peer, local := range peers {
		peer = netip.AddrPortFrom(peer.Addr().Unmap(), peer.Port())
		local = local.Unmap()
		if local.IsLoopback() || peer.Addr().IsLoopback() {
			continue // a tunnel or a local login: no interface carries it
		}
		name, ok := owner[local]
		if !ok {
			if rt, found := lookup(all, peer.Addr(), false); found {
				name, ok = rt.Iface, true
			}
		}
		if ok && name != "lo" {
			l := link(name)
			l.SSHPeers = append(l.SSHPeers, peer)
		}
	}
	// One order whatever the source: the kernel lists IPv6 addresses in hash order in
	// proc/net/if_inet6 and in list order over netlink.
	for _, l := range i.Links {
		sort.SliceStable(l.Addrs, func(a, b int) bool { return l.Addrs[a].Addr().Less(l.Addrs[b].Addr()) })
		sort.SliceStable(l.Routes, func(a, b int) bool { return routeLess(l.Routes[a], l.Routes[b]) })
		sort.Slice(l.SSHPeers, func(a, b int) bool { return l.SSHPeers[a].Compare(l.SSHPeers[b]) < 0 })
	}
	return i
}

// routeLess orders routes by destination, then prefix length, then gateway.
func routeLess(a, b Route) bool {
	if c := a.Dst.Addr().Compare(b.Dst.Addr()); c != 0 {
		return c < 0
	}
	if a.Dst.Bits() != b.Dst.Bits() {
		return a.Dst.Bits() < b.Dst.Bits()
	}
	return a.Gateway.Less(b.Gateway)
}

var linkLocal4 = netip.MustParsePrefix("169.254.0.0/16")

// lookup finds the longest-prefix route to a (connected routes only when connected is set).
func lookup(routes []IfaceRoute, a netip.Addr, connected bool) (IfaceRoute, bool) {
	best, found := IfaceRoute{}, false
	for _, rt := range routes {
		if connected && rt.Gateway.IsValid() || !rt.Dst.Contains(a) || rt.Iface == "lo" {
			continue
		}
		if !found || rt.Dst.Bits() > best.Dst.Bits() {
			best, found = rt, true
		}
	}
	return best, found
}

func parseSSHConnection(s string) ([2]netip.AddrPort, bool) {
	f := strings.Fields(s)
	if len(f) != 4 {
		return [2]netip.AddrPort{}, false
	}
	var out [2]netip.AddrPort
	for i, j := range []int{0, 2} {
		a, err := netip.ParseAddr(f[j])
		p, err2 := strconv.ParseUint(f[j+1], 10, 16)
		if err != nil || err2 != nil {
			return out, false
		}
		out[i] = netip.AddrPortFrom(a, uint16(p))
	}
	return out, true
}
