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
	"github.com/dpdk-doctor/dpdk-doctor/host"
	"github.com/dpdk-doctor/dpdk-doctor/plan"
)

func newFixHugepages(g *globals) *cobra.Command {
	o := fix.HugepagesOptions{Node: -1}
	var apply, forDPDK, mount bool
	var stateDir, mountPath string
	var devices []string
	var mtu int
	c := &cobra.Command{
		Use:   "hugepages --size 2M|1G --pages N [--node K] [--persist] | --for-dpdk [--device ADDR]... [--mtu N] [--size 2M|1G] | --mount --size 2M|1G [--path DIR] [--persist]",
		Short: "Size huge page pools now (sysfs) and, with --persist, at boot; --for-dpdk: per NUMA node, as plan derives them; --mount: the hugetlbfs mount of a page size",
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
			"pools have no boot-time sysctl: --persist prints the kernel command line that reserves them (per-node counts need Linux 5.16).\n\n" +
			"--mount mounts hugetlbfs for the page size (DPDK needs a mount for every page size it uses; systemd's " +
			"dev-hugepages.mount mounts only the default size, at /dev/hugepages) at --path (default /dev/hugepages-SIZE) " +
			"with mount(2), and verifies it in /proc/mounts; the rollback unmounts it and removes the directory if the run " +
			"made it. With --persist it is mounted at boot: a systemd mount unit /etc/systemd/system/<path escaped>.mount " +
			"(enabled with systemctl where systemd runs, else by its local-fs.target.wants link, as systemctl enable makes " +
			"it), or a line in /etc/fstab on a host without systemd. A --pages or --for-dpdk run adds the mount (at --path) " +
			"when no hugetlbfs of its page size is mounted, and says where it is otherwise.",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageErr("fix hugepages takes no arguments (got %s)", shellQuote(args))
			}
			if mount {
				for _, f := range []string{"pages", "node", "for-dpdk", "device", "mtu"} {
					if cmd.Flags().Changed(f) {
						return usageErr("fix hugepages: --mount mounts hugetlbfs only; leave out --%s (a pool run adds the mount itself when none is there)", f)
					}
				}
			} else if forDPDK {
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
			mo, err := mountTargets(g, sys)
			if err != nil {
				return err
			}
			mo.Size, mo.Path, mo.Persist = o.Size, mountPath, o.Persist
			var h *fix.Hugepages
			if mount {
				h, err = fix.PlanMount(mo)
			} else if forDPDK {
				size := o.Size
				if !cmd.Flags().Changed("size") {
					size = ""
				}
				h, err = planHugepagesForDPDK(g, devices, mtu, size, o.Persist, sys)
			} else {
				o.Sysfs, o.Etc = sys, etc
				h, err = fix.PlanHugepages(o)
			}
			if err == nil && !mount && (forDPDK || o.Pages > 0) {
				mo.Persist = o.Persist && !forDPDK
				err = h.AddMount(mo)
			}
			if errors.Is(err, fix.ErrBadOption) {
				return inputErr(err)
			}
			if err != nil {
				return err
			}
			if h.Changes() == 0 {
				if mount {
					fmt.Println("Nothing to change: the mount is there already.")
				} else {
					fmt.Println("Nothing to change: every node already has the huge pages it needs.")
				}
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
	c.Flags().BoolVar(&o.Persist, "persist", false, "also set it at boot (sysctl.d, 2M only; --mount: a systemd mount unit, or fstab without systemd)")
	c.Flags().BoolVar(&mount, "mount", false, "mount hugetlbfs for --size now (and with --persist at boot) instead of sizing pools")
	c.Flags().StringVar(&mountPath, "path", "", "the hugetlbfs mount point `DIR` (default /dev/hugepages-SIZE)")
	c.Flags().BoolVar(&forDPDK, "for-dpdk", false, "derive the pages per NUMA node from the DPDK NICs, as plan does")
	c.Flags().StringSliceVar(&devices, "device", nil, "with --for-dpdk: a DPDK NIC's PCI `ADDR` (repeatable; default: OVS's dpdk ports, else the devices bound to DPDK drivers)")
	c.Flags().IntVar(&mtu, "mtu", 0, "with --for-dpdk: the MTU of the devices (default: their Interface's mtu_request, else 1500)")
	c.Flags().StringVar(&stateDir, "state-dir", fix.DefaultStateDir, "where the records and the lock are kept")
	addDBFlags(c)
	return c
}

// mountTargets says where the mount step reads the host (proc/mounts, etc/fstab, systemd) and
// where it mounts and writes: the live host, or the --root tree (fixTargets' rules).
func mountTargets(g *globals, sys fix.Sysfs) (fix.MountOptions, error) {
	switch {
	case sys.View != nil:
		return fix.MountOptions{Host: *sys.View, Target: g.root}, nil
	case g.root != "":
		r, err := host.Dir(g.root)
		if err != nil {
			return fix.MountOptions{}, inputErr(err)
		}
		return fix.MountOptions{Host: r, Target: g.root}, nil
	}
	return fix.MountOptions{Host: host.Live(), Target: "/"}, nil
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
