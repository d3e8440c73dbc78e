package dmar

import (
	"encoding/binary"
	"fmt"
)

// MarshalBinary encodes t as a raw DMAR table with a correct length and checksum. Structures of
// unknown type are written from Raw. It is how test fixtures and the demo host's table are made,
// and lets fuzzing check that Parse and MarshalBinary agree.
func (t *Table) MarshalBinary() ([]byte, error) {
	if t.HostAddressWidth < 1 || t.HostAddressWidth > 256 {
		return nil, fmt.Errorf("DMAR: host address width %d out of range", t.HostAddressWidth)
	}
	le := binary.LittleEndian
	b := make([]byte, headerLen, 512)
	copy(b[0:], "DMAR")
	b[8] = t.Revision
	copy(b[10:16], pad(t.OEMID, 6))
	copy(b[16:24], pad(t.OEMTableID, 8))
	le.PutUint32(b[24:], t.OEMRevision)
	copy(b[28:32], pad(t.CreatorID, 4))
	le.PutUint32(b[32:], t.CreatorRevision)
	b[36] = byte(t.HostAddressWidth - 1)
	b[37] = t.Flags
	for _, s := range t.Structures {
		var body []byte
		switch s.Type {
		case TypeDRHD:
			body = make([]byte, 16)
			body[4], body[5] = s.Flags, s.Size
			le.PutUint16(body[6:], s.Segment)
			le.PutUint64(body[8:], s.Address)
		case TypeRMRR:
			body = make([]byte, 24)
			le.PutUint16(body[6:], s.Segment)
			le.PutUint64(body[8:], s.Address)
			le.PutUint64(body[16:], s.End)
		case TypeATSR, TypeSATC:
			body = make([]byte, 8)
			body[4] = s.Flags
			le.PutUint16(body[6:], s.Segment)
		case TypeRHSA:
			body = make([]byte, 20)
			le.PutUint64(body[8:], s.Address)
			le.PutUint32(body[16:], s.Domain)
		case TypeANDD:
			body = make([]byte, 8, 9+len(s.Name))
			body[7] = s.ACPIDev
			body = append(append(body, s.Name...), 0)
		default:
			if len(s.Raw) < 4 {
				return nil, fmt.Errorf("DMAR: structure of type %d has no raw bytes", s.Type)
			}
			body = append([]byte(nil), s.Raw...)
		}
		for _, sc := range s.Scopes {
			n := 6 + 2*len(sc.Path)
			if n > 255 {
				return nil, fmt.Errorf("DMAR: device scope path of %d hops is too long", len(sc.Path))
			}
			e := []byte{sc.Type, byte(n), sc.Flags, 0, sc.EnumerationID, sc.StartBus}
			for _, p := range sc.Path {
				e = append(e, p.Device, p.Function)
			}
			body = append(body, e...)
		}
		if len(body) > 0xffff {
			return nil, fmt.Errorf("DMAR: structure too long (%d bytes)", len(body))
		}
		le.PutUint16(body[0:], s.Type)
		le.PutUint16(body[2:], uint16(len(body)))
		b = append(b, body...)
	}
	le.PutUint32(b[4:], uint32(len(b)))
	var sum byte
	for _, c := range b {
		sum += c
	}
	b[9] = -sum
	return b, nil
}

func pad(s string, n int) []byte {
	b := []byte(s)
	for len(b) < n {
		b = append(b, ' ')
	}
	return b[:n]
}
