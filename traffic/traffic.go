// Package traffic verifies that frames flow through an Open vSwitch bridge: it makes a veth
// pair, adds one end to the bridge as the output of a mirror, captures on the other end, and
// always takes it all down again: on success, error, timeout, and when its caller's context
// ends (Ctrl-C, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE, a closed output). What a killed
// run leaves is tagged, so that Cleanup finds it.
package traffic

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/dpdk-doctor/dpdk-doctor/capture"
	"github.com/dpdk-doctor/dpdk-doctor/ovs"
)

// aliasPrefix marks dpdk-doctor's veths (IFLA_IFALIAS): "dpdk-doctor traffic pid=N".
const aliasPrefix = "dpdk-doctor traffic pid="

// Options describe one verification.
type Options struct {
	Bridge     string
	Count      int           // stop after this many frames (0: no limit)
	Timeout    time.Duration // stop after this long (0: no limit)
	Filter     *capture.Filter
	Write      string    // a pcap file to write, "" for none
	Pcap       io.Writer // or a stream to write pcap to (standard output for `-w -`)
	SelectPort []string  // mirror only these ports
	VLAN       []int     // mirror only these VLANs
	// Out takes one line per frame (nil: none). When it has a Flush method (a bufio.Writer),
	// Run flushes it after every line if LineBuffered, whenever the capture is idle, and at
	// the end, before the teardown.
	Out          io.Writer
	LineBuffered bool
	Log          io.Writer // progress and the setup/teardown timings
	// Leftovers of dead runs (their pid gone) found at the start are removed when
	// CleanupStale, else reported with CleanupHint, the command that removes them.
	CleanupStale bool
	CleanupHint  string
	Ready        func() // called once capturing (tests use it to start sending)
}

// Result is what a run saw and how long its setup and teardown took.
type Result struct {
	Summary  capture.Summary
	Started  bool // the capture ran (false: an error came first; there is nothing to report)
	Setup    time.Duration
	Teardown time.Duration
	TimedOut bool
}

// ErrOutputClosed ends a run whose output went away (EPIPE: the reader of a pipe exited, as
// `| head` does). Everything was torn down; the caller exits quietly.
var ErrOutputClosed = errors.New("output closed")

// InputError is an error in what the run was asked to do (a bridge that does not exist, a
// pcap path that cannot be written), found before anything was made.
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

func outErr(err error) error {
	if errors.Is(err, syscall.EPIPE) {
		return fmt.Errorf("%w: %w", ErrOutputClosed, err)
	}
	return err
}

