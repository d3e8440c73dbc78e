package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/dpdk-doctor/dpdk-doctor/check"
	"github.com/dpdk-doctor/dpdk-doctor/ovs"
	"github.com/dpdk-doctor/dpdk-doctor/traffic"
)

// OVS flags, shared by check and the ovs commands.
var (
	dbFlag  string
	dbTLS   ovs.TLS
	dialTTL = 3 * time.Second
)

func init() {
	moreCommands = append(moreCommands, newOVS)
	addCheckFlags = func(cmd *cobra.Command) { addDBFlags(cmd) }
	extraFindings = ovsFindings
}

func addDBFlags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&dbFlag, "db", "", "OVSDB `ENDPOINT` (unix:PATH, tcp:HOST:PORT, ssl:HOST:PORT; default "+ovs.DefaultDB+", or the tree's snapshot with --root)")
	cmd.Flags().StringVar(&dbTLS.Key, "db-key", "", "private key for an ssl: --db")
	cmd.Flags().StringVar(&dbTLS.Cert, "db-cert", "", "certificate for an ssl: --db")
	cmd.Flags().StringVar(&dbTLS.CA, "db-ca", "", "CA certificate for an ssl: --db")
}

// ovsState returns the OVS state the flags name: a live database, or a tree's snapshot.
// ok is false when there is no OVS to look at (and that is not an error).
func ovsState(ctx context.Context, g *globals, f *check.Facts) (st *ovs.State, source string, ok bool, err error) {
	if dbFlag == "" && !f.Root.IsLive() {
		st, err := ovs.ReadSnapshot(f.Root)
		return st, f.Root.Path(ovs.SnapshotFile), st != nil, err
	}
	db := dbFlag
	if db == "" {
		db = ovs.DefaultDB
		if _, err := os.Stat(strings.TrimPrefix(db, "unix:")); err != nil {
			return nil, "", false, nil // no local OVS: nothing to judge
		}
	}
	dctx, cancel := context.WithTimeout(ctx, dialTTL)
	defer cancel()
	c, err := ovs.Dial(dctx, db, dbTLS)
	if err != nil {
		return nil, db, false, err
	}
	defer c.Close()
	st, err = c.Read(dctx)
	return st, db, err == nil, err
}

func ovsFindings(cmd *cobra.Command, g *globals, f *check.Facts) []check.Finding {
	st, source, ok, err := ovsState(cmd.Context(), g, f)
	if err != nil {
		if deniedErr(err) { // the socket is there; this user may not connect to it
			return []check.Finding{{ID: "ovs.db", Area: "ovs", Subject: "Open_vSwitch", Severity: check.Warn,
				Summary: "cannot open the OVSDB socket without root: run as root", Evidence: []check.Evidence{{File: source, Value: err.Error()}}, Remedy: []string{"# run dpdk-doctor as root"}}}
		}
		return []check.Finding{{ID: "ovs.db", Area: "ovs", Subject: "Open_vSwitch", Severity: check.Fail,
			Summary: err.Error(), Evidence: []check.Evidence{{File: source, Value: "unreachable"}}, Remedy: []string{"systemctl status openvswitch-switch", "# or point --db at the right socket"}}}
	}
	var out []check.Finding
	if ok {
		out = ovs.Findings(st, f, source)
	}
	if f.Root.IsLive() {
		if links, err := traffic.LeftoverLinks(); err == nil && len(links) > 0 {
			var what []string
			for _, l := range links {
				what = append(what, fmt.Sprintf("veth %s (run %d)", l.Name, l.PID))
			}
			out = append(out, ovs.LeftoversFinding("netlink", what))
		}
	}
	return out
}

