package main

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/dpdk-doctor/dpdk-doctor/check"
	"github.com/dpdk-doctor/dpdk-doctor/dmar"
	"github.com/dpdk-doctor/dpdk-doctor/ivrs"
	"github.com/dpdk-doctor/dpdk-doctor/pci"
)

// reservedReport is what `reserved --json` prints: both firmware tables' reserved regions, a
// table the host does not have being null.
type reservedReport struct {
	KernelRelease string       `json:"kernel_release"`
	DMAR          *dmar.Report `json:"dmar"`
	IVRS          *ivrs.Report `json:"ivrs"`
}

func newReserved(g *globals) *cobra.Command {
	var asJSON bool
	var dmarFile, ivrsFile string
	cmd := &cobra.Command{
		Use:   "reserved",
		Short: "Show the firmware's reserved memory regions (Intel RMRR, AMD IVMD) and the devices they cover",
		Long: "reserved decodes the DMAR table (Intel VT-d: RMRRs) and the IVRS table (AMD-Vi: IVMDs) and lists every " +
			"region the firmware asks to keep identity-mapped, with this host's devices it covers. For IVMDs it says " +
			"whether the running kernel refuses each device to VFIO (Linux 6.6 and later do). `rmrr` shows the DMAR " +
			"part alone.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var rep reservedReport
			var dt *dmar.Table
			var it *ivrs.Table
			if dmarFile != "" {
				b, err := os.ReadFile(dmarFile)
				if err != nil {
					return inputErr(err)
				}
				if dt, err = dmar.Decode(b); err != nil {
					return inputErr(fmt.Errorf("%s: %w", dmarFile, err))
				}
			}
			if ivrsFile != "" {
				b, err := os.ReadFile(ivrsFile)
				if err != nil {
					return inputErr(err)
				}
				if it, err = ivrs.Decode(b); err != nil {
					return inputErr(fmt.Errorf("%s: %w", ivrsFile, err))
				}
			}
			devs := &pci.Devices{}
			var name func(*pci.Device) string
			if (dmarFile == "" && ivrsFile == "") || g.root != "" || g.demo {
				f, err := gather(g, nil)
				if err != nil {
					return err
				}
				devs = f.Devices
				if dmarFile == "" {
					if f.DMARErr != nil {
						return inputErr(f.DMARErr)
					}
					dt = f.DMAR
				}
				if ivrsFile == "" {
					if it, err = ivrs.Read(f.Root); err != nil {
						return inputErr(err)
					}
				}
				rep.KernelRelease, _ = f.Root.ReadString("proc/sys/kernel/osrelease")
				ids, _ := pci.ReadIDs(f.Root)
				name = func(d *pci.Device) string { return check.Name(ids, d) }
				if dt == nil && it == nil {
					return inputErr(fmt.Errorf("no DMAR or IVRS table under %s: the firmware announces no IOMMU (VT-d or AMD-Vi/IOMMU off in the BIOS?)", f.Root.Path("sys/firmware/acpi/tables")))
				}
			}
			if dt != nil {
				rep.DMAR = dmar.NewReport(dt, devs, name)
			}
			if it != nil {
				rep.IVRS = ivrs.NewReport(it, devs, name, rep.KernelRelease)
			}
			if asJSON {
				return writeJSON(rep)
			}
			return rep.writeText(os.Stdout)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON document")
	cmd.Flags().StringVar(&dmarFile, "dmar", "", "read the DMAR table from `FILE` (raw, as in /sys/firmware/acpi/tables/DMAR, or acpidump text)")
	cmd.Flags().StringVar(&ivrsFile, "ivrs", "", "read the IVRS table from `FILE` (raw, as in /sys/firmware/acpi/tables/IVRS, or acpidump text)")
	return cmd
}

func (r reservedReport) writeText(w io.Writer) error {
	if r.DMAR != nil {
		if err := r.DMAR.WriteText(w); err != nil {
			return err
		}
	} else if _, err := io.WriteString(w, "No DMAR table: no Intel VT-d RMRRs.\n"); err != nil {
		return err
	}
	if _, err := io.WriteString(w, "\n"); err != nil {
		return err
	}
	if r.IVRS != nil {
		return r.IVRS.WriteText(w)
	}
	_, err := io.WriteString(w, "No IVRS table: no AMD IVMDs.\n")
	return err
}
