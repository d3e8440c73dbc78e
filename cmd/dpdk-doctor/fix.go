package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/dpdk-doctor/dpdk-doctor/fix"
)

func init() { moreCommands = append(moreCommands, newFix) }

// signalContext is cancelled by Ctrl-C or SIGTERM.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

func newFix(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "fix", Short: "Carry out remedies (dry run unless --apply)"}
	var o fix.RMRROptions
	var apply bool
	var rollback string
	rmrr := &cobra.Command{
		Use:   "rmrr DEVICE... | --rollback BACKUP",
		Short: "HPE ProLiant: exclude the devices' physical slots from RMRR with conrep (backup, apply, verify, roll back)",
		Long: "Excludes the physical slots of RMRR-locked devices from the firmware's RMRRs with HPE's conrep " +
			"(RMRDS_Slot<N> = Endpoints_Excluded). Prints the plan and changes nothing unless --apply is given. " +
			"With --apply: backs up the RMRDS settings, loads the exclusion, reads it back and verifies every slot; " +
			"a reboot makes it take effect. --rollback BACKUP loads a backup back and verifies it.",
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
				platform, _ := r.ReadString("sys/class/dmi/id/product_name")
				if err := fix.Rollback(ctx, o, platform, rollback, apply); err != nil {
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
	rmrr.Flags().StringVar(&o.XML, "xml", "", "HPE's conrep_rmrds.xml `PATH` (default: ./, the state dir, /opt/hp/hp-scripting-tools/etc)")
	rmrr.Flags().StringVar(&o.StateDir, "state-dir", fix.DefaultStateDir, "where backups and the journal are kept")
	rmrr.Flags().StringVar(&rollback, "rollback", "", "load this `BACKUP` back (made by an earlier --apply) and verify it")
	cmd.AddCommand(rmrr)
	return cmd
}
