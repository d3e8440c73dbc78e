package lab

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/dpdk-doctor/dpdk-doctor/check"
	"github.com/dpdk-doctor/dpdk-doctor/fix"
	"github.com/dpdk-doctor/dpdk-doctor/host"
	"github.com/dpdk-doctor/dpdk-doctor/internal/agree"
	"github.com/dpdk-doctor/dpdk-doctor/ovs"
	"github.com/dpdk-doctor/dpdk-doctor/pci"
)

// The guest's steps that let the lab ask every reader of the verdict (internal/agree) about the
// scenario's kernel without another boot: a capture of the guest's host facts taken right after
// `check` (before the probe, so both judge the same kernel state), and the readers' own commands
// on each probed device, dry runs only.
const (
	captureSection = "capture"  // `dpdk-doctor capture` of the live guest, as a gzip tar on stdout
	ovsSection     = "ovs-show" // `ovs show --json` on that tree, which carries OVSSnapshot
	guestCapture   = "/tmp/cap"
	guestState     = "/tmp/fix-state" // fix's state directory in the guest (dry runs write nothing there)
	readersStart   = "readers-start"  // the guest's uptime before the reader steps
	readersEnd     = "readers-end"    // and after them
)

func fixRMRRSection(dev string) string { return "fix-rmrr-" + dev }
func fixBindSection(dev string) string { return "fix-bind-" + dev }

// readerSteps adds the steps behind Scenario.Readers to sc.
func readerSteps(sc *Script, devs []string) {
	sc.Step(readersStart, "cat /proc/uptime")
	sc.Step(captureSection, "sh -c 'dpdk-doctor capture "+guestCapture+" && tar -C "+guestCapture+" -czf - .'")
	for _, d := range devs {
		sc.Step(fixRMRRSection(d), "dpdk-doctor fix rmrr "+d+" --state-dir "+guestState)
		sc.Step(fixBindSection(d), "dpdk-doctor fix bind "+d+" --state-dir "+guestState)
	}
	// The guest has no OVS: the OVS reader explains the failing dpdk ports of OVSSnapshot, which
	// the initramfs holds where capture finds a tree's OVS snapshot, on the tree just captured.
	sc.Step(ovsSection, "dpdk-doctor ovs show --json --root "+guestCapture)
	sc.Step(readersEnd, "cat /proc/uptime")
}

// ReadersTime is how long the reader steps took in the guest (its uptime before and after
// them), 0 when the boot did not say.
func ReadersTime(res *Result) time.Duration {
	up := func(name string) float64 {
		f := strings.Fields(string(res.Sections[name].Stdout))
		if len(f) == 0 {
			return 0
		}
		v, _ := strconv.ParseFloat(f[0], 64)
		return v
	}
	a, b := up(readersStart), up(readersEnd)
	if a == 0 || b < a {
		return 0
	}
	return time.Duration((b - a) * float64(time.Second))
}

// OVSSnapshot is the OVS state the guest's initramfs carries (at ovs.SnapshotFile): one bridge
// with a dpdk port on each device whose attach failed, as OVS reports it, for the OVS reader.
func OVSSnapshot(devs []string) (host.File, error) {
	st := &ovs.State{OVSVersion: "3.1.0", DPDKInit: "true", DPDKInitialized: true, DPDKVersion: "DPDK 22.11.1",
		OtherConfig: map[string]string{"dpdk-init": "true"},
		Bridges:     []ovs.Bridge{{Name: "br-lab", DatapathType: "netdev"}}}
	for i, d := range devs {
		in := *agree.FailingPort(d)
		in.Name = fmt.Sprintf("dpdk%d", i)
		st.Bridges[0].Ports = append(st.Bridges[0].Ports, ovs.Port{Name: in.Name, Interfaces: []ovs.Interface{in}})
	}
	return ovs.Snapshot(st)
}

// Agreement is what the readers said in one boot.
type Agreement struct {
	Devices  int      // devices of the captured tree every reader was asked about
	Probed   int      // probed devices whose guest commands were compared
	Problems []string // where a reader departs from the verdict, one sentence each
}

