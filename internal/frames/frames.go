// Package frames builds raw Ethernet frames like the ones in the seed's capture (VLAN-tagged
// multicast IPv4 and IPv6 UDP, PVST+ BPDUs, ARP, LLDP, 802.1D STP, and a little TCP and ICMP),
// for tests and benchmarks that write them onto veths.
package frames

import (
	"encoding/binary"
	"net"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// Frame is a named frame.
type Frame struct {
	Name string
	Data []byte
}

func mac(s string) net.HardwareAddr { m, _ := net.ParseMAC(s); return m }

func serialize(ls ...gopacket.SerializableLayer) []byte {
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	for _, l := range ls {
		if nl, ok := l.(*layers.UDP); ok {
			for _, o := range ls {
				if ip, ok := o.(gopacket.NetworkLayer); ok {
					nl.SetNetworkLayerForChecksum(ip)
				}
			}
		}
		if tl, ok := l.(*layers.TCP); ok {
			for _, o := range ls {
				if ip, ok := o.(gopacket.NetworkLayer); ok {
					tl.SetNetworkLayerForChecksum(ip)
				}
			}
		}
		if il, ok := l.(*layers.ICMPv6); ok {
			for _, o := range ls {
				if ip, ok := o.(gopacket.NetworkLayer); ok {
					il.SetNetworkLayerForChecksum(ip)
				}
			}
		}
	}
	if err := gopacket.SerializeLayers(buf, opts, ls...); err != nil {
		panic(err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

func payload(n int) gopacket.Payload {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(i)
	}
	return p
}

// UDP4 is a (tagged when vlan > 0) IPv4 UDP frame with an n-byte payload.
func UDP4(src, dst string, vlan int, prio uint8, srcIP, dstIP string, sport, dport uint16, n int) []byte {
	eth := &layers.Ethernet{SrcMAC: mac(src), DstMAC: mac(dst), EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 1, Protocol: layers.IPProtocolUDP, SrcIP: net.ParseIP(srcIP), DstIP: net.ParseIP(dstIP)}
	udp := &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(dport)}
	if vlan > 0 {
		eth.EthernetType = layers.EthernetTypeDot1Q
		return serialize(eth, &layers.Dot1Q{VLANIdentifier: uint16(vlan), Priority: prio, Type: layers.EthernetTypeIPv4}, ip, udp, payload(n))
	}
	return serialize(eth, ip, udp, payload(n))
}

// UDP6 is a (tagged when vlan > 0) IPv6 UDP frame.
func UDP6(src, dst string, vlan int, srcIP, dstIP string, sport, dport uint16, n int) []byte {
	eth := &layers.Ethernet{SrcMAC: mac(src), DstMAC: mac(dst), EthernetType: layers.EthernetTypeIPv6}
	ip := &layers.IPv6{Version: 6, HopLimit: 1, NextHeader: layers.IPProtocolUDP, SrcIP: net.ParseIP(srcIP), DstIP: net.ParseIP(dstIP)}
	udp := &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(dport)}
	if vlan > 0 {
		eth.EthernetType = layers.EthernetTypeDot1Q
		return serialize(eth, &layers.Dot1Q{VLANIdentifier: uint16(vlan), Type: layers.EthernetTypeIPv6}, ip, udp, payload(n))
	}
	return serialize(eth, ip, udp, payload(n))
}

// ARPRequest is a broadcast ARP request, untagged.
func ARPRequest(src string, srcIP, dstIP string) []byte {
	eth := &layers.Ethernet{SrcMAC: mac(src), DstMAC: layers.EthernetBroadcast, EthernetType: layers.EthernetTypeARP}
	arp := &layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
		Operation: layers.ARPRequest, SourceHwAddress: mac(src), SourceProtAddress: net.ParseIP(srcIP).To4(),
		DstHwAddress: make([]byte, 6), DstProtAddress: net.ParseIP(dstIP).To4()}
	return pad(serialize(eth, arp))
}

// TCP4 is an untagged TCP SYN.
func TCP4(src, dst string, srcIP, dstIP string, sport, dport uint16) []byte {
	eth := &layers.Ethernet{SrcMAC: mac(src), DstMAC: mac(dst), EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: net.ParseIP(srcIP), DstIP: net.ParseIP(dstIP)}
	tcp := &layers.TCP{SrcPort: layers.TCPPort(sport), DstPort: layers.TCPPort(dport), SYN: true, Seq: 1000, Window: 64240}
	return pad(serialize(eth, ip, tcp))
}

// ICMPEcho is an untagged ICMP echo request.
func ICMPEcho(src, dst string, srcIP, dstIP string) []byte {
	eth := &layers.Ethernet{SrcMAC: mac(src), DstMAC: mac(dst), EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolICMPv4, SrcIP: net.ParseIP(srcIP), DstIP: net.ParseIP(dstIP)}
	icmp := &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoRequest, 0), Id: 7, Seq: 1}
	return serialize(eth, ip, icmp, payload(56))
}

