// Package capture reads Ethernet frames from a Linux interface through an AF_PACKET TPACKET_V3
// ring, with a filter compiled to classic BPF and attached to the socket, puts back the VLAN
// tags the kernel moved to metadata, decodes frames into tcpdump -ne style lines, and writes
// pcap files.
package capture

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"unicode"
)

// Filter is a parsed capture filter. The language is the part of tcpdump's that readers of the
// seed type and what operators type first: stp, vlan [N], ether host|src|dst MAC, ether proto
// N|arp|ip|ip6, arp, ip, ip6, lldp, host, net, port, portrange (with src, dst, ip, ip6, tcp,
// udp qualifiers), tcp, udp, icmp, icmp6, ip proto, ip6 proto, joined with and, or, not and
// parentheses (&&, || and ! too).
type Filter struct {
	Text string
	root node
}

type node interface{}

type (
	andNode struct{ a, b node }
	orNode  struct{ a, b node }
	notNode struct{ a node }
	// vlanNode matches an 802.1Q/802.1ad tag, with that VID when id >= 0. As in libpcap,
	// each vlan keyword looks one tag deeper than the one before it (depth).
	vlanNode struct{ id, depth int }
	// protoNode matches the ethertype. After vlan keywords (depth of them) it looks past the
	// tags, as tcpdump does.
	protoNode struct {
		proto uint16
		depth int
	}
	// stpNode matches IEEE 802.1D BPDUs: an 802.3 length field and LLC DSAP 0x42.
	stpNode struct{ depth int }
	// macNode matches a MAC address in the source (src), destination (dst) or either.
	macNode struct {
		mac      net.HardwareAddr
		src, dst bool
	}
	allNode struct{}
)

// ParseFilter parses a filter expression. "" matches everything. An expression outside the
// language is an error that says where and what is supported.
func ParseFilter(s string) (*Filter, error) {
	p := &parser{text: s, toks: tokenize(s)}
	if len(p.toks) == 0 {
		return &Filter{Text: s, root: allNode{}}, nil
	}
	n, err := p.or()
	if err == nil && p.i < len(p.toks) {
		err = p.errf("unexpected %q", short(p.toks[p.i]))
	}
	if err != nil {
		return nil, err
	}
	f := &Filter{Text: s, root: n}
	// The program for a socket (metadata VLAN tests, the longer of the two) must fit the kernel.
	if _, err := f.Compile(true); err != nil {
		return nil, p.errf("%v", err)
	}
	return f, nil
}

const supported = "supported: stp, vlan [N], ether host|src|dst MAC, ether proto N|arp|ip|ip6, arp, ip, ip6, lldp, " +
	"[ip|ip6] [src|dst] host|net ADDR[/LEN], [tcp|udp] [src|dst] port|portrange N[-M], tcp, udp, icmp, icmp6, ip proto N, ip6 proto N, and, or, not, ( )"

// Limits. The kernel takes classic BPF programs of at most MaxInstructions (BPF_MAXINSNS);
// every primitive compiles to at least two instructions, so a filter with more than
// maxPrimitives primitives can never fit and is refused while parsing, before any code is made.
// tcpdump compiles a longer program but then cannot attach it ("Kernel filter failed") and
// filters in user space; dpdk-doctor refuses it instead. Nesting ("(" and "not") stops where
// tcpdump's parser stops (its bison stack: 9995 levels).
const (
	MaxInstructions = 4096
	maxPrimitives   = (MaxInstructions - 2) / 2
	maxNesting      = 9995
)

type parser struct {
	text  string
	toks  []string
	i     int
	vlans int  // vlan keywords so far: later link-layer tests look past that many tags
	prims int  // primitives so far
	depth int  // open parentheses and nots
	last  qual // the qualifiers of the last host, net, port or portrange
}

// tokenize splits s into words, parentheses and operators in one pass: linear in len(s), so a
// huge argument costs milliseconds before the parser refuses it.
func tokenize(s string) []string {
	var out []string
	start := -1 // start of the word being read, -1 between words
	flush := func(end int) {
		if start >= 0 {
			out = append(out, s[start:end])
			start = -1
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '(' || c == ')' || c == '!':
			flush(i)
			out = append(out, s[i:i+1])
		case c == '&' && i+1 < len(s) && s[i+1] == '&':
			flush(i)
			out = append(out, "and")
			i++
		case c == '|' && i+1 < len(s) && s[i+1] == '|':
			flush(i)
			out = append(out, "or")
			i++
		case unicode.IsSpace(rune(c)):
			flush(i)
		default:
			if start < 0 {
				start = i
			}
		}
	}
	flush(len(s))
	return out
}

