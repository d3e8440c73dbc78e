package fix

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

func init() { register("kernelstub", undoKernelstub) }

// Kernelstub changes "kernel_options" of /etc/kernelstub/configuration with kernelstub, which
// writes them into the boot entries on the EFI system partition. New options are added with
// `kernelstub -a`; a change or removal sets the whole list with `kernelstub -o`, because
// kernelstub's -d takes a set difference (application.py: list(set(kernel_opts) -
// set(rem_opts))), which reorders the options and would part a hugepages= from its hugepagesz=.
type Kernelstub struct {
	o             ToolOptions
	path          string
	before, after []string
	argv, undo    []string
}

// ReadKernelstubOptions reads "kernel_options" from kernelstub's configuration as kernelstub
// does (config.py): the "user" section, else a copy of "default"; a list, or (an OEM's older
// file) one string split at blanks. An option with blanks or quotes is refused: it cannot be
// passed back through -o faithfully.
func ReadKernelstubOptions(b []byte) ([]string, error) {
	var c map[string]struct {
		KernelOptions json.RawMessage `json:"kernel_options"`
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrGrubSyntax, err)
	}
	sec, ok := c["user"]
	if !ok {
		sec, ok = c["default"]
	}
	if !ok || len(sec.KernelOptions) == 0 {
		return nil, fmt.Errorf("%w: no \"user\" or \"default\" section with \"kernel_options\"", ErrGrubSyntax)
	}
	var list []string
	if err := json.Unmarshal(sec.KernelOptions, &list); err != nil {
		var s string
		if json.Unmarshal(sec.KernelOptions, &s) != nil {
			return nil, fmt.Errorf("%w: \"kernel_options\" is neither a list nor a string", ErrGrubSyntax)
		}
		list = strings.Fields(s)
	}
	var out []string
	for _, o := range list {
		if strings.ContainsAny(o, " \t\n\"'") {
			return nil, fmt.Errorf("%w: the option %q has blanks or quotes; edit it with kernelstub by hand", ErrGrubSyntax, o)
		}
		if o != "" {
			out = append(out, o)
		}
	}
	return out, nil
}

// PlanKernelstub reads kernelstub's configuration and works out the command, changing nothing.
func PlanKernelstub(o ToolOptions) (*Kernelstub, error) {
	if err := CheckKernelOptions(o.Add, o.Remove); err != nil {
		return nil, err
	}
	if o.Program == "" {
		o.Program = "kernelstub"
	}
	k := &Kernelstub{o: o, path: rootPath(o.Root, KernelstubConfig)}
	b, err := readConfig(o.Files, o.Root, k.path, 1<<20+1)
	if err != nil {
		return nil, fmt.Errorf("%w: kernelstub's configuration: %v (without it kernelstub starts from its defaults, quiet splash, and the host's options would be lost)", ErrBadOption, err)
	}
	if k.before, err = ReadKernelstubOptions(b); err != nil {
		return nil, fmt.Errorf("%s: %w", k.path, err)
	}
	k.after = strings.Fields(EditCmdline(strings.Join(k.before, " "), o.Add, o.Remove))
	has := map[string]bool{}
	for _, w := range k.before {
		has[w] = true
	}
	var added []string
	for _, w := range k.after {
		if !has[w] {
			added = append(added, w)
		}
	}
	switch {
	case strings.Join(k.before, " ") == strings.Join(k.after, " "):
	case strings.Join(append(append([]string{}, k.before...), added...), " ") == strings.Join(k.after, " "):
		// Only new options, at the end: -a appends each one not there (application.py).
		k.argv = []string{o.Program, "-a", strings.Join(added, " ")}
	case len(k.after) == 0:
		k.argv = []string{o.Program, "-d", strings.Join(k.before, " ")}
	default:
		k.argv = []string{o.Program, "-o", strings.Join(k.after, " ")}
	}
	if len(k.before) == 0 {
		// -o "" sets nothing (kernelstub tests the string for truth): take the added ones away.
		k.undo = []string{o.Program, "-d", strings.Join(k.after, " ")}
	} else {
		k.undo = []string{o.Program, "-o", strings.Join(k.before, " ")}
	}
	return k, nil
}

