package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/dpdk-doctor/dpdk-doctor/internal/ovsrpc"
	"github.com/dpdk-doctor/dpdk-doctor/ovs"
	"github.com/dpdk-doctor/dpdk-doctor/top"
)

func newTop(g *globals) *cobra.Command {
	var (
		once, asJSON bool
		interval     time.Duration
		rundir       string
	)
	cmd := &cobra.Command{
		Use:   "top",
		Short: "Live rates, drops by reason and PMD load of every DPDK and vhost port",
		Long: `top samples every DPDK and vhost port's Interface statistics over OVSDB and every PMD thread's
cycles and receive queues through ovs-vswitchd's unixctl socket (dpif-netdev/pmd-stats-show,
pmd-rxq-show, pmd-perf-show), and shows rx/tx packets per second, drops by reason, link state, MTU,
which PMD polls which queue, and each PMD's busy % and cycles per packet between two samples.
On a terminal it redraws every --interval until Ctrl-C; --once prints one view; --json too.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if interval < 10*time.Millisecond || interval > time.Hour {
				return usageErr("top: --interval %v: want 10ms to 1h", interval)
			}
			if g.demo || g.root != "" {
				return usageErr("top watches the live OVS: leave out --demo and --root")
			}
			db := dbFlag
			if db == "" {
				db = ovs.DefaultDB
			}
			src := top.Source{DB: db}
			ctl, err := ovsrpc.VswitchdSocket(rundir)
			if err != nil {
				return err
			}
			src.Ctl = ctl
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
			defer stop()
			read := func() (*top.Sample, error) {
				rctx, cancel := context.WithTimeout(ctx, dbTimeout)
				defer cancel()
				return top.Read(rctx, src)
			}
			a, err := read()
			if err != nil {
				return quiet(ctx, err)
			}
			tty := !once && !asJSON && isTerminal(os.Stdout)
			out := bufio.NewWriter(os.Stdout)
			defer out.Flush()
			for {
				select {
				case <-ctx.Done():
					if tty {
						fmt.Fprintln(out)
					}
					return nil
				case <-time.After(interval):
				}
				b, err := read()
				if err != nil {
					return quiet(ctx, err)
				}
				v := top.Rates(a, b)
				a = b
				switch {
				case asJSON:
					if err := writeJSONTo(out, v); err != nil {
						return err
					}
				case tty:
					fmt.Fprint(out, "\x1b[H\x1b[2J")
					v.Write(out, termHeight()-1)
				default:
					v.Write(out, 0)
				}
				if err := out.Flush(); err != nil {
					return nil // the reader went away
				}
				if once {
					return nil
				}
			}
		},
	}
	cmd.Flags().BoolVar(&once, "once", false, "print one view (two samples --interval apart) and exit")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON, one object per view")
	cmd.Flags().DurationVar(&interval, "interval", time.Second, "time between samples")
	cmd.Flags().StringVar(&rundir, "rundir", "/var/run/openvswitch", "OVS's run directory (OVS_RUNDIR), where ovs-vswitchd's pid file and unixctl socket are")
	addDBFlags(cmd)
	return cmd
}

// writeJSONTo writes v as indented JSON to w.
func writeJSONTo(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// quiet turns an error caused by a signal into a clean exit.
func quiet(ctx context.Context, err error) error {
	if ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return nil
	}
	return err
}

// termHeight is standard output's terminal height, 24 when unknown.
func termHeight() int {
	ws, err := unix.IoctlGetWinsize(int(os.Stdout.Fd()), unix.TIOCGWINSZ)
	if err != nil || ws.Row == 0 {
		return 24
	}
	return int(ws.Row)
}
