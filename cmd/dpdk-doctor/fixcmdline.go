package main

import (
	"errors"
	"os"
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
	var stateDir string
	c := &cobra.Command{
		Use:   "cmdline --add NAME=VALUE... [--remove NAME...] [--grub-file FILE]",
		Short: "Set kernel command-line options in GRUB_CMDLINE_LINUX (diff, backup, update-grub; pending reboot)",
		Long: "Edits GRUB_CMDLINE_LINUX in /etc/default/grub: an option of the same name is replaced, not duplicated, and " +
			"removed from GRUB_CMDLINE_LINUX_DEFAULT (which would override it). Only known options with valid values are " +
			"written: intel_iommu, iommu, amd_iommu (off, force_isolation, fullflush: the AMD IOMMU is on by default), " +
			"default_hugepagesz, hugepagesz, hugepages, vfio-pci.ids, isolcpus. Prints the diff; with --apply writes the file " +
			"atomically (its old contents kept in the run's record), runs update-grub (or grub2-mkconfig / grub-mkconfig) " +
			"and reports \"pending reboot\". Kernels before 6.8 need intel_iommu=on unless built with " +
			"CONFIG_INTEL_IOMMU_DEFAULT_ON. Undo with dpdk-doctor fix --rollback ID --apply.",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageErr("fix cmdline takes options as --add NAME=VALUE (got %s)", shellQuote(args))
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
			if !cmd.Flags().Changed("grub-file") {
				_, err := os.Stat(o.GrubFile)
				if tool := fix.OtherBootTool(err == nil); tool != "" {
					return &exitError{1, errors.New("this host changes its kernel command line with " + tool + ", which dpdk-doctor does not drive yet; run: " +
						map[string]string{"kernelstub": "kernelstub -a OPTION", "grubby": "grubby --update-kernel=ALL --args=OPTIONS"}[tool])}
				}
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
	c.Flags().StringVar(&o.GrubFile, "grub-file", fix.DefaultGrubFile, "the grub defaults `FILE`")
	c.Flags().BoolVar(&noRegen, "no-regenerate", false, "test builds only: skip update-grub")
	c.Flags().MarkHidden("no-regenerate")
	c.Flags().StringVar(&stateDir, "state-dir", fix.DefaultStateDir, "where the records and the lock are kept")
	return c
}
