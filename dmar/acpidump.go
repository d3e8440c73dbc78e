package dmar

import (
	"bytes"

	"github.com/dpdk-doctor/dpdk-doctor/internal/acpidump"
)

// Decode reads a DMAR table given either raw (as sysfs or `acpidump -b` write it) or as the text
// that `acpidump` prints (the DMAR table is found among the others).
func Decode(b []byte) (*Table, error) {
	if bytes.HasPrefix(b, []byte("DMAR")) {
		return Parse(b)
	}
	raw, err := FromAcpidump(b)
	if err != nil {
		return nil, err
	}
	return Parse(raw)
}

// FromAcpidump extracts the raw DMAR table from acpidump's text output (see acpidump.Table).
func FromAcpidump(b []byte) ([]byte, error) { return acpidump.Table(b, "DMAR") }
