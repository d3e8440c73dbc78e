package capture

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/dpdk-doctor/dpdk-doctor/internal/frames"
)

// l3Frames are IPv4 and IPv6 frames with TCP, UDP and ICMP, tagged once and twice, IPv4
// fragments (first and later), an IPv4 header with options, an IPv6 fragment header and ARP.
func l3Frames() []frames.Frame {
	mac := func(s string) net.HardwareAddr { m, _ := net.ParseMAC(s); return m }
	a, b := mac("00:0c:29:93:2f:54"), mac("4c:00:82:d2:d5:f8")
	ser := func(ls ...gopacket.SerializableLayer) []byte {
		for _, l := range ls {
			for _, o := range ls {
				if ip, ok := o.(gopacket.NetworkLayer); ok {
					switch t := l.(type) {
					case *layers.UDP:
						t.SetNetworkLayerForChecksum(ip)
					case *layers.TCP:
						t.SetNetworkLayerForChecksum(ip)
					case *layers.ICMPv6:
						t.SetNetworkLayerForChecksum(ip)
					}
				}
			}
		}
		buf := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
			panic(err)
		}
		return append([]byte(nil), buf.Bytes()...)
	}
	pay := gopacket.Payload(make([]byte, 24))
	// link puts the ethertype and tags (vids, outermost first) before an IP layer.
	link := func(et layers.EthernetType, vids ...uint16) []gopacket.SerializableLayer {
		var ls []gopacket.SerializableLayer
		eth := &layers.Ethernet{SrcMAC: a, DstMAC: b, EthernetType: et}
		ls = append(ls, eth)
		if len(vids) > 0 {
			eth.EthernetType = layers.EthernetTypeDot1Q
			for i, v := range vids {
				next := et
				if i+1 < len(vids) {
					next = layers.EthernetTypeDot1Q
				}
				ls = append(ls, &layers.Dot1Q{VLANIdentifier: v, Type: next})
			}
		}
		return ls
	}
	v4 := func(src, dst string, proto layers.IPProtocol) *layers.IPv4 {
		return &layers.IPv4{Version: 4, TTL: 64, Protocol: proto, SrcIP: net.ParseIP(src), DstIP: net.ParseIP(dst)}
	}
	v6 := func(src, dst string, nh layers.IPProtocol) *layers.IPv6 {
		return &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: nh, SrcIP: net.ParseIP(src), DstIP: net.ParseIP(dst)}
	}
	udp := func(s, d uint16) *layers.UDP {
		return &layers.UDP{SrcPort: layers.UDPPort(s), DstPort: layers.UDPPort(d)}
	}
	tcp := func(s, d uint16) *layers.TCP {
		return &layers.TCP{SrcPort: layers.TCPPort(s), DstPort: layers.TCPPort(d), Seq: 1000, SYN: true, Window: 64240}
	}
	fr := func(name string, ls ...gopacket.SerializableLayer) frames.Frame {
		return frames.Frame{Name: name, Data: ser(ls...)}
	}
	cat := func(a []gopacket.SerializableLayer, b ...gopacket.SerializableLayer) []gopacket.SerializableLayer {
		return append(append([]gopacket.SerializableLayer{}, a...), b...)
	}
	frag := v4("10.0.0.1", "10.0.0.2", layers.IPProtocolUDP)
	frag.FragOffset = 185
	first := v4("10.0.0.1", "10.0.0.2", layers.IPProtocolUDP)
	first.Flags = layers.IPv4MoreFragments
	opts := v4("10.0.0.1", "192.168.1.9", layers.IPProtocolTCP)
	opts.Options = []layers.IPv4Option{{OptionType: 7, OptionLength: 7, OptionData: []byte{4, 0, 0, 0, 0}}, {OptionType: 0, OptionLength: 1}}
	return []frames.Frame{
		fr("udp4 dhcp", cat(link(layers.EthernetTypeIPv4), v4("0.0.0.0", "255.255.255.255", layers.IPProtocolUDP), udp(68, 67), pay)...),
		fr("udp4 vxlan", cat(link(layers.EthernetTypeIPv4), v4("10.5.0.253", "10.5.0.1", layers.IPProtocolUDP), udp(40000, 4789), pay)...),
		fr("tcp4 ssh", cat(link(layers.EthernetTypeIPv4), v4("10.0.0.1", "10.0.0.2", layers.IPProtocolTCP), tcp(51000, 22), pay)...),
		fr("icmp4", cat(link(layers.EthernetTypeIPv4), v4("10.0.0.2", "10.0.0.1", layers.IPProtocolICMPv4), &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(8, 0), Id: 1, Seq: 1}, pay)...),
		fr("udp4 later fragment", cat(link(layers.EthernetTypeIPv4), frag, udp(5240, 53), pay)...),
		fr("udp4 first fragment", cat(link(layers.EthernetTypeIPv4), first, udp(5240, 53), pay)...),
		fr("tcp4 ip options", cat(link(layers.EthernetTypeIPv4), opts, tcp(80, 33000), pay)...),
		fr("udp4 vlan 5", cat(link(layers.EthernetTypeIPv4, 5), v4("10.0.0.1", "224.0.0.118", layers.IPProtocolUDP), udp(5240, 5240), pay)...),
		fr("tcp4 vlan 5 options", cat(link(layers.EthernetTypeIPv4, 5), opts, tcp(443, 22), pay)...),
		fr("udp4 qinq 100/5", cat(link(layers.EthernetTypeIPv4, 100, 5), v4("10.0.0.1", "10.0.0.3", layers.IPProtocolUDP), udp(67, 68), pay)...),
		fr("udp6", cat(link(layers.EthernetTypeIPv6), v6("fe80::1", "ff02::1:2", layers.IPProtocolUDP), udp(546, 547), pay)...),
		fr("tcp6", cat(link(layers.EthernetTypeIPv6), v6("2001:db8::1", "2001:db8:1::2", layers.IPProtocolTCP), tcp(51000, 22), pay)...),
		fr("icmp6", cat(link(layers.EthernetTypeIPv6), v6("fe80::1", "ff02::1", layers.IPProtocolICMPv6), &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(128, 0)}, pay)...),
		fr("tcp6 vlan 5", cat(link(layers.EthernetTypeIPv6, 5), v6("2001:db8::1", "2001:db8::2", layers.IPProtocolTCP), tcp(22, 60000), pay)...),
		fr("tcp6 fragment header", cat(link(layers.EthernetTypeIPv6), v6("2001:db8::1", "2001:db8::2", layers.IPProtocolIPv6Fragment),
			&layers.IPv6Fragment{NextHeader: layers.IPProtocolTCP, Identification: 7}, tcp(22, 60001), pay)...),
		fr("udp6 later fragment", cat(link(layers.EthernetTypeIPv6), v6("2001:db8::1", "2001:db8::2", layers.IPProtocolIPv6Fragment),
			&layers.IPv6Fragment{NextHeader: layers.IPProtocolUDP, FragmentOffset: 185, Identification: 8}, pay)...),
		{Name: "arp", Data: frames.ARPRequest("00:0c:29:93:2f:54", "10.0.0.1", "10.0.0.9")},
	}
}

