package ansiblemod

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/dpdk-doctor/dpdk-doctor/check"
	"github.com/dpdk-doctor/dpdk-doctor/conrep"
	"github.com/dpdk-doctor/dpdk-doctor/fix"
	"github.com/dpdk-doctor/dpdk-doctor/fleet"
	"github.com/dpdk-doctor/dpdk-doctor/host"
	"github.com/dpdk-doctor/dpdk-doctor/pci"
	"github.com/dpdk-doctor/dpdk-doctor/platform"
)

// Options are what the command gives the modules.
type Options struct {
	// Self is the dpdk-doctor binary: the check module runs `Self check --json` so that its
	// facts are exactly the command's document.
	Self string
	// TreeIsThisHost lets fix_rmrr apply on a root tree (test builds only, like the command's
	// --root --apply): the tree then stands for the machine the conrep double plays.
	TreeIsThisHost bool
}

// Run runs the module the args file (or, failing that, argv0Module) names and writes its
// result to w. It returns the exit status: 0, or 1 when the result says failed.
func Run(ctx context.Context, w io.Writer, argsFile, argv0Module string, o Options) int {
	r := run(ctx, argsFile, argv0Module, o)
	if err := Write(w, r); err != nil || r.Failed {
		return 1
	}
	return 0
}

func run(ctx context.Context, argsFile, argv0Module string, o Options) Result {
	a, err := ReadArgs(argsFile)
	if err != nil {
		return Result{Failed: true, Msg: err.Error()}
	}
	if a.Module == "" {
		a.Module = argv0Module
	}
	var r Result
	switch a.Module {
	case "check":
		r, err = checkModule(ctx, a, o)
	case "fix_rmrr":
		r, err = fixRMRRModule(ctx, a, o)
	case "fleet_report":
		r, err = fleetReportModule(a)
	default:
		err = fmt.Errorf("dpdk-doctor has no Ansible module %q (it has: %s)", a.Module, strings.Join(Names, ", "))
	}
	if err != nil {
		return Result{Failed: true, Msg: err.Error(), Changed: r.Changed, Extra: r.Extra}
	}
	return r
}

// checkModule runs the check and returns its document as the dpdk_doctor fact, with the
// platform (dpdk_doctor_platform) and the device rows (dpdk_doctor_devices). It changes
// nothing, so it runs the same in check mode. Findings fail the task only when fail_on says so.
func checkModule(ctx context.Context, a *Args, o Options) (Result, error) {
	var p struct {
		Root    string
		Devices []string
		FailOn  string
	}
	p.FailOn = "never"
	if err := a.decode(map[string]any{"root": &p.Root, "devices": &p.Devices, "fail_on": &p.FailOn}); err != nil {
		return Result{}, err
	}
	switch p.FailOn {
	case "never", "fail", "warn":
	default:
		return Result{}, fmt.Errorf("%w: fail_on %q: want never, fail or warn", errParam, p.FailOn)
	}
	var common []string
	if p.Root != "" {
		common = append(common, "--root", p.Root)
	}
	args := append([]string{"check", "--json"}, common...)
	if len(p.Devices) > 0 {
		args = append(args, "--device", strings.Join(p.Devices, ","))
	}
	var doc map[string]any
	if err := o.runSelf(ctx, &doc, args, 0, 1); err != nil {
		return Result{}, err
	}
	var rows []any
	if err := o.runSelf(ctx, &rows, append([]string{"devices", "--json"}, common...), 0); err != nil {
		return Result{}, err
	}
	r := host.Live()
	if p.Root != "" {
		var err error
		if r, err = host.Dir(p.Root); err != nil {
			return Result{}, err
		}
	}
	pl := platform.Read(r)
	counts := func(k string) int {
		m, _ := doc["counts"].(map[string]any)
		n, _ := m[k].(float64)
		return int(n)
	}
	res := Result{
		Msg: fmt.Sprintf("%d fail, %d warn, %d ok", counts("fail"), counts("warn"), counts("ok")),
		Facts: map[string]any{
			"dpdk_doctor": doc,
			"dpdk_doctor_platform": map[string]string{
				"sys_vendor": pl.SysVendor, "vendor": pl.Vendor, "product": pl.Product, "bios_vendor": pl.BIOSVendor,
				"bios_version": pl.BIOSVersion, "bios_date": pl.BIOSDate, "hypervisor": pl.Hypervisor,
			},
			"dpdk_doctor_devices": rows,
		},
	}
	if counts("fail") > 0 && p.FailOn != "never" || counts("warn") > 0 && p.FailOn == "warn" {
		res.Failed = true
		res.Msg = "the check found problems (fail_on: " + p.FailOn + "): " + res.Msg
	}
	return res, nil
}

