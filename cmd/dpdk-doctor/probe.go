package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/dpdk-doctor/dpdk-doctor/check"
	"github.com/dpdk-doctor/dpdk-doctor/pci"
	"github.com/dpdk-doctor/dpdk-doctor/vfio"
)

var probeInCheck bool

// addProbeFlag adds check's --probe (see checkSections).
func addProbeFlag(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&probeInCheck, "probe", false, "also ask the running kernel, by a real VFIO attach that is released again, about each device on vfio-pci (see `probe`)")
}

// probeSection is check's --probe section: the kernel's answers beside the verdict.
func probeSection(_ *cobra.Command, _ *globals, f *check.Facts) []check.Finding {
	if !probeInCheck {
		return nil
	}
	return probeFindings(f)
}

func probeFindings(f *check.Facts) []check.Finding {
	if !f.Root.IsLive() {
		return []check.Finding{{ID: "device.probe", Area: "device", Subject: "host", Severity: check.Warn,
			Summary:  "not probed: --probe asks the running kernel, and --root/--demo describe another machine",
			Evidence: []check.Evidence{}, Remedy: []string{}}}
	}
	p, err := vfio.New(f.Root)
	if err != nil {
		return nil
	}
	var out []check.Finding
	for _, d := range f.Selected {
		res := p.Probe([]pci.Address{d.Address}, vfio.Options{})[0]
		if fd, ok := vfio.JudgedFinding(res, f.Judged(d)); ok {
			out = append(out, fd)
		}
	}
	return out
}

func newProbe(g *globals) *cobra.Command {
	var asJSON, deviceFD bool
	cmd := &cobra.Command{
		Use:   "probe DEVICE...",
		Short: "Ask the running kernel whether it gives devices on vfio-pci to user space (a real VFIO attach, released again)",
		Long: "probe takes each device's IOMMU group the way DPDK does (open /dev/vfio/vfio and the group, check it is " +
			"viable, set the container, set the IOMMU type) and reports the kernel's answer: attached, refused (the step, " +
			"its errno and the kernel's log line, such as an RMRR refusal), in use (the group is held by a VM or a running " +
			"DPDK: EBUSY), or not bound to vfio-pci. It never binds or unbinds anything and releases all it opened, so it is " +
			"safe on a production host. It asks this kernel, so it cannot run with --root or --demo. Exit code: 0 when every " +
			"device attached (or is in use), 1 when any was refused or cannot be probed, 2 on bad usage or input.",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if g.demo || g.root != "" {
				return usageErr("probe asks the running kernel by a real VFIO attach; --root and --demo describe another machine (run it on that host)")
			}
			addrs, err := parseAddresses(args)
			if err != nil {
				return err
			}
			r, err := g.hostRoot()
			if err != nil {
				return err
			}
			p, err := vfio.New(r)
			if err != nil {
				return inputErr(err)
			}
			res := p.Probe(addrs, vfio.Options{DeviceFD: deviceFD})
			for _, x := range res {
				if x.Outcome == vfio.NoDevice {
					return usageErr("%s", x.Error)
				}
			}
			if asJSON {
				if err := writeJSON(res); err != nil {
					return err
				}
			} else {
				writeProbeText(res)
			}
			for _, x := range res {
				if x.Outcome != vfio.Attached && x.Outcome != vfio.InUse {
					return errFailed
				}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON array, one object per device")
	cmd.Flags().BoolVar(&deviceFD, "device-fd", false, "also take a device file descriptor (VFIO_GROUP_GET_DEVICE_FD), as DPDK does last (vfio-pci then enables and resets the idle device)")
	return cmd
}

func writeProbeText(res []vfio.Result) {
	for _, r := range res {
		fmt.Fprintf(os.Stdout, "%s  ", r.Device)
		switch r.Outcome {
		case vfio.Attached:
			fmt.Fprintf(os.Stdout, "attached (IOMMU group %d, %s): the kernel gives it to VFIO; released again\n", *r.Group, r.IOMMUType)
		case vfio.Refused:
			fmt.Fprintf(os.Stdout, "REFUSED at %s", r.Step)
			if r.Errno != "" {
				fmt.Fprintf(os.Stdout, " (%s)", r.Errno)
			}
			fmt.Fprintf(os.Stdout, ": %s\n", r.Error)
		default:
			fmt.Fprintf(os.Stdout, "%s: %s\n", strings.ToUpper(string(r.Outcome)), r.Error)
		}
		for _, l := range r.KernelLog {
			fmt.Fprintf(os.Stdout, "    kernel: %s\n", l)
		}
		for _, l := range r.Remedy {
			fmt.Fprintf(os.Stdout, "    $ %s\n", l)
		}
	}
}
