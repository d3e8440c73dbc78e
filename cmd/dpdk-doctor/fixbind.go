package main

import (
	"errors"
	"os"
	"os/exec"

	"github.com/spf13/cobra"

	"github.com/dpdk-doctor/dpdk-doctor/check"
	"github.com/dpdk-doctor/dpdk-doctor/fix"
)

// fixTargets says where a remedy reads and writes: the live /sys and /etc, or the --root tree.
// A tree is only read (dry runs): --apply with --root is refused by liveOnlyIf, except in the
// test-hooks build, where the tree stands for this machine.
func fixTargets(g *globals) (sys fix.Sysfs, etc string, err error) {
	switch {
	case g.demo || (g.root != "" && !treeIsThisHost):
		// Another machine: plans read it through host.Root's sandbox; --apply was refused.
		r, err := g.hostRoot()
		if err != nil {
			return fix.Sysfs{}, "", err
		}
		return fix.Sysfs{Root: g.root, View: &r}, g.root, nil
	case g.root != "":
		return fix.Sysfs{Root: g.root}, g.root, nil
	}
	return fix.LiveSysfs, "/", nil
}

// runRemedy runs a planned remedy through the runner and maps its errors to exit codes.
func runRemedy(rem fix.Remedy, stateDir string, apply bool) error {
	ctx, stop := signalContext()
	defer stop()
	r := &fix.Runner{StateDir: stateDir, Out: os.Stdout}
	if _, err := r.Run(ctx, rem, apply); err != nil {
		return &exitError{1, err}
	}
	return nil
}

// planErr maps a planning error: a device not on the host is bad input (2), a refusal is 1.
func planErr(err error) error {
	if errors.Is(err, fix.ErrNoDevice) {
		return inputErr(err)
	}
	return &exitError{1, err}
}

func newFixBind(g *globals) *cobra.Command {
	var o fix.BindOptions
	var apply bool
	var stateDir string
	c := &cobra.Command{
		Use:   "bind DEVICE... [--driver vfio-pci] [--persist] [--force]",
		Short: "Bind devices, each with its whole IOMMU group, to vfio-pci (driver_override; verify; roll back)",
		Long: "Binds each DEVICE and every other endpoint of its IOMMU group to --driver (vfio-pci) with driver_override, " +
			"unbind and drivers_probe, and reads the driver links back. A group is bound whole or not at all. " +
			"Refused (exit 1, nothing changed): an RMRR-locked device, an interface the host uses (address, route, SSH " +
			"peer; --force overrides), a host without a usable IOMMU or vfio-pci. --persist also writes driverctl's " +
			"/etc/driverctl.d/pci-ADDR when driverctl is installed, else a udev rule /etc/udev/rules.d/61-dpdk-doctor-ADDR.rules. " +
			"Undo with dpdk-doctor fix --rollback ID --apply.",
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := bindTargets(g, args, apply, "bind devices to another driver", &o)
			if err != nil {
				return err
			}
			if _, err := exec.LookPath("driverctl"); err == nil {
				o.Driverctl = true
			}
			b, err := fix.PlanBind(f, o)
			if err != nil {
				return planErr(err)
			}
			return runRemedy(b, stateDir, apply)
		},
	}
	c.Flags().BoolVar(&apply, "apply", false, "carry out the change (default: print the plan only)")
	c.Flags().StringVar(&o.Driver, "driver", "vfio-pci", "the `DRIVER` to bind to")
	c.Flags().BoolVar(&o.Persist, "persist", false, "make the binding survive a reboot (driverctl's file, or a udev rule)")
	c.Flags().BoolVar(&o.Force, "force", false, "bind even a device whose interface the host uses")
	c.Flags().StringVar(&stateDir, "state-dir", fix.DefaultStateDir, "where the records and the lock are kept")
	return c
}

func newFixUnbind(g *globals) *cobra.Command {
	var o fix.BindOptions
	var apply bool
	var stateDir string
	c := &cobra.Command{
		Use:   "unbind DEVICE...",
		Short: "Give devices back to their kernel driver (driver_override cleared, drivers_probe)",
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := bindTargets(g, args, apply, "unbind devices", &o)
			if err != nil {
				return err
			}
			b, err := fix.PlanUnbind(f, o)
			if err != nil {
				return planErr(err)
			}
			return runRemedy(b, stateDir, apply)
		},
	}
	c.Flags().BoolVar(&apply, "apply", false, "carry out the change (default: print the plan only)")
	c.Flags().StringVar(&stateDir, "state-dir", fix.DefaultStateDir, "where the records and the lock are kept")
	return c
}

// bindTargets is what fix bind and fix unbind share before planning: the devices named, the
// refusal of --apply on another machine, the host's facts, and where sysfs is read and written.
func bindTargets(g *globals, args []string, apply bool, action string, o *fix.BindOptions) (*check.Facts, error) {
	if len(args) == 0 {
		return nil, usageErr("name at least one PCI device (e.g. 0000:03:00.0)")
	}
	if err := g.liveOnlyIf(apply, action); err != nil {
		return nil, err
	}
	addrs, err := parseAddresses(args)
	if err != nil {
		return nil, err
	}
	f, err := gather(g, nil)
	if err != nil {
		return nil, err
	}
	o.Devices = addrs
	if o.Sysfs, o.Etc, err = fixTargets(g); err != nil {
		return nil, err
	}
	return f, nil
}