func newOVS(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "ovs", Short: "Read and change Open vSwitch natively, with every Interface error explained"}
	addDBFlagsPersistent(cmd)

	var asJSON bool
	show := &cobra.Command{
		Use:   "show",
		Short: "Bridges, ports and interfaces like `ovs-vsctl show`, with errors explained",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := gather(g, nil)
			if err != nil {
				return err
			}
			st, source, ok, err := ovsState(cmd.Context(), g, f)
			if err != nil {
				return &exitError{1, err}
			}
			if !ok {
				return &exitError{1, fmt.Errorf("no Open vSwitch to show: no database at %s%s", orDefault(source, ovs.DefaultDB), map[bool]string{true: " and no snapshot in the tree", false: ""}[!f.Root.IsLive()])}
			}
			s := ovs.NewShow(st, f)
			if asJSON {
				return writeJSON(s)
			}
			return s.WriteText(os.Stdout)
		},
	}
	show.Flags().BoolVar(&asJSON, "json", false, "print one JSON document")

	var devargs, typ string
	var force bool
	var timeout time.Duration
	add := &cobra.Command{
		Use:   "add-port BRIDGE PORT --devargs DEVARGS",
		Short: "Add a DPDK port after a preflight, then report OVS's outcome explained",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			bridge, port := args[0], args[1]
			if err := validBridgePort(bridge, port); err != nil {
				return err
			}
			if devargs == "" || strings.ContainsAny(devargs, " \t\n\"'") {
				return usageErr("--devargs %q: give the device, e.g. 0000:03:00.0 or net_af_packet0,iface=veth0", devargs)
			}
			if g.root != "" || g.demo {
				return usageErr("add-port changes a live Open vSwitch: it cannot be used with --root or --demo")
			}
			f, err := gather(g, nil)
			if err != nil {
				return err
			}
			ctx, stop := signalContext()
			defer stop()
			c, err := dialFlag(ctx)
			if err != nil {
				return &exitError{1, err}
			}
			defer c.Close()
			st, err := c.Read(ctx)
			if err != nil {
				return &exitError{1, err}
			}
			if e := ovs.Preflight(st, devargs, f); e != nil {
				fmt.Fprintf(os.Stderr, "preflight: %s cannot work: %s\n", devargs, e.Cause)
				if e.Detail != "" {
					fmt.Fprintf(os.Stderr, "  why: %s\n", e.Detail)
				}
				for _, r := range e.Remedy {
					fmt.Fprintf(os.Stderr, "  fix: %s\n", r)
				}
				if !force {
					return &exitError{1, fmt.Errorf("not adding %s (use --force to try anyway)", port)}
				}
				fmt.Fprintln(os.Stderr, "preflight: --force: adding it anyway")
			}
			if err := c.AddPort(ctx, bridge, port, typ, map[string]string{"dpdk-devargs": devargs}, nil); err != nil {
				return &exitError{1, err}
			}
			wctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			start := time.Now()
			tty := isTerminal(os.Stderr)
			n := 0
			out, err := c.WaitPort(wctx, port, func() {
				if n++; tty && n%5 == 0 {
					fmt.Fprintf(os.Stderr, "\rwaiting for OVS to set up %s... %.1fs", port, time.Since(start).Seconds())
				}
			})
			if tty {
				fmt.Fprint(os.Stderr, "\r\033[K")
			}
			if err != nil {
				return &exitError{1, fmt.Errorf("added %s to %s, but: %w", port, bridge, err)}
			}
			if out.Error == "" {
				fmt.Printf("added %s to %s: ofport %d, working (%.0f ms)\n", port, bridge, out.OFPort, float64(time.Since(start).Microseconds())/1000)
				return nil
			}
			st, _ = c.Read(ctx)
			var br *ovs.Bridge
			for i := range st.Bridges {
				if st.Bridges[i].Name == bridge {
					br = &st.Bridges[i]
				}
			}
			e := ovs.Explain(st, br, &ovs.Interface{Name: port, Type: typ, Options: map[string]string{"dpdk-devargs": devargs}, Error: out.Error}, f)
			fmt.Printf("added %s to %s, but OVS reports: %q\n  cause: %s\n", port, bridge, out.Error, e.Cause)
			if e.Detail != "" {
				fmt.Printf("  why: %s\n", e.Detail)
			}
			for _, r := range e.Remedy {
				fmt.Printf("  fix: %s\n", r)
			}
			fmt.Printf("  (the port stays in the database, as ovs-vsctl leaves it; remove it with: dpdk-doctor ovs del-port %s %s)\n", bridge, port)
			return &exitError{1, fmt.Errorf("%s does not work", port)}
		},
	}
	add.Flags().StringVar(&devargs, "devargs", "", "the device: a PCI address (0000:03:00.0) or a DPDK vdev")
	add.Flags().StringVar(&typ, "type", "dpdk", "interface type")
	add.Flags().BoolVar(&force, "force", false, "add the port even when the preflight says it cannot work")
	add.Flags().DurationVar(&timeout, "timeout", 10*time.Second, "how long to wait for OVS to set the port up")

	del := &cobra.Command{
		Use:   "del-port BRIDGE PORT",
		Short: "Remove a port from a bridge",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := validBridgePort(args[0], args[1]); err != nil {
				return err
			}
			ctx, stop := signalContext()
			defer stop()
			c, err := dialFlag(ctx)
			if err != nil {
				return &exitError{1, err}
			}
			defer c.Close()
			if err := c.DelPort(ctx, args[0], args[1]); err != nil {
				return &exitError{1, err}
			}
			fmt.Printf("removed %s from %s\n", args[1], args[0])
			return nil
		},
	}
	cmd.AddCommand(show, add, del)
	return cmd
}

func addDBFlagsPersistent(cmd *cobra.Command) {
	cmd.PersistentFlags().StringVar(&dbFlag, "db", "", "OVSDB `ENDPOINT` (unix:PATH, tcp:HOST:PORT, ssl:HOST:PORT; default "+ovs.DefaultDB+")")
	cmd.PersistentFlags().StringVar(&dbTLS.Key, "db-key", "", "private key for an ssl: --db")
	cmd.PersistentFlags().StringVar(&dbTLS.Cert, "db-cert", "", "certificate for an ssl: --db")
	cmd.PersistentFlags().StringVar(&dbTLS.CA, "db-ca", "", "CA certificate for an ssl: --db")
}

func dialFlag(ctx context.Context) (*ovs.Client, error) {
	db := orDefault(dbFlag, ovs.DefaultDB)
	dctx, cancel := context.WithTimeout(ctx, dialTTL)
	defer cancel()
	return ovs.Dial(dctx, db, dbTLS)
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// validBridgePort checks the names a command was given, as a usage error.
func validBridgePort(bridge, port string) error {
	if err := ovs.ValidName("bridge", bridge); err != nil {
		return usageErr("%v", err)
	}
	if err := ovs.ValidName("port", port); err != nil {
		return usageErr("%v", err)
	}
	return nil
}
