package netif

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"golang.org/x/sys/unix"
)

// readNetlink reads the live host's facts over netlink: one NETLINK_ROUTE socket dumps the
// links, addresses and routes (three requests), one NETLINK_SOCK_DIAG socket the established
// TCP sockets of each family. The facts are the ones the files give (see readFiles): flags as
// sys/class/net/IF/flags shows them, the IPv4 main table as proc/net/route lists it, the IPv6
// routes of every table as proc/net/ipv6_route does.
func readNetlink() (*facts, error) {
	for try := 0; ; try++ {
		f, err := readNetlinkOnce()
		if !errors.Is(err, errInterrupted) || try == 4 {
			return f, err
		}
	}
}

func readNetlinkOnce() (*facts, error) {
	p := newNLParser()
	// A dump message is at most 32 KiB (the kernel's largest netlink dump buffer); both
	// sockets share one buffer.
	buf := make([]byte, 32<<10)
	rt, err := dialNetlink(unix.NETLINK_ROUTE, buf)
	if err != nil {
		return nil, err
	}
	defer rt.close()
	// IFLA_EXT_MASK with RTEXT_FILTER_SKIP_STATS: the link counters are not needed.
	req := append(make([]byte, unix.SizeofIfInfomsg), 8, 0, unix.IFLA_EXT_MASK, 0, 1<<3, 0, 0, 0)
	if err := rt.dump(unix.RTM_GETLINK, req, p.link); err != nil {
		return nil, fmt.Errorf("netlink: links: %w", err)
	}
	p.linksDone()
	if err := rt.dump(unix.RTM_GETADDR, make([]byte, unix.SizeofIfAddrmsg), p.addr); err != nil {
		return nil, fmt.Errorf("netlink: addresses: %w", err)
	}
	if err := rt.dump(unix.RTM_GETROUTE, make([]byte, unix.SizeofRtMsg), p.route); err != nil {
		return nil, fmt.Errorf("netlink: routes: %w", err)
	}
	diag, err := dialNetlink(unix.NETLINK_SOCK_DIAG, buf)
	if err != nil {
		return nil, err
	}
	defer diag.close()
	for _, family := range []byte{unix.AF_INET, unix.AF_INET6} {
		// inet_diag_req_v2: family, protocol, no extensions, the ESTABLISHED state only.
		req := make([]byte, sizeofInetDiagReqV2)
		req[0], req[1] = family, unix.IPPROTO_TCP
		binary.NativeEndian.PutUint32(req[4:], 1<<tcpEstablished)
		if err := diag.dump(unix.SOCK_DIAG_BY_FAMILY, req, p.sock); err != nil {
			return nil, fmt.Errorf("netlink: TCP sockets: %w", err)
		}
	}
	return p.f, nil
}

// nlParser turns the bodies of netlink dump messages into facts: links first (linksDone
// after the last), then addresses, routes and sockets in any order.
type nlParser struct {
	f       *facts
	names   map[int32]string // interface index -> name
	masters map[int32]int32  // interface index -> its master's index
	index   []int32          // f.links[i]'s interface index
	up      map[int32]bool   // up and not a loopback device
}

func newNLParser() *nlParser {
	return &nlParser{f: &facts{}, names: map[int32]string{}, masters: map[int32]int32{}, up: map[int32]bool{}}
}

