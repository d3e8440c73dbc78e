package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/dpdk-doctor/dpdk-doctor/check"
	"github.com/dpdk-doctor/dpdk-doctor/ivrs"
	"github.com/dpdk-doctor/dpdk-doctor/ovs"
	"github.com/dpdk-doctor/dpdk-doctor/pci"
	reporthtml "github.com/dpdk-doctor/dpdk-doctor/report/html"
)

func newReport(g *globals) *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "report --html FILE",
		Short: "Write the check as one self-contained HTML page: the PCI tree, IOMMU groups, RMRRs, NUMA, OVS",
		Long: "report runs the same checks as `check` and writes one HTML file that loads nothing from the network: " +
			"the PCI tree with every device coloured by its verdict, IOMMU groups as boxes, the RMRRs and the devices " +
			"they cover, NUMA nodes, the OVS bridges with every Interface error explained, and the findings grouped by cause. " +
			"Exit code: 0 when nothing fails, 1 when something fails (the file is written either way), 2 on bad usage or input.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return usageErr("report: --html FILE is required (see dpdk-doctor report --help)")
			}
			f, err := gather(g, nil)
			if err != nil {
				return err
			}
			findings := check.Run(f)
			findings = append(findings, extraFindings(cmd, g, f)...)
			in := reporthtml.Input{Facts: f, Findings: findings, Names: map[pci.Address]string{}, Version: versionString()}
			ids, _ := pci.ReadIDs(f.Root)
			for _, d := range f.Devices.List {
				in.Names[d.Address] = check.Name(ids, d)
			}
			if t, err := ivrs.Read(f.Root); err != nil {
				return inputErr(err)
			} else if t != nil {
				release, _ := f.Root.ReadString("proc/sys/kernel/osrelease")
				in.IVRS = ivrs.NewReport(t, f.Devices, func(d *pci.Device) string { return in.Names[d.Address] }, strings.TrimSpace(release))
			}
			if st, source, ok, err := ovsState(cmd.Context(), g, f); err == nil && ok {
				in.OVS, in.OVSSource = ovs.NewShow(st, f), source
			} else if ee := (*exitError)(nil); errors.As(err, &ee) {
				return err
			}
			if err := writeHTML(out, in); err != nil {
				return err
			}
			if check.Worst(findings) == check.Fail {
				return errFailed
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "html", "", "write the report to `FILE` (- for standard output)")
	addDBFlags(cmd)
	return cmd
}

// writeHTML writes the page to a temporary file beside path and renames it into place, so a
// reader never sees half a report.
func writeHTML(path string, in reporthtml.Input) error {
	if path == "-" {
		return reporthtml.Write(os.Stdout, in)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".report-*.html")
	if err != nil {
		return inputErr(fmt.Errorf("--html %s: %w", path, err))
	}
	defer os.Remove(tmp.Name())
	if err := reporthtml.Write(tmp, in); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("--html %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return inputErr(fmt.Errorf("--html %s: %w", path, err))
	}
	return nil
}
