package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/spf13/cobra"

	"github.com/dpdk-doctor/dpdk-doctor/capture"
	"github.com/dpdk-doctor/dpdk-doctor/ovs"
	"github.com/dpdk-doctor/dpdk-doctor/traffic"
)

func newTraffic(g *globals) *cobra.Command {
	var o traffic.Options
	var filter string
	cmd := &cobra.Command{
		Use:   "traffic BRIDGE",
		Short: "Mirror a bridge to a capture port and show the frames, like tcpdump -ne; always cleans up",
		Long: "traffic makes a veth pair, adds one end to BRIDGE as the output of a mirror (select-all, or " +
			"--select-port), captures on the other end through an AF_PACKET ring with the filter compiled to BPF, " +
			"prints one line per frame and a summary, and then removes the mirror, the port and the veths: on " +
			"success, error, timeout, Ctrl-C, SIGTERM, SIGHUP, SIGQUIT and SIGPIPE (exit 128+signal), and when the reader " +
			"of its output goes away (`| head`: exit 141, quietly). What a SIGKILLed run leaves, `dpdk-doctor cleanup` " +
			"removes; the next traffic run reports it (or removes it with --cleanup-stale).",
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
			return runTraffic(o)
		},
	}
	cmd.Flags().IntVarP(&o.Count, "count", "c", 0, "stop after N frames (default: no limit)")
	cmd.Flags().DurationVar(&o.Timeout, "timeout", 30*time.Second, "stop after this long (0: until Ctrl-C)")
	cmd.Flags().StringVar(&filter, "filter", "", "capture filter: stp, vlan [N], ether host|src|dst MAC, ether proto N|arp|ip|ip6, arp, ip, ip6, lldp, [ip|ip6] [src|dst] host|net ADDR[/LEN], [tcp|udp] [src|dst] port|portrange N[-M], tcp, udp, icmp, icmp6, ip proto N, and/or/not, ( )")
	cmd.Flags().StringVarP(&o.Write, "write", "w", "", "also write the frames to `FILE.pcap` (flushed frame by frame); - writes pcap to standard output instead of lines, as tcpdump -w -")
	cmd.Flags().BoolVar(&o.CleanupStale, "cleanup-stale", false, "first remove what earlier, dead traffic runs left (as `dpdk-doctor cleanup` does)")
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

// trafficSignals end a capture; the teardown runs, then the exit code is 128+signal. SIGHUP is
// a dropped SSH session or a closed terminal; SIGPIPE a reader of the output that went away.
var trafficSignals = []os.Signal{os.Interrupt, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGPIPE}

// runTraffic runs a capture with the signals caught, standard output buffered (line by line on
// a terminal) and watched, and the exit code set by what ended it.
func runTraffic(o traffic.Options) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// With SIGPIPE caught, a write to a closed standard output returns EPIPE (instead of
	// killing the process before it tears down), and traffic.Run ends with ErrOutputClosed.
	sigs := make(chan os.Signal, 4)
	// Never stopped: a signal during the teardown or while exiting is ignored, not fatal.
	signal.Notify(sigs, trafficSignals...)
	var got atomic.Value // os.Signal
	go func() {
		if s, ok := <-sigs; ok {
			got.Store(s)
			cancel()
		}
	}()
	// A pipe whose reader exits (| head -1) is noticed at once, not at the next frame.
	go watchStdout(ctx, sigs)

	c, err := dialFlag(ctx)
	if err != nil {
		return &exitError{1, err}
	}
	defer c.Close()
	stdout := bufio.NewWriterSize(os.Stdout, 64<<10)
	if o.Write == "-" {
		o.Write, o.Pcap = "", os.Stdout // lines go nowhere, as with tcpdump -w -
	} else {
		o.Out, o.LineBuffered = stdout, stdoutIsTerminal()
	}
	o.Log = os.Stderr
	o.CleanupHint = "dpdk-doctor cleanup"
	for _, f := range [][2]string{{"--db", dbFlag}, {"--db-key", dbTLS.Key}, {"--db-cert", dbTLS.Cert}, {"--db-ca", dbTLS.CA}} {
		if f[1] != "" {
			o.CleanupHint += " " + f[0] + " " + trafficQuote(f[1])
		}
	}
	res, err := traffic.Run(ctx, c, o)
	stdout.Flush()
	if res.Started {
		res.Summary.Write(os.Stderr)
		fmt.Fprintf(os.Stderr, "setup %v, teardown %v\n", res.Setup.Round(time.Millisecond), res.Teardown.Round(time.Millisecond))
	}
	sig, _ := got.Load().(os.Signal)
	if sig == nil && errors.Is(err, traffic.ErrOutputClosed) {
		sig = syscall.SIGPIPE
	}
	if sig != nil {
		code := 128 + int(sig.(syscall.Signal))
		if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, traffic.ErrOutputClosed) {
			fmt.Fprintln(os.Stderr, "dpdk-doctor:", err)
		}
		if sig == syscall.SIGPIPE {
			return &exitError{code, errors.New("")} // the reader is gone: nothing to say
		}
		return &exitError{code, fmt.Errorf("interrupted by %v; everything it made was removed", sig)}
	}
	var ie *traffic.InputError
	if errors.As(err, &ie) {
		return &exitError{2, err}
	}
	if err != nil {
		return &exitError{1, err}
	}
	if res.TimedOut && o.Count > 0 && res.Summary.Packets < o.Count {
		fmt.Fprintf(os.Stderr, "timed out after %v with %d of %d frames\n", o.Timeout, res.Summary.Packets, o.Count)
	}
	return nil
}

// watchStdout waits, when standard output is a pipe or a socket, for its reader to go away
// (poll reports POLLERR/POLLHUP) and then reports it as SIGPIPE.
func watchStdout(ctx context.Context, sigs chan<- os.Signal) {
	st, err := os.Stdout.Stat()
	if err != nil || st.Mode()&(os.ModeNamedPipe|os.ModeSocket) == 0 {
		return
	}
	for ctx.Err() == nil {
		fds := []unix.PollFd{{Fd: int32(os.Stdout.Fd()), Events: 0}}
		n, err := unix.Poll(fds, 200)
		if err != nil && err != unix.EINTR {
			return
		}
		if n > 0 && fds[0].Revents&(unix.POLLERR|unix.POLLHUP) != 0 {
			select {
			case sigs <- syscall.SIGPIPE:
			default:
			}
			return
		}
	}
}

func stdoutIsTerminal() bool {
	_, err := unix.IoctlGetTermios(int(os.Stdout.Fd()), unix.TCGETS)
	return err == nil
}

// trafficQuote quotes an argument for a POSIX shell when it needs it.
func trafficQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=@,+", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