// link reads one RTM_NEWLINK body (struct ifinfomsg and attributes).
func (p *nlParser) link(b []byte) error {
	if len(b) < unix.SizeofIfInfomsg {
		return errShort
	}
	idx := int32(binary.NativeEndian.Uint32(b[4:]))
	ifiFlags := uint64(binary.NativeEndian.Uint32(b[8:]))
	l := Link{OperState: "unknown"}
	var promisc, allmulti uint32
	hasAllmulti := false
	err := attrs(b[unix.SizeofIfInfomsg:], func(typ uint16, v []byte) {
		switch typ {
		case unix.IFLA_IFNAME:
			l.Name = cstring(v)
		case unix.IFLA_MASTER:
			if len(v) >= 4 {
				p.masters[idx] = int32(binary.NativeEndian.Uint32(v))
			}
		case unix.IFLA_OPERSTATE:
			if len(v) >= 1 && int(v[0]) < len(operStates) {
				l.OperState = operStates[v[0]]
			}
		case unix.IFLA_PROMISCUITY:
			if len(v) >= 4 {
				promisc = binary.NativeEndian.Uint32(v)
			}
		case unix.IFLA_ALLMULTI:
			if len(v) >= 4 {
				allmulti, hasAllmulti = binary.NativeEndian.Uint32(v), true
			}
		}
	})
	if err != nil {
		return err
	}
	// ifi_flags adds the volatile flags (RUNNING, LOWER_UP, DORMANT) and shows only the
	// PROMISC and ALLMULTI the user set; sysfs shows dev->flags, where those two are set while
	// any user of the device asks for them.
	const volatile = unix.IFF_RUNNING | unix.IFF_LOWER_UP | unix.IFF_DORMANT | unix.IFF_PROMISC
	l.Flags = ifiFlags &^ volatile
	if promisc > 0 {
		l.Flags |= unix.IFF_PROMISC
	}
	if hasAllmulti {
		l.Flags &^= unix.IFF_ALLMULTI
		if allmulti > 0 {
			l.Flags |= unix.IFF_ALLMULTI
		}
	}
	p.names[idx] = l.Name
	p.f.links = append(p.f.links, l)
	p.index = append(p.index, idx)
	return nil
}

// linksDone names each link's master and notes which links are up.
func (p *nlParser) linksDone() {
	for n, l := range p.f.links {
		if m, ok := p.masters[p.index[n]]; ok {
			p.f.links[n].Master = p.names[m]
		}
		p.up[p.index[n]] = l.Flags&flagUp != 0 && l.Flags&unix.IFF_LOOPBACK == 0
	}
}

// addr reads one RTM_NEWADDR body (struct ifaddrmsg and attributes).
func (p *nlParser) addr(b []byte) error {
	if len(b) < unix.SizeofIfAddrmsg {
		return errShort
	}
	family, plen, idx := b[0], int(b[1]), int32(binary.NativeEndian.Uint32(b[4:]))
	var addr, local netip.Addr
	err := attrs(b[unix.SizeofIfAddrmsg:], func(typ uint16, v []byte) {
		switch typ {
		case unix.IFA_ADDRESS:
			addr, _ = netip.AddrFromSlice(v)
		case unix.IFA_LOCAL:
			local, _ = netip.AddrFromSlice(v)
		}
	})
	if local.IsValid() {
		addr = local
	}
	name, ok := p.names[idx]
	switch {
	case err != nil || !ok || !addr.IsValid() || plen > addr.BitLen():
	case family == unix.AF_INET6 && addr.Is6():
		p.f.addrs6 = append(p.f.addrs6, IfaceAddr{netip.PrefixFrom(addr, plen), name})
	// An IPv4 address is in the kernel's local table (proc/net/fib_trie) only while its
	// interface is up; addresses on the loopback device are not an interface's.
	case family == unix.AF_INET && addr.Is4() && p.up[idx] && !addr.IsLoopback():
		p.f.addrs4 = append(p.f.addrs4, IfaceAddr{netip.PrefixFrom(addr, plen), name})
	}
	return err
}