func (p *parser) errf(format string, a ...any) error {
	return fmt.Errorf("filter %q: %s (%s)", short(p.text), fmt.Sprintf(format, a...), supported)
}

// short cuts a long filter or token for an error message.
func short(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}

func (p *parser) peek() string {
	if p.i < len(p.toks) {
		return p.toks[p.i]
	}
	return ""
}

func (p *parser) next() string {
	t := p.peek()
	p.i++
	return t
}

// or parses a chain of and/or: as in pcap-filter(7), they have equal precedence and associate
// left to right ("a or b and c" is "(a or b) and c").
func (p *parser) or() (node, error) {
	a, err := p.unary()
	for err == nil && (p.peek() == "and" || p.peek() == "or") {
		op := p.next()
		var b node
		if b, err = p.unary(); err == nil {
			if op == "and" {
				a = andNode{a, b}
			} else {
				a = orNode{a, b}
			}
		}
	}
	return a, err
}

func (p *parser) unary() (node, error) {
	if p.depth > maxNesting {
		return nil, p.errf("nested deeper than %d levels", maxNesting)
	}
	p.depth++
	defer func() { p.depth-- }()
	switch p.peek() {
	case "not", "!":
		p.next()
		a, err := p.unary()
		return notNode{a}, err
	case "(":
		p.next()
		a, err := p.or()
		if err != nil {
			return nil, err
		}
		if p.next() != ")" {
			return nil, p.errf("missing )")
		}
		return a, nil
	}
	return p.primitive()
}

var protoNames = map[string]uint16{"arp": 0x0806, "ip": 0x0800, "ip6": 0x86dd, "lldp": 0x88cc, "rarp": 0x8035}

func (p *parser) primitive() (node, error) {
	if p.prims++; p.prims > maxPrimitives {
		return nil, p.errf("more than %d primitives: the compiled program cannot fit the kernel's limit of %d BPF instructions", maxPrimitives, MaxInstructions)
	}
	t := p.next()
	if p.last.kind != "" && bare(t) {
		return p.build(p.last, t)
	}
	p.last = qual{} // only a host, net, port or portrange passes its qualifiers on
	if n, ok, err := p.l3(t); ok || err != nil {
		return n, err
	}
	switch t {
	case "":
		return nil, p.errf("expression ends too early")
	case "stp":
		return stpNode{p.vlans}, nil
	case "arp", "ip", "ip6", "lldp", "rarp":
		return protoNode{protoNames[t], p.vlans}, nil
	case "vlan":
		depth := p.vlans
		p.vlans++
		if n, err := strconv.Atoi(p.peek()); err == nil {
			p.next()
			if n < 0 || n > 4095 {
				return nil, p.errf("VLAN %d out of range 0-4095", n)
			}
			return vlanNode{n, depth}, nil
		}
		return vlanNode{-1, depth}, nil
	case "ether":
		switch k := p.next(); k {
		case "host", "src", "dst":
			m, err := net.ParseMAC(p.next())
			if err != nil || len(m) != 6 {
				return nil, p.errf("ether %s needs a MAC address such as 00:0c:29:93:2f:54", k)
			}
			return macNode{mac: m, src: k != "dst", dst: k != "src"}, nil
		case "proto":
			v := strings.TrimPrefix(p.next(), "\\")
			if n, ok := protoNames[v]; ok {
				return protoNode{n, p.vlans}, nil
			}
			n, err := strconv.ParseUint(v, 0, 16)
			if err != nil || n <= 1500 {
				return nil, p.errf("ether proto needs an ethertype above 1500 (0x0600 and up) or arp, ip, ip6, lldp")
			}
			return protoNode{uint16(n), p.vlans}, nil
		default:
			return nil, p.errf("ether %q: want host, src, dst or proto", short(k))
		}
	}
	return nil, p.errf("%q is not supported", short(t))
}

