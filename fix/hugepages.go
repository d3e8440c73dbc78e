package fix

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
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

// Hugepages sets huge page pools at run time through sysfs, and with Persist for the next boot.
// `fix hugepages --pages N` sets one pool (the machine's or a node's); `fix hugepages --for-dpdk`
// sets one pool per NUMA node, each to what `plan` derives for the node (PlanHugepagesForDPDK).
//
// Persistence: 2M pools are set at boot by a sysctl.d file (vm.nr_hugepages), the boot-time
// setting operators know and systemd-sysctl applies early; for a per-node pool there is no
// sysctl, so --persist with --node is refused. 1G pages can only be reserved reliably on the
// kernel command line (memory fragments after boot), so for 1G --persist is refused with the
// `fix cmdline` command that does it. systemd's own dev-hugepages.mount mounts hugetlbfs only
// at /dev/hugepages, only for the default size,
// and DPDK needs a hugetlbfs mount for every page size it uses: `--mount` (and a pool run
// where none of its size is mounted, AddMount) mounts one now and, with --persist, at boot
// (mount.go).
type Hugepages struct {
	sysfs Sysfs
	size  string
	pools []poolChange
	file  *persistFile
	notes []string // plan lines for the pools left alone
	// mount is the hugetlbfs mount of the page size (`--mount`, or added to a pool run by
	// AddMount when none is mounted); mountSnap is its snapshot, taken before Apply.
	mount     *mountPlan
	mountSnap *mountSnapshot
}

// poolChange is one nr_hugepages attribute to set.
type poolChange struct {
	attr  string // relative to the sysfs root
	where string // "NUMA node 1", "the machine"
	old   int
	want  int
	why   string // where the number comes from, "" when the user gave it
}

type hugepagesSnapshot struct {
	SysRoot string `json:"sys_root"`
	// Attr and Old: the one pool of `fix hugepages --pages N` (and of records written before
	// --for-dpdk); Pools: the pools of a --for-dpdk run.
	Attr  string        `json:"attr,omitempty"`
	Old   int           `json:"old"`
	Pools []poolSnap    `json:"pools,omitempty"`
	Files []persistFile `json:"files,omitempty"`
	// Mount: the hugetlbfs mount step, when the run has one.
	Mount *mountSnapshot `json:"mount,omitempty"`
}

type poolSnap struct {
	Attr string `json:"attr"`
	Old  int    `json:"old"`
}

// pageKB is the sysfs name of a page size ("2048kB"), "" for a size not taken.
func pageKB(size string) string {
	return map[string]string{"2M": "2048kB", "1G": "1048576kB"}[size]
}

// readPool reads the pool attribute of size on node (-1: the machine) and returns its path
// relative to the sysfs root, what it is, and its size now.
func readPool(s Sysfs, size string, node int) (attr, where string, now int, err error) {
	kb := pageKB(size)
	if node >= 0 {
		attr = filepath.Join("sys/devices/system/node", "node"+strconv.Itoa(node), "hugepages", "hugepages-"+kb, "nr_hugepages")
		where = fmt.Sprintf("NUMA node %d", node)
	} else {
		attr = filepath.Join("sys/kernel/mm/hugepages", "hugepages-"+kb, "nr_hugepages")
		where = "the machine"
	}
	cur, err := s.Read(attr)
	if err != nil {
		return "", "", 0, err
	}
	if cur == "" {
		return "", "", 0, fmt.Errorf("%w: this kernel has no %s pool for %s (/%s is missing)", ErrBadOption, size, where, attr)
	}
	if now, err = strconv.Atoi(cur); err != nil {
		return "", "", 0, fmt.Errorf("/%s: %q is not a number", attr, cur)
	}
	return attr, where, now, nil
}

