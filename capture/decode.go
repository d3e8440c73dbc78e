package capture

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"
)

var etherNames = map[uint16]string{
	0x0800: "IPv4", 0x0806: "ARP", 0x86dd: "IPv6", 0x8100: "802.1Q", 0x88a8: "802.1Q-QinQ", 0x88cc: "LLDP",
	0x8035: "Reverse ARP", 0x8809: "Slow Protocols", 0x8847: "MPLS unicast", 0x8848: "MPLS multicast", 0x888e: "EAPOL",
	0x88e5: "MACsec", 0x8902: "CFM", 0x9000: "Loopback",
}

// EtherName returns tcpdump's name for an ethertype, or "Unknown".
func EtherName(t uint16) string {
	if n, ok := etherNames[t]; ok {
		return n
	}
	return "Unknown"
}

// Line decodes one frame into a line in the style of `tcpdump -nne`, without the timestamp:
// MACs, the ethertype or 802.3 length, VLAN tags with priority, and ARP, IPv4, IPv6, UDP, TCP,
// ICMP, ICMPv6, LLDP, STP/RSTP and PVST+. wireLen is the frame's length on the wire. It never
// fails: what it cannot decode it says so in the line.
func Line(b []byte, wireLen int) string {
	var s strings.Builder
	if len(b) < 14 {
		fmt.Fprintf(&s, "[|ether] length %d", wireLen)
		return s.String()
	}
	fmt.Fprintf(&s, "%s > %s, ", net.HardwareAddr(b[6:12]), net.HardwareAddr(b[0:6]))
	et := binary.BigEndian.Uint16(b[12:14])
	if et <= 1500 {
		fmt.Fprintf(&s, "802.3, length %d: ", et)
		llc(&s, b[14:min(14+int(et), len(b))])
		return s.String()
	}
	fmt.Fprintf(&s, "ethertype %s (0x%04x), length %d: ", EtherName(et), et, wireLen)
	rest := b[14:]
	for et == 0x8100 || et == 0x88a8 {
		if len(rest) < 4 {
			s.WriteString("[|vlan]")
			return s.String()
		}
		tci := binary.BigEndian.Uint16(rest)
		fmt.Fprintf(&s, "vlan %d, p %d, ", tci&0xfff, tci>>13)
		if tci&0x1000 != 0 {
			s.WriteString("DEI, ")
		}
		et = binary.BigEndian.Uint16(rest[2:])
		rest = rest[4:]
		if et <= 1500 {
			s.WriteString("802.3")
			llc(&s, rest[:min(int(et), len(rest))])
			return s.String()
		}
		fmt.Fprintf(&s, "ethertype %s (0x%04x), ", EtherName(et), et)
	}
	payload(&s, et, rest)
	return s.String()
}

func payload(s *strings.Builder, et uint16, b []byte) {
	switch et {
	case 0x0800:
		ipv4(s, b)
	case 0x86dd:
		ipv6(s, b)
	case 0x0806:
		arp(s, b)
	case 0x88cc:
		lldp(s, b)
	default:
		fmt.Fprintf(s, "length %d", len(b))
	}
}

// llc decodes an 802.2 LLC header and what follows (STP, or SNAP with PVST+).
func llc(s *strings.Builder, b []byte) {
	s.WriteString("LLC, ")
	if len(b) < 3 {
		s.WriteString("[|llc]")
		return
	}
	dsap, ssap, ctrl := b[0], b[1], b[2]
	sap := func(v byte) string {
		switch v &^ 1 {
		case 0x42:
			return "STP"
		case 0xaa:
			return "SNAP"
		case 0xfe:
			return "OSI"
		case 0xe0:
			return "IPX"
		}
		return "Unknown"
	}
	ig := map[bool]string{false: "Individual", true: "Group"}[dsap&1 == 1]
	cr := map[bool]string{false: "Command", true: "Response"}[ssap&1 == 1]
	fmt.Fprintf(s, "dsap %s (0x%02x) %s, ssap %s (0x%02x) %s, ctrl 0x%02x: ", sap(dsap), dsap&^1, ig, sap(ssap), ssap&^1, cr, ctrl)
	switch {
	case dsap == 0x42 && ssap == 0x42:
		stp(s, b[3:], len(b)-3)
	case dsap == 0xaa && ssap == 0xaa && len(b) >= 8:
		oui := uint32(b[3])<<16 | uint32(b[4])<<8 | uint32(b[5])
		pid := binary.BigEndian.Uint16(b[6:8])
		ouiName := map[uint32]string{0x00000c: "Cisco", 0x000000: "Ethernet"}[oui]
		if ouiName == "" {
			ouiName = "Unknown"
		}
		pidName := map[uint16]string{0x010b: "PVST", 0x2000: "CDP", 0x2004: "DTP", 0x0003: "VTP"}[pid]
		if pidName == "" {
			pidName = "Unknown"
		}
		fmt.Fprintf(s, "oui %s (0x%06x), pid %s (0x%04x), length %d: ", ouiName, oui, pidName, pid, len(b)-8)
		if oui == 0x00000c && pid == 0x010b {
			stp(s, b[8:], len(b)-8)
		}
	default:
		fmt.Fprintf(s, "length %d", len(b)-3)
	}
}