// Frame is what a filter looks at: the bytes as the socket sees them, and the VLAN tag the
// kernel moved to metadata, when it did.
type Frame struct {
	Data      []byte
	VLANStrip bool   // a tag was moved to metadata
	VLANTCI   uint16 // that tag
}

// Match evaluates the filter in Go, with exactly the meaning of the compiled BPF program
// (including classic BPF's rule that a load past the frame's end rejects the frame).
//
// Offsets follow libpcap: tests after vlan keywords look past the tags, 4 bytes per keyword,
// except that the first tag, when the kernel moved it to metadata, takes no room in the frame.
func (f *Filter) Match(fr Frame) bool {
	e := &eval{fr: fr, shift: 4}
	if fr.VLANStrip {
		e.shift = 0
	}
	ok := e.match(f.root)
	return ok && !e.aborted
}

type eval struct {
	fr      Frame
	shift   int // room the first tag takes: 4 in-band, 0 in metadata
	aborted bool
}

// off is the offset of a link-layer field after depth vlan keywords.
func (e *eval) off(base, depth int) int {
	if depth == 0 {
		return base
	}
	return base + e.shift + 4*(depth-1)
}

func (e *eval) u16(off int) (uint16, bool) {
	d := e.fr.Data
	if off < 0 || off+2 > len(d) {
		e.aborted = true
		return 0, false
	}
	return uint16(d[off])<<8 | uint16(d[off+1]), true
}

func (e *eval) u8(off int) (uint8, bool) {
	if off < 0 || off >= len(e.fr.Data) {
		e.aborted = true
		return 0, false
	}
	return e.fr.Data[off], true
}

func (e *eval) match(n node) bool {
	if e.aborted {
		return false
	}
	switch n := n.(type) {
	case allNode:
		return true
	case andNode:
		return e.match(n.a) && e.match(n.b)
	case orNode:
		return e.match(n.a) || e.match(n.b)
	case notNode:
		return !e.match(n.a)
	case vlanNode:
		if n.depth == 0 && e.fr.VLANStrip {
			return n.id < 0 || int(e.fr.VLANTCI&0xfff) == n.id
		}
		at := e.off(12, n.depth)
		et, ok := e.u16(at)
		if !ok || (et != 0x8100 && et != 0x88a8 && et != 0x9100) {
			return false
		}
		if n.id < 0 {
			return true
		}
		tci, ok := e.u16(at + 2)
		return ok && int(tci&0xfff) == n.id
	case protoNode:
		et, ok := e.u16(e.off(12, n.depth))
		return ok && et == n.proto
	case stpNode:
		at := e.off(12, n.depth)
		et, ok := e.u16(at)
		if !ok || et > 1500 {
			return false
		}
		sap, ok := e.u8(at + 2)
		return ok && sap == 0x42
	case cmpNode:
		return e.cmp(n)
	case macNode:
		if len(e.fr.Data) < 12 {
			e.aborted = true
			return false
		}
		d := e.fr.Data
		return (n.dst && string(d[0:6]) == string(n.mac)) || (n.src && string(d[6:12]) == string(n.mac))
	}
	return false
}

// cmp evaluates a field comparison as the BPF program does.
func (e *eval) cmp(n cmpNode) bool {
	at := e.off(n.off, n.depth)
	if n.l4 {
		ihl, ok := e.u8(e.off(14, n.depth))
		if !ok {
			return false
		}
		at = e.off(14, n.depth) + int(ihl&0xf)*4 + n.off
	}
	var v uint32
	switch n.size {
	case 1:
		b, ok := e.u8(at)
		if !ok {
			return false
		}
		v = uint32(b)
	case 2:
		h, ok := e.u16(at)
		if !ok {
			return false
		}
		v = uint32(h)
	case 4:
		hi, ok1 := e.u16(at)
		lo, ok2 := e.u16(at + 2)
		if !ok1 || !ok2 {
			return false
		}
		v = uint32(hi)<<16 | uint32(lo)
	}
	switch n.kind {
	case cmpSet:
		return v&n.val != 0
	case cmpGE:
		return v >= n.val
	case cmpGT:
		return v > n.val
	}
	return v&n.mask == n.val
}
