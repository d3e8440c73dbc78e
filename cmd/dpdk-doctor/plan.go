package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/dpdk-doctor/dpdk-doctor/check"
	"github.com/dpdk-doctor/dpdk-doctor/fix"
	"github.com/dpdk-doctor/dpdk-doctor/internal/ovsrpc"
	"github.com/dpdk-doctor/dpdk-doctor/ovs"
	"github.com/dpdk-doctor/dpdk-doctor/plan"
)

func newPlan(g *globals) *cobra.Command {
	var (
		mtu                    int
		pmdCores               int
		asJSON, asOSA, asVsctl bool
		apply                  bool
		rollback, stateDir     string
		timeout                time.Duration
	)
	cmd := &cobra.Command{
		Use:   "plan [DEVICE...]",
		Short: "Derive the OVS-DPDK settings this host needs (socket-mem, PMD and lcore masks, huge pages, kernel command line)",
		Long: `plan derives dpdk-socket-mem per NUMA node (OVS's shared mempool sizing by MTU, with TripleO's
rule beside it), pmd-cpu-mask (whole physical cores on the NICs' nodes, not the housekeeping core,
not CPUs isolated for something else), dpdk-lcore-mask, the huge pages per node and the kernel
command line that follows. The devices are the PCI addresses given, or the PCI devices of OVS's
dpdk Interfaces (their MTU from mtu_request). It prints an explanation, ovs-vsctl commands (--vsctl),
OpenStack-Ansible user_variables (--osa) or JSON (--json). --apply writes the OVS settings in one
OVSDB transaction after backing up the previous values; --rollback FILE --apply restores them.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			n := 0
			for _, b := range []bool{asJSON, asOSA, asVsctl} {
				if b {
					n++
				}
			}
			if n > 1 {
				return usageErr("plan: choose one of --json, --osa, --vsctl")
			}
			if mtu != 0 && (mtu < 68 || mtu > plan.MaxMTU) {
				return usageErr("plan: --mtu %d: want 68-%d", mtu, plan.MaxMTU)
			}
			if pmdCores < 1 || pmdCores > 1024 {
				return usageErr("plan: --pmd-cores %d: want 1-1024", pmdCores)
			}
			if timeout <= 0 {
				return usageErr("plan: --timeout %v: want a positive duration", timeout)
			}
			if rollback != "" && len(args) > 0 {
				return usageErr("plan: --rollback FILE takes no devices")
			}
			if err := g.liveOnlyIf(apply, "apply an OVS plan"); err != nil {
				return err
			}
			if rollback != "" && !apply {
				return usageErr("plan: --rollback %s restores OVS settings: add --apply (there is nothing to show without it; the file holds the values)", rollback)
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			if rollback != "" {
				return planRollback(ctx, rollback, stateDir, asJSON)
			}
			ovsRead := planOVSSoon(ctx, g.root == "" && !g.demo)
			// A plan needs no verdict and prints no device names.
			f, err := gatherWith(g, nil, check.Options{NoNames: true, Lazy: true})
			if err != nil {
				return err
			}
			in, db, err := planInput(ctx, f, args, mtu, ovsRead)
			if err != nil {
				return err
			}
			in.PMDCores = pmdCores
			p, err := plan.Derive(*in)
			if err != nil {
				return inputErr(err)
			}
			if apply {
				return planApply(ctx, p, db, stateDir, asJSON)
			}
			switch {
			case asJSON:
				return writeJSON(p)
			case asOSA:
				p.WriteOSA(os.Stdout)
			case asVsctl:
				p.WriteVsctl(os.Stdout)
			default:
				p.WriteText(os.Stdout)
				fmt.Println("Dry run: nothing was changed. Apply the OVS settings with: dpdk-doctor plan --apply")
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&mtu, "mtu", 0, "the MTU of the named devices (default: their Interface's mtu_request, else 1500)")
	cmd.Flags().IntVar(&pmdCores, "pmd-cores", 1, "physical cores for PMD threads on each NUMA node with NICs")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the plan as JSON")
	cmd.Flags().BoolVar(&asOSA, "osa", false, "print OpenStack-Ansible user_variables (os_neutron's ovs_dpdk_*)")
	cmd.Flags().BoolVar(&asVsctl, "vsctl", false, "print ovs-vsctl commands")
	cmd.Flags().BoolVar(&apply, "apply", false, "write the OVS settings (other_config) through OVSDB, backed up and verified")
	cmd.Flags().StringVar(&rollback, "rollback", "", "with --apply: restore the settings a backup `FILE` holds")
	cmd.Flags().StringVar(&stateDir, "state-dir", fix.DefaultStateDir, "where backups and the lock are kept")
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "give up after this `DURATION`")
	addDBFlags(cmd)
	return cmd
}

// planDB is the OVSDB endpoint plan and top talk to, or "" when there is no local OVS.
func planDB() string {
	if dbFlag != "" {
		return dbFlag
	}
	if _, err := os.Stat(strings.TrimPrefix(ovs.DefaultDB, "unix:")); err != nil {
		return ""
	}
	return ovs.DefaultDB
}

// planOVS is plan's read of a live OVS: its dpdk ports, other_config, and the endpoint ("" when
// there is no live OVS to read).
type planOVS struct {
	ports   []plan.OVSPort
	current map[string]string
	db      string
	err     error
}

// planOVSSoon starts plan's read of the live OVS (when live, or --db names one) while the host
// facts are gathered, and returns the function that waits for it; nil when there is none to
// read.
func planOVSSoon(ctx context.Context, live bool) func() planOVS {
	if !live && dbFlag == "" {
		return nil
	}
	ch := make(chan planOVS, 1)
	go func() {
		r := planOVS{db: planDB()}
		if r.db != "" {
			c, err := ovsrpc.Dial(ctx, r.db)
			if err == nil {
				r.ports, r.current, err = plan.ReadOVS(c)
				c.Close()
			}
			r.err = err
		}
		ch <- r
	}()
	return sync.OnceValue(func() planOVS { return <-ch }) // callable more than once
}

// planInput gathers what plan.Derive needs: the host's facts, the devices (named, or OVS's),
// and OVS's other_config (live: what ovsRead, from planOVSSoon, gives).
func planInput(ctx context.Context, f *check.Facts, args []string, mtu int, ovsRead func() planOVS) (*plan.Input, string, error) {
	topo, err := plan.ReadTopology(f.Root)
	if err != nil {
		return nil, "", inputErr(err)
	}
	in := &plan.Input{Topology: topo, Cmdline: f.Cmdline, Pdpe1GB: f.CPU.Flags["pdpe1gb"], IOMMUOn: f.IOMMU.KernelOn(),
		IOMMUVendor: "intel", HugePages: map[plan.Key]uint64{}, Release: f.Release}
	if f.CPU.Vendor == "AuthenticAMD" || f.IOMMU.FirmwareTable == "IVRS" {
		in.IOMMUVendor = "amd"
	}
	for _, p := range f.Hugepages.Pools {
		if p.Node >= 0 {
			in.HugePages[plan.Key{Node: p.Node, SizeKB: p.SizeKB}] = p.Total
		}
	}
	// OVS: live over OVSDB, or the tree's snapshot.
	var ports []plan.OVSPort
	db := ""
	if ovsRead != nil {
		r := ovsRead()
		db, ports, in.Current = r.db, r.ports, r.current
		if r.err != nil && len(args) == 0 {
			return nil, db, fmt.Errorf("reading OVS at %s: %w", db, r.err)
		}
	} else if st, err := ovs.ReadSnapshot(f.Root); err != nil {
		return nil, "", inputErr(err)
	} else if st != nil {
		in.Current = st.OtherConfig
		st.Interfaces(func(_ *ovs.Bridge, _ *ovs.Port, i *ovs.Interface) {
			if a := plan.DevargsAddress(i.Options["dpdk-devargs"]); i.Type == "dpdk" && a != "" {
				ports = append(ports, plan.OVSPort{Interface: i.Name, Addr: a})
			}
		})
	}
	byAddr := map[string]plan.OVSPort{}
	for _, p := range ports {
		byAddr[p.Addr] = p
	}
	if len(args) == 0 {
		for _, p := range ports {
			args = append(args, p.Addr)
		}
		if len(args) == 0 {
			return nil, db, usageErr("plan: no devices: name the DPDK NICs' PCI addresses (e.g. dpdk-doctor plan 0000:03:00.0), or add dpdk ports to OVS first")
		}
	}
	seen := map[string]bool{}
	for _, a := range args {
		m := mtu
		if p, ok := byAddr[a]; ok && m == 0 {
			m = p.MTU
		}
		nic, err := plan.Device(f.Root, a, m)
		if err != nil {
			return nil, db, inputErr(err)
		}
		if seen[nic.Addr] {
			continue
		}
		seen[nic.Addr] = true
		nic.Interface = byAddr[nic.Addr].Interface
		in.NICs = append(in.NICs, nic)
	}
	return in, db, nil
}

func planApply(ctx context.Context, p *plan.Plan, db, stateDir string, asJSON bool) error {
	if db == "" {
		return fmt.Errorf("plan --apply: no OVSDB here (%s is missing): start OVS or point --db at it", ovs.DefaultDB)
	}
	c, err := ovsrpc.Dial(ctx, db)
	if err != nil {
		return err
	}
	defer c.Close()
	set := map[string]string{}
	for _, s := range p.Settings {
		set[s.Key] = s.Value
	}
	res, err := plan.Apply(ctx, c, db, set, stateDir, time.Now())
	return reportApply(res, err, asJSON)
}

func planRollback(ctx context.Context, file, stateDir string, asJSON bool) error {
	db := planDB()
	if db == "" {
		return fmt.Errorf("plan --rollback: no OVSDB here (%s is missing): start OVS or point --db at it", ovs.DefaultDB)
	}
	c, err := ovsrpc.Dial(ctx, db)
	if err != nil {
		return err
	}
	defer c.Close()
	res, err := plan.Rollback(ctx, c, file, stateDir)
	if err != nil && res == nil && os.IsNotExist(err) {
		return inputErr(fmt.Errorf("plan --rollback: %w", err))
	}
	if err != nil && res == nil && strings.Contains(err.Error(), "not a dpdk-doctor OVS plan backup") {
		return inputErr(err)
	}
	return reportApply(res, err, asJSON)
}

func reportApply(res *plan.Result, err error, asJSON bool) error {
	if err != nil {
		return err
	}
	if asJSON {
		return writeJSON(res)
	}
	keys := []string{"dpdk-socket-mem", "dpdk-lcore-mask", "pmd-cpu-mask"}
	for _, k := range keys {
		if res.Before[k] != res.After[k] {
			fmt.Printf("other_config:%s: %q -> %q (read back)\n", k, res.Before[k], res.After[k])
		}
	}
	if res.Backup != "" {
		fmt.Printf("backup of the previous values: %s (undo: dpdk-doctor plan --rollback %s --apply)\n", res.Backup, res.Backup)
	}
	if len(res.Restart) > 0 {
		fmt.Printf("%s take effect when ovs-vswitchd restarts: systemctl restart openvswitch-switch (pmd-cpu-mask applies live)\n", strings.Join(res.Restart, " and "))
	}
	return nil
}
