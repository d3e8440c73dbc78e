package testhost

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"
)

// net writes sys/class/net and proc/net for h.Net in the kernel's formats: each interface's
// operstate and flags, the IPv4 main table (proc/net/route), the IPv6 routes and addresses,
// the IPv4 local addresses (proc/net/fib_trie) and the SSH connections (proc/net/tcp).
func (w *writer) net(h *Host, ifaces map[string]string) {
	if len(h.Net) == 0 {
		return
	}
	route := "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT                                                       \n"
	var route6, inet6, trie, tcp strings.Builder
	trie.WriteString("Main:\n  +-- 0.0.0.0/0 3 0 5\n")
	tcp.WriteString("  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n")
	le := func(a netip.Addr) string {
		b := a.As4()
		return fmt.Sprintf("%08X", binary.LittleEndian.Uint32(b[:]))
	}
	for i, l := range h.Net {
		dir, ok := ifaces[l.Name]
		if !ok {
			dir = "sys/devices/virtual/net/" + l.Name
		}
		state, flags := "down", "0x1002"
		if l.Up {
			state, flags = "up", "0x1003"
		}
		w.file(dir+"/operstate", state+"\n")
		w.file(dir+"/flags", flags+"\n")
		w.link("sys/class/net/"+l.Name, dir)
		if gw, err := netip.ParseAddr(l.Gateway); err == nil && gw.Is4() {
			route += fmt.Sprintf("%s\t00000000\t%s\t0003\t0\t0\t0\t00000000\t0\t0\t0                                                                               \n", l.Name, le(gw))
		}
		for _, a := range l.Addrs {
			p := netip.MustParsePrefix(a)
			if p.Addr().Is4() {
				mask := netip.AddrFrom4([4]byte(binary.BigEndian.AppendUint32(nil, ^uint32(0)<<(32-p.Bits()))))
				route += fmt.Sprintf("%s\t%s\t00000000\t0001\t0\t0\t0\t%s\t0\t0\t0                                                                               \n", l.Name, le(p.Masked().Addr()), le(mask))
				fmt.Fprintf(&trie, "     |-- %s\n        /%d link UNICAST\n     |-- %s\n        /32 host LOCAL\n", p.Masked().Addr(), p.Bits(), p.Addr())
			} else {
				h16 := func(a netip.Addr) string { b := a.As16(); return fmt.Sprintf("%x", b[:]) }
				fmt.Fprintf(&inet6, "%s %02x %02x 00 80 %8s\n", h16(p.Addr()), i+2, p.Bits(), l.Name)
				fmt.Fprintf(&route6, "%s %02x %s 00 %s 00000100 00000001 00000000 00000001 %8s\n", h16(p.Masked().Addr()), p.Bits(), strings.Repeat("0", 32), strings.Repeat("0", 32), l.Name)
			}
		}
		if l.SSHFrom != "" && len(l.Addrs) > 0 {
			peer := netip.MustParseAddrPort(l.SSHFrom)
			local := netip.MustParsePrefix(l.Addrs[0]).Addr()
			fmt.Fprintf(&tcp, "   %d: %s:0016 %s:%04X 01 00000000:00000000 02:000A7D1B 00000000     0        0 %d 4 0000000000000000 20 4 1 10 -1\n",
				i+1, le(local), le(peer.Addr()), peer.Port(), 5521+i)
		}
	}
	w.file("proc/net/route", route)
	w.file("proc/net/ipv6_route", route6.String())
	w.file("proc/net/if_inet6", inet6.String())
	w.file("proc/net/fib_trie", trie.String())
	w.file("proc/net/tcp", tcp.String())
}