// Argv is kernelstub's command line, nil when there is nothing to change.
func (k *Kernelstub) Argv() []string { return k.argv }

// Kind is "kernelstub".
func (k *Kernelstub) Kind() string { return "kernelstub" }

// Plan is the command and the options before and after.
func (k *Kernelstub) Plan() []string {
	if k.argv == nil {
		return []string{k.path + " has these options already; nothing to change"}
	}
	return []string{
		"run: " + shellJoin(k.argv),
		k.path + " (kernel_options):",
		"  - " + strings.Join(k.before, " "),
		"  + " + strings.Join(k.after, " "),
		"then: reboot (the new command line takes effect at the next boot)",
	}
}

type kernelstubSnapshot struct {
	Undo    []string `json:"undo"`
	Options []string `json:"options"`
	File    bootFile `json:"file"`
}

// Snapshot keeps the configuration file, the options before, and the inverse command.
func (k *Kernelstub) Snapshot() (json.RawMessage, error) {
	f, err := keepFile(k.path)
	if err != nil {
		return nil, err
	}
	if k.before == nil {
		k.before = []string{}
	}
	return boundSnapshot(json.Marshal(kernelstubSnapshot{Undo: k.undo, Options: k.before, File: f}))
}

// Apply runs kernelstub.
func (k *Kernelstub) Apply(ctx context.Context, out io.Writer) error {
	if k.argv == nil {
		return nil
	}
	if _, err := runTool(ctx, k.argv); err != nil {
		return err
	}
	fmt.Fprintf(out, "  ran %s\n", shellJoin(k.argv))
	return nil
}

func readKernelstubFile(path string) ([]string, error) {
	b, err := readBounded(path, 1<<20+1)
	if err != nil {
		return nil, err
	}
	opts, err := ReadKernelstubOptions(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return opts, nil
}

// Verify reads the configuration back: its options must be the planned list, in order
// (kernelstub exits 0 even when it stops early, so only the file tells). Unless the running
// kernel has them already, the result is "pending reboot".
func (k *Kernelstub) Verify(ctx context.Context) (Outcome, error) {
	got, err := readKernelstubFile(k.path)
	if err != nil {
		return Outcome{}, err
	}
	if strings.Join(got, " ") != strings.Join(k.after, " ") {
		return Outcome{}, fmt.Errorf("%s reads back kernel_options %q, want %q", k.path, strings.Join(got, " "), strings.Join(k.after, " "))
	}
	if runningHas(k.o.Running, k.o.Add, k.o.Remove) {
		return Outcome{OK: true, Notes: []string{"the running kernel has these options already"}}, nil
	}
	return Outcome{PendingReboot: true, Notes: []string{"kernel_options=" + dquote(strings.Join(got, " ")) + "; pending reboot"}}, nil
}

// undoKernelstub runs the inverse command and reads the options back; the old text of the
// configuration stays in the record.
func undoKernelstub(ctx context.Context, raw json.RawMessage, out io.Writer) error {
	var s kernelstubSnapshot
	if err := json.Unmarshal(raw, &s); err != nil {
		return fmt.Errorf("the record's snapshot: %w", err)
	}
	if len(s.Undo) != 3 || s.File.Path == "" {
		return errors.New("the record holds no kernelstub command or file")
	}
	if _, err := runTool(ctx, s.Undo); err != nil {
		return err
	}
	fmt.Fprintf(out, "  ran %s\n", shellJoin(s.Undo))
	got, err := readKernelstubFile(s.File.Path)
	if err != nil {
		return err
	}
	if strings.Join(got, " ") != strings.Join(s.Options, " ") {
		return fmt.Errorf("%s reads back kernel_options %q after the rollback, want %q (its old text is in the record)", s.File.Path, strings.Join(got, " "), strings.Join(s.Options, " "))
	}
	fmt.Fprintf(out, "  %s has kernel_options %q again\n", s.File.Path, strings.Join(got, " "))
	return nil
}
