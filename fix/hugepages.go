package fix

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
)

func init() { register("hugepages", undoHugepages) }

// HugepagesOptions configure `fix hugepages`.
type HugepagesOptions struct {
	Size    string // "2M" or "1G"
	Pages   int    // the pool size wanted
	Node    int    // NUMA node; -1 is the whole machine
	Persist bool   // make it survive a reboot (2M: a sysctl.d file)
	Sysfs   Sysfs  // zero value: LiveSysfs
	Etc     string // root of the persist file ("/" in production)
}

// ErrBadOption: an option's value is not one the remedy takes (bad input).
var ErrBadOption = errors.New("bad option")

// Hugepages sets a huge page pool at run time through sysfs, and with Persist for the next boot.
//
// Persistence: 2M pools are set at boot by a sysctl.d file (vm.nr_hugepages), the boot-time
// setting operators know and systemd-sysctl applies early; for a per-node pool there is no
// sysctl, so --persist with --node is refused. 1G pages can only be reserved reliably on the
// kernel command line (memory fragments after boot), so for 1G --persist is refused with the
// `fix cmdline` command that does it. The hugetlbfs mount is left to systemd's own
// dev-hugepages.mount (mounted on every systemd host at /dev/hugepages, for the default size),
// so no fstab line is written.
type Hugepages struct {
	o     HugepagesOptions
	attr  string // the nr_hugepages attribute, relative to the sysfs root
	old   int
	file  *persistFile
	where string
}

type hugepagesSnapshot struct {
	SysRoot string        `json:"sys_root"`
	Attr    string        `json:"attr"`
	Old     int           `json:"old"`
	Files   []persistFile `json:"files,omitempty"`
}

// PlanHugepages checks the options and reads the pool's current size, changing nothing.
func PlanHugepages(o HugepagesOptions) (*Hugepages, error) {
	if o.Sysfs.Root == "" && o.Sysfs.View == nil {
		o.Sysfs = LiveSysfs
	}
	if o.Etc == "" {
		o.Etc = "/"
	}
	kb := map[string]string{"2M": "2048kB", "1G": "1048576kB"}[o.Size]
	if kb == "" {
		return nil, fmt.Errorf("%w: --size %q: want 2M or 1G", ErrBadOption, o.Size)
	}
	if o.Pages < 0 || o.Pages > 1<<24 {
		return nil, fmt.Errorf("%w: --pages %d: want 0 to %d", ErrBadOption, o.Pages, 1<<24)
	}
	h := &Hugepages{o: o}
	if o.Node >= 0 {
		h.attr = filepath.Join("sys/devices/system/node", "node"+strconv.Itoa(o.Node), "hugepages", "hugepages-"+kb, "nr_hugepages")
		h.where = fmt.Sprintf("NUMA node %d", o.Node)
	} else {
		h.attr = filepath.Join("sys/kernel/mm/hugepages", "hugepages-"+kb, "nr_hugepages")
		h.where = "the machine"
	}
	cur, err := o.Sysfs.Read(h.attr)
	if err != nil {
		return nil, err
	}
	if cur == "" {
		return nil, fmt.Errorf("%w: this kernel has no %s pool for %s (/%s is missing)", ErrBadOption, o.Size, h.where, h.attr)
	}
	if h.old, err = strconv.Atoi(cur); err != nil {
		return nil, fmt.Errorf("/%s: %q is not a number", h.attr, cur)
	}
	if o.Persist {
		switch {
		case o.Size == "1G":
			return nil, fmt.Errorf("%w: 1G pages are reserved at boot on the kernel command line: dpdk-doctor fix cmdline --add default_hugepagesz=1G --add hugepagesz=1G --add hugepages=%d", ErrBadOption, o.Pages)
		case o.Node >= 0:
			return nil, fmt.Errorf("%w: --persist with --node: a per-node pool has no boot-time sysctl; persist the machine-wide pool (leave out --node)", ErrBadOption)
		}
		h.file = &persistFile{Path: filepath.Join(o.Etc, "etc/sysctl.d/80-dpdk-doctor-hugepages.conf"),
			Content: fmt.Sprintf("# Written by dpdk-doctor fix hugepages --persist\nvm.nr_hugepages = %d\n", o.Pages)}
	}
	return h, nil
}

// Kind is "hugepages".
func (h *Hugepages) Kind() string { return "hugepages" }

// Plan is the write, with the pool's size now.
func (h *Hugepages) Plan() []string {
	out := []string{fmt.Sprintf("echo %d > /%s   # %s pages of %s now: %d", h.o.Pages, h.attr, h.o.Size, h.where, h.old)}
	if h.file != nil {
		out = append(out, fmt.Sprintf("write %s: vm.nr_hugepages = %d", h.file.Path, h.o.Pages))
	}
	return out
}

// Snapshot records the old pool size and the persist file.
func (h *Hugepages) Snapshot() (json.RawMessage, error) {
	s := hugepagesSnapshot{SysRoot: h.o.Sysfs.Root, Attr: h.attr, Old: h.old}
	if h.file != nil {
		f := *h.file
		old, err := readBounded(f.Path, 1<<20)
		switch {
		case err == nil:
			f.Existed, f.Before = true, string(old)
		case !isNotExist(err):
			return nil, err
		}
		s.Files = append(s.Files, f)
	}
	return json.Marshal(s)
}

// Apply writes the pool size and the persist file.
func (h *Hugepages) Apply(ctx context.Context, out io.Writer) error {
	if err := h.o.Sysfs.Write(h.attr, strconv.Itoa(h.o.Pages)); err != nil {
		return err
	}
	if h.file != nil {
		if err := writeAtomicMode(h.file.Path, []byte(h.file.Content), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(out, "  wrote %s\n", h.file.Path)
	}
	return nil
}

// Verify reads back what the kernel reserved: it may give fewer pages than asked (memory short
// or fragmented), and then says so and fails.
func (h *Hugepages) Verify(ctx context.Context) (Outcome, error) {
	got, err := h.o.Sysfs.Read(h.attr)
	if err != nil {
		return Outcome{}, err
	}
	n, err := strconv.Atoi(got)
	if err != nil {
		return Outcome{}, fmt.Errorf("/%s reads %q", h.attr, got)
	}
	if n != h.o.Pages {
		return Outcome{}, fmt.Errorf("the kernel reserved %d of the %d %s pages asked for %s (was %d): memory is short or fragmented; try fewer pages, or reserve them at boot", n, h.o.Pages, h.o.Size, h.where, h.old)
	}
	return Outcome{OK: true, Notes: []string{fmt.Sprintf("the kernel reserved %d %s pages for %s (was %d)", n, h.o.Size, h.where, h.old)}}, nil
}

func undoHugepages(ctx context.Context, raw json.RawMessage, out io.Writer) error {
	var s hugepagesSnapshot
	if err := json.Unmarshal(raw, &s); err != nil {
		return fmt.Errorf("the record's snapshot: %w", err)
	}
	for _, f := range s.Files {
		var err error
		if f.Existed {
			err = writeAtomicMode(f.Path, []byte(f.Before), 0o644)
		} else {
			err = removeSynced(f.Path)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "  restored %s\n", f.Path)
	}
	sys := sysfsAt(s.SysRoot)
	if err := sys.Write(s.Attr, strconv.Itoa(s.Old)); err != nil {
		return err
	}
	got, _ := sys.Read(s.Attr)
	if got != strconv.Itoa(s.Old) {
		return fmt.Errorf("/%s reads %s after writing %d back", s.Attr, got, s.Old)
	}
	fmt.Fprintf(out, "  /%s is back at %d\n", s.Attr, s.Old)
	return nil
}