// Run carries out one verification against the OVS behind c. ctx ending (Ctrl-C, SIGTERM,
// SIGHUP, ...) stops the capture; the teardown then runs on a fresh context, whatever
// happened. The output file is opened and the bridge checked before anything is made.
func Run(ctx context.Context, c *ovs.Client, o Options) (res Result, err error) {
	if o.Log == nil {
		o.Log = io.Discard
	}
	if err := ovs.ValidName("bridge", o.Bridge); err != nil {
		return res, &InputError{err}
	}
	start := time.Now()
	var pw *capture.PcapWriter
	switch {
	case o.Write != "":
		if pw, err = capture.OpenPcap(o.Write); err != nil {
			return res, &InputError{err}
		}
	case o.Pcap != nil:
		pw = capture.NewPcapStream(o.Pcap)
	}
	flusher, _ := o.Out.(interface{ Flush() error })
	flush := func() error {
		if flusher == nil {
			return nil
		}
		return outErr(flusher.Flush())
	}
	var undo []func() error
	defer func() {
		if e := flush(); e != nil && err == nil {
			err = e
		}
		t := time.Now()
		var errs []error
		for i := len(undo) - 1; i >= 0; i-- {
			if e := undo[i](); e != nil {
				errs = append(errs, e)
			}
		}
		res.Teardown = time.Since(t)
		if len(errs) > 0 {
			err = errors.Join(err, fmt.Errorf("teardown incomplete (run `dpdk-doctor cleanup`): %w", errors.Join(errs...)))
		}
		if pw != nil && !res.Started {
			pw.Abandon()
		} else if pw != nil {
			if e := outErr(pw.Close()); e != nil && err == nil {
				err = e
			}
		}
	}()

	names, err := c.BridgeNamesSorted(ctx)
	if err != nil {
		return res, err
	}
	if !slices.Contains(names, o.Bridge) {
		if len(names) == 0 {
			return res, &InputError{fmt.Errorf("no bridge named %s: this OVS has no bridges", o.Bridge)}
		}
		return res, &InputError{fmt.Errorf("no bridge named %s (bridges: %s)", o.Bridge, strings.Join(names, ", "))}
	}
	if err := stale(ctx, c, o); err != nil {
		return res, err
	}

	capEnd, brEnd, err := newVeth()
	if err != nil {
		return res, err
	}
	undo = append(undo, func() error { return deleteLink(brEnd) })
	src, err := capture.Open(capEnd, o.Filter)
	if err != nil {
		return res, err
	}
	undo = append(undo, func() error { src.Close(); return nil })
	src.SetIdle(flush)

	tags := map[string]string{ovs.TagOwner: ovs.OwnerTraffic, ovs.TagPID: strconv.Itoa(os.Getpid()), ovs.TagPeer: capEnd}
	portU, mirU, err := c.AddMirror(ctx, ovs.MirrorSpec{Bridge: o.Bridge, Port: brEnd, Mirror: "dpdk-doctor-" + brEnd,
		SelectPort: o.SelectPort, SelectVLAN: o.VLAN, Tags: tags})
	if err != nil {
		return res, err
	}
	undo = append(undo, func() error {
		tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		return c.RemoveMirror(tctx, o.Bridge, portU, mirU)
	})
	// The mirror delivers nothing until ovs-vswitchd has opened the port.
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	err = c.WaitFor(wctx, func() (bool, error) {
		n, e, err := c.OFPort(wctx, brEnd)
		if e != "" {
			return false, fmt.Errorf("OVS could not add the capture port %s: %s", brEnd, e)
		}
		return n > 0, err
	})
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		return res, fmt.Errorf("waiting for OVS to open the capture port: %w", err)
	}
	if pw != nil {
		if err := pw.Start(); err != nil {
			return res, outErr(err)
		}
	}
	res.Started = true
	res.Setup = time.Since(start)
	fmt.Fprintf(o.Log, "capturing on %s, mirrored from bridge %s (setup %v); filter %q\n", capEnd, o.Bridge, res.Setup.Round(time.Millisecond), filterText(o.Filter))
	if o.Ready != nil {
		o.Ready()
	}
	cctx := ctx
	if o.Timeout > 0 {
		var cancel context.CancelFunc
		cctx, cancel = context.WithTimeout(ctx, o.Timeout)
		defer cancel()
	}
	defer func() { res.Summary.KernelSeen, res.Summary.KernelDrops, _ = src.Stats() }()
	for o.Count == 0 || res.Summary.Packets < o.Count {
		p, err := src.Next(cctx)
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
				res.TimedOut = true
				break
			}
			if ctx.Err() != nil {
				return res, ctx.Err()
			}
			return res, err
		}
		res.Summary.Add(p)
		if o.Out != nil {
			if _, err := fmt.Fprintf(o.Out, "%s %s\n", capture.Timestamp(p.Time), capture.Line(p.Data, p.WireLen)); err != nil {
				return res, outErr(err)
			}
			if o.LineBuffered {
				if err := flush(); err != nil {
					return res, err
				}
			}
		}
		if pw != nil {
			if err := pw.Write(p); err != nil {
				return res, outErr(err)
			}
		}
	}
	return res, nil
}

// stale finds what dead runs left (their pid gone) and removes it (CleanupStale) or says how.
// A live run's leftovers are its own business.
func stale(ctx context.Context, c *ovs.Client, o Options) error {
	rows, err := c.Leftovers(ctx)
	if err != nil {
		return err
	}
	links, err := LeftoverLinks()
	if err != nil {
		return err
	}
	var deadRows []ovs.Leftover
	var deadLinks []LeftoverLink
	var what []string
	for _, r := range rows {
		if !r.Alive {
			deadRows = append(deadRows, r)
			what = append(what, fmt.Sprintf("%s %s on bridge %s (run %d)", r.Kind, r.Name, r.Bridge, r.PID))
		}
	}
	for _, l := range links {
		if !l.Alive {
			deadLinks = append(deadLinks, l)
			what = append(what, fmt.Sprintf("veth %s (run %d)", l.Name, l.PID))
		}
	}
	if len(what) == 0 {
		return nil
	}
	if !o.CleanupStale {
		hint := o.CleanupHint
		if hint == "" {
			hint = "dpdk-doctor cleanup"
		}
		fmt.Fprintf(o.Log, "found what earlier traffic runs left (they are gone): %s; remove it with: %s (or run traffic with --cleanup-stale)\n", strings.Join(what, ", "), hint)
		return nil
	}
	if len(deadRows) > 0 {
		if err := c.RemoveLeftovers(ctx, deadRows); err != nil {
			return fmt.Errorf("removing what earlier runs left: %w", err)
		}
	}
	if err := DeleteLinks(deadLinks); err != nil {
		return fmt.Errorf("removing what earlier runs left: %w", err)
	}
	fmt.Fprintf(o.Log, "removed what earlier traffic runs left: %s\n", strings.Join(what, ", "))
	return nil
}

