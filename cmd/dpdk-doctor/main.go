// Command dpdk-doctor diagnoses and fixes what stops a PCI device (a NIC) from being used with
// DPDK and VFIO: it reads a live host or a captured tree, explains every problem by its root
// cause, and carries out the remedies safely. This file holds flags and output only.
package main

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strings"

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
	if code, ok := asAnsibleModule(); ok {
		os.Exit(code)
	}
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
	cmd.Version = versionString()
	cmd.SetVersionTemplate("{{.Name}} version {{.Version}}\n")
	cmd.PersistentPreRunE = func(*cobra.Command, []string) error {
		for _, check := range flagChecks {
			if err := check(); err != nil {
				return err
			}
		}
		return nil
	}
	for _, f := range commands {
		cmd.AddCommand(f(g))
	}
	addMore(cmd, g)
	refuseUnknownSubcommands(cmd)
	return cmd
}

// flagChecks validate flags shared by several commands (--db) before any command runs; each
// returns a usage error.
var flagChecks []func() error

// refuseUnknownSubcommands makes every command that only groups others ("fix", "ovs") answer
// an unknown subcommand with a usage error (exit 2) instead of cobra's help and exit 0.
func refuseUnknownSubcommands(cmd *cobra.Command) {
	for _, c := range cmd.Commands() {
		refuseUnknownSubcommands(c)
	}
	if cmd.Runnable() || !cmd.HasSubCommands() || cmd.Parent() == nil {
		return
	}
	cmd.Args = cobra.ArbitraryArgs
	cmd.RunE = func(c *cobra.Command, args []string) error {
		if len(args) == 0 {
			return c.Help()
		}
		var names []string
		for _, sub := range c.Commands() {
			if sub.IsAvailableCommand() {
				names = append(names, sub.Name())
			}
		}
		return usageErr("%s: unknown command %q (want one of: %s; see %s --help)", c.CommandPath(), args[0], strings.Join(names, ", "), c.CommandPath())
	}
}

// version and commit are set at build time (-ldflags "-X main.version=0.3.0 -X
// main.commit=$(git rev-parse HEAD)"); otherwise the build information's module version and
// VCS revision are used, when the build recorded them.
var version, commit = "", ""

// versionString is what --version prints after the name: the version, the Go release and the
// commit the binary was built from, when known.
func versionString() string {
	v, commit, dirty := version, commit, false
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v == "" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if commit == "" {
					commit = s.Value
				}
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
	}
	if v == "" || v == "(devel)" {
		v = "devel"
	}
	extra := runtime.Version()
	if commit != "" {
		if len(commit) > 12 {
			commit = commit[:12]
		}
		if dirty {
			commit += "-dirty"
		}
		extra += ", commit " + commit
	}
	return v + " (" + extra + ")"
}

// commands is every command of dpdk-doctor, grouped by what it is for: the one place a command
// is added (cobra lists them by name).
var commands = []func(*globals) *cobra.Command{
	newCheck, newDevices, newRMRR, newReserved, newProbe, // read and judge
	newReport, newCapture, // show and keep
	newFix, newPlan, // change
	newOVS, newTop, newTraffic, newCleanup, // Open vSwitch
	newFleetReport, // the fleet
}

// moreCommands holds commands that optional build tags add (gendocs, for the Debian package).
var moreCommands []func(*globals) *cobra.Command

func addMore(cmd *cobra.Command, g *globals) {
	for _, f := range moreCommands {
		cmd.AddCommand(f(g))
	}
}
