// Command dpdk-doctor diagnoses and fixes what stops a PCI device (a NIC) from being used with
// DPDK and VFIO: it reads a live host or a captured tree, explains every problem by its root
// cause, and carries out the remedies safely. This file holds flags and output only.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// exitError carries an exit code: 1 when something fails, 2 for bad usage or input.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }

func usageErr(format string, a ...any) error {
	return &exitError{2, fmt.Errorf(format, a...)}
}

func inputErr(err error) error { return &exitError{2, err} }

// errFailed is returned when a check found failures: exit code 1, nothing more to print.
var errFailed = &exitError{1, errors.New("")}

func main() {
	root := newRoot()
	err := root.Execute()
	if err == nil {
		return
	}
	code := 2
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
	}
	if msg := err.Error(); msg != "" {
		fmt.Fprintln(os.Stderr, "dpdk-doctor:", msg)
	}
	os.Exit(code)
}

// global flags
type globals struct {
	root string
	demo bool
}

func newRoot() *cobra.Command {
	g := &globals{}
	cmd := &cobra.Command{
		Use:           "dpdk-doctor",
		Short:         "Diagnose and fix what stops NICs from working with DPDK and VFIO",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	cmd.PersistentFlags().StringVar(&g.root, "root", "", "read a captured host tree at `DIR` instead of this host")
	cmd.PersistentFlags().BoolVar(&g.demo, "demo", false, "read the embedded demo host (the seed's HP ProLiant DL360e Gen8)")
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return usageErr("%v (see %s --help)", err, c.CommandPath()) })
	cmd.AddCommand(newCheck(g), newDevices(g), newRMRR(g))
	addMore(cmd, g)
	return cmd
}

// addMore registers commands defined in other files of this package.
var moreCommands []func(*globals) *cobra.Command

func addMore(cmd *cobra.Command, g *globals) {
	for _, f := range moreCommands {
		cmd.AddCommand(f(g))
	}
}
