package netif

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/bits"
	"net/netip"
	"strconv"
	"strings"
)

// IfaceRoute is a route and the interface it leaves by.
type IfaceRoute struct {
	Route
	Iface string
}

// lines calls fn with each non-empty line (1-based number, fields); it stops at fn's error.
func lines(b []byte, fn func(n int, f []string) error) error {
	for n := 1; len(b) > 0; n++ {
		var line []byte
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			line, b = b, nil
		}
		f := strings.Fields(string(line))
		if len(f) == 0 {
			continue
		}
		if err := fn(n, f); err != nil {
			return err
		}
	}
	return nil
}

// le32 reads an IPv4 address as /proc prints it: a 32-bit word in the (little-endian) host's
// byte order, "0102A8C0" for 192.168.2.1.
func le32(s string) (netip.Addr, uint32, error) {
	v, err := strconv.ParseUint(s, 16, 32)
	if err != nil || len(s) != 8 {
		return netip.Addr{}, 0, fmt.Errorf("bad IPv4 word %q", s)
	}
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], uint32(v))
	return netip.AddrFrom4(b), binary.BigEndian.Uint32(b[:]), nil
}

// ParseRoutes reads proc/net/route: the IPv4 main table, one route per line after the header
// ("Iface Destination Gateway Flags RefCnt Use Metric Mask MTU Window IRTT"). Routes that are not
// up, reject routes and routes through no device ("*": blackhole and throw routes) are left out.
func ParseRoutes(b []byte) ([]IfaceRoute, error) {
	var out []IfaceRoute
	err := lines(b, func(n int, f []string) error {
		if f[0] == "Iface" {
			return nil
		}
		if len(f) < 8 {
			return fmt.Errorf("line %d: want 11 fields, got %d", n, len(f))
		}
		dst, _, err := le32(f[1])
		if err != nil {
			return fmt.Errorf("line %d: destination: %w", n, err)
		}
		gw, _, err := le32(f[2])
		if err != nil {
			return fmt.Errorf("line %d: gateway: %w", n, err)
		}
		flags, err := strconv.ParseUint(f[3], 16, 32)
		if err != nil {
			return fmt.Errorf("line %d: bad flags %q", n, f[3])
		}
		_, mask, err := le32(f[7])
		if err != nil {
			return fmt.Errorf("line %d: mask: %w", n, err)
		}
		ones := bits.LeadingZeros32(^mask)
		if mask<<ones != 0 {
			return fmt.Errorf("line %d: mask %s is not contiguous", n, f[7])
		}
		if flags&rtfUp == 0 || flags&rtfReject != 0 || f[0] == "*" { // "*": no device (blackhole, throw)
			return nil
		}
		rt := IfaceRoute{Route{Dst: netip.PrefixFrom(dst, ones).Masked()}, f[0]}
		if flags&rtfGate != 0 {
			rt.Gateway = gw
		}
		out = append(out, rt)
		return nil
	})
	return out, err
}

func hex16(s string) (netip.Addr, error) {
	if len(s) != 32 {
		return netip.Addr{}, fmt.Errorf("bad IPv6 address %q", s)
	}
	var b [16]byte
	if _, err := hex.Decode(b[:], []byte(s)); err != nil {
		return netip.Addr{}, fmt.Errorf("bad IPv6 address %q", s)
	}
	return netip.AddrFrom16(b), nil
}

func hexByte(s string, max int) (int, error) {
	v, err := strconv.ParseUint(s, 16, 8)
	if err != nil || int(v) > max {
		return 0, fmt.Errorf("bad value %q", s)
	}
	return int(v), nil
}

// ParseIPv6Routes reads proc/net/ipv6_route ("DST DSTLEN SRC SRCLEN NEXTHOP METRIC REFCNT USE
// FLAGS IFACE"). Local, anycast, multicast, link-local and reject routes are left out: every
// interface that is up has those, so they say nothing about use.
func ParseIPv6Routes(b []byte) ([]IfaceRoute, error) {
	var out []IfaceRoute
	err := lines(b, func(n int, f []string) error {
		if len(f) != 10 {
			return fmt.Errorf("line %d: want 10 fields, got %d", n, len(f))
		}
		dst, err := hex16(f[0])
		if err != nil {
			return fmt.Errorf("line %d: %w", n, err)
		}
		plen, err := hexByte(f[1], 128)
		if err != nil {
			return fmt.Errorf("line %d: prefix length: %w", n, err)
		}
		gw, err := hex16(f[4])
		if err != nil {
			return fmt.Errorf("line %d: %w", n, err)
		}
		flags, err := strconv.ParseUint(f[8], 16, 32)
		if err != nil {
			return fmt.Errorf("line %d: bad flags %q", n, f[8])
		}
		if flags&rtfUp == 0 || flags&(rtfReject|rtfLocal|rtfAnycast) != 0 || dst.IsMulticast() || dst.IsLinkLocalUnicast() {
			return nil
		}
		rt := IfaceRoute{Route{Dst: netip.PrefixFrom(dst, plen).Masked()}, f[9]}
		if flags&rtfGate != 0 {
			rt.Gateway = gw
		}
		out = append(out, rt)
		return nil
	})
	return out, err
}

