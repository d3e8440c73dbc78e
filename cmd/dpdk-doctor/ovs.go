package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/dpdk-doctor/dpdk-doctor/check"
	"github.com/dpdk-doctor/dpdk-doctor/host"
	"github.com/dpdk-doctor/dpdk-doctor/ovs"
	"github.com/dpdk-doctor/dpdk-doctor/traffic"
)

// OVS flags, shared by check and the ovs commands.
var (
	dbFlag    string
	dbTLS     ovs.TLS
	dbTimeout = ovs.DefaultTimeout
)

func init() {
	flagChecks = append(flagChecks, checkDBFlags)
}

func addDBFlags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&dbFlag, "db", "", "OVSDB `ENDPOINT` (unix:PATH, tcp:HOST:PORT, ssl:HOST:PORT; default "+ovs.DefaultDB+", or the tree's snapshot with --root)")
	cmd.Flags().StringVar(&dbTLS.Key, "db-key", "", "private key for an ssl: --db")
	cmd.Flags().StringVar(&dbTLS.Cert, "db-cert", "", "certificate for an ssl: --db")
	cmd.Flags().StringVar(&dbTLS.CA, "db-ca", "", "CA certificate for an ssl: --db")
	cmd.Flags().DurationVar(&dbTimeout, "db-timeout", ovs.DefaultTimeout, "give up on any single wait on OVSDB (connect, a read, a transaction, a port's set-up) after this `DURATION`")
}

// checkDBFlags refuses an OVSDB endpoint or timeout that cannot work, before anything runs.
func checkDBFlags() error {
	if dbFlag != "" {
		if err := ovs.ValidEndpoint(dbFlag); err != nil {
			return usageErr("--db: %v", err)
		}
	}
	if dbTimeout <= 0 {
		return usageErr("--db-timeout %v: want a positive duration, e.g. 30s", dbTimeout)
	}
	return nil
}

// ovsState returns the OVS state the flags name: a live database, or a tree's snapshot.
// ok is false when there is no OVS to look at (and that is not an error).
func ovsState(ctx context.Context, g *globals, f *check.Facts) (st *ovs.State, source string, ok bool, err error) {
	if dbFlag == "" && !f.Root.IsLive() {
		st, err := ovs.ReadSnapshot(f.Root)
		if err != nil {
			return nil, f.Root.Path(ovs.SnapshotFile), false, inputErr(err) // the tree is the input
		}
		return st, f.Root.Path(ovs.SnapshotFile), st != nil, nil
	}
	return ovsLive(ctx)
}

// ovsLive reads the live database the flags name (--db, else the default socket when it is
// there). ok is false when there is none.
func ovsLive(ctx context.Context) (st *ovs.State, source string, ok bool, err error) {
	return startLive(ctx)()
}

// startLive dials the live database the flags name and sends the read now; the function it
// returns waits for the answer and gives ovsLive's. The wait is shown on a terminal from the
// dial on.
func startLive(ctx context.Context) func() (*ovs.State, string, bool, error) {
	db := dbFlag
	if db == "" {
		db = ovs.DefaultDB
		if _, err := os.Stat(strings.TrimPrefix(db, "unix:")); err != nil {
			return func() (*ovs.State, string, bool, error) { return nil, "", false, nil } // no local OVS: nothing to judge
		}
	}
	done := progress(ctx, "OVSDB at "+db, dbTimeout)
	read := ovs.StartReadOnce(ctx, db, ovs.Options{TLS: dbTLS, Timeout: dbTimeout})
	return func() (*ovs.State, string, bool, error) {
		defer done()
		st, err := read.Wait()
		return st, db, err == nil, err
	}
}