func writePcap(t testing.TB, fs []frames.Frame) string {
	path := filepath.Join(t.TempDir(), "l3.pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := pcapgo.NewWriter(f)
	w.WriteFileHeader(snapLen, layers.LinkTypeEthernet)
	for i, fr := range fs {
		w.WritePacket(gopacket.CaptureInfo{Timestamp: time.Unix(1533580312, int64(i)*1000), CaptureLength: len(fr.Data), Length: len(fr.Data)}, fr.Data)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestL3FilterAgainstTcpdump: what operators type first selects, in our BPF (x/net/bpf's VM)
// and our Go evaluator, exactly the frames tcpdump's own compiler selects.
func TestL3FilterAgainstTcpdump(t *testing.T) {
	needTcpdump(t)
	fs := l3Frames()
	path := writePcap(t, fs)
	for _, expr := range []string{
		"host 10.0.0.1", "host 10.0.0.9", "src host 10.0.0.1", "dst host 10.0.0.1", "src 10.0.0.2", "dst 10.0.0.2", "ip host 10.0.0.1",
		"host 2001:db8::1", "dst host ff02::1", "ip6 src host fe80::1", "net 10.0.0.0/24", "net 10.0.0.0 mask 255.255.255.0", "src net 10.5.0.0/16",
		"dst net 224.0.0.0/4", "net 2001:db8::/32", "net 2001:db8:1::/48",
		"port 22", "tcp port 22", "udp port 22", "src port 22", "dst port 22", "port 53", "udp port 53", "udp port 4789", "port 67 or port 68",
		"portrange 1-100", "tcp portrange 20-30", "udp dst portrange 4000-5000", "src portrange 500-600", "port 80", "port 443", "port 33000",
		"tcp", "udp", "icmp", "icmp6", "ip proto 17", "ip proto \\tcp", "ip6 proto 6", "ip6 proto 58", "sctp",
		"vlan 5 and host 10.0.0.1", "vlan and port 22", "vlan and tcp", "vlan 5 and tcp port 22", "vlan 100 and vlan 5 and udp port 68",
		"vlan and vlan and host 10.0.0.3", "vlan and ip6 and port 22", "not port 22", "tcp and not port 22", "host 10.0.0.1 and (port 22 or port 53)",
		"udp and not (port 67 or port 68)", "port 67 or 68", "udp port 22 or 68", "host 10.0.0.1 or 10.0.0.9", "src host 10.0.0.2 and not 10.0.0.1",
		"dst net 10.5.0.0/16 or 224.0.0.0/4", "tcp dst port 22 and not 60000", "host fe80::1 or ff02::1", "vlan or port 22", "port 22 or vlan 5 and icmp",
	} {
		f, err := ParseFilter(expr)
		if err != nil {
			t.Errorf("%q: %v", expr, err)
			continue
		}
		checkAgainstTcpdump(t, path, fs, f)
	}
}

func TestL3FilterErrors(t *testing.T) {
	for _, bad := range []string{"host", "host 10.0.0", "net 10.0.0.1/8", "net 10.0.0.0 mask 255.0.255.0", "port", "port 70000", "port 1-2",
		"portrange 5-x", "ip6 host 10.0.0.1", "ip host ::1", "tcp host 10.0.0.1", "ip port 22", "ip proto 300", "src foo", "port domain", "port 22 and ip proto 6 or 17", "vlan 5 or 6"} {
		if _, err := ParseFilter(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestDecodeL3AgainstTcpdump: for IPv4 and IPv6 with TCP, UDP, ICMP and ICMPv6, tagged or not,
// our line starts as tcpdump -nne's does: up to the end of what we print (tcpdump may add TCP
// options, IP options and more after it).
func TestDecodeL3AgainstTcpdump(t *testing.T) {
	needTcpdump(t)
	fs := l3Frames()
	out, err := exec.Command("tcpdump", "-r", writePcap(t, fs), "-nne").Output()
	if os.Getenv("DECODE_SHOW") != "" {
		t.Logf("%s", out)
	}
	if err != nil {
		t.Fatal(err)
	}
	// A line of tcpdump's own starts with the timestamp; others continue the one before.
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if !stamp.MatchString(l) {
			lines[len(lines)-1] += "\n" + l
			continue
		}
		lines = append(lines, l)
	}
	if len(lines) != len(fs) {
		t.Fatalf("tcpdump printed %d lines for %d frames", len(lines), len(fs))
	}
	for i, fr := range fs {
		want := lines[i][strings.Index(lines[i], " ")+1:]
		got := Line(fr.Data, len(fr.Data))
		if os.Getenv("DECODE_SHOW") != "" {
			t.Logf("%s\n ours    %s\n tcpdump %s", fr.Name, got, want)
		}
		exact := got == want || strings.HasPrefix(want, got+",") || strings.HasPrefix(want, got+":")
		if appLayer[fr.Name] {
			// tcpdump dissects DHCP, VXLAN, DNS, DHCPv6 and IPv6 fragments further: the
			// link, network and transport parts (through the second ": ") must agree.
			exact = upTo2(got) == upTo2(want)
		}
		if !exact {
			t.Errorf("%s:\n ours    %s\n tcpdump %s", fr.Name, got, want)
		}
	}
}

var stamp = regexp.MustCompile(`^\d\d:\d\d:\d\d\.\d{6} `)

var appLayer = map[string]bool{"udp4 dhcp": true, "udp4 vxlan": true, "udp4 first fragment": true, "udp4 qinq 100/5": true, "udp6": true}

// upTo2 is a line through its second ": " (after the link layer, after the addresses).
func upTo2(l string) string {
	i := strings.Index(l, ": ")
	if i < 0 {
		return l
	}
	j := strings.Index(l[i+2:], ": ")
	if j < 0 {
		return l
	}
	return l[:i+2+j+2]
}
