package ivrs

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/dpdk-doctor/dpdk-doctor/host"
	"github.com/dpdk-doctor/dpdk-doctor/iommu"
)

// TablePath is where Linux shows the firmware's IVRS table, relative to the host's root.
const TablePath = iommu.IVRSTable

// Read reads and decodes the host's IVRS table. It returns nil and no error when the host has
// none (not an AMD machine, or the IOMMU is off in firmware); an unreadable or undecodable table
// is an error naming the file.
func Read(r host.Root) (*Table, error) {
	b, err := r.ReadFile(TablePath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", r.Path(TablePath), err)
	}
	t, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", r.Path(TablePath), err)
	}
	return t, nil
}
