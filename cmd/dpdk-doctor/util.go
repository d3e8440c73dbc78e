package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/dpdk-doctor/dpdk-doctor/check"
	"github.com/dpdk-doctor/dpdk-doctor/iommu"
)

func writeJSON(v any) error {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func errNoDMAR(f *check.Facts) error {
	if f.IOMMU.FirmwareTable == "IVRS" {
		return fmt.Errorf("%s: no DMAR table: this is an AMD host (IVRS); RMRRs are an Intel VT-d structure", f.Root.Path(iommu.DMARTable))
	}
	return fmt.Errorf("%s: no DMAR table (VT-d off in firmware, or not an Intel platform)", f.Root.Path(iommu.DMARTable))
}
