package capture

import (
	"encoding/binary"
	"net/netip"
	"strconv"
	"strings"
)

// The network- and transport-layer primitives (host, net, port, portrange, tcp, udp, icmp,
// icmp6, ip proto, ip6 proto, with src and dst) are built, as libpcap builds them, from
// comparisons of frame fields: cmpNode. The BPF generator and the Go evaluator only know
// cmpNode, so the two agree by construction.

// cmpKind is how a cmpNode compares the loaded field with its value.
type cmpKind int

const (
	cmpEq  cmpKind = iota // field&mask == val
	cmpSet                // field&val != 0 (jset)
	cmpGE                 // field >= val
	cmpGT                 // field > val
)

// cmpNode compares size bytes at a link-layer offset (after depth vlan keywords) with val.
// With l4 set, off is relative to the end of the IPv4 header, whose length is the IHL nibble
// of the byte at link-layer offset 14 (as libpcap's ldxb 4*([14]&0xf)).
type cmpNode struct {
	off, size int
	mask, val uint32
	kind      cmpKind
	depth     int
	l4        bool
}

func and(ns ...node) node {
	n := ns[0]
	for _, m := range ns[1:] {
		n = andNode{n, m}
	}
	return n
}

func or(ns ...node) node {
	n := ns[0]
	for _, m := range ns[1:] {
		n = orNode{n, m}
	}
	return n
}

func (p *parser) eq(off, size int, val uint32) node {
	return cmpNode{off: off, size: size, mask: 0xffffffff, val: val, depth: p.vlans}
}

func (p *parser) ether(t uint16) node { return protoNode{t, p.vlans} }

// ipProto: IPv4's protocol field is v.
func (p *parser) ipProto(v uint32) node { return and(p.ether(0x0800), p.eq(23, 1, v)) }

// ip6Proto: IPv6's next header is v, directly or after a fragment header (libpcap's gen_proto).
func (p *parser) ip6Proto(v uint32) node {
	return and(p.ether(0x86dd), or(p.eq(20, 1, v), and(p.eq(20, 1, 44), p.eq(54, 1, v))))
}

// addrs tests 4-byte words of an address at off under a mask.
func (p *parser) addrs(off int, addr, mask []byte) node {
	var ns []node
	for i := 0; i < len(addr); i += 4 {
		m := binary.BigEndian.Uint32(mask[i:])
		if m == 0 {
			continue
		}
		ns = append(ns, cmpNode{off: off + i, size: 4, mask: m, val: binary.BigEndian.Uint32(addr[i:]) & m, depth: p.vlans})
	}
	if len(ns) == 0 {
		return allNode{}
	}
	return and(ns...)
}

// hostNet is host or net A (a prefix), in the source, the destination or either (dir "src",
// "dst" or ""). Without ip or ip6 before it (proto ""), IPv4 also matches ARP and RARP
// sender and target addresses, as in libpcap.
func (p *parser) hostNet(proto, dir string, pfx netip.Prefix) node {
	a := pfx.Addr().AsSlice()
	mask := make([]byte, len(a))
	for i := 0; i < pfx.Bits(); i++ {
		mask[i/8] |= 0x80 >> (i % 8)
	}
	pick := func(src, dst int) node {
		switch dir {
		case "src":
			return p.addrs(src, a, mask)
		case "dst":
			return p.addrs(dst, a, mask)
		}
		return or(p.addrs(src, a, mask), p.addrs(dst, a, mask))
	}
	if len(a) == 16 {
		return and(p.ether(0x86dd), pick(22, 38))
	}
	n := and(p.ether(0x0800), pick(26, 30))
	if proto == "" {
		n = or(n, and(or(p.ether(0x0806), p.ether(0x8035)), pick(28, 38)))
	}
	return n
}

