package fix

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"

	"github.com/dpdk-doctor/dpdk-doctor/host"
)

func init() { register("grubby", undoGrubby) }

// ToolOptions configure `fix cmdline` on a host whose boot entries a tool manages: grubby
// (BootLoaderSpec entries) or kernelstub (Pop!_OS with systemd-boot).
type ToolOptions struct {
	Add     []string  // options to set, each checked by ParseKernelOption
	Remove  []string  // option names to drop
	Program string    // the tool's path
	Root    string    // where the host's files are ("" is /; a test tree otherwise)
	Files   host.Root // what the plan reads them through (see CmdlineOptions.Files)
	Running string    // /proc/cmdline, for Verify
}

// Grubby changes the options of every BootLoaderSpec entry with one run of
// `grubby --update-kernel=ALL [--remove-args=...] [--args=...]`. grubby (the grubby-bls script of
// Fedora and RHEL) also rewrites /etc/kernel/cmdline, which kernel-install copies into the
// entries of kernels installed later, and GRUB_CMDLINE_LINUX in /etc/default/grub when it is
// set. The plan shows every file before and after, computed as grubby computes it.
type Grubby struct {
	o          ToolOptions
	argv, undo []string
	managed    map[string]bool
	files      []grubbyFile
	want       []string // the words every entry has afterwards
}

// grubbyFile is one file grubby changes, with its options before and after.
type grubbyFile struct {
	path          string
	what          string // "options", "GRUB_CMDLINE_LINUX", "" (the whole file)
	before, after string
}

// blsOptions reads the options line of a BootLoaderSpec entry as grubby-bls does
// (get_bls_value: the first line starting "options" and a blank; the rest, its blanks collapsed).
func blsOptions(b []byte) (string, bool) {
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "options ") || strings.HasPrefix(l, "options\t") {
			return strings.Join(strings.Fields(l[len("options"):]), " "), true
		}
	}
	return "", false
}

// grubbyUpdateArgs is grubby-bls's update_args: each of remove goes (NAME=VALUE: that word;
// NAME: every word of that name), then every word named like one of add, then add is appended.
func grubbyUpdateArgs(args string, remove, add []string) string {
	words := strings.Fields(args)
	drop := func(match func(string) bool, all bool) {
		var out []string
		done := false
		for _, w := range words {
			if match(w) && (all || !done) {
				done = true
				continue
			}
			out = append(out, w)
		}
		words = out
	}
	named := func(n string) func(string) bool {
		return func(w string) bool { return w == n || strings.HasPrefix(w, n+"=") }
	}
	for _, r := range remove {
		if strings.Contains(r, "=") {
			drop(func(w string) bool { return w == r }, false)
		} else {
			drop(named(r), true)
		}
	}
	for _, a := range add {
		n, _, _ := strings.Cut(a, "=")
		drop(named(n), true)
	}
	return strings.Join(append(words, add...), " ")
}

// versionLess orders names as sort -V does for kernel versions: runs of digits by value.
func versionLess(a, b string) bool {
	for a != "" && b != "" {
		da, db := digitsPrefix(a), digitsPrefix(b)
		switch {
		case da != "" && db != "":
			na, nb := strings.TrimLeft(da, "0"), strings.TrimLeft(db, "0")
			if len(na) != len(nb) {
				return len(na) < len(nb)
			}
			if na != nb {
				return na < nb
			}
			a, b = a[len(da):], b[len(db):]
		case a[0] != b[0]:
			return a[0] < b[0]
		default:
			a, b = a[1:], b[1:]
		}
	}
	return len(a) < len(b)
}

func digitsPrefix(s string) string {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return s[:i]
}