func filterText(f *capture.Filter) string {
	if f == nil {
		return ""
	}
	return f.Text
}

// newVeth makes a veth pair with fresh names, IPv6 off and both ends up. The names are
// "ddc" (capture end) and "ddb" (bridge end) and a random suffix, and the alias marks them.
func newVeth() (capEnd, brEnd string, err error) {
	for range 8 {
		b := make([]byte, 4)
		rand.Read(b)
		sfx := hex.EncodeToString(b)
		capEnd, brEnd = "ddc"+sfx, "ddb"+sfx
		if _, err := netlink.LinkByName(capEnd); err == nil {
			continue
		}
		if _, err := netlink.LinkByName(brEnd); err == nil {
			continue
		}
		break
	}
	la := netlink.NewLinkAttrs()
	la.Name = brEnd
	if err := netlink.LinkAdd(&netlink.Veth{LinkAttrs: la, PeerName: capEnd}); err != nil {
		return "", "", fmt.Errorf("creating veth pair %s/%s: %w", brEnd, capEnd, err)
	}
	for _, n := range []string{brEnd, capEnd} {
		l, err := netlink.LinkByName(n)
		if err == nil {
			err = netlink.LinkSetAlias(l, aliasPrefix+strconv.Itoa(os.Getpid()))
		}
		if err == nil {
			// No IPv6 on the capture path: the kernel's own solicitations would show in captures.
			err = os.WriteFile("/proc/sys/net/ipv6/conf/"+n+"/disable_ipv6", []byte("1"), 0o644)
			if errors.Is(err, os.ErrNotExist) {
				err = nil // IPv6 not built in
			}
		}
		if err == nil {
			err = netlink.LinkSetUp(l)
		}
		if err != nil {
			deleteLink(brEnd)
			return "", "", fmt.Errorf("setting up %s: %w", n, err)
		}
	}
	return capEnd, brEnd, nil
}

func deleteLink(name string) error {
	l, err := netlink.LinkByName(name)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil
		}
		return err
	}
	return netlink.LinkDel(l)
}

// LeftoverLink is a veth a killed run left.
type LeftoverLink struct {
	Name  string
	PID   int
	Alive bool
}

// linkName is the name newVeth gives: ddc (capture end) or ddb (bridge end) and 8 hex digits
// (compiled on first use).
var linkName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^dd[cb][0-9a-f]{8}$`) })

// LeftoverLinks lists the links `traffic` made and did not remove: only those with its name
// pattern, of type veth, whose alias marks them as its own. Anything else, even a link with a
// name like ours, is not ours to delete.
func LeftoverLinks() ([]LeftoverLink, error) {
	links, err := netlink.LinkList()
	if err != nil {
		return nil, err
	}
	var out []LeftoverLink
	for _, l := range links {
		a := l.Attrs()
		pidStr, ok := strings.CutPrefix(a.Alias, aliasPrefix)
		pid, err := strconv.Atoi(pidStr)
		if !ok || err != nil || pid <= 0 || !linkName().MatchString(a.Name) || l.Type() != "veth" {
			continue
		}
		out = append(out, LeftoverLink{Name: a.Name, PID: pid, Alive: ovs.ProcessAlive(pid)})
	}
	return out, nil
}

// DeleteLinks removes veths (deleting one end removes its peer).
func DeleteLinks(ls []LeftoverLink) error {
	var errs []error
	for _, l := range ls {
		if err := deleteLink(l.Name); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", l.Name, err))
		}
	}
	return errors.Join(errs...)
}
