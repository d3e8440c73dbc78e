package main

import (
	"errors"

	"github.com/spf13/cobra"

	"github.com/dpdk-doctor/dpdk-doctor/fix"
)

func newFixHugepages(g *globals) *cobra.Command {
	o := fix.HugepagesOptions{Node: -1}
	var apply bool
	var stateDir string
	c := &cobra.Command{
		Use:   "hugepages --size 2M|1G --pages N [--node K] [--persist]",
		Short: "Size a huge page pool now (sysfs) and, with --persist, at boot; verify what the kernel reserved",
		Long: "Writes nr_hugepages of the machine's (or NUMA node K's) pool and reads back what the kernel reserved: " +
			"fewer pages than asked is a failure that names both numbers and is rolled back. --persist writes " +
			"/etc/sysctl.d/80-dpdk-doctor-hugepages.conf (2M, whole machine); 1G pages persist only on the kernel " +
			"command line (dpdk-doctor fix cmdline). Undo with dpdk-doctor fix --rollback ID --apply.",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageErr("fix hugepages takes no arguments (got %s)", shellQuote(args))
			}
			if !cmd.Flags().Changed("pages") {
				return usageErr("give --pages N")
			}
			if err := g.liveOnlyIf(apply, "change the huge page pools"); err != nil {
				return err
			}
			var err error
			if o.Sysfs, o.Etc, err = fixTargets(g); err != nil {
				return err
			}
			h, err := fix.PlanHugepages(o)
			if errors.Is(err, fix.ErrBadOption) {
				return inputErr(err)
			}
			if err != nil {
				return &exitError{1, err}
			}
			return runRemedy(h, stateDir, apply)
		},
	}
	c.Flags().BoolVar(&apply, "apply", false, "carry out the change (default: print the plan only)")
	c.Flags().StringVar(&o.Size, "size", "2M", "page `SIZE`: 2M or 1G")
	c.Flags().IntVar(&o.Pages, "pages", 0, "the pool size `N` wanted")
	c.Flags().IntVar(&o.Node, "node", -1, "NUMA node `K` (default: the whole machine)")
	c.Flags().BoolVar(&o.Persist, "persist", false, "also set it at boot (sysctl.d, 2M only)")
	c.Flags().StringVar(&stateDir, "state-dir", fix.DefaultStateDir, "where the records and the lock are kept")
	return c
}
