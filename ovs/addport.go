package ovs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dpdk-doctor/dpdk-doctor/check"
)

// Errors AddPortChecked wraps, so that a caller can tell them apart.
var (
	// ErrPreflight: the preflight says the port cannot work, and Force was not given.
	ErrPreflight = errors.New("preflight refused")
	// ErrNotWorking: the port was added but OVS reports an error on it (see AddResult.Explained).
	ErrNotWorking = errors.New("port does not work")
)

// TargetError is AddPortChecked's error when the bridge or port named does not fit the
// database (no such bridge, the port exists already): bad input.
type TargetError struct{ Err error }

func (e *TargetError) Error() string { return e.Err.Error() }
func (e *TargetError) Unwrap() error { return e.Err }

// AddOptions are the choices of an add-port run.
type AddOptions struct {
	Force bool // add the port even when the preflight says it cannot work
	// Progress, when set, is called before each wait with what is awaited and its limit; the
	// function it returns is called when the wait ends.
	Progress func(what string, limit time.Duration) (done func())
}

// AddResult is what an add-port run did and saw.
type AddResult struct {
	Preflight *Explanation  // why the port cannot work, by the host's verdict; nil when nothing stops it
	Forced    bool          // added despite Preflight
	Added     bool          // the transaction committed
	OFPort    int           // the port's OpenFlow port, once working
	Elapsed   time.Duration // from the commit to ovs-vswitchd's answer
	Error     string        // OVS's error on the Interface, "" when it works
	Explained *Explanation  // Error traced to its cause, joined with the device's verdict
}

// AddPortChecked adds a DPDK port the way an operator should: read the database, check the
// target, run the preflight against the host's verdict (f), add the port, wait for
// ovs-vswitchd's answer and explain an error from the verdict. It returns a *TargetError for a
// target that does not fit, wraps ErrPreflight or ErrNotWorking where those apply, and returns what it did in every case.
func AddPortChecked(ctx context.Context, c *Client, f *check.Facts, req PortRequest, o AddOptions) (*AddResult, error) {
	res := &AddResult{}
	progress := o.Progress
	if progress == nil {
		progress = func(string, time.Duration) func() { return func() {} }
	}
	st, err := c.Read(ctx)
	if err != nil {
		return res, err
	}
	if err := req.Target(st); err != nil {
		return res, &TargetError{err}
	}
	if e := Preflight(st, req.Devargs, f); e != nil {
		res.Preflight = e
		if !o.Force {
			return res, fmt.Errorf("%w: not adding %s (use --force to try anyway)", ErrPreflight, req.Port)
		}
		res.Forced = true
	}
	done := progress("OVSDB to add "+req.Port, c.Timeout())
	err = c.AddPort(ctx, req.Bridge, req.Port, req.Type, map[string]string{"dpdk-devargs": req.Devargs}, nil)
	done()
	if err != nil {
		return res, err
	}
	res.Added = true
	start := time.Now()
	done = progress("ovs-vswitchd to add "+req.Port, c.Timeout())
	out, err := c.WaitPort(ctx, req.Port, nil)
	done()
	res.Elapsed = time.Since(start)
	if err != nil {
		return res, fmt.Errorf("added %s to %s, but: %w", req.Port, req.Bridge, err)
	}
	if out.Error == "" {
		res.OFPort = out.OFPort
		return res, nil
	}
	res.Error = out.Error
	st, _ = c.Read(ctx)
	var br *Bridge
	if st != nil {
		for i := range st.Bridges {
			if st.Bridges[i].Name == req.Bridge {
				br = &st.Bridges[i]
			}
		}
	}
	res.Explained = Explain(st, br, &Interface{Name: req.Port, Type: req.Type, Options: map[string]string{"dpdk-devargs": req.Devargs}, Error: out.Error}, f)
	return res, fmt.Errorf("%w: %s", ErrNotWorking, req.Port)
}