// ovsStateSoon starts reading the live database now, while the caller gathers the host facts,
// when the flags say ovsState will read one (--db, or this host); the function it returns
// gives ovsState's answer. The two waits overlap instead of adding up. A local (unix:)
// database's request is sent before ovsStateSoon returns, so ovsdb-server works on it from
// the start; a remote one is dialled alongside the gathering.
func ovsStateSoon(ctx context.Context, g *globals) func(f *check.Facts) (*ovs.State, string, bool, error) {
	if dbFlag == "" && (g.root != "" || g.demo) {
		return func(f *check.Facts) (*ovs.State, string, bool, error) { return ovsState(ctx, g, f) }
	}
	type result struct {
		st     *ovs.State
		source string
		ok     bool
		err    error
	}
	ch := make(chan result, 1)
	var wait func() (*ovs.State, string, bool, error)
	if dbFlag == "" || strings.HasPrefix(dbFlag, "unix:") {
		wait = startLive(ctx) // a connect and a write on a local socket
	}
	go func() {
		if wait == nil {
			wait = startLive(ctx)
		}
		var r result
		r.st, r.source, r.ok, r.err = wait()
		ch <- r
	}()
	return func(*check.Facts) (*ovs.State, string, bool, error) {
		r := <-ch
		return r.st, r.source, r.ok, r.err
	}
}

