package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/dpdk-doctor/dpdk-doctor/fix"
	"github.com/dpdk-doctor/dpdk-doctor/pci"
	"github.com/dpdk-doctor/dpdk-doctor/platform"
)

// signalContext is cancelled by Ctrl-C or SIGTERM.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// fixRemedies is the one list the `fix` subcommands come from.
var fixRemedies = []func(*globals) *cobra.Command{newFixRMRR, newFixBind, newFixUnbind, newFixHugepages, newFixCmdline}

func newFix(g *globals) *cobra.Command {
	var rollback, stateDir string
	var apply bool
	cmd := &cobra.Command{
		Use:   "fix REMEDY ... | --rollback ID",
		Short: "Carry out remedies (dry run unless --apply)",
		Long: "Every remedy prints its plan and changes nothing unless --apply is given. With --apply it takes the lock of " +
			"STATE-DIR, records what a rollback needs (STATE-DIR/ID.json), makes the change, reads the host again to verify it, " +
			"and rolls back at once when the change does not verify. --rollback ID undoes a run (a dry run without --apply).",
		// Without this, `fix 0000:03:00.0` would print the help and exit 0.
		RunE: func(cmd *cobra.Command, args []string) error {
			if rollback != "" {
				if len(args) > 0 {
					return usageErr("--rollback takes no other arguments")
				}
				if err := g.liveOnlyIf(apply, "roll back a change"); err != nil {
					return err
				}
				ctx, stop := signalContext()
				defer stop()
				r := &fix.Runner{StateDir: stateDir, Out: os.Stdout}
				err := r.Rollback(ctx, rollback, apply)
				if errors.Is(err, fix.ErrNoRecord) {
					return inputErr(err)
				}
				if err != nil {
					return &exitError{1, err}
				}
				return nil
			}
			var names []string
			for _, c := range cmd.Commands() {
				if !c.Hidden && c.Name() != "help" && c.Name() != "completion" {
					names = append(names, c.Name())
				}
			}
			if len(args) == 0 {
				return usageErr("name a remedy: dpdk-doctor fix rmrr DEVICE... (the remedies are: %s; see dpdk-doctor fix --help)", strings.Join(names, ", "))
			}
			if _, err := pci.ParseAddress(args[0]); err == nil {
				return usageErr("unknown remedy %q; try: dpdk-doctor fix rmrr %s", args[0], shellQuote(args))
			}
			return usageErr("unknown remedy %q; the remedies are: %s (see dpdk-doctor fix --help)", args[0], strings.Join(names, ", "))
		},
	}
	cmd.Flags().StringVar(&rollback, "rollback", "", "undo the run `ID` (printed by --apply; a dry run without --apply)")
	cmd.Flags().BoolVar(&apply, "apply", false, "carry out the rollback (default: say what it would undo)")
	cmd.Flags().StringVar(&stateDir, "state-dir", fix.DefaultStateDir, "where the runs' records and the lock are kept")
	for _, f := range fixRemedies {
		cmd.AddCommand(f(g))
	}
	return cmd
}