// ports is port or portrange lo-hi over the protocols (tcp, udp, sctp unless proto says one)
// in the source, destination or either. IPv4 fragments after the first never match; IPv6
// ports are read only when the next header is the transport itself (libpcap's gen_port6).
func (p *parser) ports(proto, dir string, lo, hi uint16, v4, v6 bool) node {
	protos := []uint32{132, 6, 17}
	switch proto {
	case "tcp":
		protos = []uint32{6}
	case "udp":
		protos = []uint32{17}
	case "sctp":
		protos = []uint32{132}
	}
	port := func(off int, l4 bool) node {
		field := func(k cmpKind, v uint16) node {
			return cmpNode{off: off, size: 2, mask: 0xffffffff, val: uint32(v), kind: k, depth: p.vlans, l4: l4}
		}
		if lo == hi {
			return field(cmpEq, lo)
		}
		return and(field(cmpGE, lo), notNode{field(cmpGT, hi)})
	}
	pick := func(src, dst int, l4 bool) node {
		switch dir {
		case "src":
			return port(src, l4)
		case "dst":
			return port(dst, l4)
		}
		return or(port(src, l4), port(dst, l4))
	}
	var nh4, nh6 []node
	for _, v := range protos {
		nh4 = append(nh4, p.eq(23, 1, v))
		nh6 = append(nh6, p.eq(20, 1, v))
	}
	six := and(p.ether(0x86dd), or(nh6...), pick(54, 56, false))
	four := and(p.ether(0x0800), or(nh4...),
		notNode{cmpNode{off: 20, size: 2, val: 0x1fff, kind: cmpSet, depth: p.vlans}}, pick(0, 2, true))
	switch {
	case v4 && !v6:
		return four
	case v6 && !v4:
		return six
	}
	return or(six, four)
}

var ipProtoNames = map[string]uint32{"icmp": 1, "igmp": 2, "tcp": 6, "udp": 17, "icmp6": 58, "sctp": 132}

// l3 parses the primitives of the network and transport layers; t is the first token, already
// taken. ok is false when t starts none of them.
func (p *parser) l3(t string) (n node, ok bool, err error) {
	proto := ""
	switch t {
	case "tcp", "udp", "sctp":
		switch p.peek() {
		case "src", "dst", "port", "portrange":
			proto, t = t, p.next()
		default:
			v := ipProtoNames[t]
			return or(p.ipProto(v), p.ip6Proto(v)), true, nil
		}
	case "icmp":
		return p.ipProto(1), true, nil
	case "icmp6":
		return p.ip6Proto(58), true, nil
	case "ip", "ip6":
		switch p.peek() {
		case "proto":
			p.next()
			v := strings.TrimPrefix(p.next(), "\\")
			n, known := ipProtoNames[v]
			if !known {
				u, err := strconv.ParseUint(v, 0, 8)
				if err != nil {
					return nil, true, p.errf("%s proto needs a protocol number 0-255 or tcp, udp, icmp, icmp6, sctp, igmp", t)
				}
				n = uint32(u)
			}
			if t == "ip" {
				return p.ipProto(n), true, nil
			}
			return p.ip6Proto(n), true, nil
		case "src", "dst", "host", "net":
			proto, t = t, p.next()
		default:
			return nil, false, nil
		}
	}
	dir := ""
	if t == "src" || t == "dst" {
		dir = t
		switch p.peek() {
		case "host", "net", "port", "portrange":
			t = p.next()
		default:
			t = "host"
		}
	}
	switch t {
	case "host", "net", "port", "portrange":
		n, err := p.build(qual{proto, dir, t}, p.next())
		return n, true, err
	}
	if dir != "" || proto != "" {
		return nil, true, p.errf("%s %s: want host, net, port or portrange", strings.TrimSpace(proto+" "+dir), short(t))
	}
	return nil, false, nil
}