func ovsFindings(cmd *cobra.Command, g *globals, f *check.Facts) []check.Finding {
	st, source, ok, err := ovsState(cmd.Context(), g, f)
	if err != nil {
		remedy := []string{"systemctl status openvswitch-switch", "# or point --db at the right socket"}
		if deniedErr(err) { // the socket is there; this user may not connect to it
			return []check.Finding{{ID: "ovs.db", Area: "ovs", Subject: "Open_vSwitch", Severity: check.Warn,
				Summary: "cannot open the OVSDB socket without root: run as root", Evidence: []check.Evidence{{File: source, Value: err.Error()}},
				Remedy: []string{"sudo dpdk-doctor check   # the OVSDB socket is root's"}}}
		}
		return []check.Finding{{ID: "ovs.db", Area: "ovs", Subject: "Open_vSwitch", Severity: check.Fail,
			Summary: err.Error(), Evidence: []check.Evidence{{File: source, Value: "unreachable"}}, Remedy: remedy}}
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

// socketDir returns the directory of a unix: database endpoint, where OVS keeps its pidfiles
// when it runs from a directory of its own (OVS_RUNDIR); "" for any other endpoint.
func socketDir(db string) string {
	if p, ok := strings.CutPrefix(db, "unix:"); ok && filepath.IsAbs(p) {
		return filepath.Dir(p)
	}
	return ""
}

func newOVS(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "ovs", Short: "Read and change Open vSwitch natively, with every Interface error explained"}
	addDBFlagsPersistent(cmd)

	var asJSON, plain bool
	show := &cobra.Command{
		Use:   "show",
		Short: "Bridges, ports and interfaces like `ovs-vsctl show`, with errors explained",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			state := ovsStateSoon(cmd.Context(), g)
			if g.root == "" && !g.demo {
				// Found (by its pidfile, or among the processes) while the facts are gathered.
				ovs.PreloadLog(host.Live(), socketDir(dbFlag))
			}
			f, err := gatherWith(g, nil, check.Options{NoNames: true, Lazy: true}) // show prints no device names, and judges only the devices errors name
			if err != nil {
				return err
			}
			st, source, ok, err := state(f)
			var ee *exitError
			if errors.As(err, &ee) {
				return err
			} else if err != nil {
				return &exitError{1, err}
			}
			if !ok {
				return &exitError{1, fmt.Errorf("no Open vSwitch to show: no database at %s%s", orDefault(source, ovs.DefaultDB), map[bool]string{true: " and no snapshot in the tree", false: ""}[!f.Root.IsLive()])}
			}
			s := ovs.NewShow(st, f)
			if f.JudgeErr != nil { // a verdict was needed, and what it rests on could not be read
				return inputErr(f.JudgeErr)
			}
			if asJSON {
				return writeJSON(s)
			}
			if plain {
				return s.WriteVsctl(os.Stdout)
			}
			return s.WriteText(os.Stdout)
		},
	}
	show.Flags().BoolVar(&asJSON, "json", false, "print one JSON document")
	show.Flags().BoolVar(&plain, "plain", false, "print exactly what ovs-vsctl show would, without explanations")

	var devargs, typ string
	var force bool
	var timeout time.Duration
	add := &cobra.Command{
		Use:   "add-port BRIDGE PORT --devargs DEVARGS",
		Short: "Add a DPDK port after a preflight, then report OVS's outcome explained",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := g.liveOnly("add a port to Open vSwitch"); err != nil {
				return err
			}
			req := ovs.PortRequest{Bridge: args[0], Port: args[1], Type: typ, Devargs: devargs}
			if err := req.Validate(); err != nil {
				return usageErr("%v", err)
			}
			if timeout < 0 {
				return usageErr("--timeout %v: cannot be negative", timeout)
			}
			bridge, port := req.Bridge, req.Port
			f, err := gather(g, nil)
			if err != nil {
				return err
			}
			ctx, stop := commandContext(timeout)
			defer stop()
			c, err := dialFlag(ctx)
			if err != nil {
				return &exitError{1, overall(ctx, timeout, err)}
			}
			defer c.Close()
			res, err := ovs.AddPortChecked(ctx, c, f, req, ovs.AddOptions{Force: force,
				Progress: func(what string, limit time.Duration) func() { return progress(ctx, what, limit) }})
			if e := res.Preflight; e != nil {
				fmt.Fprintf(os.Stderr, "preflight: %s cannot work: %s\n", devargs, e.Cause)
				if e.Detail != "" {
					fmt.Fprintf(os.Stderr, "  why: %s\n", e.Detail)
				}
				for _, r := range e.Remedy {
					fmt.Fprintf(os.Stderr, "  fix: %s\n", r)
				}
				if res.Forced {
					fmt.Fprintln(os.Stderr, "preflight: --force: adding it anyway")
				}
			}
			var target *ovs.TargetError
			switch {
			case errors.As(err, &target):
				return inputErr(target.Err)
			case errors.Is(err, ovs.ErrPreflight):
				return &exitError{1, fmt.Errorf("not adding %s (use --force to try anyway)", port)}
			case errors.Is(err, ovs.ErrNotWorking):
			case err != nil && res.Added:
				return &exitError{1, fmt.Errorf("added %s to %s, but: %w", port, bridge, overall(ctx, timeout, errors.Unwrap(err)))}
			case err != nil:
				return &exitError{1, overall(ctx, timeout, err)}
			}
			if res.Error == "" {
				fmt.Printf("added %s to %s: ofport %d, working (%.0f ms)\n", port, bridge, res.OFPort, float64(res.Elapsed.Microseconds())/1000)
				return nil
			}
			e := res.Explained
			fmt.Printf("added %s to %s, but OVS reports: %q\n  cause: %s\n", port, bridge, res.Error, e.Cause)
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
	add.Flags().DurationVar(&timeout, "timeout", 0, "give up on the whole command after this long, like ovs-vsctl --timeout (0: each wait is still limited by --db-timeout)")

	var delTimeout time.Duration
	del := &cobra.Command{
		Use:   "del-port BRIDGE PORT",
		Short: "Remove a port from a bridge",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := g.liveOnly("remove a port from Open vSwitch"); err != nil {
				return err
			}
			if err := validBridgePort(args[0], args[1]); err != nil {
				return err
			}
			if delTimeout < 0 {
				return usageErr("--timeout %v: cannot be negative", delTimeout)
			}
			ctx, stop := commandContext(delTimeout)
			defer stop()
			c, err := dialFlag(ctx)
			if err != nil {
				return &exitError{1, overall(ctx, delTimeout, err)}
			}
			defer c.Close()
			st, err := c.Read(ctx)
			if err != nil {
				return &exitError{1, err}
			}
			if err := ovs.CheckDelete(st, args[0], args[1]); err != nil {
				return inputErr(err)
			}
			done := progress(ctx, "OVSDB to remove "+args[1], c.Timeout())
			err = c.DelPort(ctx, args[0], args[1])
			done()
			if err != nil {
				return &exitError{1, overall(ctx, delTimeout, err)}
			}
			fmt.Printf("removed %s from %s\n", args[1], args[0])
			return nil
		},
	}
	del.Flags().DurationVar(&delTimeout, "timeout", 0, "give up on the whole command after this long, like ovs-vsctl --timeout (0: each wait is still limited by --db-timeout)")
	cmd.AddCommand(show, add, del)
	return cmd
}

