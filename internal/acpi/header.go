// Package acpi reads the standard header that every ACPI system description table (DMAR, IVRS,
// ...) starts with, so that each table's parser checks it the same way.
package acpi

import (
	"encoding/binary"
	"fmt"
)

// HeaderLen is the size of the standard table header.
const HeaderLen = 36

// Header is the standard header of a system description table.
type Header struct {
	Signature       string
	Length          int // the whole table's, header included
	Revision        uint8
	Checksum        uint8 // the byte that makes the table's bytes add up to zero
	OEMID           string
	OEMTableID      string
	OEMRevision     uint32
	CreatorID       string
	CreatorRevision uint32
}

// ParseHeader checks that b holds a table with signature sig whose fixed part (the header and
// the table's own fields) is fixed bytes long, and returns its header and the table cut to the
// length the header gives. An error names the table and what is wrong (too short, another
// signature, a length shorter than the fixed part or longer than b). A checksum that does not
// add up is not an error: warning says so ("" when it adds up), as the kernel only warns for
// most tables.
func ParseHeader(b []byte, sig string, fixed int) (h Header, table []byte, warning string, err error) {
	if len(b) < fixed {
		return h, nil, "", fmt.Errorf("%s: table is %d bytes, shorter than its %d-byte header", sig, len(b), fixed)
	}
	if string(b[0:4]) != sig {
		return h, nil, "", fmt.Errorf("%s: signature is %q, not %q", sig, b[0:4], sig)
	}
	le := binary.LittleEndian
	length := int(le.Uint32(b[4:]))
	if length < fixed {
		return h, nil, "", fmt.Errorf("%s: header length %d is shorter than the header itself", sig, length)
	}
	if length > len(b) {
		return h, nil, "", fmt.Errorf("%s: header says %d bytes, only %d present (truncated)", sig, length, len(b))
	}
	b = b[:length]
	h = Header{
		Signature:       sig,
		Length:          length,
		Revision:        b[8],
		Checksum:        b[9],
		OEMID:           string(b[10:16]),
		OEMTableID:      string(b[16:24]),
		OEMRevision:     le.Uint32(b[24:]),
		CreatorID:       string(b[28:32]),
		CreatorRevision: le.Uint32(b[32:]),
	}
	var sum byte
	for _, c := range b {
		sum += c
	}
	if sum != 0 {
		warning = fmt.Sprintf("checksum does not add up (byte at offset 9 is %#02x, off by %#02x)", b[9], sum)
	}
	return h, b, warning, nil
}

// Walk calls each for every subtable of table (as ParseHeader returns it) from offset start on:
// DMAR's remapping structures and IVRS's blocks alike start with a type and, at offset 2, their
// 16-bit length. noun names them in errors ("structure", "block") and typ formats a subtable's
// type. A subtable that is shorter than its own 4-byte header, or overruns the table, or bytes
// too few for a header at the end, is an error naming the table and the offset.
func Walk(table []byte, sig string, start int, noun string, typ func(sub []byte) string, each func(sub []byte, off int) error) error {
	length := len(table)
	for off := start; off < length; {
		if length-off < 4 {
			return fmt.Errorf("%s: %d stray bytes at offset %#x, too few for a %s header", sig, length-off, off, noun)
		}
		n := int(binary.LittleEndian.Uint16(table[off+2:]))
		if n < 4 {
			return fmt.Errorf("%s: %s at offset %#x (type %s) has length %d, less than its own header", sig, noun, off, typ(table[off:]), n)
		}
		if off+n > length {
			return fmt.Errorf("%s: %s at offset %#x (type %s) has length %d, overrunning the table's %d bytes", sig, noun, off, typ(table[off:]), n, length)
		}
		if err := each(table[off:off+n], off); err != nil {
			return err
		}
		off += n
	}
	return nil
}
