package fix

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/dpdk-doctor/dpdk-doctor/host"
)

// Bootloader names the way a host's kernel command line is changed: the grub defaults file
// (update-grub, grub2-mkconfig), grubby (BootLoaderSpec entries: RHEL 8+, Fedora) or kernelstub
// (Pop!_OS with systemd-boot).
type Bootloader string

// The ways `fix cmdline` knows.
const (
	BootGrubFile   Bootloader = "grub-file"
	BootGrubby     Bootloader = "grubby"
	BootKernelstub Bootloader = "kernelstub"
)

// Files that the grubby and kernelstub backends read and back up, relative to the host's root.
const (
	BLSDir            = "/boot/loader/entries"
	KernelCmdlineFile = "/etc/kernel/cmdline"
	KernelstubConfig  = "/etc/kernelstub/configuration"
)

// BootFacts are what the choice of a Bootloader rests on.
type BootFacts struct {
	Kernelstub     string // kernelstub's path, "" when it is not installed
	Grubby         string // grubby's path, "" when it is not installed
	GrubFileExists bool   // /etc/default/grub exists
	BLSCfg         bool   // it sets GRUB_ENABLE_BLSCFG=true
	BLSEntries     int    // *.conf files in /boot/loader/entries
}

// GatherBootFacts takes the paths of kernelstub and grubby given, or with search looks for them
// on PATH (not for another machine's tree), and reads the grub file and the BLS entries under
// root ("" is /).
func GatherBootFacts(files host.Root, root, grubFile, kernelstub, grubby string, search bool) BootFacts {
	var f BootFacts
	look := func(given, name string) string {
		if given != "" || !search {
			return given
		}
		p, _ := exec.LookPath(name)
		return p
	}
	f.Kernelstub, f.Grubby = look(kernelstub, "kernelstub"), look(grubby, "grubby")
	if b, err := readConfig(files, root, grubFile, 1<<20+1); err == nil {
		f.GrubFileExists = true
		f.BLSCfg = GrubBLSCfg(b)
	}
	f.BLSEntries = len(confFiles(files, root, BLSDir))
	return f
}

// DetectBootloader chooses how to change the kernel command line, and says why:
//   - kernelstub when it is installed: on Pop!_OS it writes the systemd-boot entries from
//     /etc/kernelstub/configuration, and the grub file, if any, is not what boots;
//   - grubby when it is installed and BLS entries exist, and either there is no grub file or it
//     sets GRUB_ENABLE_BLSCFG=true (RHEL 8+, Fedora): each entry carries its own options line,
//     which grub2-mkconfig does not rewrite, so editing the grub file alone changes nothing;
//   - else the grub file, when it exists.
func DetectBootloader(f BootFacts) (Bootloader, string, error) {
	switch {
	case f.Kernelstub != "":
		return BootKernelstub, "kernelstub is installed (" + f.Kernelstub + "): it writes the boot entries from " + KernelstubConfig, nil
	case f.Grubby != "" && f.BLSEntries > 0 && !f.GrubFileExists:
		return BootGrubby, fmt.Sprintf("grubby is installed and %d BootLoaderSpec entries carry their own options; there is no grub defaults file", f.BLSEntries), nil
	case f.Grubby != "" && f.BLSEntries > 0 && f.BLSCfg:
		return BootGrubby, fmt.Sprintf("grubby is installed, the grub file sets GRUB_ENABLE_BLSCFG=true and %d BootLoaderSpec entries carry their own options, which grub2-mkconfig does not rewrite", f.BLSEntries), nil
	case f.GrubFileExists:
		return BootGrubFile, "the grub defaults file is how this host's boot configuration is made", nil
	}
	return "", "", fmt.Errorf("%w: this host has no grub defaults file, no kernelstub, and no grubby with BootLoaderSpec entries; give the grub file with --grub-file or the way with --bootloader", ErrBadOption)
}

// ErrNoBootTool: the way asked for needs a program this host does not have.
var ErrNoBootTool = errors.New("not installed")

// ChooseBootloader settles the way from --bootloader (auto, grub-file, grubby, kernelstub):
// auto is the grub file when one was named (--grub-file), else DetectBootloader's choice. An
// unknown way is ErrBadOption; a way whose program is missing, ErrNoBootTool.
func ChooseBootloader(way string, grubFileGiven bool, f BootFacts) (Bootloader, string, error) {
	switch b := Bootloader(way); {
	case way == "auto" && grubFileGiven:
		return BootGrubFile, "the grub file was given with --grub-file", nil
	case way == "auto":
		return DetectBootloader(f)
	case b == BootGrubby && f.Grubby == "", b == BootKernelstub && f.Kernelstub == "":
		return "", "", fmt.Errorf("--bootloader %s: %s is %w (give its path with --%s)", b, b, ErrNoBootTool, b)
	case b == BootGrubFile || b == BootGrubby || b == BootKernelstub:
		return b, "given with --bootloader", nil
	}
	return "", "", fmt.Errorf("%w: --bootloader %s: want auto, grub-file, grubby or kernelstub", ErrBadOption, shellJoin([]string{way}))
}

// GrubBLSCfg reports whether a grub defaults file sets GRUB_ENABLE_BLSCFG=true (quoted or not).
func GrubBLSCfg(b []byte) bool {
	on := false
	for _, l := range strings.Split(string(b), "\n") {
		l = strings.TrimPrefix(strings.TrimSpace(l), "export ")
		if v, ok := strings.CutPrefix(l, "GRUB_ENABLE_BLSCFG="); ok {
			v, _, _ = strings.Cut(v, "#")
			on = strings.Trim(strings.TrimSpace(v), `"'`) == "true"
		}
	}
	return on
}

func rootPath(root, p string) string {
	if root == "" {
		return p
	}
	return filepath.Join(root, p)
}