// stp decodes a spanning tree BPDU as tcpdump does without -v.
func stp(s *strings.Builder, b []byte, n int) {
	if len(b) < 4 {
		s.WriteString("[|stp]")
		return
	}
	version, typ := b[2], b[3]
	ver := map[byte]string{0: "802.1d", 2: "802.1w", 3: "802.1s"}[version]
	if ver == "" {
		ver = fmt.Sprintf("unknown version %d", version)
	}
	fmt.Fprintf(s, "STP %s, ", ver)
	switch typ {
	case 0x80:
		fmt.Fprintf(s, "Topology Change, length %d", n)
		return
	case 0x00:
		s.WriteString("Config, ")
	case 0x02:
		if version == 3 {
			s.WriteString("Multiple STP, ")
		} else {
			s.WriteString("Rapid STP, ")
		}
	default:
		fmt.Fprintf(s, "Unknown BPDU Type 0x%02x, ", typ)
		fmt.Fprintf(s, "length %d", n)
		return
	}
	if len(b) < 35 {
		s.WriteString("[|stp]")
		return
	}
	flags := b[4]
	var fl []string
	for _, f := range []struct {
		bit  byte
		name string
	}{{0x01, "Topology change"}, {0x02, "Proposal"}, {0x10, "Learn"}, {0x20, "Forward"}, {0x40, "Agreement"}, {0x80, "Topology change ACK"}} {
		if flags&f.bit != 0 {
			fl = append(fl, f.name)
		}
	}
	if len(fl) == 0 {
		fl = []string{"none"}
	}
	bridge := b[17:25]
	fmt.Fprintf(s, "Flags [%s], bridge-id %04x.%s.%04x, length %d", strings.Join(fl, ", "), binary.BigEndian.Uint16(bridge), net.HardwareAddr(bridge[2:8]), binary.BigEndian.Uint16(b[25:27]), n)
}

func ipv4(s *strings.Builder, b []byte) {
	if len(b) < 20 || b[0]>>4 != 4 {
		s.WriteString("[|ip]")
		return
	}
	ihl := int(b[0]&0xf) * 4
	total := int(binary.BigEndian.Uint16(b[2:4]))
	if ihl < 20 || len(b) < ihl {
		s.WriteString("[|ip]")
		return
	}
	src, _ := netip.AddrFromSlice(b[12:16])
	dst, _ := netip.AddrFromSlice(b[16:20])
	end := min(total, len(b))
	if end < ihl {
		end = ihl
	}
	if binary.BigEndian.Uint16(b[6:8])&0x1fff != 0 { // a later fragment: no transport header
		fmt.Fprintf(s, "%s > %s: ip-proto-%d", src, dst, b[9])
		return
	}
	l4(s, b[9], src, dst, b[ihl:end], total-ihl)
}

func ipv6(s *strings.Builder, b []byte) {
	if len(b) < 40 || b[0]>>4 != 6 {
		s.WriteString("[|ip6]")
		return
	}
	plen := int(binary.BigEndian.Uint16(b[4:6]))
	src, _ := netip.AddrFromSlice(b[8:24])
	dst, _ := netip.AddrFromSlice(b[24:40])
	end := min(40+plen, len(b))
	if b[6] == 44 && end >= 48 { // a fragment header, as tcpdump prints it: frag (offset|length)
		off := int(binary.BigEndian.Uint16(b[42:44]) &^ 7)
		fmt.Fprintf(s, "%s > %s: frag (%d|%d)", src, dst, off, plen-8)
		if off != 0 || (b[40] != 6 && b[40] != 17) {
			return
		}
		// The first fragment's TCP or UDP follows, its ports without the addresses.
		var t strings.Builder
		l4(&t, b[40], src, dst, b[48:end], plen-8)
		line := t.String()
		line = strings.Replace(line, src.String()+".", "", 1)
		line = strings.Replace(line, " > "+dst.String()+".", " > ", 1)
		s.WriteString(" " + line)
		return
	}
	l4(s, b[6], src, dst, b[40:end], plen)
}

func hostPort(a netip.Addr, p uint16) string { return fmt.Sprintf("%s.%d", a, p) }