// IfaceAddr is an address and the interface that holds it.
type IfaceAddr struct {
	Prefix netip.Prefix
	Iface  string
}

// ParseIfInet6 reads proc/net/if_inet6 ("ADDR IFINDEX PREFIXLEN SCOPE FLAGS IFACE").
func ParseIfInet6(b []byte) ([]IfaceAddr, error) {
	var out []IfaceAddr
	err := lines(b, func(n int, f []string) error {
		if len(f) != 6 {
			return fmt.Errorf("line %d: want 6 fields, got %d", n, len(f))
		}
		a, err := hex16(f[0])
		if err != nil {
			return fmt.Errorf("line %d: %w", n, err)
		}
		plen, err := hexByte(f[2], 128)
		if err != nil {
			return fmt.Errorf("line %d: prefix length: %w", n, err)
		}
		out = append(out, IfaceAddr{netip.PrefixFrom(a, plen), f[5]})
		return nil
	})
	return out, err
}

// ParseFibTrie returns the IPv4 addresses proc/net/fib_trie marks "/32 host LOCAL": the host's
// own addresses (loopback ones included), each once.
func ParseFibTrie(b []byte) ([]netip.Addr, error) {
	var out []netip.Addr
	seen := map[netip.Addr]bool{}
	var leaf netip.Addr
	err := lines(b, func(n int, f []string) error {
		switch {
		case f[0] == "|--" && len(f) == 2:
			a, err := netip.ParseAddr(f[1])
			if err != nil || !a.Is4() {
				return fmt.Errorf("line %d: bad leaf %q", n, f[1])
			}
			leaf = a
		case f[0] == "/32" && len(f) >= 3 && f[len(f)-1] == "LOCAL":
			if leaf.IsValid() && !seen[leaf] {
				seen[leaf] = true
				out = append(out, leaf)
			}
		}
		return nil
	})
	return out, err
}

// TCPConn is one line of proc/net/tcp or tcp6.
type TCPConn struct {
	Local, Remote netip.AddrPort
	State         int // 1 is ESTABLISHED
}

const tcpEstablished = 1

// ParseTCP reads proc/net/tcp or proc/net/tcp6 ("sl local_address rem_address st ...").
func ParseTCP(b []byte) ([]TCPConn, error) {
	var out []TCPConn
	err := lines(b, func(n int, f []string) error {
		if f[0] == "sl" {
			return nil
		}
		if len(f) < 4 {
			return fmt.Errorf("line %d: want at least 4 fields, got %d", n, len(f))
		}
		l, err := tcpAddr(f[1])
		if err != nil {
			return fmt.Errorf("line %d: %w", n, err)
		}
		r, err := tcpAddr(f[2])
		if err != nil {
			return fmt.Errorf("line %d: %w", n, err)
		}
		st, err := hexByte(f[3], 0xff)
		if err != nil {
			return fmt.Errorf("line %d: state: %w", n, err)
		}
		out = append(out, TCPConn{l, r, st})
		return nil
	})
	return out, err
}

// tcpAddr reads "0100007F:0016" or a 32-digit IPv6 address (four little-endian words) and port.
func tcpAddr(s string) (netip.AddrPort, error) {
	h, p, ok := strings.Cut(s, ":")
	port, err := strconv.ParseUint(p, 16, 16)
	if !ok || err != nil {
		return netip.AddrPort{}, fmt.Errorf("bad socket address %q", s)
	}
	switch len(h) {
	case 8:
		a, _, err := le32(h)
		if err != nil {
			return netip.AddrPort{}, fmt.Errorf("bad socket address %q", s)
		}
		return netip.AddrPortFrom(a, uint16(port)), nil
	case 32:
		var b [16]byte
		if _, err := hex.Decode(b[:], []byte(h)); err != nil {
			return netip.AddrPort{}, fmt.Errorf("bad socket address %q", s)
		}
		for i := 0; i < 16; i += 4 { // each 32-bit word is in host (little-endian) order
			b[i], b[i+1], b[i+2], b[i+3] = b[i+3], b[i+2], b[i+1], b[i]
		}
		return netip.AddrPortFrom(netip.AddrFrom16(b), uint16(port)), nil
	}
	return netip.AddrPort{}, fmt.Errorf("bad socket address %q", s)
}
