package main

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/dpdk-doctor/dpdk-doctor/check"
	"github.com/dpdk-doctor/dpdk-doctor/demo"
	"github.com/dpdk-doctor/dpdk-doctor/dmar"
	"github.com/dpdk-doctor/dpdk-doctor/host"
	"github.com/dpdk-doctor/dpdk-doctor/pci"
)

// hostRoot returns the host the flags name: the demo, a tree, or this machine.
func (g *globals) hostRoot() (host.Root, error) {
	switch {
	case g.demo && g.root != "":
		return host.Root{}, usageErr("--demo and --root cannot be used together")
	case g.demo:
		r, err := demo.Root()
		if err != nil {
			return r, &exitError{2, err}
		}
		return r, nil
	case g.root != "":
		r, err := host.Dir(g.root)
		if err != nil {
			return r, inputErr(err)
		}
		return r, nil
	}
	return host.Live(), nil
}

// liveOnly refuses a state change when the flags name another machine (the demo or a captured
// tree): what such a command would change is this machine, not the one described. action says
// what was refused, for the message ("remove an OVS port").
func (g *globals) liveOnly(action string) error {
	return g.refuseOther(action, "")
}

func (g *globals) refuseOther(action, hint string) error {
	switch {
	case g.root != "" && treeIsThisHost:
		return nil
	case g.demo:
		return usageErr("refusing to %s with --demo: the demo describes another machine, and the change would be made to this one (drop --demo to act on this machine%s)", action, hint)
	case g.root != "":
		return usageErr("refusing to %s with --root %s: the tree describes another machine, and the change would be made to this one (drop --root to act on this machine%s)", action, g.root, hint)
	}
	return nil
}

// liveOnlyIf is liveOnly for a command that changes state only when change is set (--apply).
func (g *globals) liveOnlyIf(change bool, action string) error {
	if !change {
		return nil
	}
	return g.refuseOther(action, ", or leave out --apply for a dry run")
}

// treeIsThisHost is set only in binaries built with -tags dpdkdoctor_testhooks (testhooks.go):
// there a --root tree stands for the machine whose firmware the conrep test double plays, so
// `fix rmrr --root TREE --apply` can be tested end to end. Release builds cannot set it.
var treeIsThisHost = false

func parseAddresses(args []string) ([]pci.Address, error) {
	var out []pci.Address
	for _, a := range args {
		addr, err := pci.ParseAddress(a)
		if err != nil {
			return nil, usageErr("%v", err)
		}
		out = append(out, addr)
	}
	return out, nil
}

func gather(g *globals, devices []string) (*check.Facts, error) {
	return gatherWith(g, devices, check.Options{})
}

// gatherWith is gather with o's other choices (o.Devices comes from devices).
func gatherWith(g *globals, devices []string, o check.Options) (*check.Facts, error) {
	r, err := g.hostRoot()
	if err != nil {
		return nil, err
	}
	addrs, err := parseAddresses(devices)
	if err != nil {
		return nil, err
	}
	o.Devices = addrs
	f, err := check.Gather(r, o)
	if err != nil {
		return nil, inputErr(err)
	}
	return f, nil
}

