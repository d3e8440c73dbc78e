package netif

import (
	"io/fs"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/dpdk-doctor/dpdk-doctor/host"
)

// Real files from a Debian 12 host (eth0 192.0.2.2/24, fd00::2/64, default routes both ways)
// plus a second interface eth1 that is up with no address, and an SSH client on eth0.
const (
	route = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n" +
		"eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n" +
		"eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n" +
		"eth1\t0000FEA9\t00000000\t0001\t0\t0\t1000\t0000FFFF\t0\t0\t0\n"
	route6 = "fd000000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0\n" +
		"fe800000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000002 00000000 00000001     eth1\n" +
		"00000000000000000000000000000000 00 00000000000000000000000000000000 00 fd000000000000000000000000000001 00000400 00000002 00000000 00000003     eth0\n" +
		"fd000000000000000000000000000002 80 00000000000000000000000000000000 00 00000000000000000000000000000000 00000000 00000003 00000000 80200001     eth0\n" +
		"00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo\n"
	inet6 = "00000000000000000000000000000001 01 80 10 80       lo\n" +
		"fe8000000000000000fc00fffe000001 04 40 20 80     eth1\n" +
		"fd000000000000000000000000000002 04 40 00 82     eth0\n"
	trie = "Main:\n  +-- 0.0.0.0/0 3 0 5\n     |-- 0.0.0.0\n        /0 universe UNICAST\n" +
		"     +-- 127.0.0.0/8 2 0 2\n        +-- 127.0.0.0/31 1 0 0\n           |-- 127.0.0.0\n              /8 host LOCAL\n           |-- 127.0.0.1\n              /32 host LOCAL\n" +
		"     +-- 192.0.2.0/24 2 0 2\n        +-- 192.0.2.0/30 2 0 2\n           |-- 192.0.2.0\n              /24 link UNICAST\n           |-- 192.0.2.2\n              /32 host LOCAL\n" +
		"        |-- 192.0.2.255\n           /32 link BROADCAST\nLocal:\n  +-- 0.0.0.0/0 3 0 5\n     |-- 192.0.2.2\n        /32 host LOCAL\n"
	tcp = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n" +
		"   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1074 1 00000000b90cf7c6 100 0 0 10 0\n" +
		"   1: 020200C0:0016 070200C0:D431 01 00000000:00000000 02:000A7D1B 00000000     0        0 5521 4 00000000e754dec8 20 4 1 10 -1\n"
)

func tree(extra map[string]string) host.Root {
	m := fstest.MapFS{}
	files := map[string]string{
		"proc/net/route": route, "proc/net/ipv6_route": route6, "proc/net/if_inet6": inet6, "proc/net/fib_trie": trie, "proc/net/tcp": tcp,
		"sys/class/net/eth0/operstate": "up\n", "sys/class/net/eth0/flags": "0x1003\n",
		"sys/class/net/eth1/operstate": "up\n", "sys/class/net/eth1/flags": "0x1003\n",
		"sys/class/net/eth2/operstate": "down\n", "sys/class/net/eth2/flags": "0x1002\n",
	}
	for k, v := range extra {
		files[k] = v
	}
	for k, v := range files {
		m[k] = &fstest.MapFile{Data: []byte(v)}
	}
	return host.FS(m, "test")
}

func TestActivity(t *testing.T) {
	i, err := Read(tree(nil), Options{})
	if err != nil {
		t.Fatal(err)
	}
	a := i.Link("eth0").Activity()
	want := []string{"default route", "address 192.0.2.2/24, fd00::2/64", "SSH session from 192.0.2.7"}
	if !a.Active || !slices.Equal(a.Reasons, want) {
		t.Errorf("eth0: %+v, want reasons %q", a, want)
	}
	// eth1 is up with only a link-local address and a 169.254/16 route: not in use (dpdk-devbind
	// ignores 169.254 routes too).
	if a := i.Link("eth1").Activity(); a.Active {
		t.Errorf("eth1: %+v, want inactive", a)
	}
	if a := i.Link("eth2").Activity(); a.Active || i.Link("eth2").Up() {
		t.Errorf("eth2: %+v, want down and inactive", a)
	}
	if a := i.Link("nonesuch").Activity(); a.Active {
		t.Error("an unknown interface is not active")
	}
}

