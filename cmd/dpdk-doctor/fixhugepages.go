package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/dpdk-doctor/dpdk-doctor/check"
	"github.com/dpdk-doctor/dpdk-doctor/fix"
	"github.com/dpdk-doctor/dpdk-doctor/plan"
)

func newFixHugepages(g *globals) *cobra.Command {
	o := fix.HugepagesOptions{Node: -1}
	var apply, forDPDK bool
	var stateDir string
	var devices []string
	var mtu int
	c := &cobra.Command{
		Use:   "hugepages --size 2M|1G --pages N [--node K] [--persist] | --for-dpdk [--device ADDR]... [--mtu N] [--size 2M|1G]",
		Short: "Size huge page pools now (sysfs) and, with --persist, at boot; --for-dpdk: per NUMA node, as plan derives them",
		Long: "Writes nr_hugepages of the machine's (or NUMA node K's) pool and reads back what the kernel reserved: " +
			"fewer pages than asked is a failure that names both numbers and is rolled back. --persist writes " +
			"/etc/sysctl.d/80-dpdk-doctor-hugepages.conf (2M, whole machine); 1G pages persist only on the kernel " +
			"command line (dpdk-doctor fix cmdline). Undo with dpdk-doctor fix --rollback ID --apply.\n\n" +
			"--for-dpdk derives the pools from the DPDK NICs instead of --pages: for every NUMA node holding one (and the " +
			"housekeeping core's node, where DPDK keeps its own structures) the pages the node needs are exactly `dpdk-doctor " +
			"plan`'s huge pages for that node (its dpdk-socket-mem by MTU, in whole pages), computed by the same code. The " +
			"devices are those named with --device, else OVS's dpdk Interfaces (as plan takes them), else the network devices " +
			"bound to vfio-pci, uio_pci_generic or igb_uio. --size defaults to plan's page size (1G where the CPU maps 1 GiB " +
			"pages). A node's pool is only ever raised, never shrunk; nodes without NICs are left alone. All the nodes' writes " +
			"are one run: verified node by node (the kernel may give a node fewer pages) and rolled back together. Per-node " +
			"pools have no boot-time sysctl: --persist prints the kernel command line that reserves them (per-node counts need Linux 5.16).",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageErr("fix hugepages takes no arguments (got %s)", shellQuote(args))
			}
			if forDPDK {
				for _, f := range []string{"pages", "node"} {
					if cmd.Flags().Changed(f) {
						return usageErr("fix hugepages: --for-dpdk derives the pages of every node; leave out --%s", f)
					}
				}
			} else {
				for _, f := range []string{"device", "mtu"} {
					if cmd.Flags().Changed(f) {
						return usageErr("fix hugepages: --%s goes with --for-dpdk", f)
					}
				}
				if !cmd.Flags().Changed("pages") {
					return usageErr("give --pages N, or --for-dpdk to derive the pages per NUMA node from the DPDK NICs")
				}
			}
			if mtu != 0 && (mtu < 68 || mtu > plan.MaxMTU) {
				return usageErr("fix hugepages: --mtu %d: want 68-%d", mtu, plan.MaxMTU)
			}
			if err := g.liveOnlyIf(apply, "change the huge page pools"); err != nil {
				return err
			}
			sys, etc, err := fixTargets(g)
			if err != nil {
				return err
			}
			var h *fix.Hugepages
			if forDPDK {
				size := o.Size
				if !cmd.Flags().Changed("size") {
					size = ""
				}
				h, err = planHugepagesForDPDK(g, devices, mtu, size, o.Persist, sys)
			} else {
				o.Sysfs, o.Etc = sys, etc
				h, err = fix.PlanHugepages(o)
			}
			if errors.Is(err, fix.ErrBadOption) {
				return inputErr(err)
			}
			if err != nil {
				return err
			}
			if h.Changes() == 0 {
				fmt.Println("Nothing to change: every node already has the huge pages it needs.")
				for _, l := range h.Plan() {
					fmt.Printf("  %s\n", l)
				}
				return nil
			}
			return runRemedy(h, stateDir, apply)
		},
	}
	c.Flags().BoolVar(&apply, "apply", false, "carry out the change (default: print the plan only)")
	c.Flags().StringVar(&o.Size, "size", "2M", "page `SIZE`: 2M or 1G (with --for-dpdk the default is plan's page size)")
	c.Flags().IntVar(&o.Pages, "pages", 0, "the pool size `N` wanted")
	c.Flags().IntVar(&o.Node, "node", -1, "NUMA node `K` (default: the whole machine)")
	c.Flags().BoolVar(&o.Persist, "persist", false, "also set it at boot (sysctl.d, 2M only)")
	c.Flags().BoolVar(&forDPDK, "for-dpdk", false, "derive the pages per NUMA node from the DPDK NICs, as plan does")
	c.Flags().StringSliceVar(&devices, "device", nil, "with --for-dpdk: a DPDK NIC's PCI `ADDR` (repeatable; default: OVS's dpdk ports, else the devices bound to DPDK drivers)")
	c.Flags().IntVar(&mtu, "mtu", 0, "with --for-dpdk: the MTU of the devices (default: their Interface's mtu_request, else 1500)")
	c.Flags().StringVar(&stateDir, "state-dir", fix.DefaultStateDir, "where the records and the lock are kept")
	addDBFlags(c)
	return c
}

// planHugepagesForDPDK reads what plan reads (the same planInput) and plans the per-node pools.
func planHugepagesForDPDK(g *globals, devices []string, mtu int, size string, persist bool, sys fix.Sysfs) (*fix.Hugepages, error) {
	if _, err := parseAddresses(devices); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ovsRead := planOVSSoon(ctx, g.root == "" && !g.demo)
	f, err := gather(g, nil)
	if err != nil {
		return nil, err
	}
	in, _, err := planInput(ctx, f, devices, mtu, ovsRead)
	if err != nil && len(devices) == 0 {
		// No OVS dpdk port naming a PCI device (or no OVS): the devices bound to DPDK drivers.
		why := "OVS has no dpdk port naming a PCI device"
		if !strings.HasPrefix(err.Error(), "plan: no devices") {
			why = fmt.Sprintf("OVS could not be read (%v)", err)
		}
		var bound []string
		for _, d := range f.Devices.List {
			if d.IsNetwork() && check.IsDPDKDriver(d.Driver) {
				bound = append(bound, d.Address.String())
			}
		}
		if len(bound) == 0 {
			return nil, usageErr("fix hugepages --for-dpdk: no DPDK devices: %s and no network device is bound to a DPDK driver; name them with --device ADDR", why)
		}
		fmt.Printf("%s; sizing for the network devices bound to DPDK drivers: %s\n", why, strings.Join(bound, ", "))
		in, _, err = planInput(ctx, f, bound, mtu, ovsRead)
	}
	if err != nil {
		return nil, err
	}
	return fix.PlanHugepagesForDPDK(fix.HugepagesForDPDKOptions{Size: size, Input: *in, Persist: persist, Release: f.Release, Sysfs: sys})
}