// ICMP6NS is an untagged ICMPv6 neighbour solicitation.
func ICMP6NS(src string, srcIP, target string) []byte {
	eth := &layers.Ethernet{SrcMAC: mac(src), DstMAC: mac("33:33:ff:00:00:01"), EthernetType: layers.EthernetTypeIPv6}
	ip := &layers.IPv6{Version: 6, HopLimit: 255, NextHeader: layers.IPProtocolICMPv6, SrcIP: net.ParseIP(srcIP), DstIP: net.ParseIP("ff02::1:ff00:1")}
	icmp := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(layers.ICMPv6TypeNeighborSolicitation, 0)}
	ns := &layers.ICMPv6NeighborSolicitation{TargetAddress: net.ParseIP(target)}
	return serialize(eth, ip, icmp, ns)
}

// rstpBPDU is a Rapid STP BPDU (version 2, 36 bytes).
func rstpBPDU(rootPrio uint16, bridgeMAC string, vlan int) []byte {
	b := make([]byte, 36)
	b[2] = 2    // version: RSTP
	b[3] = 2    // type: RST
	b[4] = 0x3c // flags: forwarding, learning, port role designated
	root := make([]byte, 8)
	binary.BigEndian.PutUint16(root, rootPrio+uint16(vlan))
	copy(root[2:], mac(bridgeMAC))
	copy(b[5:13], root)
	copy(b[17:25], root)
	binary.BigEndian.PutUint16(b[25:], 0x8031) // port id
	binary.BigEndian.PutUint16(b[29:], 20*256) // max age 20s
	binary.BigEndian.PutUint16(b[31:], 2*256)  // hello 2s
	binary.BigEndian.PutUint16(b[33:], 15*256) // forward delay 15s
	return b
}

// PVST is a Cisco PVST+ (Rapid PVST+) BPDU for vlan, tagged with priority 6 as in the seed.
func PVST(src string, vlan int) []byte {
	body := append([]byte{0xaa, 0xaa, 0x03, 0x00, 0x00, 0x0c, 0x01, 0x0b}, rstpBPDU(0x8000, "4c:00:82:d2:d6:01", vlan)...)
	body = append(body, 0x00, 0x00, 0x00, 0x02, byte(vlan>>8), byte(vlan)) // PVID TLV
	h := make([]byte, 0, 18+len(body))
	h = append(h, mac("01:00:0c:cc:cc:cd")...)
	h = append(h, mac(src)...)
	h = append(h, 0x81, 0x00, byte(6<<5|(vlan>>8)&0xf), byte(vlan))
	h = binary.BigEndian.AppendUint16(h, uint16(len(body)))
	return pad(append(h, body...))
}

// STP is an untagged IEEE 802.1D (RSTP) BPDU.
func STP(src string) []byte {
	body := append([]byte{0x42, 0x42, 0x03}, rstpBPDU(0x8000, src, 0)...)
	h := append(append(mac("01:80:c2:00:00:00"), mac(src)...), 0, byte(len(body)))
	return pad(append(h, body...))
}

// LLDP is an untagged LLDP frame with chassis, port and TTL.
func LLDP(src string) []byte {
	tlv := func(t int, v []byte) []byte {
		return append([]byte{byte(t<<1 | len(v)>>8), byte(len(v))}, v...)
	}
	var body []byte
	body = append(body, tlv(1, append([]byte{4}, mac(src)...))...)
	body = append(body, tlv(2, append([]byte{5}, []byte("Ethernet1/7")...))...)
	body = append(body, tlv(3, []byte{0, 120})...)
	body = append(body, tlv(5, []byte("leaf-sw01"))...)
	body = append(body, 0, 0)
	h := append(append(mac("01:80:c2:00:00:0e"), mac(src)...), 0x88, 0xcc)
	return pad(append(h, body...))
}

func pad(b []byte) []byte {
	for len(b) < 60 {
		b = append(b, 0)
	}
	return b
}

// Seed returns frames like those of the seed's capture, plus ARP, LLDP and an 802.1D BPDU.
func Seed() []Frame {
	return []Frame{
		{"udp4-vlan5", UDP4("00:0c:29:93:2f:54", "01:00:5e:00:00:76", 5, 0, "10.5.0.253", "224.0.0.118", 5240, 5240, 237)},
		{"udp6-vlan5", UDP6("00:0c:29:93:2f:54", "33:33:00:00:01:5a", 5, "fe80::20c:29ff:fe93:2f54", "ff02::15a", 5240, 5240, 237)},
		{"udp4-vlan50", UDP4("00:0c:29:93:2f:5e", "01:00:5e:00:00:76", 50, 0, "172.31.0.253", "224.0.0.118", 5240, 5240, 237)},
		{"pvst-vlan4089", PVST("4c:00:82:d2:d5:f8", 4089)},
		{"pvst-vlan2", PVST("4c:00:82:d2:d5:f8", 2)},
		{"arp", ARPRequest("00:0c:29:93:2f:68", "10.50.0.253", "10.50.0.1")},
		{"lldp", LLDP("4c:00:82:d2:d5:f8")},
		{"stp", STP("4c:00:82:d2:d5:f9")},
		{"tcp", TCP4("00:0c:29:93:2f:54", "00:0c:29:93:2f:68", "10.5.0.253", "10.5.0.1", 40000, 22)},
		{"icmp", ICMPEcho("00:0c:29:93:2f:54", "00:0c:29:93:2f:68", "10.5.0.253", "10.5.0.1")},
		{"icmp6-ns", ICMP6NS("00:0c:29:93:2f:54", "fe80::20c:29ff:fe93:2f54", "fe80::1")},
	}
}