// bootFile is a file kept for a rollback: its content and mode, or that it did not exist.
type bootFile struct {
	Path    string `json:"path"`
	Content string `json:"content,omitempty"`
	Mode    uint32 `json:"mode,omitempty"`
	Absent  bool   `json:"absent,omitempty"`
}

func keepFile(path string) (bootFile, error) {
	b, err := readBounded(path, 1<<20+1)
	if errors.Is(err, fs.ErrNotExist) {
		return bootFile{Path: path, Absent: true}, nil
	}
	if err != nil {
		return bootFile{}, err
	}
	if len(b) > 1<<20 {
		return bootFile{}, fmt.Errorf("%s: larger than any boot configuration file", path)
	}
	st, err := os.Stat(path)
	if err != nil {
		return bootFile{}, err
	}
	return bootFile{Path: path, Content: string(b), Mode: uint32(st.Mode().Perm())}, nil
}

// sameButOptions reports whether two texts differ only in the options named in managed, in the
// order of words on a line, in blanks and in double quotes: a file the run changed and nothing
// else did since, so the exact old text can go back.
func sameButOptions(a, b string, managed map[string]bool) bool {
	canon := func(s string) []string {
		var out []string
		for _, l := range strings.Split(s, "\n") {
			var ws []string
			for _, w := range strings.Fields(strings.ReplaceAll(l, `"`, " ")) {
				if n, _, _ := strings.Cut(w, "="); !managed[n] {
					ws = append(ws, w)
				}
			}
			if len(ws) > 0 {
				sort.Strings(ws)
				out = append(out, strings.Join(ws, " "))
			}
		}
		return out
	}
	ca, cb := canon(a), canon(b)
	if len(ca) != len(cb) {
		return false
	}
	for i := range ca {
		if ca[i] != cb[i] {
			return false
		}
	}
	return true
}

// restoreKept puts the kept files back where only managed options changed since; a file
// created by the run is removed. It returns the files it left alone because something else
// changed them.
func restoreKept(files []bootFile, managed map[string]bool) (restored, left []string, err error) {
	for _, f := range files {
		b, rerr := readBounded(f.Path, 1<<20+1)
		switch {
		case f.Absent && errors.Is(rerr, fs.ErrNotExist):
			continue
		case f.Absent:
			if err := os.Remove(f.Path); err != nil {
				return restored, left, err
			}
			restored = append(restored, f.Path+" (removed: the run created it)")
		case errors.Is(rerr, fs.ErrNotExist):
			continue // a kernel removed since: its entry went with it
		case rerr != nil:
			return restored, left, rerr
		case string(b) == f.Content:
			continue
		case sameButOptions(string(b), f.Content, managed):
			if err := writeAtomicMode(f.Path, []byte(f.Content), os.FileMode(f.Mode&0o777)); err != nil {
				return restored, left, err
			}
			restored = append(restored, f.Path)
		default:
			left = append(left, f.Path)
		}
	}
	return restored, left, nil
}

// boundSnapshot refuses a snapshot that would make a record too large to read back (maxJournal,
// with room for the plan): the run would not be undoable. Nothing has changed yet when it fails.
func boundSnapshot(b []byte, err error) (json.RawMessage, error) {
	if err != nil {
		return nil, err
	}
	if len(b) > maxJournal*3/4 {
		return nil, fmt.Errorf("the files to keep for a rollback take %d bytes, more than a record holds (%d)", len(b), maxJournal*3/4)
	}
	return b, nil
}

// bootToolTimeout bounds one run of grubby or kernelstub.
const bootToolTimeout = 2 * time.Minute

// runTool runs argv (never through a shell), bounded by ctx and bootToolTimeout, and fails with
// its output when it exits non-zero.
func runTool(ctx context.Context, argv []string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, bootToolTimeout)
	defer cancel()
	b, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
	out := strings.TrimSpace(string(b))
	if err != nil {
		return out, fmt.Errorf("%s: %v: %s", shellJoin(argv), err, out)
	}
	return out, nil
}

// managedNames are the option names a run touches: those it adds or removes, with hugepagesz
// and hugepages together (a count belongs to the size before it).
func managedNames(add, remove []string) map[string]bool {
	m := map[string]bool{}
	for _, a := range add {
		n, _, _ := strings.Cut(a, "=")
		m[n] = true
	}
	for _, r := range remove {
		m[r] = true
	}
	if m["hugepagesz"] || m["hugepages"] {
		m["hugepagesz"], m["hugepages"] = true, true
	}
	return m
}

// CheckKernelOptions validates --add (each by ParseKernelOption) and --remove (a managed name),
// as every way of fix cmdline does before it reads anything.
func CheckKernelOptions(add, remove []string) error {
	if len(add) == 0 && len(remove) == 0 {
		return fmt.Errorf("%w: give --add NAME=VALUE or --remove NAME", ErrBadOption)
	}
	for _, a := range add {
		if _, _, err := ParseKernelOption(a); err != nil {
			return err
		}
	}
	for _, r := range remove {
		if kernelOptions[r] == nil {
			return fmt.Errorf("%w: --remove %q is not an option dpdk-doctor manages", ErrBadOption, r)
		}
	}
	return nil
}

// runningHas reports whether the running command line has every word of want and no option
// named in gone: then no reboot is pending.
func runningHas(running string, want []string, gone []string) bool {
	if running == "" {
		return false
	}
	have := map[string]bool{}
	names := map[string]bool{}
	for _, w := range strings.Fields(running) {
		have[w] = true
		n, _, _ := strings.Cut(w, "=")
		names[n] = true
	}
	for _, w := range want {
		if !have[w] {
			return false
		}
	}
	for _, g := range gone {
		if names[g] {
			return false
		}
	}
	return true
}
