package netif

import (
	"fmt"
	"net"
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/dpdk-doctor/dpdk-doctor/host"

	"github.com/dpdk-doctor/dpdk-doctor/internal/testenv"
)

// needRoot skips a test that needs root, or fails it under CI=true, where it must run.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		testenv.Unavailable(t, "needs root to create veths (CI=true: this test must run)")
	}
}

// testLinks makes interfaces of every kind Read tells apart, all the test's own: a veth pair
// (one end up with IPv4 and IPv6 addresses, a secondary address and routes through gateways, the
// other end up and enslaved to a bridge, which makes it promiscuous), a second pair that is down
// with an address, and a blackhole route. Nothing is sent anywhere.
func testLinks(t *testing.T) {
	t.Helper()
	const a, b, br, c = "ddnfa0", "ddnfb0", "ddnfbr0", "ddnfc0"
	for _, n := range []string{a, br, c} {
		if l, err := netlink.LinkByName(n); err == nil {
			netlink.LinkDel(l)
		}
	}
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	must("veth", netlink.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: a}, PeerName: b}))
	t.Cleanup(func() {
		if l, err := netlink.LinkByName(a); err == nil {
			netlink.LinkDel(l)
		}
	})
	must("veth", netlink.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: c}, PeerName: "ddnfd0"}))
	t.Cleanup(func() {
		if l, err := netlink.LinkByName(c); err == nil {
			netlink.LinkDel(l)
		}
	})
	must("bridge", netlink.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: br}}))
	t.Cleanup(func() {
		if l, err := netlink.LinkByName(br); err == nil {
			netlink.LinkDel(l)
		}
	})
	la, _ := netlink.LinkByName(a)
	lb, _ := netlink.LinkByName(b)
	lbr, _ := netlink.LinkByName(br)
	lc, _ := netlink.LinkByName(c)
	addr := func(l netlink.Link, s string, flags int) {
		t.Helper()
		p, err := netlink.ParseAddr(s)
		must("parse "+s, err)
		p.Flags = flags
		must("address "+s, netlink.AddrAdd(l, p))
	}
	addr(la, "10.231.7.1/24", 0)
	addr(la, "10.231.7.9/24", 0)
	addr(la, "2001:db8:77::1/64", unix.IFA_F_NODAD)
	addr(la, "2001:db8:77::5/64", unix.IFA_F_NODAD)
	addr(lc, "10.231.8.1/24", 0)
	must("master", netlink.LinkSetMaster(lb, lbr))
	must("up", netlink.LinkSetUp(la))
	must("up", netlink.LinkSetUp(lb))
	route := func(r *netlink.Route) {
		t.Helper()
		netlink.RouteDel(r) // left by an interrupted run (the others went with their links)
		must("route "+r.String(), netlink.RouteAdd(r))
		t.Cleanup(func() { netlink.RouteDel(r) })
	}
	route(&netlink.Route{LinkIndex: la.Attrs().Index, Dst: mustNet("10.232.0.0/16"), Gw: net.ParseIP("10.231.7.2")})
	route(&netlink.Route{LinkIndex: la.Attrs().Index, Dst: mustNet("2001:db8:78::/48"), Gw: net.ParseIP("2001:db8:77::2")})
	route(&netlink.Route{Dst: mustNet("10.233.0.0/16"), Type: unix.RTN_BLACKHOLE})
}

func mustNet(s string) *net.IPNet {
	_, n, err := net.ParseCIDR(s)
	if err != nil {
		panic(err)
	}
	return n
}

// sshListener accepts TCP connections on port 22 on every address and connects to it from
// the test veth's own addresses (IPv4, IPv6 and IPv4 on the dual-stack socket), so that both
// sources see established sessions to port 22. It returns false when port 22 is taken.
func sshSessions(t *testing.T) bool {
	t.Helper()
	ln, err := net.Listen("tcp", "[::]:22")
	if err != nil {
		t.Logf("no SSH sessions compared: listening on port 22: %v", err)
		return false
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	for _, to := range []string{"10.231.7.1:22", "[2001:db8:77::1]:22"} {
		// The kernel adds an address's local route when the link comes up: wait for it, so
		// that the connection stays on this host.
		ip := net.ParseIP(strings.Trim(strings.TrimSuffix(to, ":22"), "[]"))
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			if rs, err := netlink.RouteGet(ip); err == nil && len(rs) > 0 && rs[0].Type == unix.RTN_LOCAL {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no local route to %s", ip)
			}
		}
		c, err := net.DialTimeout("tcp", to, 2*time.Second)
		if err != nil {
			t.Fatalf("connecting to our own listener at %s: %v", to, err)
		}
		t.Cleanup(func() { c.Close() })
	}
	return true
}

