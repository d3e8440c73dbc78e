package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

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

func init() {
	moreCommands = append(moreCommands, newCapture)
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
			if err := host.Capture(r, args[0]); err != nil {
				return inputErr(err)
			}
			if r.IsLive() {
				// The live OVS, when one answers, goes into the tree as a snapshot.
				f, err := check.Gather(r, check.Options{})
				if err == nil {
					if st, _, ok, err := ovsState(cmd.Context(), g, f); err == nil && ok {
						b, _ := json.MarshalIndent(st, "", "  ")
						p := filepath.Join(args[0], filepath.FromSlash(ovs.SnapshotFile))
						werr := os.MkdirAll(filepath.Dir(p), 0o755)
						if werr == nil {
							werr = os.WriteFile(p, b, 0o644)
						}
						if werr != nil {
							return inputErr(fmt.Errorf("writing the OVS snapshot: %w", werr))
						}
					}
				}
			}
			fmt.Fprintf(os.Stderr, "captured %s into %s; read it with: dpdk-doctor check --root %s\n", r, args[0], args[0])
			return nil
		},
	}
	addDBFlags(cmd)
	return cmd
}