// PlanGrubby reads the entries, /etc/kernel/cmdline and the grub file, and works out grubby's
// command and what it will change, changing nothing. Every option is checked (ErrBadOption).
func PlanGrubby(o ToolOptions) (*Grubby, error) {
	if err := CheckKernelOptions(o.Add, o.Remove); err != nil {
		return nil, err
	}
	if o.Program == "" {
		o.Program = "grubby"
	}
	dir := rootPath(o.Root, BLSDir)
	paths := confFiles(o.Files, o.Root, BLSDir)
	if len(paths) == 0 {
		return nil, fmt.Errorf("%w: no BootLoaderSpec entries in %s for grubby to change", ErrBadOption, dir)
	}
	// grubby-bls lists the entries with sort -Vr (get_bls_values).
	sort.Slice(paths, func(i, j int) bool {
		return versionLess(strings.TrimSuffix(filepath.Base(paths[j]), ".conf"), strings.TrimSuffix(filepath.Base(paths[i]), ".conf"))
	})
	g := &Grubby{o: o, managed: managedNames(o.Add, o.Remove)}
	var entryOpts []string
	for _, p := range paths {
		b, err := readConfig(o.Files, o.Root, p, 1<<20+1)
		if err != nil {
			return nil, err
		}
		opts, ok := blsOptions(b)
		if !ok {
			return nil, fmt.Errorf("%s: the entry has no options line; grubby would leave it without the new options", p)
		}
		if strings.Contains(" "+opts+" ", " $kernelopts ") {
			return nil, fmt.Errorf("%s: the options come from $kernelopts in grubenv (RHEL 8 style), which dpdk-doctor does not edit; run: %s",
				p, shellJoin(grubbyArgv("grubby", o.Remove, o.Add)))
		}
		entryOpts = append(entryOpts, opts)
	}
	// The reference command line: /etc/kernel/cmdline (its first line, as grubby reads it), else
	// the entry grubby would copy into it (get_bls_args -1: the last in its order).
	kcmd := rootPath(o.Root, KernelCmdlineFile)
	ref, kcmdExists := entryOpts[len(entryOpts)-1], false
	if b, err := readConfig(o.Files, o.Root, kcmd, 1<<20+1); err == nil {
		kcmdExists = true
		ref, _, _ = strings.Cut(string(b), "\n")
	}
	newRef := EditCmdline(ref, o.Add, o.Remove)
	var args []string
	for _, w := range strings.Fields(newRef) {
		if n, _, _ := strings.Cut(w, "="); g.managed[n] {
			args = append(args, w)
		}
	}
	// Every word passed to grubby is checked, the pools it passes back included.
	for _, w := range args {
		if _, _, err := ParseKernelOption(w); err != nil {
			return nil, fmt.Errorf("%s has %q, which would be passed back to grubby with the new options; correct it by hand first: %w", map[bool]string{true: kcmd, false: paths[len(paths)-1]}[kcmdExists], w, err)
		}
	}
	g.want = args
	g.argv = grubbyArgv(o.Program, o.Remove, args)
	// The inverse: the words added go, and the reference's words of the managed names come back
	// (grubby drops every word of a name given in --args before appending it).
	var back []string
	for _, w := range strings.Fields(ref) {
		if n, _, _ := strings.Cut(w, "="); g.managed[n] {
			back = append(back, w)
		}
	}
	g.undo = grubbyArgv(o.Program, args, back)
	for i, p := range paths {
		g.files = append(g.files, grubbyFile{path: p, what: "options", before: entryOpts[i], after: grubbyUpdateArgs(entryOpts[i], o.Remove, args)})
	}
	// update_bls_fragment, for ALL: /etc/kernel/cmdline is made from the last entry when absent.
	g.files = append(g.files, grubbyFile{path: kcmd, before: map[bool]string{true: ref}[kcmdExists], after: grubbyUpdateArgs(ref, o.Remove, args)})
	grubPath := rootPath(o.Root, DefaultGrubFile)
	if b, err := readConfig(o.Files, o.Root, grubPath, 1<<20+1); err == nil {
		gf, err := ParseGrub(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w (grubby rewrites its GRUB_CMDLINE_LINUX too)", grubPath, err)
		}
		if v := gf.Value("GRUB_CMDLINE_LINUX"); v != "" {
			if gf.vars["GRUB_CMDLINE_LINUX_DEFAULT"] != nil {
				// grubby-bls: sed -i -e "s/^GRUB_CMDLINE_LINUX.*/GRUB_CMDLINE_LINUX=\"${opts}\"/"
				return nil, fmt.Errorf("%s sets GRUB_CMDLINE_LINUX_DEFAULT, and grubby's rewrite of GRUB_CMDLINE_LINUX replaces every line that starts so, that one included; move its options into GRUB_CMDLINE_LINUX first", grubPath)
			}
			g.files = append(g.files, grubbyFile{path: grubPath, what: "GRUB_CMDLINE_LINUX", before: v, after: grubbyUpdateArgs(v, o.Remove, args)})
		}
	}
	return g, nil
}