// route reads one RTM_NEWROUTE body (struct rtmsg and attributes).
func (p *nlParser) route(b []byte) error {
	if len(b) < unix.SizeofRtMsg {
		return errShort
	}
	family, dstLen, table, typ := b[0], int(b[1]), uint32(b[4]), b[7]
	var dst, gw netip.Addr
	oif := int32(0)
	var multipath []byte
	err := attrs(b[unix.SizeofRtMsg:], func(t uint16, v []byte) {
		switch t {
		case unix.RTA_DST:
			dst, _ = netip.AddrFromSlice(v)
		case unix.RTA_GATEWAY:
			gw, _ = netip.AddrFromSlice(v)
		case unix.RTA_OIF:
			if len(v) >= 4 {
				oif = int32(binary.NativeEndian.Uint32(v))
			}
		case unix.RTA_TABLE:
			if len(v) >= 4 {
				table = binary.NativeEndian.Uint32(v)
			}
		case unix.RTA_MULTIPATH:
			multipath = v
		}
	})
	if err != nil {
		return err
	}
	type hop struct {
		oif int32
		gw  netip.Addr
	}
	hops := []hop{{oif, gw}}
	if multipath != nil {
		hops = hops[:0]
		for len(multipath) >= unix.SizeofRtNexthop {
			n := int(binary.NativeEndian.Uint16(multipath))
			if n < unix.SizeofRtNexthop || n > len(multipath) {
				return errShort
			}
			h := hop{oif: int32(binary.NativeEndian.Uint32(multipath[4:]))}
			if err := attrs(multipath[unix.SizeofRtNexthop:n], func(t uint16, v []byte) {
				if t == unix.RTA_GATEWAY {
					h.gw, _ = netip.AddrFromSlice(v)
				}
			}); err != nil {
				return err
			}
			hops = append(hops, h)
			multipath = multipath[min((n+3)&^3, len(multipath)):]
		}
	}
	switch family {
	case unix.AF_INET:
		if !dst.IsValid() {
			dst = netip.IPv4Unspecified()
		}
		// proc/net/route: the main table, no broadcast or multicast routes, no reject routes;
		// a route through no device (blackhole, throw) is no interface's. A multipath route is
		// shown by its first hop.
		if table != unix.RT_TABLE_MAIN || typ == unix.RTN_BROADCAST || typ == unix.RTN_MULTICAST ||
			typ == unix.RTN_UNREACHABLE || typ == unix.RTN_PROHIBIT || len(hops) == 0 || !dst.Is4() || dstLen > 32 {
			return nil
		}
		h := hops[0]
		if name, ok := p.names[h.oif]; ok {
			r := IfaceRoute{Route{Dst: netip.PrefixFrom(dst, dstLen).Masked()}, name}
			if h.gw.Is4() {
				r.Gateway = h.gw
			}
			p.f.v4 = append(p.f.v4, r)
		}
	case unix.AF_INET6:
		if !dst.IsValid() {
			dst = netip.IPv6Unspecified()
		}
		// proc/net/ipv6_route: every table, each hop of a multipath route on its own line;
		// local, anycast, reject, multicast and link-local routes are left out as there.
		switch typ {
		case unix.RTN_LOCAL, unix.RTN_ANYCAST, unix.RTN_UNREACHABLE, unix.RTN_PROHIBIT, unix.RTN_BLACKHOLE, unix.RTN_THROW:
			return nil
		}
		if !dst.Is6() || dst.IsMulticast() || dst.IsLinkLocalUnicast() || dstLen > 128 {
			return nil
		}
		for _, h := range hops {
			if name, ok := p.names[h.oif]; ok {
				r := IfaceRoute{Route{Dst: netip.PrefixFrom(dst, dstLen).Masked()}, name}
				if h.gw.Is6() {
					r.Gateway = h.gw
				}
				p.f.v6 = append(p.f.v6, r)
			}
		}
	}
	return nil
}

// sock reads one SOCK_DIAG_BY_FAMILY answer (struct inet_diag_msg) and keeps an established
// connection to local port 22.
func (p *nlParser) sock(b []byte) error {
	if len(b) < sizeofInetDiagMsg {
		return errShort
	}
	c := TCPConn{State: int(b[1])}
	sport, dport := binary.BigEndian.Uint16(b[4:]), binary.BigEndian.Uint16(b[6:])
	if b[0] == unix.AF_INET {
		c.Local = netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[8:12])), sport)
		c.Remote = netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[24:28])), dport)
	} else {
		c.Local = netip.AddrPortFrom(netip.AddrFrom16([16]byte(b[8:24])), sport)
		c.Remote = netip.AddrPortFrom(netip.AddrFrom16([16]byte(b[24:40])), dport)
	}
	if c.State == tcpEstablished && sport == 22 {
		p.f.conns = append(p.f.conns, c)
	}
	return nil
}

// operStates are the IFLA_OPERSTATE values as sys/class/net/IF/operstate names them (RFC 2863).
var operStates = [...]string{"unknown", "notpresent", "down", "lowerlayerdown", "testing", "dormant", "up"}

