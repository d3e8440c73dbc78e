package main

import (
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/dpdk-doctor/dpdk-doctor/check"
	"github.com/dpdk-doctor/dpdk-doctor/metrics"
)

// textfileDir is check's --textfile: node_exporter's textfile-collector directory.
var textfileDir string

func init() {
	prev := addCheckFlags // ovs.go's init (an earlier file) has set its flags already
	addCheckFlags = func(cmd *cobra.Command) {
		prev(cmd)
		cmd.Flags().StringVar(&textfileDir, "textfile", "", "write the result as Prometheus metrics to `DIR`/"+metrics.FileName+
			" (node_exporter's textfile collector, replaced atomically) instead of printing the report; --json still prints")
	}
}

// writeTextfile writes check's metrics when --textfile is set. It reports whether the report
// should still be printed on stdout.
func writeTextfile(cmd *cobra.Command, g *globals, f *check.Facts, findings []check.Finding, asJSON bool) (print bool, err error) {
	if textfileDir == "" {
		return true, nil
	}
	in := metrics.Input{Facts: f, Findings: findings, Version: textfileVersion(), Time: time.Now()}
	// The OVS state is read again for its Interface rows, unless check found OVSDB unreachable
	// (finding ovs.db): that is already in the metrics, and a second wait would double the time.
	if !slices.ContainsFunc(findings, func(fd check.Finding) bool { return fd.ID == "ovs.db" }) {
		if st, _, ok, err := ovsState(cmd.Context(), g, f); err == nil && ok {
			in.OVS = st
		}
	}
	if err := metrics.WriteFile(textfileDir, in); err != nil {
		return false, inputErr(err)
	}
	return asJSON, nil
}

// textfileVersion is the version for dpdk_doctor_info: the --version string without the Go
// release and commit.
func textfileVersion() string {
	v := versionString()
	for i := range v {
		if v[i] == ' ' {
			return v[:i]
		}
	}
	return v
}