func grubbyArgv(program string, remove, add []string) []string {
	argv := []string{program, "--update-kernel=ALL"}
	if len(remove) > 0 {
		argv = append(argv, "--remove-args="+strings.Join(remove, " "))
	}
	if len(add) > 0 {
		argv = append(argv, "--args="+strings.Join(add, " "))
	}
	return argv
}

// changed reports whether grubby would change anything.
func (g *Grubby) changed() bool {
	for _, f := range g.files {
		if f.before != f.after {
			return true
		}
	}
	return false
}

// Argv is grubby's command line.
func (g *Grubby) Argv() []string { return g.argv }

// Kind is "grubby".
func (g *Grubby) Kind() string { return "grubby" }

// Plan is grubby's command and every file's options before and after.
func (g *Grubby) Plan() []string {
	if !g.changed() {
		return []string{"every BootLoaderSpec entry has these options already; nothing to change"}
	}
	out := []string{"run: " + shellJoin(g.argv)}
	for _, f := range g.files {
		if f.before == f.after {
			continue
		}
		label := f.path
		if f.what != "" {
			label += " (" + f.what + ")"
		}
		before := "  - " + f.before
		if f.before == "" && f.what == "" {
			before = "  - (no such file: grubby makes it from the last entry)"
		}
		out = append(out, label+":", before, "  + "+f.after)
	}
	return append(out, "then: reboot (the new command line takes effect at the next boot)")
}

type grubbySnapshot struct {
	Undo    []string   `json:"undo"`
	Managed []string   `json:"managed"`
	Files   []bootFile `json:"files"`
}

// Snapshot keeps every file grubby may change (the entries, /etc/kernel/cmdline, the grub file)
// and the inverse command.
func (g *Grubby) Snapshot() (json.RawMessage, error) {
	s := grubbySnapshot{Undo: g.undo}
	for n := range g.managed {
		s.Managed = append(s.Managed, n)
	}
	sort.Strings(s.Managed)
	for _, f := range g.files {
		k, err := keepFile(f.path)
		if err != nil {
			return nil, err
		}
		s.Files = append(s.Files, k)
	}
	return boundSnapshot(json.Marshal(s))
}

// Apply runs grubby.
func (g *Grubby) Apply(ctx context.Context, out io.Writer) error {
	if !g.changed() {
		return nil
	}
	if _, err := runTool(ctx, g.argv); err != nil {
		return err
	}
	fmt.Fprintf(out, "  ran %s\n", shellJoin(g.argv))
	return nil
}