// runSelf runs the dpdk-doctor binary with args and decodes its stdout into v; an exit status
// not in ok is an error carrying what it said on stderr.
func (o Options) runSelf(ctx context.Context, v any, args []string, ok ...int) error {
	self := o.Self
	if self == "" {
		var err error
		if self, err = os.Executable(); err != nil {
			return err
		}
	}
	cmd := exec.CommandContext(ctx, self, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		return fmt.Errorf("running dpdk-doctor %s: %w", strings.Join(args, " "), err)
	}
	good := false
	for _, c := range ok {
		good = good || c == code
	}
	if !good {
		return fmt.Errorf("dpdk-doctor %s: exit status %d: %s", strings.Join(args, " "), code, strings.TrimSpace(errb.String()))
	}
	if err := json.Unmarshal(out.Bytes(), v); err != nil {
		return fmt.Errorf("dpdk-doctor %s: its output is not JSON: %w", strings.Join(args, " "), err)
	}
	return nil
}

// fixRMRRModule excludes the devices' physical slots from the RMRRs with conrep (fix.PlanRMRR
// and Apply). In check mode it only plans, and reads the current settings with `conrep -s`
// (which changes nothing) to say whether anything would change. changed is true only when a
// slot is not excluded yet (or an interrupted run is pending): a rerun after applying, before
// or after the reboot, reports changed=false.
func fixRMRRModule(ctx context.Context, a *Args, o Options) (Result, error) {
	var p struct {
		Root, Conrep, XML, StateDir string
		Devices                     []string
	}
	err := a.decode(map[string]any{"root": &p.Root, "devices": &p.Devices, "conrep": &p.Conrep, "xml": &p.XML, "state_dir": &p.StateDir})
	if err != nil {
		return Result{}, err
	}
	if len(p.Devices) == 0 {
		return Result{}, fmt.Errorf("%w: devices: name at least one PCI device (e.g. 0000:03:00.0)", errParam)
	}
	r := host.Live()
	if p.Root != "" {
		if !a.CheckMode && !o.TreeIsThisHost {
			return Result{}, fmt.Errorf("refusing to change the firmware's RMRR settings with root %s: the tree describes another machine, and conrep would change this one (drop root to act on this host, or run in check mode for a dry run)", p.Root)
		}
		if r, err = host.Dir(p.Root); err != nil {
			return Result{}, err
		}
	}
	var addrs []pci.Address
	for _, d := range p.Devices {
		ad, err := pci.ParseAddress(d)
		if err != nil {
			return Result{}, fmt.Errorf("%w: devices: %v", errParam, err)
		}
		addrs = append(addrs, ad)
	}
	f, err := check.Gather(r, check.Options{Devices: addrs})
	if err != nil {
		return Result{}, err
	}
	var out bytes.Buffer
	plan, err := fix.PlanRMRR(f, fix.RMRROptions{Devices: addrs, Conrep: p.Conrep, XML: p.XML, StateDir: p.StateDir, Out: &out})
	if err != nil {
		return Result{}, err
	}
	res := Result{Extra: map[string]any{"slots": plan.Slots, "skipped": plan.Skipped, "notes": plan.Notes, "platform": plan.Platform}}
	if len(plan.Slots) == 0 && plan.Pending == nil {
		res.Msg = "nothing to do"
		if len(plan.Skipped) > 0 {
			res.Msg = strings.Join(plan.Skipped, "; ")
		}
		return res, nil
	}
	cur, err := currentSettings(ctx, plan.Runner, plan.Platform)
	if err != nil {
		return res, err
	}
	var before, after strings.Builder
	var todo []string
	for _, s := range plan.Slots {
		sec := conrep.SlotSection(s)
		v, _ := cur.Get(sec)
		fmt.Fprintf(&before, "%s = %s\n", sec, v)
		fmt.Fprintf(&after, "%s = %s\n", sec, conrep.Excluded)
		if v != conrep.Excluded {
			todo = append(todo, s)
		}
	}
	if a.Diff {
		res.Diff = &Diff{Before: before.String(), After: after.String(), BeforeHeader: "conrep RMRDS (firmware NVRAM)", AfterHeader: "conrep RMRDS (firmware NVRAM)"}
	}
	if len(todo) == 0 && plan.Pending == nil {
		res.Diff = nil
		res.Msg = fmt.Sprintf("slot(s) %s already read %s: nothing to change (the RMRRs go away at the next reboot, if there has been none since)", strings.Join(plan.Slots, ", "), conrep.Excluded)
		res.Extra["reboot_required"] = true
		return res, nil
	}
	res.Changed = true
	res.Extra["reboot_required"] = true
	if a.CheckMode {
		plan.Print()
		res.Msg = fmt.Sprintf("would exclude slot(s) %s from the RMRRs (check mode: nothing changed)", strings.Join(todo, ", "))
		res.Extra["output"] = strings.Split(strings.TrimSpace(out.String()), "\n")
		return res, nil
	}
	if err := plan.Apply(ctx); err != nil {
		res.Extra["output"] = strings.Split(strings.TrimSpace(out.String()), "\n")
		return res, fmt.Errorf("fix rmrr: %w", err)
	}
	res.Msg = fmt.Sprintf("excluded slot(s) %s from the RMRRs, verified; reboot for it to take effect", strings.Join(todo, ", "))
	res.Extra["output"] = strings.Split(strings.TrimSpace(out.String()), "\n")
	return res, nil
}