// parseNet reads host ADDR, net ADDR/LEN and net ADDR mask MASK. A net with bits set beyond
// its prefix is refused, as libpcap does.
func parseNet(kind, v string, p *parser) (netip.Prefix, error) {
	if kind == "host" {
		a, err := netip.ParseAddr(v)
		if err != nil || a.Zone() != "" {
			return netip.Prefix{}, p.errf("host needs an IPv4 or IPv6 address, not %q", short(v))
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	var pfx netip.Prefix
	if p.peek() == "mask" {
		p.next()
		a, err1 := netip.ParseAddr(v)
		m, err2 := netip.ParseAddr(p.next())
		if err1 != nil || err2 != nil || !a.Is4() || !m.Is4() {
			return pfx, p.errf("net ADDR mask MASK needs two IPv4 addresses")
		}
		mb := m.As4()
		bits := 0
		for _, b := range mb {
			for i := 7; i >= 0; i-- {
				if b>>i&1 == 0 {
					goto done
				}
				bits++
			}
		}
	done:
		pfx = netip.PrefixFrom(a, bits)
		if netip.PrefixFrom(m, bits).Masked().Addr() != m {
			return pfx, p.errf("mask %s is not contiguous", m)
		}
	} else {
		var err error
		if pfx, err = netip.ParsePrefix(v); err != nil {
			a, aerr := netip.ParseAddr(v)
			if aerr != nil {
				return pfx, p.errf("net needs ADDR/LEN or ADDR mask MASK, not %q", short(v))
			}
			pfx = netip.PrefixFrom(a, a.BitLen())
		}
	}
	if pfx.Masked() != pfx {
		return pfx, p.errf("net %s: non-network bits set", pfx)
	}
	return pfx, nil
}

// parsePorts reads a port number or a range LO-HI of them.
func parsePorts(kind, v string) (lo, hi uint16, err error) {
	a, b, isRange := strings.Cut(v, "-")
	if kind == "port" && isRange {
		return 0, 0, strconvErr("a range needs portrange")
	}
	if !isRange {
		b = a
	}
	x, err1 := strconv.ParseUint(a, 10, 16)
	y, err2 := strconv.ParseUint(b, 10, 16)
	if err1 != nil || err2 != nil {
		return 0, 0, strconvErr("want a port number 0-65535 (names are not supported)")
	}
	if x > y {
		x, y = y, x
	}
	return uint16(x), uint16(y), nil
}

type strconvErr string

func (e strconvErr) Error() string { return string(e) }

// qual is the qualifiers of a host, net, port or portrange primitive: a later bare value
// after and, or or not takes them again, as in libpcap ("port 67 or 68").
type qual struct{ proto, dir, kind string }

// build makes the primitive of qualifiers q and value v, and remembers q.
func (p *parser) build(q qual, v string) (node, error) {
	proto, dir, t := q.proto, q.dir, q.kind
	p.last = q
	switch q.kind {
	case "host", "net":
		if proto == "tcp" || proto == "udp" || proto == "sctp" {
			return nil, p.errf("%s %s: %s has no addresses (write ip host or host)", proto, t, proto)
		}
		pfx, err := parseNet(q.kind, v, p)
		if err != nil {
			return nil, err
		}
		if proto == "ip" && !pfx.Addr().Is4() || proto == "ip6" && !pfx.Addr().Is6() {
			return nil, p.errf("%s %s %s: not an %s address", proto, t, short(v), map[string]string{"ip": "IPv4", "ip6": "IPv6"}[proto])
		}
		return p.hostNet(proto, dir, pfx), nil
	case "port", "portrange":
		if proto == "ip" || proto == "ip6" {
			return nil, p.errf("%s %s: write tcp, udp or no protocol before %s", proto, t, t)
		}
		lo, hi, err := parsePorts(q.kind, v)
		if err != nil {
			return nil, p.errf("%s %q: %v", t, short(v), err)
		}
		return p.ports(proto, dir, lo, hi, true, true), nil
	}
	return nil, p.errf("%s: want host, net, port or portrange", short(t))
}

// bare reports whether t can only be a value (an address, a number, a range), not a keyword.
func bare(t string) bool {
	return t != "" && (t[0] >= '0' && t[0] <= '9' || strings.ContainsAny(t, ":"))
}