func TestSSHConnection(t *testing.T) {
	// No tcp file: only this process's own session names the peer. The server address is an
	// IPv6 address on eth1 (held there by if_inet6).
	r := tree(map[string]string{"proc/net/tcp": "", "proc/net/if_inet6": inet6 + "20010db8000000000000000000000005 05 40 00 80     eth1\n"})
	i, err := Read(r, Options{SSHConnection: "2001:db8::99 50022 2001:db8::5 22"})
	if err != nil {
		t.Fatal(err)
	}
	if a := i.Link("eth1").Activity(); !a.Active || !strings.Contains(strings.Join(a.Reasons, ";"), "SSH session from 2001:db8::99") {
		t.Errorf("eth1: %+v", a)
	}
	if len(i.Link("eth0").SSHPeers) != 0 {
		t.Error("eth0 carries no SSH session here")
	}
}

func TestMalformed(t *testing.T) {
	for file, body := range map[string]string{
		"proc/net/route":      "Iface\tDestination\neth0\tzz\t0\t0\t0\t0\t0\t0\n",
		"proc/net/ipv6_route": "short line\n",
		"proc/net/if_inet6":   "00 01 80 10 80 lo\n",
		"proc/net/tcp":        "0: 0100007F 00000000:0000 01\n",
	} {
		_, err := Read(tree(map[string]string{file: body}), Options{})
		if err == nil || !strings.Contains(err.Error(), "/"+file) {
			t.Errorf("%s: error %v, want one naming the file", file, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{route, route6, inet6, trie, tcp} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b := []byte(s)
		ParseRoutes(b)
		ParseIPv6Routes(b)
		ParseIfInet6(b)
		ParseFibTrie(b)
		ParseTCP(b)
		i, err := Read(tree(map[string]string{"proc/net/route": s}), Options{SSHConnection: s})
		if err == nil {
			for _, l := range i.Links {
				l.Activity()
			}
		}
	})
}

// TestMasterActivity: a NIC enslaved to a bond or bridge that carries the route is in use
// although it has no address or route of its own; so is a port of OVS's kernel datapath.
func TestMasterActivity(t *testing.T) {
	fsys := fstest.MapFS{
		"proc/net/route":                 {Data: []byte(route)},
		"sys/class/net/eth0/flags":       {Data: []byte("0x1003\n")},
		"sys/class/net/eno1/flags":       {Data: []byte("0x1803\n")},
		"sys/class/net/eno1/master":      {Data: []byte("../bond0"), Mode: fs.ModeSymlink},
		"sys/class/net/bond0/flags":      {Data: []byte("0x1403\n")},
		"sys/class/net/bond0/master":     {Data: []byte("../eth0"), Mode: fs.ModeSymlink},
		"sys/class/net/eno2/flags":       {Data: []byte("0x1803\n")},
		"sys/class/net/eno2/master":      {Data: []byte("../ovs-system"), Mode: fs.ModeSymlink},
		"sys/class/net/eno3/flags":       {Data: []byte("0x1002\n")},
		"sys/class/net/ovs-system/flags": {Data: []byte("0x1002\n")},
	}
	i, err := Read(host.FS(fsys, "bond"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if a := i.Activity("eno1"); !a.Active || !strings.Contains(strings.Join(a.Reasons, ";"), "member of bond0 in eth0, which has default route") {
		t.Errorf("eno1: %+v", a)
	}
	if a := i.Activity("eno2"); !a.Active || !strings.Contains(a.Reasons[0], "ovs-system") {
		t.Errorf("eno2: %+v", a)
	}
	if a := i.Activity("eno3"); a.Active {
		t.Errorf("eno3: %+v", a)
	}
}

// TestSSHConnectionIPv4: this session's server address is found among the IPv4 local addresses
// (fib_trie) and given to the interface of the connected route that holds it.
func TestSSHConnectionIPv4(t *testing.T) {
	i, err := Read(tree(map[string]string{"proc/net/tcp": ""}), Options{SSHConnection: "203.0.113.9 41000 192.0.2.2 22"})
	if err != nil {
		t.Fatal(err)
	}
	if p := i.Link("eth0").SSHPeers; len(p) != 1 || p[0].Addr().String() != "203.0.113.9" {
		t.Errorf("eth0 SSH peers: %v", p)
	}
	// A loopback session (a tunnel) belongs to no interface.
	i, _ = Read(tree(map[string]string{"proc/net/tcp": ""}), Options{SSHConnection: "127.0.0.1 41000 127.0.0.1 22"})
	for name, l := range i.Links {
		if len(l.SSHPeers) > 0 {
			t.Errorf("%s carries a loopback session", name)
		}
	}
}