func addDBFlagsPersistent(cmd *cobra.Command) {
	cmd.PersistentFlags().StringVar(&dbFlag, "db", "", "OVSDB `ENDPOINT` (unix:PATH, tcp:HOST:PORT, ssl:HOST:PORT; default "+ovs.DefaultDB+")")
	cmd.PersistentFlags().StringVar(&dbTLS.Key, "db-key", "", "private key for an ssl: --db")
	cmd.PersistentFlags().StringVar(&dbTLS.Cert, "db-cert", "", "certificate for an ssl: --db")
	cmd.PersistentFlags().StringVar(&dbTLS.CA, "db-ca", "", "CA certificate for an ssl: --db")
	cmd.PersistentFlags().DurationVar(&dbTimeout, "db-timeout", ovs.DefaultTimeout, "give up on any single wait on OVSDB (connect, a read, a transaction, a port's set-up) after this `DURATION`")
}

// dialFlag connects to the OVSDB the flags name.
func dialFlag(ctx context.Context) (*ovs.Client, error) {
	return dialDB(ctx, orDefault(dbFlag, ovs.DefaultDB))
}

// dialDB connects to db within --db-timeout, showing the wait on a terminal.
func dialDB(ctx context.Context, db string) (*ovs.Client, error) {
	done := progress(ctx, "OVSDB at "+db, dbTimeout)
	defer done()
	return ovs.DialWith(ctx, db, ovs.Options{TLS: dbTLS, Timeout: dbTimeout})
}

// commandContext is cancelled by Ctrl-C or SIGTERM, and after timeout when it is set: the one
// deadline of a whole command, like ovs-vsctl --timeout.
func commandContext(timeout time.Duration) (context.Context, context.CancelFunc) {
	ctx, stop := signalContext()
	if timeout <= 0 {
		return ctx, stop
	}
	tctx, cancel := context.WithTimeout(ctx, timeout)
	return tctx, func() { cancel(); stop() }
}

// overall says so when the command's own --timeout ran out behind err.
func overall(ctx context.Context, timeout time.Duration, err error) error {
	if timeout > 0 && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("gave up after --timeout %v: %w", timeout, err)
	}
	return err
}

// progress shows how long a wait on OVS has lasted, on a terminal only: from the first second
// on, one line on stderr, "waiting for WHAT (3s of 30s)", rewritten every second and cleared
// when the returned function is called. limit is the wait's own bound; an earlier deadline of
// ctx is shown instead.
func progress(ctx context.Context, what string, limit time.Duration) func() {
	if !isTerminal(os.Stderr) {
		return func() {}
	}
	if d, ok := ctx.Deadline(); ok && time.Until(d) < limit {
		limit = time.Until(d)
	}
	start := time.Now()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		shown := false
		for {
			select {
			case <-stop:
				if shown {
					fmt.Fprint(os.Stderr, "\r\033[K")
				}
				return
			case <-t.C:
				shown = true
				fmt.Fprintf(os.Stderr, "\r\033[Kwaiting for %s (%ds of %s)", what, int(time.Since(start).Round(time.Second).Seconds()), limit.Round(time.Second))
			}
		}
	}()
	return func() {
		close(stop)
		wg.Wait()
	}
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