// TestNetlinkMatchesFiles: on the live host, the facts read over netlink are the facts read
// from the files (links with their operstate, flags and master, addresses, routes, SSH
// sessions), with the test's own interfaces of every kind present.
func TestNetlinkMatchesFiles(t *testing.T) {
	needRoot(t)
	testLinks(t)
	ssh := sshSessions(t)
	live := host.Live()
	read := func(files bool) *Info {
		t.Helper()
		forceFiles = files
		defer func() { forceFiles = false }()
		i, err := Read(live, Options{})
		if err != nil {
			t.Fatalf("Read (files %v): %v", files, err)
		}
		return i
	}
	// Other tests on this machine add and remove interfaces: compare a file read with two
	// netlink reads around it that agree with each other.
	var nl, files *Info
	for try := 0; try < 10; try++ {
		nl = read(false)
		files = read(true)
		if again := read(false); reflect.DeepEqual(nl, again) {
			break
		}
	}
	if _, err := readNetlink(); err != nil {
		t.Fatalf("netlink could not be read: %v", err)
	}
	if diff := diffInfo(nl, files); diff != "" {
		t.Errorf("netlink (-) and files (+) differ:\n%s", diff)
	}
	// The test's own interfaces are there with what the test gave them.
	a := nl.Link("ddnfa0")
	if a == nil || !a.Up() || a.Master != "" {
		t.Fatalf("ddnfa0: %+v", a)
	}
	want := "10.231.7.1/24 10.231.7.9/24 2001:db8:77::1/64 2001:db8:77::5/64"
	if got := fmt.Sprint(a.Addrs); got != "["+want+"]" {
		t.Errorf("ddnfa0 addresses %s, want [%s]", got, want)
	}
	if got := fmt.Sprint(a.Routes); !strings.Contains(got, "10.232.0.0/16 10.231.7.2") || !strings.Contains(got, "2001:db8:78::/48 2001:db8:77::2") {
		t.Errorf("ddnfa0 routes %s", got)
	}
	if b := nl.Link("ddnfb0"); b == nil || !b.Up() || b.Master != "ddnfbr0" || b.Flags&unix.IFF_PROMISC == 0 {
		t.Errorf("ddnfb0: %+v, want up, promiscuous, in ddnfbr0", b)
	}
	if c := nl.Link("ddnfc0"); c == nil || c.Up() || len(c.Addrs) != 0 {
		t.Errorf("ddnfc0: %+v, want down, no address listed", c)
	}
	if nl.Link("*") != nil {
		t.Error("a blackhole route made an interface called *")
	}
	if ssh {
		got := fmt.Sprint(a.SSHPeers)
		if len(a.SSHPeers) < 2 || !strings.Contains(got, "10.231.7.1:") || !strings.Contains(got, "[2001:db8:77::1]:") {
			t.Errorf("ddnfa0 SSH peers %s, want our two sessions", got)
		}
	}
}

// diffInfo lists the links on which a and b differ, "" when they are the same.
func diffInfo(a, b *Info) string {
	var out []string
	names := map[string]bool{}
	for n := range a.Links {
		names[n] = true
	}
	for n := range b.Links {
		names[n] = true
	}
	var sorted []string
	for n := range names {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)
	for _, n := range sorted {
		if la, lb := a.Links[n], b.Links[n]; !reflect.DeepEqual(la, lb) {
			out = append(out, fmt.Sprintf("- %+v\n+ %+v", la, lb))
		}
	}
	if !reflect.DeepEqual(a.Unreadable, b.Unreadable) {
		out = append(out, fmt.Sprintf("unreadable: - %q + %q", a.Unreadable, b.Unreadable))
	}
	return strings.Join(out, "\n")
}

// TestRoutesLeftOut: a blackhole route (no device, "*") and an IPv6 anycast route say nothing
// about an interface's use.
func TestRoutesLeftOut(t *testing.T) {
	v4, err := ParseRoutes([]byte(route + "*\t0000E90A\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n"))
	if err != nil || len(v4) != 3 {
		t.Errorf("routes %v, %v: want the 3 with a device", v4, err)
	}
	v6, err := ParseIPv6Routes([]byte(route6 + "fd000000000000000000000000000000 80 00000000000000000000000000000000 00 00000000000000000000000000000000 00000000 00000001 00000000 00100001     eth0\n"))
	if err != nil || len(v6) != 2 {
		t.Errorf("IPv6 routes %v, %v: want fd00::/64 and the default", v6, err)
	}
}