// PlanHugepages checks the options and reads the pool's current size, changing nothing.
func PlanHugepages(o HugepagesOptions) (*Hugepages, error) {
	if o.Sysfs.Root == "" && o.Sysfs.View == nil {
		o.Sysfs = LiveSysfs
	}
	if o.Etc == "" {
		o.Etc = "/"
	}
	if pageKB(o.Size) == "" {
		return nil, fmt.Errorf("%w: --size %q: want 2M or 1G", ErrBadOption, o.Size)
	}
	if o.Pages < 0 || o.Pages > 1<<24 {
		return nil, fmt.Errorf("%w: --pages %d: want 0 to %d", ErrBadOption, o.Pages, 1<<24)
	}
	attr, where, old, err := readPool(o.Sysfs, o.Size, o.Node)
	if err != nil {
		return nil, err
	}
	h := &Hugepages{sysfs: o.Sysfs, size: o.Size, pools: []poolChange{{attr: attr, where: where, old: old, want: o.Pages}}}
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

// Changes is the number of pools the run will write (0: every pool is already as wanted).
func (h *Hugepages) Changes() int {
	n := len(h.pools)
	if h.mount != nil {
		n += h.mount.changes()
	}
	return n
}

// Plan is the writes, with each pool's size now, and the pools left alone.
func (h *Hugepages) Plan() []string {
	var out []string
	for _, p := range h.pools {
		l := fmt.Sprintf("echo %d > /%s   # %s pages of %s now: %d", p.want, p.attr, h.size, p.where, p.old)
		if p.why != "" {
			l += "; " + p.why
		}
		out = append(out, l)
	}
	if h.file != nil {
		out = append(out, fmt.Sprintf("write %s: vm.nr_hugepages = %d", h.file.Path, h.pools[0].want))
	}
	if h.mount != nil {
		out = append(out, h.mount.plan()...)
	}
	return append(out, h.notes...)
}

// Snapshot records the old pool sizes and the persist file.
func (h *Hugepages) Snapshot() (json.RawMessage, error) {
	s := hugepagesSnapshot{SysRoot: h.sysfs.Root}
	if len(h.pools) == 1 {
		s.Attr, s.Old = h.pools[0].attr, h.pools[0].old
	} else {
		for _, p := range h.pools {
			s.Pools = append(s.Pools, poolSnap{Attr: p.attr, Old: p.old})
		}
	}
	if h.file != nil {
		f, err := h.file.keep()
		if err != nil {
			return nil, err
		}
		s.Files = append(s.Files, f)
	}
	if h.mount != nil {
		ms, err := h.mount.snapshot()
		if err != nil {
			return nil, err
		}
		h.mountSnap, s.Mount = ms, ms
	}
	return json.Marshal(s)
}

// Apply writes the pool sizes, one pool after the other, and the persist file.
func (h *Hugepages) Apply(ctx context.Context, out io.Writer) error {
	for _, p := range h.pools {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := h.sysfs.Write(p.attr, strconv.Itoa(p.want)); err != nil {
			return err
		}
	}
	if h.file != nil {
		if err := writeAtomicMode(h.file.Path, []byte(h.file.Content), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(out, "  wrote %s\n", h.file.Path)
	}
	if h.mount != nil {
		if h.mountSnap == nil {
			ms, err := h.mount.snapshot()
			if err != nil {
				return err
			}
			h.mountSnap = ms
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		return h.mount.apply(ctx, h.mountSnap, out)
	}
	return nil
}

// Verify reads back what the kernel reserved in every pool: it may give fewer pages than asked
// (memory short or fragmented, on that node), and then says so, pool by pool, and fails.
func (h *Hugepages) Verify(ctx context.Context) (Outcome, error) {
	var short, notes []string
	for _, p := range h.pools {
		got, err := h.sysfs.Read(p.attr)
		if err != nil {
			return Outcome{}, err
		}
		n, err := strconv.Atoi(got)
		if err != nil {
			return Outcome{}, fmt.Errorf("/%s reads %q", p.attr, got)
		}
		if n != p.want {
			short = append(short, fmt.Sprintf("the kernel reserved %d of the %d %s pages asked for %s (was %d)", n, p.want, h.size, p.where, p.old))
			continue
		}
		notes = append(notes, fmt.Sprintf("the kernel reserved %d %s pages for %s (was %d)", n, h.size, p.where, p.old))
	}
	if len(short) > 0 {
		return Outcome{}, fmt.Errorf("%s: memory is short or fragmented; try fewer pages, or reserve them at boot", strings.Join(short, "; "))
	}
	if h.mount != nil {
		mn, err := h.mount.verify()
		if err != nil {
			return Outcome{}, err
		}
		notes = append(notes, mn...)
	}
	return Outcome{OK: true, Notes: notes}, nil
}

func undoHugepages(ctx context.Context, raw json.RawMessage, out io.Writer) error {
	var s hugepagesSnapshot
	if err := json.Unmarshal(raw, &s); err != nil {
		return fmt.Errorf("the record's snapshot: %w", err)
	}
	var merr error
	if s.Mount != nil {
		// The mount goes first: it was made last.
		merr = undoMount(ctx, s.Mount, out)
		if s.Attr == "" && len(s.Pools) == 0 {
			return merr
		}
	}
	for _, f := range s.Files {
		var err error
		if f.Existed {
			err = writeAtomicMode(f.Path, []byte(f.Before), 0o644)
		} else {
			err = removeSynced(f.Path)
		}
		if err != nil {
			return errors.Join(merr, err)
		}
		fmt.Fprintf(out, "  restored %s\n", f.Path)
	}
	pools := s.Pools
	if s.Attr != "" {
		pools = append(pools, poolSnap{Attr: s.Attr, Old: s.Old})
	}
	if len(pools) == 0 {
		return fmt.Errorf("the record's snapshot names no huge page pool")
	}
	sys := sysfsAt(s.SysRoot)
	// Every pool is put back even when one fails; the errors are reported together.
	var errs []error
	for i := len(pools) - 1; i >= 0; i-- {
		p := pools[i]
		if !validPoolAttr(p.Attr) {
			errs = append(errs, fmt.Errorf("the record's snapshot names %q, not a huge page pool", p.Attr))
			continue
		}
		if err := sys.Write(p.Attr, strconv.Itoa(p.Old)); err != nil {
			errs = append(errs, err)
			continue
		}
		if got, _ := sys.Read(p.Attr); got != strconv.Itoa(p.Old) {
			errs = append(errs, fmt.Errorf("/%s reads %s after writing %d back", p.Attr, got, p.Old))
			continue
		}
		fmt.Fprintf(out, "  /%s is back at %d\n", p.Attr, p.Old)
	}
	return errors.Join(append(errs, merr)...)
}

// validPoolAttr reports whether a record's attribute is an nr_hugepages file of sysfs (a
// damaged or forged record must not make a rollback write anywhere else).
func validPoolAttr(a string) bool {
	return filepath.Clean(a) == a && filepath.Base(a) == "nr_hugepages" && !strings.Contains(a, "..") &&
		(strings.HasPrefix(a, "sys/kernel/mm/hugepages/") || strings.HasPrefix(a, "sys/devices/system/node/"))
}