// Verify reads every entry back (and /etc/kernel/cmdline, and the grub file's
// GRUB_CMDLINE_LINUX when grubby keeps it): each must have every option and none of the
// removed names. Unless the running kernel has them already, the result is "pending reboot".
func (g *Grubby) Verify(ctx context.Context) (Outcome, error) {
	check := func(where, opts string) error {
		have := map[string]bool{}
		names := map[string]bool{}
		for _, w := range strings.Fields(opts) {
			have[w] = true
			n, _, _ := strings.Cut(w, "=")
			names[n] = true
		}
		for _, w := range g.want {
			if !have[w] {
				return fmt.Errorf("%s lacks %s after grubby ran", where, w)
			}
		}
		for _, r := range g.o.Remove {
			if names[r] {
				return fmt.Errorf("%s still has %s after grubby ran", where, r)
			}
		}
		return nil
	}
	paths, _ := filepath.Glob(filepath.Join(rootPath(g.o.Root, BLSDir), "*.conf"))
	if len(paths) == 0 {
		return Outcome{}, errors.New("no BootLoaderSpec entries are left")
	}
	for _, p := range paths {
		b, err := readBounded(p, 1<<20+1)
		if err != nil {
			return Outcome{}, err
		}
		opts, _ := blsOptions(b)
		if err := check(p, opts); err != nil {
			return Outcome{}, err
		}
	}
	kcmd := rootPath(g.o.Root, KernelCmdlineFile)
	if b, err := readBounded(kcmd, 1<<20+1); err == nil {
		first, _, _ := strings.Cut(string(b), "\n")
		if err := check(kcmd, first); err != nil {
			return Outcome{}, err
		}
	}
	for _, f := range g.files {
		if f.what != "GRUB_CMDLINE_LINUX" {
			continue
		}
		b, err := readBounded(f.path, 1<<20+1)
		if err != nil {
			return Outcome{}, err
		}
		gf, err := ParseGrub(b)
		if err != nil {
			return Outcome{}, fmt.Errorf("%s after grubby ran: %w", f.path, err)
		}
		if err := check(f.path+" GRUB_CMDLINE_LINUX", gf.Value("GRUB_CMDLINE_LINUX")); err != nil {
			return Outcome{}, err
		}
	}
	if runningHas(g.o.Running, g.want, g.o.Remove) {
		return Outcome{OK: true, Notes: []string{"the running kernel has these options already"}}, nil
	}
	return Outcome{PendingReboot: true, Notes: []string{fmt.Sprintf("%d BootLoaderSpec entries read back with %s; pending reboot", len(paths), strings.Join(g.want, " "))}}, nil
}

// undoGrubby runs the inverse grubby command (which also mends entries of kernels installed
// since), then puts back the exact old text of every kept file that nothing else changed since
// (the order of the options included).
func undoGrubby(ctx context.Context, raw json.RawMessage, out io.Writer) error {
	var s grubbySnapshot
	if err := json.Unmarshal(raw, &s); err != nil {
		return fmt.Errorf("the record's snapshot: %w", err)
	}
	if len(s.Undo) < 2 || len(s.Files) == 0 {
		return errors.New("the record holds no grubby command or files")
	}
	// The inverse command first: it mends entries of kernels installed since too. If it fails,
	// the kept files are still put back; the failure is an error only when one is not back.
	var toolErr error
	if len(s.Undo) > 2 {
		if _, toolErr = runTool(ctx, s.Undo); toolErr == nil {
			fmt.Fprintf(out, "  ran %s\n", shellJoin(s.Undo))
		}
	}
	managed := map[string]bool{}
	for _, n := range s.Managed {
		managed[n] = true
	}
	restored, left, err := restoreKept(s.Files, managed)
	for _, p := range restored {
		fmt.Fprintf(out, "  restored %s\n", p)
	}
	if err != nil {
		return err
	}
	if toolErr != nil {
		if len(left) > 0 {
			return fmt.Errorf("%w; and %s changed since the run, so its old text was not put back", toolErr, strings.Join(left, ", "))
		}
		fmt.Fprintf(out, "  (the inverse grubby failed: %v; every kept file has its old text again)\n", toolErr)
		return nil
	}
	for _, p := range left {
		fmt.Fprintf(out, "  left %s as grubby put it back: something else changed it since the run\n", p)
	}
	return nil
}
