package capture

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/afpacket"
	"golang.org/x/net/bpf"
)

// Packet is one captured frame, VLAN tag restored.
type Packet struct {
	Time    time.Time
	Data    []byte // a copy: valid after the next read
	WireLen int    // length on the wire, tag included
}

// Source reads frames from one interface through an AF_PACKET TPACKET_V3 ring.
type Source struct {
	tp       *afpacket.TPacket
	iface    string
	since    time.Time // frames stamped before the filter was attached are dropped
	filtered bool
	idle     func() error
}

// SetIdle makes Next call f each time it has waited a poll interval (50 ms) without a frame;
// an error from f ends Next with that error. Callers flush buffered output there.
func (s *Source) SetIdle(f func() error) { s.idle = f }

// Open starts capturing on iface. With a filter, it is compiled to classic BPF and attached to
// the socket, so the kernel drops what was not asked for; frames that reached the ring before
// that are discarded here.
func Open(iface string, f *Filter) (*Source, error) {
	tp, err := afpacket.NewTPacket(
		afpacket.OptInterface(iface),
		afpacket.OptTPacketVersion(afpacket.TPacketVersion3),
		afpacket.OptFrameSize(1<<16),
		afpacket.OptBlockSize(1<<20),
		afpacket.OptNumBlocks(32),
		afpacket.OptBlockTimeout(10*time.Millisecond),
		afpacket.OptPollTimeout(50*time.Millisecond),
		afpacket.OptAddVLANHeader(true),
	)
	if err != nil {
		return nil, fmt.Errorf("capturing on %s: %w", iface, err)
	}
	s := &Source{tp: tp, iface: iface}
	if f != nil && f.root != (allNode{}) {
		prog, err := f.Compile(true)
		if err == nil {
			var raw []bpf.RawInstruction
			raw, err = Raw(prog)
			if err == nil {
				err = tp.SetBPF(raw)
			}
		}
		if err != nil {
			tp.Close()
			return nil, fmt.Errorf("attaching filter %q on %s: %w", f.Text, iface, err)
		}
		s.filtered = true
	}
	s.since = time.Now()
	if err := tp.InitSocketStats(); err != nil {
		tp.Close()
		return nil, fmt.Errorf("capturing on %s: %w", iface, err)
	}
	return s, nil
}

// Next returns the next frame, waiting until one comes or ctx ends (then it returns ctx's
// error).
func (s *Source) Next(ctx context.Context) (Packet, error) {
	for {
		if err := ctx.Err(); err != nil {
			return Packet{}, err
		}
		data, ci, err := s.tp.ZeroCopyReadPacketData()
		if errors.Is(err, afpacket.ErrTimeout) {
			if s.idle != nil {
				if err := s.idle(); err != nil {
					return Packet{}, err
				}
			}
			continue
		}
		if err != nil {
			return Packet{}, fmt.Errorf("capturing on %s: %w", s.iface, err)
		}
		if s.filtered && ci.Timestamp.Before(s.since) {
			continue // arrived before the filter was attached
		}
		wire := ci.Length
		if hasVLAN(ci) && ci.CaptureLength > ci.Length {
			wire += 4 // the tag put back: the kernel's length does not count it
		}
		return Packet{Time: ci.Timestamp, Data: append([]byte(nil), data...), WireLen: wire}, nil
	}
}

func hasVLAN(ci gopacket.CaptureInfo) bool {
	for _, a := range ci.AncillaryData {
		if _, ok := a.(afpacket.AncillaryVLAN); ok {
			return true
		}
	}
	return false
}

// Stats returns the kernel's counters for the socket: frames that passed the filter, and those
// dropped because the ring was full.
func (s *Source) Stats() (received, dropped uint, err error) {
	_, v3, err := s.tp.SocketStats()
	return v3.Packets(), v3.Drops(), err
}

// Close stops capturing.
func (s *Source) Close() { s.tp.Close() }
