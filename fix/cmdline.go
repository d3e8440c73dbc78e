package fix

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"

	"github.com/dpdk-doctor/dpdk-doctor/host"
)

func init() { register("cmdline", undoCmdline) }

// DefaultGrubFile is where GRUB's defaults are kept on Debian, Ubuntu, RHEL, Fedora and SUSE.
const DefaultGrubFile = "/etc/default/grub"

// CmdlineOptions configure `fix cmdline`.
type CmdlineOptions struct {
	Add      []string // options to set, each checked by ParseKernelOption
	Remove   []string // option names to drop
	GrubFile string   // "" is DefaultGrubFile
	// Files is what the plan reads the grub file through (the host, a tree or the demo), so a
	// plan for a tree never reads this machine's files; the zero Root reads GrubFile as it is.
	Files host.Root
	Root  string // the directory Files reads (a tree), "" for the host or the demo
	// Regenerate is the command that rebuilds the boot configuration from GrubFile
	// (update-grub, grub2-mkconfig -o ...); nil skips it (test-hooks builds only).
	Regenerate []string
	// Running is the running kernel's command line (/proc/cmdline), for Verify: when it has
	// every option already, no reboot is pending.
	Running string
}

// FindRegenerate returns the command that rebuilds this host's GRUB configuration: update-grub
// (Debian, Ubuntu), else grub2-mkconfig (RHEL, Fedora, SUSE) or grub-mkconfig writing the
// configuration file that exists. It fails naming what was looked for.
func FindRegenerate() ([]string, error) {
	if p, err := exec.LookPath("update-grub"); err == nil {
		return []string{p}, nil
	}
	for _, c := range []struct{ prog, cfg string }{
		{"grub2-mkconfig", "/boot/grub2/grub.cfg"},
		{"grub-mkconfig", "/boot/grub/grub.cfg"},
	} {
		if p, err := exec.LookPath(c.prog); err == nil {
			if _, err := os.Stat(c.cfg); err == nil {
				return []string{p, "-o", c.cfg}, nil
			}
		}
	}
	return nil, errors.New("no update-grub, grub2-mkconfig (/boot/grub2/grub.cfg) or grub-mkconfig (/boot/grub/grub.cfg) on this host")
}

// Cmdline edits GRUB_CMDLINE_LINUX in the grub defaults file, and regenerates the boot
// configuration. The change takes effect at the next boot: Verify reports "pending reboot".
type Cmdline struct {
	o           CmdlineOptions
	old, new    []byte
	diff        []string
	linux       string
	changedDflt bool
}

type cmdlineSnapshot struct {
	Path       string   `json:"path"`
	Content    string   `json:"content"`
	Mode       uint32   `json:"mode"`
	Regenerate []string `json:"regenerate,omitempty"`
}

// PlanCmdline reads the grub file and works out the new one, changing nothing. Every option is
// checked (ErrBadOption names a bad one); a file it cannot rewrite faithfully is refused
// (ErrGrubSyntax).
func PlanCmdline(o CmdlineOptions) (*Cmdline, error) {
	if o.GrubFile == "" {
		o.GrubFile = DefaultGrubFile
	}
	if len(o.Add) == 0 && len(o.Remove) == 0 {
		return nil, fmt.Errorf("%w: give --add NAME=VALUE or --remove NAME", ErrBadOption)
	}
	names := map[string]bool{}
	for _, a := range o.Add {
		n, _, err := ParseKernelOption(a)
		if err != nil {
			return nil, err
		}
		names[n] = true
	}
	for _, r := range o.Remove {
		if kernelOptions[r] == nil {
			return nil, fmt.Errorf("%w: --remove %q is not an option dpdk-doctor manages", ErrBadOption, r)
		}
		names[r] = true
	}
	b, err := readConfig(o.Files, o.Root, o.GrubFile, 1<<20+1)
	if err != nil {
		return nil, fmt.Errorf("%w: the grub defaults file: %v (give its path with --grub-file)", ErrBadOption, err)
	}
	g, err := ParseGrub(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", o.GrubFile, err)
	}
	c := &Cmdline{o: o, old: b}
	c.linux = EditCmdline(g.Value("GRUB_CMDLINE_LINUX"), o.Add, o.Remove)
	// An option of the same name in GRUB_CMDLINE_LINUX_DEFAULT comes later on the command line
	// and would win: it goes.
	dflt := g.Value("GRUB_CMDLINE_LINUX_DEFAULT")
	var keep []string
	for _, w := range strings.Fields(dflt) {
		n, _, _ := strings.Cut(w, "=")
		if names[n] {
			c.changedDflt = true
			continue
		}
		keep = append(keep, w)
	}
	if c.linux != g.Value("GRUB_CMDLINE_LINUX") || g.vars["GRUB_CMDLINE_LINUX"] == nil && c.linux != "" {
		g.Set("GRUB_CMDLINE_LINUX", c.linux)
	}
	if c.changedDflt {
		g.Set("GRUB_CMDLINE_LINUX_DEFAULT", strings.Join(keep, " "))
	}
	c.new = g.Bytes()
	c.diff = lineDiff(o.GrubFile, c.old, c.new)
	return c, nil
}

