package capture

import (
	"encoding/binary"
	"fmt"
	"io"
	"sort"
)

// Summary counts what a capture saw.
type Summary struct {
	Packets     int            `json:"packets"`
	Bytes       int            `json:"bytes"`
	PerVLAN     map[int]int    `json:"per_vlan"`      // VLAN ID -> frames; -1 for untagged
	PerEther    map[string]int `json:"per_ethertype"` // "IPv4 (0x0800)", "802.3/LLC" -> frames
	KernelSeen  uint           `json:"kernel_received"`
	KernelDrops uint           `json:"kernel_dropped"`
}

// Add counts one frame.
func (s *Summary) Add(p Packet) {
	if s.PerVLAN == nil {
		s.PerVLAN, s.PerEther = map[int]int{}, map[string]int{}
	}
	s.Packets++
	s.Bytes += p.WireLen
	d := p.Data
	vlan := -1
	if len(d) < 14 {
		s.PerEther["runt"]++
		s.PerVLAN[vlan]++
		return
	}
	et := binary.BigEndian.Uint16(d[12:])
	if (et == 0x8100 || et == 0x88a8) && len(d) >= 18 {
		vlan = int(binary.BigEndian.Uint16(d[14:]) & 0xfff)
		et = binary.BigEndian.Uint16(d[16:])
	}
	s.PerVLAN[vlan]++
	if et <= 1500 {
		s.PerEther["802.3/LLC"]++
	} else {
		s.PerEther[fmt.Sprintf("%s (0x%04x)", EtherName(et), et)]++
	}
}

// Write prints the summary.
func (s *Summary) Write(w io.Writer) {
	fmt.Fprintf(w, "%d packets captured, %d bytes\n", s.Packets, s.Bytes)
	fmt.Fprintf(w, "%d packets received by filter, %d packets dropped by kernel\n", s.KernelSeen, s.KernelDrops)
	if len(s.PerVLAN) > 0 {
		var vs []int
		for v := range s.PerVLAN {
			vs = append(vs, v)
		}
		sort.Ints(vs)
		fmt.Fprint(w, "per VLAN:")
		for _, v := range vs {
			name := fmt.Sprint(v)
			if v < 0 {
				name = "untagged"
			}
			fmt.Fprintf(w, " %s=%d", name, s.PerVLAN[v])
		}
		fmt.Fprintln(w)
		var es []string
		for e := range s.PerEther {
			es = append(es, e)
		}
		sort.Strings(es)
		fmt.Fprint(w, "per ethertype:")
		for _, e := range es {
			fmt.Fprintf(w, " %s=%d", e, s.PerEther[e])
		}
		fmt.Fprintln(w)
	}
}
