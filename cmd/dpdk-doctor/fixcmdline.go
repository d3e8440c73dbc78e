package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/dpdk-doctor/dpdk-doctor/fix"
)

// grubRegenSkippable is set only in the test-hooks build (testhooks_fix.go): there
// --no-regenerate leaves update-grub alone. Release builds always regenerate on --apply.
var grubRegenSkippable = false

func newFixCmdline(g *globals) *cobra.Command {
	var o fix.CmdlineOptions
	var apply, noRegen bool
	var bootloader, grubby, kernelstub string
	var stateDir string
	c := &cobra.Command{
		Use:   "cmdline --add NAME=VALUE... [--remove NAME...] [--bootloader auto|grub-file|grubby|kernelstub] [--grub-file FILE]",
		Short: "Set kernel command-line options the distribution's way: grub file, grubby or kernelstub (diff, backup; pending reboot)",
		Long: "Sets kernel command-line options the way this host's boot configuration is made (--bootloader auto): " +
			"kernelstub when it is installed (Pop!_OS); grubby when it is installed and BootLoaderSpec entries carry their " +
			"own options (no /etc/default/grub, or GRUB_ENABLE_BLSCFG=true: RHEL 8+, Fedora); else GRUB_CMDLINE_LINUX in " +
			"/etc/default/grub. An option of the same name is replaced, not duplicated (and, in the grub file, removed from " +
			"GRUB_CMDLINE_LINUX_DEFAULT, which would override it). Only known options with valid values are " +
			"written: intel_iommu, iommu, amd_iommu (off, force_isolation, fullflush: the AMD IOMMU is on by default), " +
			"default_hugepagesz, hugepagesz, hugepages, vfio-pci.ids, isolcpus. Prints the diff (grub file) or the command " +
			"and every file's options before and after (grubby, kernelstub); with --apply keeps the files in the run's " +
			"record, writes the grub file atomically and runs update-grub (or grub2-mkconfig / grub-mkconfig), or runs " +
			"grubby --update-kernel=ALL / kernelstub, reads the options back and reports \"pending reboot\". Kernels " +
			"before 6.8 need intel_iommu=on unless built with CONFIG_INTEL_IOMMU_DEFAULT_ON. Undo with dpdk-doctor fix " +
			"--rollback ID --apply.",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageErr("fix cmdline takes options as --add NAME=VALUE (got %s)", shellQuote(args))
			}
			if err := fix.CheckKernelOptions(o.Add, o.Remove); err != nil {
				return inputErr(err)
			}
			if err := g.liveOnlyIf(apply, "change the kernel command line"); err != nil {
				return err
			}
			r, err := g.hostRoot()
			if err != nil {
				return err
			}
			if b, err := r.ReadFile("proc/cmdline"); err == nil {
				o.Running = strings.TrimSpace(string(b))
			}
			if g.root != "" && !cmd.Flags().Changed("grub-file") {
				o.GrubFile = filepath.Join(g.root, fix.DefaultGrubFile)
			}
			o.Files, o.Root = r, g.root
			facts := fix.GatherBootFacts(r, g.root, o.GrubFile, kernelstub, grubby, g.root == "" && !g.demo)
			way, why, err := fix.ChooseBootloader(bootloader, cmd.Flags().Changed("grub-file"), facts)
			if errors.Is(err, fix.ErrBadOption) {
				return inputErr(err)
			}
			if err != nil {
				return &exitError{1, err}
			}
			fmt.Printf("Boot configuration: %s (%s)\n", way, why)
			var rem fix.Remedy
			switch way {
			case fix.BootGrubby:
				rem, err = fix.PlanGrubby(fix.ToolOptions{Add: o.Add, Remove: o.Remove, Program: facts.Grubby, Root: g.root, Files: r, Running: o.Running})
			case fix.BootKernelstub:
				rem, err = fix.PlanKernelstub(fix.ToolOptions{Add: o.Add, Remove: o.Remove, Program: facts.Kernelstub, Root: g.root, Files: r, Running: o.Running})
			}
			if way != fix.BootGrubFile {
				if errors.Is(err, fix.ErrBadOption) || errors.Is(err, fix.ErrGrubSyntax) {
					return inputErr(err)
				}
				if err != nil {
					return &exitError{1, err}
				}
				return runRemedy(rem, stateDir, apply)
			}
			if apply && !(noRegen && grubRegenSkippable) {
				if o.Regenerate, err = fix.FindRegenerate(); err != nil {
					return &exitError{1, err}
				}
			} else if !apply {
				o.Regenerate, _ = fix.FindRegenerate()
			}
			c, err := fix.PlanCmdline(o)
			if errors.Is(err, fix.ErrBadOption) || errors.Is(err, fix.ErrGrubSyntax) {
				return inputErr(err)
			}
			if err != nil {
				return &exitError{1, err}
			}
			return runRemedy(c, stateDir, apply)
		},
	}
	c.Flags().BoolVar(&apply, "apply", false, "carry out the change (default: print the diff only)")
	c.Flags().StringArrayVar(&o.Add, "add", nil, "set `NAME=VALUE` (repeatable; hugepagesz=1G then hugepages=N form one pool)")
	c.Flags().StringArrayVar(&o.Remove, "remove", nil, "drop the option `NAME` (repeatable)")
	c.Flags().StringVar(&o.GrubFile, "grub-file", fix.DefaultGrubFile, "the grub defaults `FILE` (implies --bootloader grub-file)")
	c.Flags().StringVar(&bootloader, "bootloader", "auto", "how to change the command line: `WAY` auto, grub-file, grubby or kernelstub")
	c.Flags().StringVar(&grubby, "grubby", "", "grubby's `PATH` (default: found on PATH)")
	c.Flags().StringVar(&kernelstub, "kernelstub", "", "kernelstub's `PATH` (default: found on PATH)")
	c.Flags().BoolVar(&noRegen, "no-regenerate", false, "test builds only: skip update-grub")
	c.Flags().MarkHidden("no-regenerate")
	c.Flags().StringVar(&stateDir, "state-dir", fix.DefaultStateDir, "where the records and the lock are kept")
	return c
}
