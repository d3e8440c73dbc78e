package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/dpdk-doctor/dpdk-doctor/check"
	"github.com/dpdk-doctor/dpdk-doctor/host"
	"github.com/dpdk-doctor/dpdk-doctor/iommu"
	"github.com/dpdk-doctor/dpdk-doctor/ovs"
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

func newCapture(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "capture DIR",
		Short: "Copy what dpdk-doctor reads from this host (or --root) into a new tree DIR, for --root elsewhere",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := g.hostRoot()
			if err != nil {
				return err
			}
			if args[0] == "" {
				return inputErr(fmt.Errorf("capture: the target directory is empty (name a new directory)"))
			}
			var extra []host.File
			if r.IsLive() {
				// The live OVS, when one answers, goes into the tree as a snapshot.
				f, err := check.Gather(r, check.Options{})
				if err == nil {
					if st, _, ok, err := ovsState(cmd.Context(), g, f); err == nil && ok {
						snap, err := ovs.Snapshot(st)
						if err != nil {
							return err
						}
						extra = append(extra, snap)
					}
				}
			}
			if err := host.Capture(r, args[0], extra...); err != nil {
				return inputErr(err)
			}
			fmt.Fprintf(os.Stderr, "captured %s into %s; read it with: dpdk-doctor check --root %s\n", r, args[0], args[0])
			return nil
		},
	}
	addDBFlags(cmd)
	return cmd
}