// newFixRMRR is `fix rmrr`.
func newFixRMRR(g *globals) *cobra.Command {
	var o fix.RMRROptions
	var apply bool
	var rollback string
	rmrr := &cobra.Command{
		Use:   "rmrr DEVICE... | --rollback BACKUP",
		Short: "HPE ProLiant: exclude the devices' physical slots from RMRR with conrep (backup, apply, verify, roll back)",
		Long: "Excludes the physical slots of RMRR-locked devices from the firmware's RMRRs with HPE's conrep " +
			"(RMRDS_Slot<N> = Endpoints_Excluded). Prints the plan and changes nothing unless --apply is given. " +
			"With --apply: backs up the RMRDS settings, loads the exclusion, reads it back and verifies every slot; " +
			"a reboot makes it take effect. --rollback BACKUP loads a backup back and verifies it. Each --apply is a run " +
			"of the fix runner, recorded in STATE-DIR/ID.json (the journal of an interrupted run, and what a rollback needs): " +
			"`dpdk-doctor fix --rollback ID --apply` undoes it the same way as --rollback BACKUP.\n\n" +
			"A device that is not RMRR-locked needs nothing (\"nothing to fix\", exit 0). A device not on the host is " +
			"bad input (exit 2), and so is a BACKUP that is missing, not a conrep save, of another platform, or holds " +
			"sections other than RMRDS_Slot<N> (a rollback never writes other BIOS settings). A host without a readable DMAR table cannot be judged (exit 1). " +
			"--apply and --rollback --apply hold a lock on STATE-DIR/lock; a second run meanwhile names the holder " +
			"(pid and command) and exits 1 without changing anything. A journal of an interrupted run that cannot be " +
			"read stops every run (exit 1) with the ways out.",
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := g.liveOnlyIf(apply, "change the firmware's RMRR settings with conrep"); err != nil {
				return err
			}
			ctx, stop := signalContext()
			defer stop()
			o.Out = os.Stdout
			if rollback != "" {
				if len(args) > 0 {
					return usageErr("--rollback takes no devices")
				}
				r, err := g.hostRoot()
				if err != nil {
					return err
				}
				// A relative BACKUP is the user's, from this directory: resolve it before anything
				// runs elsewhere (conrep runs in the state directory).
				abs, err := filepath.Abs(rollback)
				if err != nil {
					return usageErr("--rollback %s: %v", rollback, err)
				}
				err = fix.Rollback(ctx, o, platform.Read(r).Product, abs, apply)
				if errors.Is(err, fix.ErrBadBackup) {
					return inputErr(err)
				}
				if err != nil {
					return &exitError{1, err}
				}
				return nil
			}
			if len(args) == 0 {
				return usageErr("name at least one PCI device (e.g. 0000:03:00.0), or --rollback BACKUP")
			}
			addrs, err := parseAddresses(args)
			if err != nil {
				return err
			}
			f, err := gather(g, nil)
			if err != nil {
				return err
			}
			o.Devices = addrs
			plan, err := fix.PlanRMRR(f, o)
			if errors.Is(err, fix.ErrNoDevice) {
				return inputErr(err)
			}
			if err != nil {
				return &exitError{1, err}
			}
			if !apply {
				plan.Print()
				return nil
			}
			if err := plan.Apply(ctx); err != nil {
				return &exitError{1, fmt.Errorf("fix rmrr: %w", err)}
			}
			return nil
		},
	}
	rmrr.Flags().BoolVar(&apply, "apply", false, "carry out the change (default: print the plan only)")
	rmrr.Flags().StringVar(&o.Conrep, "conrep", "", "conrep program `PATH` (default: PATH, then the usual places)")
	rmrr.Flags().StringVar(&o.XML, "xml", "", "HPE's conrep_rmrds.xml `PATH`, trusted as given (default: the state dir, /opt/hp{,e}/hp-scripting-tools/etc, /usr/share/dpdk-doctor, where it must be root's and not writable by others; never the current directory)")
	rmrr.Flags().StringVar(&o.StateDir, "state-dir", fix.DefaultStateDir, "where backups, the journal and the lock are kept (made 0700 when missing)")
	rmrr.Flags().StringVar(&rollback, "rollback", "", "load this `BACKUP` back (made by an earlier --apply) and verify it")
	return rmrr
}

// shellQuote joins args for a POSIX shell, quoting what needs it.
func shellQuote(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		switch {
		case a != "" && strings.Trim(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=,+@%") == "":
			out[i] = a
		case strings.IndexFunc(a, func(r rune) bool { return !strconv.IsPrint(r) }) >= 0:
			// Control characters are printed escaped, in bash's $'...' form.
			q := strconv.Quote(a)
			out[i] = "$'" + strings.ReplaceAll(q[1:len(q)-1], "'", `\'`) + "'"
		default:
			out[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(out, " ")
}