func l4(s *strings.Builder, proto byte, src, dst netip.Addr, b []byte, n int) {
	switch proto {
	case 17:
		if len(b) < 8 {
			fmt.Fprintf(s, "%s > %s: [|udp]", src, dst)
			return
		}
		sp, dp, ul := binary.BigEndian.Uint16(b), binary.BigEndian.Uint16(b[2:]), int(binary.BigEndian.Uint16(b[4:]))
		fmt.Fprintf(s, "%s > %s: UDP, length %d", hostPort(src, sp), hostPort(dst, dp), ul-8)
	case 6:
		if len(b) < 20 {
			fmt.Fprintf(s, "%s > %s: [|tcp]", src, dst)
			return
		}
		sp, dp := binary.BigEndian.Uint16(b), binary.BigEndian.Uint16(b[2:])
		seq, ack := binary.BigEndian.Uint32(b[4:]), binary.BigEndian.Uint32(b[8:])
		off := int(b[12]>>4) * 4
		f := b[13]
		var fl string
		for _, x := range []struct {
			bit byte
			c   string
		}{{0x02, "S"}, {0x01, "F"}, {0x08, "P"}, {0x04, "R"}, {0x20, "U"}, {0x80, "W"}, {0x40, "E"}} {
			if f&x.bit != 0 {
				fl += x.c
			}
		}
		if f&0x10 != 0 {
			fl += "."
		}
		if fl == "" {
			fl = "none"
		}
		dl := n - off
		fmt.Fprintf(s, "%s > %s: Flags [%s]", hostPort(src, sp), hostPort(dst, dp), fl)
		if dl > 0 || f&0x07 != 0 {
			if dl > 0 {
				fmt.Fprintf(s, ", seq %d:%d", seq, seq+uint32(dl))
			} else {
				fmt.Fprintf(s, ", seq %d", seq)
			}
		}
		if f&0x10 != 0 {
			fmt.Fprintf(s, ", ack %d", ack)
		}
		fmt.Fprintf(s, ", win %d, length %d", binary.BigEndian.Uint16(b[14:]), max(dl, 0))
	case 1:
		fmt.Fprintf(s, "%s > %s: ICMP ", src, dst)
		if len(b) < 8 {
			s.WriteString("[|icmp]")
			return
		}
		switch b[0] {
		case 8, 0:
			fmt.Fprintf(s, "echo %s, id %d, seq %d, length %d", map[byte]string{8: "request", 0: "reply"}[b[0]], binary.BigEndian.Uint16(b[4:]), binary.BigEndian.Uint16(b[6:]), n)
		case 3:
			fmt.Fprintf(s, "unreachable, length %d", n)
		default:
			fmt.Fprintf(s, "type-#%d, length %d", b[0], n)
		}
	case 58:
		fmt.Fprintf(s, "%s > %s: ICMP6, ", src, dst)
		if len(b) < 4 {
			s.WriteString("[|icmp6]")
			return
		}
		switch b[0] {
		case 135, 136:
			if len(b) < 24 {
				s.WriteString("[|icmp6]")
				return
			}
			t, _ := netip.AddrFromSlice(b[8:24])
			if b[0] == 135 {
				fmt.Fprintf(s, "neighbor solicitation, who has %s, length %d", t, n)
			} else {
				fmt.Fprintf(s, "neighbor advertisement, tgt is %s, length %d", t, n)
			}
		case 128:
			fmt.Fprintf(s, "echo request, id %d, seq %d, length %d", binary.BigEndian.Uint16(b[4:]), binary.BigEndian.Uint16(b[6:]), n)
		case 129:
			fmt.Fprintf(s, "echo reply, id %d, seq %d, length %d", binary.BigEndian.Uint16(b[4:]), binary.BigEndian.Uint16(b[6:]), n)
		case 133:
			fmt.Fprintf(s, "router solicitation, length %d", n)
		case 134:
			fmt.Fprintf(s, "router advertisement, length %d", n)
		case 143:
			fmt.Fprintf(s, "multicast listener report v2, length %d", n)
		default:
			fmt.Fprintf(s, "type %d, length %d", b[0], n)
		}
	default:
		fmt.Fprintf(s, "%s > %s: ip-proto-%d %d", src, dst, proto, n)
	}
}

func arp(s *strings.Builder, b []byte) {
	if len(b) < 28 || binary.BigEndian.Uint16(b[2:]) != 0x0800 || b[4] != 6 || b[5] != 4 {
		fmt.Fprintf(s, "ARP, length %d", len(b))
		return
	}
	sha, spa, tpa := net.HardwareAddr(b[8:14]), netip.AddrFrom4([4]byte(b[14:18])), netip.AddrFrom4([4]byte(b[24:28]))
	switch binary.BigEndian.Uint16(b[6:]) {
	case 1:
		fmt.Fprintf(s, "Request who-has %s tell %s, length %d", tpa, spa, len(b))
	case 2:
		fmt.Fprintf(s, "Reply %s is-at %s, length %d", spa, sha, len(b))
	default:
		fmt.Fprintf(s, "ARP, length %d", len(b))
	}
}

// lldp prints "LLDP, length N" and, like tcpdump, the system name when the frame has one.
func lldp(s *strings.Builder, b []byte) {
	fmt.Fprintf(s, "LLDP, length %d", len(b))
	for p := 0; p+2 <= len(b); {
		h := binary.BigEndian.Uint16(b[p:])
		t, l := int(h>>9), int(h&0x1ff)
		if t == 0 || p+2+l > len(b) {
			break
		}
		if t == 5 {
			fmt.Fprintf(s, ": %s", b[p+2:p+2+l])
			break
		}
		p += 2 + l
	}
}

// Timestamp formats a capture time as tcpdump does: local time, microseconds.
func Timestamp(t time.Time) string { return t.Local().Format("15:04:05.000000") }