// Diff is the change to the grub file, nil when there is none.
func (c *Cmdline) Diff() []string { return c.diff }

// New is the grub file as it will be written.
func (c *Cmdline) New() []byte { return c.new }

// Kind is "cmdline".
func (c *Cmdline) Kind() string { return "cmdline" }

// Plan is the diff and the regeneration command.
func (c *Cmdline) Plan() []string {
	if len(c.diff) == 0 {
		return []string{c.o.GrubFile + " has these options already; nothing to change"}
	}
	out := append([]string{}, c.diff...)
	if c.o.Regenerate != nil {
		out = append(out, "then: "+shellJoin(c.o.Regenerate))
	}
	return append(out, "then: reboot (the new command line takes effect at the next boot)")
}

// Snapshot keeps the whole old file (a few kilobytes) and its mode.
func (c *Cmdline) Snapshot() (json.RawMessage, error) {
	st, err := os.Stat(c.o.GrubFile)
	if err != nil {
		return nil, err
	}
	return boundSnapshot(json.Marshal(cmdlineSnapshot{Path: c.o.GrubFile, Content: string(c.old), Mode: uint32(st.Mode().Perm()), Regenerate: c.o.Regenerate}))
}

// Apply writes the new file atomically (its mode kept) and regenerates the boot configuration.
func (c *Cmdline) Apply(ctx context.Context, out io.Writer) error {
	if len(c.diff) == 0 {
		return nil
	}
	st, err := os.Stat(c.o.GrubFile)
	if err != nil {
		return err
	}
	if err := writeAtomicMode(c.o.GrubFile, c.new, st.Mode().Perm()); err != nil {
		return err
	}
	fmt.Fprintf(out, "  wrote %s\n", c.o.GrubFile)
	return regenerate(ctx, c.o.Regenerate, out)
}

func regenerate(ctx context.Context, argv []string, out io.Writer) error {
	if argv == nil {
		fmt.Fprintln(out, "  (regeneration of the boot configuration skipped: test build)")
		return nil
	}
	b, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v: %s", shellJoin(argv), err, strings.TrimSpace(string(b)))
	}
	fmt.Fprintf(out, "  ran %s\n", shellJoin(argv))
	return nil
}

// Verify reads the grub file back: every option must be in GRUB_CMDLINE_LINUX and none of
// their names in GRUB_CMDLINE_LINUX_DEFAULT. Unless the running kernel has them all already,
// the result is "pending reboot".
func (c *Cmdline) Verify(ctx context.Context) (Outcome, error) {
	b, err := readBounded(c.o.GrubFile, 1<<20+1)
	if err != nil {
		return Outcome{}, err
	}
	g, err := ParseGrub(b)
	if err != nil {
		return Outcome{}, err
	}
	have := " " + g.Value("GRUB_CMDLINE_LINUX") + " "
	for _, a := range c.o.Add {
		if !strings.Contains(have, " "+a+" ") {
			return Outcome{}, fmt.Errorf("%s: GRUB_CMDLINE_LINUX lacks %s after the write", c.o.GrubFile, a)
		}
	}
	running := " " + c.o.Running + " "
	live := c.o.Running != ""
	for _, a := range c.o.Add {
		live = live && strings.Contains(running, " "+a+" ")
	}
	if live && len(c.o.Remove) == 0 {
		return Outcome{OK: true, Notes: []string{"the running kernel has these options already"}}, nil
	}
	return Outcome{PendingReboot: true, Notes: []string{"GRUB_CMDLINE_LINUX=" + dquote(g.Value("GRUB_CMDLINE_LINUX")) + "; pending reboot"}}, nil
}

func undoCmdline(ctx context.Context, raw json.RawMessage, out io.Writer) error {
	var s cmdlineSnapshot
	if err := json.Unmarshal(raw, &s); err != nil {
		return fmt.Errorf("the record's snapshot: %w", err)
	}
	if s.Path == "" {
		return errors.New("the record names no grub file")
	}
	if err := writeAtomicMode(s.Path, []byte(s.Content), os.FileMode(s.Mode&0o777)); err != nil {
		return err
	}
	fmt.Fprintf(out, "  restored %s\n", s.Path)
	return regenerate(ctx, s.Regenerate, out)
}