// Sizes of struct inet_diag_req_v2 and struct inet_diag_msg (linux/inet_diag.h).
const (
	sizeofInetDiagReqV2 = 56
	sizeofInetDiagMsg   = 72
)

var (
	errShort       = errors.New("short netlink message")
	errInterrupted = errors.New("netlink dump interrupted by a change")
)

// nlSocket is one netlink socket that sends dump requests and reads their answers.
type nlSocket struct {
	fd  int
	seq uint32
	buf []byte
}

func dialNetlink(proto int, buf []byte) (*nlSocket, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		return nil, fmt.Errorf("netlink socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("netlink bind: %w", err)
	}
	return &nlSocket{fd: fd, buf: buf}, nil
}

func (s *nlSocket) close() { unix.Close(s.fd) }

// dump sends a dump request of type typ with body req and calls fn with the body of each
// answer until the kernel says it is done.
func (s *nlSocket) dump(typ uint16, req []byte, fn func(b []byte) error) error {
	s.seq++
	msg := make([]byte, unix.SizeofNlMsghdr, unix.SizeofNlMsghdr+len(req))
	binary.NativeEndian.PutUint32(msg[0:], uint32(unix.SizeofNlMsghdr+len(req)))
	binary.NativeEndian.PutUint16(msg[4:], typ)
	binary.NativeEndian.PutUint16(msg[6:], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
	binary.NativeEndian.PutUint32(msg[8:], s.seq)
	msg = append(msg, req...)
	if err := unix.Sendto(s.fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return err
	}
	var fnErr error
	for {
		n, _, err := unix.Recvfrom(s.fd, s.buf, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if done, err := messages(s.buf[:n], s.seq, fn, &fnErr); err != nil || done {
			if err != nil {
				return err
			}
			return fnErr
		}
	}
}

// messages calls fn with the body of each message of sequence number seq in b (one datagram
// of a dump) until fn fails (its error kept in fnErr, the rest only read). done is set at the
// message that ends the dump; err is a malformed datagram or the kernel's refusal.
func messages(b []byte, seq uint32, fn func(b []byte) error, fnErr *error) (done bool, err error) {
	for len(b) >= unix.SizeofNlMsghdr {
		l := int(binary.NativeEndian.Uint32(b))
		t := binary.NativeEndian.Uint16(b[4:])
		flags := binary.NativeEndian.Uint16(b[6:])
		s := binary.NativeEndian.Uint32(b[8:])
		if l < unix.SizeofNlMsghdr || l > len(b) {
			return false, errShort
		}
		body := b[unix.SizeofNlMsghdr:l]
		b = b[min((l+3)&^3, len(b)):]
		if s != seq {
			continue
		}
		if flags&unix.NLM_F_DUMP_INTR != 0 && *fnErr == nil {
			*fnErr = errInterrupted // the table changed while it was dumped: read it again
		}
		switch t {
		case unix.NLMSG_DONE:
			return true, nil
		case unix.NLMSG_ERROR:
			if len(body) < 4 {
				return false, errShort
			}
			if e := int32(binary.NativeEndian.Uint32(body)); e != 0 {
				return false, unix.Errno(-e)
			}
			return true, nil
		case unix.NLMSG_NOOP, unix.NLMSG_OVERRUN:
			continue
		}
		if *fnErr == nil {
			*fnErr = fn(body)
		}
	}
	return false, nil
}

// attrs calls fn with the type and value of each netlink attribute in b.
func attrs(b []byte, fn func(typ uint16, v []byte)) error {
	for len(b) >= unix.SizeofRtAttr {
		l := int(binary.NativeEndian.Uint16(b))
		if l < unix.SizeofRtAttr || l > len(b) {
			return errShort
		}
		fn(binary.NativeEndian.Uint16(b[2:])&^(unix.NLA_F_NESTED|unix.NLA_F_NET_BYTEORDER), b[unix.SizeofRtAttr:l])
		b = b[min((l+3)&^3, len(b)):]
	}
	return nil
}

func cstring(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}