func newCheck(g *globals) *cobra.Command {
	var asJSON, verbose bool
	var devices []string
	var color string
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Judge whether this host (or a tree) is ready for DPDK and VFIO",
		Long: "check reads the CPU, IOMMU (firmware and kernel), huge pages, vfio-pci, every network device " +
			"(driver, IOMMU group, NUMA node, physical slot, RMRR) and the kernel log, and prints each finding with " +
			"its verdict, evidence, explanation and remedy. Exit code: 0 when nothing fails, 1 when something fails, " +
			"2 on bad usage or input.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := gather(g, devices)
			if err != nil {
				return err
			}
			findings := check.Run(f)
			for _, sec := range checkSections {
				findings = append(findings, sec.findings(cmd, g, f)...)
			}
			findings = append(findings, extraFindings(cmd, g, f)...)
			show, err := writeTextfile(cmd, g, f, findings, asJSON)
			if err != nil {
				return err
			}
			if show {
				err = writeCheck(f, findings, asJSON, verbose, color)
			}
			if err != nil {
				return err
			}
			if check.Worst(findings) == check.Fail {
				return errFailed
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON document (schema: report/schema/check.schema.json)")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "list what is fine and print the evidence of every finding")
	cmd.Flags().StringVar(&color, "color", "auto", "colour the text: `WHEN` auto (on a terminal, unless NO_COLOR is set), always or never")
	cmd.Flags().StringSliceVar(&devices, "device", nil, "judge only these PCI `ADDRESS`es (default: network controllers and devices on DPDK drivers)")
	for _, sec := range checkSections {
		sec.flags(cmd)
	}
	addCheckFlags(cmd)
	return cmd
}

// checkSections are the sections check adds to check.Run's findings, in report order, each
// with its flags: one list, read in one place (the OVS section, then --probe's kernel answers).
var checkSections = []struct {
	flags    func(*cobra.Command)
	findings func(*cobra.Command, *globals, *check.Facts) []check.Finding
}{
	{addDBFlags, ovsFindings},
	{addProbeFlag, probeSection},
}

// Hooks a file may still set from init for a section of its own; checkSections is the place
// for new ones.
var (
	addCheckFlags = func(*cobra.Command) {}
	extraFindings = func(*cobra.Command, *globals, *check.Facts) []check.Finding { return nil }
)

func newDevices(g *globals) *cobra.Command {
	var asJSON, all, devbind bool
	cmd := &cobra.Command{
		Use:   "devices",
		Short: "List PCI devices with driver, IOMMU group, NUMA node, physical slot and RMRR state",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := gather(g, nil)
			if err != nil {
				return err
			}
			ids, err := pci.ReadIDs(f.Root)
			if err != nil {
				return inputErr(err)
			}
			al, err := pci.ReadAliases(f.Root)
			if err != nil {
				return inputErr(err)
			}
			rows := check.DeviceRows(f, ids, al, all)
			if asJSON {
				return writeJSON(rows)
			}
			if devbind {
				_, err = os.Stdout.WriteString(check.WriteDevbindStatus(rows, check.LoadedDPDKDrivers(f.Root)))
				return err
			}
			_, err = os.Stdout.WriteString(check.WriteDeviceTable(rows))
			return err
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON array")
	cmd.Flags().BoolVar(&all, "all", false, "list every PCI function, not only network controllers and DPDK-bound devices")
	cmd.Flags().BoolVar(&devbind, "devbind", false, "print the network devices as `dpdk-devbind.py --status` does, with slot, IOMMU group and RMRR added")
	return cmd
}

func newRMRR(g *globals) *cobra.Command {
	var asJSON bool
	var file string
	cmd := &cobra.Command{
		Use:   "rmrr",
		Short: "Decode the firmware's DMAR table and show every RMRR and the devices it covers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var t *dmar.Table
			var devs = &pci.Devices{}
			var name func(*pci.Device) string
			if file != "" {
				b, err := os.ReadFile(file)
				if err != nil {
					return inputErr(err)
				}
				if t, err = dmar.Decode(b); err != nil {
					return inputErr(err)
				}
			}
			if file == "" || g.root != "" || g.demo {
				f, err := gather(g, nil)
				if err != nil {
					return err
				}
				devs = f.Devices
				if t == nil {
					if f.DMARErr != nil {
						return inputErr(f.DMARErr)
					}
					if f.DMAR == nil {
						return inputErr(errNoDMAR(f))
					}
					t = f.DMAR
				}
				ids, _ := pci.ReadIDs(f.Root)
				name = func(d *pci.Device) string { return check.Name(ids, d) }
			}
			rep := dmar.NewReport(t, devs, name)
			if asJSON {
				return writeJSON(rep)
			}
			return rep.WriteText(os.Stdout)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON document")
	cmd.Flags().StringVar(&file, "dmar", "", "read the DMAR table from `FILE` (raw, as in /sys/firmware/acpi/tables/DMAR, or acpidump text)")
	return cmd
}
