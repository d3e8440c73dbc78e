package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/dpdk-doctor/dpdk-doctor/capture"
	"github.com/dpdk-doctor/dpdk-doctor/ovs"
	"github.com/dpdk-doctor/dpdk-doctor/traffic"
)

func init() { moreCommands = append(moreCommands, newTraffic, newCleanup) }

func newTraffic(g *globals) *cobra.Command {
	var o traffic.Options
	var filter string
	cmd := &cobra.Command{
		Use:   "traffic BRIDGE",
		Short: "Mirror a bridge to a capture port and show the frames, like tcpdump -ne; always cleans up",
		Long: "traffic makes a veth pair, adds one end to BRIDGE as the output of a mirror (select-all, or " +
			"--select-port), captures on the other end through an AF_PACKET ring with the filter compiled to BPF, " +
			"prints one line per frame and a summary, and then removes the mirror, the port and the veths: on " +
			"success, error, timeout, Ctrl-C and SIGTERM. What a killed run leaves, `dpdk-doctor cleanup` removes.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := g.liveOnly("capture on Open vSwitch (it adds a mirror, a port and veths)"); err != nil {
				return err
			}
			o.Bridge = args[0]
			if err := ovs.ValidName("bridge", o.Bridge); err != nil {
				return usageErr("%v", err)
			}
			for _, p := range o.SelectPort {
				if err := ovs.ValidName("port", p); err != nil {
					return usageErr("%v", err)
				}
			}
			for _, v := range o.VLAN {
				if v < 0 || v > 4095 {
					return usageErr("--vlan %d: want 0 to 4095", v)
				}
			}
			if o.Count < 0 || o.Timeout < 0 {
				return usageErr("--count and --timeout cannot be negative")
			}
			f, err := capture.ParseFilter(filter)
			if err != nil {
				return usageErr("%v", err)
			}
			o.Filter = f
			if g.root != "" || g.demo {
				return usageErr("traffic captures on this host's OVS: it cannot be used with --root or --demo")
			}
			// Ctrl-C and SIGTERM end the capture; the teardown still runs, then the exit code says which.
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			sigs := make(chan os.Signal, 2)
			signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
			defer signal.Stop(sigs)
			var got os.Signal
			go func() {
				if s, ok := <-sigs; ok {
					got = s
					cancel()
				}
			}()
			c, err := dialFlag(ctx)
			if err != nil {
				return &exitError{1, err}
			}
			defer c.Close()
			o.Out, o.Log = os.Stdout, os.Stderr
			res, err := traffic.Run(ctx, c, o)
			res.Summary.Write(os.Stderr)
			fmt.Fprintf(os.Stderr, "setup %v, teardown %v\n", res.Setup.Round(time.Millisecond), res.Teardown.Round(time.Millisecond))
			if got != nil {
				code := 130
				if got == syscall.SIGTERM {
					code = 143
				}
				if err != nil && ctx.Err() == nil {
					return &exitError{code, err}
				}
				if err != nil && err != context.Canceled {
					fmt.Fprintln(os.Stderr, "dpdk-doctor:", err)
				}
				return &exitError{code, fmt.Errorf("interrupted by %v; everything it made was removed", got)}
			}
			if err != nil {
				return &exitError{1, err}
			}
			if res.TimedOut && o.Count > 0 && res.Summary.Packets < o.Count {
				fmt.Fprintf(os.Stderr, "timed out after %v with %d of %d frames\n", o.Timeout, res.Summary.Packets, o.Count)
			}
			return nil
		},
	}
	cmd.Flags().IntVarP(&o.Count, "count", "c", 0, "stop after N frames (default: no limit)")
	cmd.Flags().DurationVar(&o.Timeout, "timeout", 30*time.Second, "stop after this long (0: until Ctrl-C)")
	cmd.Flags().StringVar(&filter, "filter", "", "capture filter: stp, vlan [N], ether host|src|dst MAC, ether proto N|arp|ip|ip6, arp, ip, ip6, lldp, and/or/not, ( )")
	cmd.Flags().StringVarP(&o.Write, "write", "w", "", "also write the frames to `FILE.pcap`")
	cmd.Flags().StringSliceVar(&o.SelectPort, "select-port", nil, "mirror only these ports (default: every port)")
	cmd.Flags().IntSliceVar(&o.VLAN, "vlan", nil, "mirror only these VLANs")
	addDBFlags(cmd)
	return cmd
}

func newCleanup(g *globals) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "cleanup",
		Short: "Find and remove what a killed `traffic` run left: mirrors, ports (by their tags) and veths",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := g.liveOnly("clean up mirrors, ports and veths"); err != nil {
				return err
			}
			ctx, stop := signalContext()
			defer stop()
			links, err := traffic.LeftoverLinks()
			if err != nil {
				return &exitError{1, err}
			}
			var rows []ovs.Leftover
			c, err := dialFlag(ctx)
			if err == nil {
				defer c.Close()
				rows, err = c.Leftovers(ctx)
			}
			if err != nil {
				fmt.Fprintf(os.Stderr, "dpdk-doctor: OVS not reachable, cleaning veths only: %v\n", err)
			}
			var doRows []ovs.Leftover
			for _, r := range rows {
				if r.Alive && !force {
					fmt.Printf("keeping %s %s on %s: run %d is still going (--force to remove)\n", r.Kind, r.Name, r.Bridge, r.PID)
					continue
				}
				doRows = append(doRows, r)
			}
			var doLinks []traffic.LeftoverLink
			for _, l := range links {
				if l.Alive && !force {
					fmt.Printf("keeping veth %s: run %d is still going (--force to remove)\n", l.Name, l.PID)
					continue
				}
				doLinks = append(doLinks, l)
			}
			if len(doRows) > 0 {
				if err := c.RemoveLeftovers(ctx, doRows); err != nil {
					return &exitError{1, err}
				}
				for _, r := range doRows {
					fmt.Printf("removed %s %s from bridge %s (left by run %d)\n", r.Kind, r.Name, r.Bridge, r.PID)
				}
			}
			if err := traffic.DeleteLinks(doLinks); err != nil {
				return &exitError{1, err}
			}
			for _, l := range doLinks {
				fmt.Printf("removed veth %s (left by run %d)\n", l.Name, l.PID)
			}
			if len(doRows)+len(doLinks) == 0 {
				fmt.Println("nothing to clean up")
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "also remove what a still-running traffic run owns")
	addDBFlags(cmd)
	return cmd
}
