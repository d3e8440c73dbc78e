// Package traffic verifies that frames flow through an Open vSwitch bridge: it makes a veth
// pair, adds one end to the bridge as the output of a mirror, captures on the other end, and
// always takes it all down again: on success, error, timeout, Ctrl-C and SIGTERM. What a killed
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
	"strconv"
	"strings"
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
	Write      string   // a pcap file to write, "" for none
	SelectPort []string // mirror only these ports
	VLAN       []int    // mirror only these VLANs
	Out        io.Writer
	Log        io.Writer // progress and the setup/teardown timings
	Ready      func()    // called once capturing (tests use it to start sending)
}

// Result is what a run saw and how long its setup and teardown took.
type Result struct {
	Summary  capture.Summary
	Setup    time.Duration
	Teardown time.Duration
	TimedOut bool
}

// Run carries out one verification against the OVS behind c. ctx ending (Ctrl-C, SIGTERM)
// stops the capture; the teardown then runs on a fresh context, whatever happened.
func Run(ctx context.Context, c *ovs.Client, o Options) (res Result, err error) {
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if err := ovs.ValidName("bridge", o.Bridge); err != nil {
		return res, err
	}
	start := time.Now()
	var undo []func() error
	defer func() {
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
	}()

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

	tags := map[string]string{ovs.TagOwner: "traffic", ovs.TagPID: strconv.Itoa(os.Getpid()), ovs.TagPeer: capEnd}
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
		return res, fmt.Errorf("waiting for OVS to open the capture port: %w", err)
	}
	var pw *capture.PcapWriter
	if o.Write != "" {
		if pw, err = capture.CreatePcap(o.Write); err != nil {
			return res, err
		}
		undo = append(undo, pw.Close)
	}
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
	for o.Count == 0 || res.Summary.Packets < o.Count {
		p, err := src.Next(cctx)
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
				res.TimedOut = true
				break
			}
			if ctx.Err() != nil {
				res.Summary.KernelSeen, res.Summary.KernelDrops, _ = src.Stats()
				return res, ctx.Err()
			}
			return res, err
		}
		res.Summary.Add(p)
		fmt.Fprintf(o.Out, "%s %s\n", capture.Timestamp(p.Time), capture.Line(p.Data, p.WireLen))
		if pw != nil {
			if err := pw.Write(p); err != nil {
				return res, fmt.Errorf("writing %s: %w", o.Write, err)
			}
		}
	}
	res.Summary.KernelSeen, res.Summary.KernelDrops, _ = src.Stats()
	return res, nil
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

// LeftoverLinks lists the veths whose alias marks them as dpdk-doctor's.
func LeftoverLinks() ([]LeftoverLink, error) {
	links, err := netlink.LinkList()
	if err != nil {
		return nil, err
	}
	var out []LeftoverLink
	for _, l := range links {
		a := l.Attrs()
		if pidStr, ok := strings.CutPrefix(a.Alias, aliasPrefix); ok {
			pid, _ := strconv.Atoi(pidStr)
			out = append(out, LeftoverLink{Name: a.Name, PID: pid, Alive: ovs.ProcessAlive(pid)})
		}
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
