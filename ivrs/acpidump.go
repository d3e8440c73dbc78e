package ivrs

import (
	"bytes"

	"github.com/dpdk-doctor/dpdk-doctor/internal/acpidump"
)

// Decode reads an IVRS table given either raw (as sysfs or `acpidump -b` write it) or as the text
// that `acpidump` prints (the IVRS table is found among the others).
func Decode(b []byte) (*Table, error) {
	if bytes.HasPrefix(b, []byte("IVRS")) {
		return Parse(b)
	}
	raw, err := FromAcpidump(b)
	if err != nil {
		return nil, err
	}
	return Parse(raw)
}

// FromAcpidump extracts the raw IVRS table from acpidump's text output (see acpidump.Table).
func FromAcpidump(b []byte) ([]byte, error) { return acpidump.Table(b, "IVRS") }