// currentSettings reads the firmware's RMRDS settings with `conrep -s` into a temporary
// directory: a read, which changes nothing (not even the state directory).
func currentSettings(ctx context.Context, run conrep.Runner, plat string) (*conrep.Data, error) {
	dir, err := os.MkdirTemp("", "dpdk-doctor-conrep-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	run.Dir = dir
	file := filepath.Join(dir, "current.dat")
	if _, err := run.Save(ctx, file); err != nil {
		return nil, fmt.Errorf("reading the current RMRDS settings: %w", err)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("reading the current RMRDS settings: conrep -s wrote no file: %w", err)
	}
	d, err := conrep.ParseData(b)
	if err != nil {
		return nil, fmt.Errorf("reading the current RMRDS settings: %w", err)
	}
	if plat != "" && d.Platform != "" && d.Platform != plat {
		return nil, fmt.Errorf("conrep's settings are of a %q, but this host is %q", d.Platform, plat)
	}
	return d, nil
}

// fleetReportModule merges the hosts' check facts into one fleet report and writes
// dest/fleet.json and dest/fleet.txt on the machine it runs on (the controller). changed is
// true when a file's content changes; in check mode nothing is written.
func fleetReportModule(a *Args) (Result, error) {
	var p struct {
		Hosts map[string]json.RawMessage
		Dest  string
	}
	if err := a.decode(map[string]any{"hosts": &p.Hosts, "dest": &p.Dest}); err != nil {
		return Result{}, err
	}
	if p.Dest == "" {
		return Result{}, fmt.Errorf("%w: dest: the directory for fleet.json and fleet.txt is required", errParam)
	}
	var names []string
	for n := range p.Hosts {
		names = append(names, n)
	}
	sort.Strings(names)
	var hosts []fleet.Host
	for _, n := range names {
		h, err := fleet.ParseHost(p.Hosts[n], n)
		if err != nil {
			// A host without facts (unreachable, or its check failed) is a row, not an error.
			h = fleet.Host{Error: "no check result (unreachable, or the check failed)"}
		}
		h.Name = n
		hosts = append(hosts, h)
	}
	rep := fleet.Build(hosts)
	var js, txt bytes.Buffer
	if err := rep.WriteJSON(&js); err != nil {
		return Result{}, err
	}
	if err := rep.WriteText(&txt); err != nil {
		return Result{}, err
	}
	res := Result{Extra: map[string]any{"report": rep, "json": filepath.Join(p.Dest, "fleet.json"), "text": filepath.Join(p.Dest, "fleet.txt")}}
	var sentences []string
	for _, g := range rep.Groups {
		sentences = append(sentences, g.Sentence)
	}
	res.Msg = fmt.Sprintf("%d hosts; %s", rep.Hosts, strings.Join(sentences, "; "))
	for _, f := range []struct {
		name string
		b    []byte
	}{{"fleet.json", js.Bytes()}, {"fleet.txt", txt.Bytes()}} {
		path := filepath.Join(p.Dest, f.name)
		old, err := os.ReadFile(path)
		if err == nil && bytes.Equal(old, f.b) {
			continue
		}
		res.Changed = true
		if a.CheckMode {
			continue
		}
		if err := os.MkdirAll(p.Dest, 0o755); err != nil {
			return res, err
		}
		if err := writeFile(path, f.b); err != nil {
			return res, err
		}
	}
	return res, nil
}

// writeFile replaces path atomically: a temporary file in the same directory, renamed.
func writeFile(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Chmod(0o644)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

func sortStrings(s []string) { sort.Strings(s) }