// Readers judges a boot's reader sections: on the tree captured in the guest (unpacked beneath
// dir), every reader is asked about every device with agree.Ask; the guest's own commands
// (check --json, devices --json, fix rmrr, fix bind, ovs show --json) about each probed device
// are read into the same answers. Both are compared with the verdict computed from that tree.
func (s Scenario) Readers(res *Result, dir string) (*Agreement, error) {
	sec, ok := res.Sections[captureSection]
	if !ok || sec.RC != 0 {
		return nil, fmt.Errorf("the guest's capture (rc %d): %s", sec.RC, strings.TrimSpace(string(sec.Stderr)))
	}
	tree := filepath.Join(dir, "tree")
	if err := untar(sec.Stdout, tree); err != nil {
		return nil, fmt.Errorf("the guest's capture: %w", err)
	}
	r, err := host.Dir(tree)
	if err != nil {
		return nil, err
	}
	f, err := check.Gather(r, check.Options{})
	if err != nil {
		return nil, fmt.Errorf("the captured tree: %w", err)
	}
	var all []pci.Address
	for _, d := range f.Devices.List {
		all = append(all, d.Address)
	}
	if f, err = check.Gather(r, check.Options{Devices: all}); err != nil {
		return nil, fmt.Errorf("the captured tree: %w", err)
	}
	ag := &Agreement{}
	for i, d := range f.Devices.List {
		state := filepath.Join(dir, fmt.Sprintf("state%d", i))
		for _, p := range agree.Disagreements(f.Judged(d), agree.Ask(f, d, state)) {
			ag.Problems = append(ag.Problems, fmt.Sprintf("captured tree, %s: %s", d.Address, p))
		}
		ag.Devices++
	}
	guest, err := s.guestAnswers(res)
	if err != nil {
		return nil, err
	}
	for _, dev := range s.probed() {
		a, err := pci.ParseAddress(dev)
		if err != nil {
			return nil, err
		}
		d := f.Devices.Get(a)
		if d == nil {
			ag.Problems = append(ag.Problems, fmt.Sprintf("guest's commands, %s: not in the captured tree", dev))
			continue
		}
		for _, p := range agree.Disagreements(f.Judged(d), guest[dev]) {
			ag.Problems = append(ag.Problems, fmt.Sprintf("guest's commands, %s: %s", dev, p))
		}
		ag.Probed++
	}
	return ag, nil
}

// guestAnswers reads what the guest's commands said about each probed device.
func (s Scenario) guestAnswers(res *Result) (map[string]agree.Answers, error) {
	var rep struct{ Findings []check.Finding }
	if err := json.Unmarshal(res.Sections["check"].Stdout, &rep); err != nil {
		return nil, fmt.Errorf("check --json: %w", err)
	}
	var rows []check.DeviceRow
	if err := json.Unmarshal(res.Sections["devices"].Stdout, &rows); err != nil {
		return nil, fmt.Errorf("devices --json: %w", err)
	}
	var show ovs.Show
	if sec := res.Sections[ovsSection]; sec.RC != 0 {
		return nil, fmt.Errorf("ovs show --json (rc %d): %s", sec.RC, strings.TrimSpace(string(sec.Stderr)))
	} else if err := json.Unmarshal(sec.Stdout, &show); err != nil {
		return nil, fmt.Errorf("ovs show --json: %w", err)
	}
	out := map[string]agree.Answers{}
	for _, dev := range s.probed() {
		var ans agree.Answers
		agree.FromFindings(&ans, rep.Findings, dev)
		for _, r := range rows {
			if r.Address == dev {
				ans.Row = r.RMRR
			}
		}
		for _, b := range show.Bridges {
			for _, p := range b.Ports {
				for _, i := range p.Interfaces {
					if i.Options["dpdk-devargs"] == dev {
						agree.FromExplanation(&ans, i.Explanation)
					}
				}
			}
		}
		sec, ok := res.Sections[fixRMRRSection(dev)]
		if !ok {
			return nil, fmt.Errorf("no %s section", fixRMRRSection(dev))
		}
		ans.Fix, ans.FixSkipped = fixRMRRAnswer(dev, sec)
		if sec, ok = res.Sections[fixBindSection(dev)]; !ok {
			return nil, fmt.Errorf("no %s section", fixBindSection(dev))
		}
		ans.Bind, ans.BindAsked = commandError(sec), true
		out[dev] = ans
	}
	return out, nil
}

// fixRMRRAnswer reads `fix rmrr DEV`'s dry run: "nothing to fix for DEV" (exit 0), a plan
// (exit 0), or its error (exit 1), carrying fix's sentinel when the message holds its text.
func fixRMRRAnswer(dev string, sec Section) (error, bool) {
	if sec.RC == 0 {
		return nil, strings.Contains(string(sec.Stdout), "nothing to fix for "+dev)
	}
	err := commandError(sec)
	for _, e := range []error{fix.ErrCannotTell, fix.ErrNotApplicable, fix.ErrNoDevice} {
		if strings.Contains(err.Error(), e.Error()) {
			return fmt.Errorf("%w (%v)", e, err), false
		}
	}
	return err, false
}

// commandError is nil for a command that exited 0, else its exit status and standard error.
func commandError(sec Section) error {
	if sec.RC == 0 {
		return nil
	}
	return fmt.Errorf("exit %d: %s", sec.RC, strings.TrimSpace(string(sec.Stderr)))
}

// untar unpacks a gzip tar (a capture) into the new directory dir: directories, regular files
// and symbolic links (sysfs's), each beneath dir; anything else is refused.
func untar(b []byte, dir string) error {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return err
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		return err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		name := filepath.Clean(h.Name)
		if name == "." {
			continue
		}
		if !filepath.IsLocal(name) {
			return fmt.Errorf("%q: not a path inside the tree", h.Name)
		}
		if d := filepath.Dir(name); d != "." {
			if err := root.MkdirAll(d, 0o755); err != nil {
				return err
			}
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := root.MkdirAll(name, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			data, err := io.ReadAll(io.LimitReader(tr, 64<<20))
			if err != nil {
				return err
			}
			if err := root.WriteFile(name, data, 0o644); err != nil {
				return err
			}
		case tar.TypeSymlink:
			if err := root.Symlink(h.Linkname, name); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%q: type %q is not a file, directory or link", h.Name, h.Typeflag)
		}
	}
}
