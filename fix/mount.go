package fix

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/dpdk-doctor/dpdk-doctor/host"
	"github.com/dpdk-doctor/dpdk-doctor/hugepages"
	"github.com/dpdk-doctor/dpdk-doctor/mounts"
)

// MountOptions configure the hugetlbfs mount of `fix hugepages --mount`: a mount for one page
// size, now (mount(2)) and, with Persist, at every boot.
type MountOptions struct {
	Size    string // "2M" or "1G"
	Path    string // the mount point; "" is /dev/hugepages-SIZE
	Persist bool   // mount it at boot too: a systemd mount unit, or an fstab line without systemd
	// Host is what the plan and the verification read (proc/mounts, etc/fstab, whether systemd
	// is installed or running); the zero value is host.Live().
	Host host.Root
	// Target is where this machine's file system holds the host's root: "/" in production, a
	// tree in tests. Mount points and files are Target joined with their host path.
	Target string
}

// mountFlags are the flags of the mount now; mountOptions says the same for the boot-time mount
// (nosuid, nodev: DPDK maps the files, it never executes them nor opens devices there).
const (
	mountFlags   = unix.MS_NOSUID | unix.MS_NODEV
	mountOptions = "nosuid,nodev"
)

// systemctlTimeout bounds each systemctl call.
const systemctlTimeout = 30 * time.Second

// mountPlan is the mount step of a Hugepages run.
type mountPlan struct {
	size, path, target string
	host               host.Root
	mountNow           bool   // false: a hugetlbfs of the size is mounted at path already
	makeDir            string // the topmost directory to make ("" none: path exists)
	persist            string // "unit", "fstab", or "" (nothing to write)
	files              []persistFile
	link               *linkSnap
	systemctl          bool // systemd is PID 1: daemon-reload and enable through systemctl
	unit               string
	notes              []string
}

// linkSnap is the WantedBy symbolic link of an enabled unit.
type linkSnap struct {
	Path   string `json:"path"`
	Target string `json:"target"`
}

// mountSnapshot is what a mount step records for its rollback.
type mountSnapshot struct {
	Target    string        `json:"target"`
	Path      string        `json:"path"`
	Size      string        `json:"size"`
	Mounted   bool          `json:"mounted"`            // the run mounts (a rollback unmounts)
	MadeDir   string        `json:"made_dir,omitempty"` // the topmost directory the run makes
	Files     []persistFile `json:"files,omitempty"`
	Link      *linkSnap     `json:"link,omitempty"`
	Systemctl bool          `json:"systemctl,omitempty"`
	Unit      string        `json:"unit,omitempty"`
}

// DefaultMountPath is where `fix hugepages --mount` mounts pages of size by default.
func DefaultMountPath(size string) string { return "/dev/hugepages-" + size }

// PlanMount plans the hugetlbfs mount of o.Size at o.Path alone (`fix hugepages --mount`).
func PlanMount(o MountOptions) (*Hugepages, error) {
	m, err := planMount(o)
	if err != nil {
		return nil, err
	}
	return &Hugepages{size: o.Size, mount: m}, nil
}

// AddMount adds the mount step to a pool run (`--pages`, `--for-dpdk`) when no hugetlbfs of the
// run's page size is mounted anywhere; otherwise the plan says where it is mounted.
func (h *Hugepages) AddMount(o MountOptions) error {
	o.Size = h.size
	if o.Host == (host.Root{}) {
		o.Host = host.Live()
	}
	if o.Target == "" {
		o.Target = "/"
	}
	if _, err := o.Host.ReadFile("proc/mounts"); err != nil {
		h.notes = append(h.notes, fmt.Sprintf("# %s cannot be read (%v): no hugetlbfs mount added; add one with dpdk-doctor fix hugepages --mount --size %s", o.Host.Path("proc/mounts"), err, o.Size))
		return nil
	}
	if at := MountedAt(o.Host, o.Size); at != "" {
		h.notes = append(h.notes, fmt.Sprintf("# hugetlbfs of %s pages is mounted at %s already: no mount to add", o.Size, hostPoint(o.Target, at)))
		return nil
	}
	m, err := planMount(o)
	if err != nil {
		return err
	}
	h.mount = m
	return nil
}

// MountedAt returns the mount point of a hugetlbfs mount of size on r ("" none). A mount without
// pagesize= is of the default size (meminfo's Hugepagesize).
func MountedAt(r host.Root, size string) string {
	b, err := r.ReadFile("proc/mounts")
	if err != nil {
		return ""
	}
	ents, _ := mounts.Parse(b)
	for _, e := range ents {
		if e.FSType == "hugetlbfs" && mountSize(r, e) == size {
			return e.Point
		}
	}
	return ""
}

// hostPoint is a mount point of proc/mounts as the host names it: a tree captured elsewhere
// lists the host's own paths; a tree that stands for this machine (tests) lists this machine's,
// under target.
func hostPoint(target, point string) string {
	if t := strings.TrimSuffix(target, "/"); t != "" && strings.HasPrefix(point, t+"/") {
		return strings.TrimPrefix(point, t)
	}
	return point
}

// mountSize is the page size ("2M") of a hugetlbfs mount: its pagesize= option, else the
// default size (meminfo's Hugepagesize).
func mountSize(r host.Root, e mounts.Entry) string {
	if v, ok := e.Option("pagesize"); ok {
		if kb, err := hugepages.SizeKB(v); err == nil {
			return hugepages.SizeName(kb)
		}
		return v
	}
	if b, err := r.ReadFile("proc/meminfo"); err == nil {
		if m, err := hugepages.ParseMeminfo(b); err == nil && m["Hugepagesize"] > 0 {
			return hugepages.SizeName(m["Hugepagesize"])
		}
	}
	return ""
}

// validMountPath reports what is wrong with a mount point path, "" when nothing: it must be
// absolute and clean, not "/", and hold no byte a unit file, fstab or mount options would read
// otherwise (space, control bytes, ',', '%', '\\', '"', '\”, '#').
func validMountPath(p string) string {
	switch {
	case !filepath.IsAbs(p) || filepath.Clean(p) != p:
		return "want an absolute, clean path such as /dev/hugepages-1G"
	case p == "/":
		return "not the root directory"
	case len(p) > 200:
		return "longer than 200 bytes"
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; c <= ' ' || c >= 0x7f || strings.IndexByte(`,%\"'#`, c) >= 0 {
			return fmt.Sprintf("%q is not taken in a mount point", c)
		}
	}
	return ""
}

func planMount(o MountOptions) (*mountPlan, error) {
	if o.Host == (host.Root{}) {
		o.Host = host.Live()
	}
	if o.Target == "" {
		o.Target = "/"
	}
	kb := pageKB(o.Size)
	if kb == "" {
		return nil, fmt.Errorf("%w: --size %q: want 2M or 1G", ErrBadOption, o.Size)
	}
	if o.Path == "" {
		o.Path = DefaultMountPath(o.Size)
	}
	if why := validMountPath(o.Path); why != "" {
		return nil, fmt.Errorf("%w: --path %q: %s", ErrBadOption, o.Path, why)
	}
	if !o.Host.Exists("sys/kernel/mm/hugepages/hugepages-" + kb) {
		return nil, fmt.Errorf("%w: this kernel has no %s huge pages (/sys/kernel/mm/hugepages/hugepages-%s is missing), so hugetlbfs cannot be mounted with pagesize=%s", ErrBadOption, o.Size, kb, o.Size)
	}
	m := &mountPlan{size: o.Size, path: o.Path, target: o.Target, host: o.Host, mountNow: true}
	b, err := o.Host.ReadFile("proc/mounts")
	if err != nil {
		return nil, fmt.Errorf("reading the mounts: %w", err)
	}
	ents, err := mounts.Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", o.Host.Path("proc/mounts"), err)
	}
	for _, e := range ents {
		if hostPoint(o.Target, e.Point) != o.Path {
			continue
		}
		if e.FSType != "hugetlbfs" {
			return nil, fmt.Errorf("%w: --path %s: %s is mounted there; choose another --path", ErrBadOption, o.Path, e.FSType)
		}
		if got := mountSize(o.Host, e); got != o.Size {
			return nil, fmt.Errorf("%w: --path %s: hugetlbfs of %s pages is mounted there; choose another --path", ErrBadOption, o.Path, got)
		}
		m.mountNow = false
		m.notes = append(m.notes, fmt.Sprintf("# hugetlbfs of %s pages is mounted at %s already", o.Size, o.Path))
	}
	if m.mountNow {
		// The topmost missing directory (read through the host's root, as the plan reads
		// everything): the run makes it and those below, a rollback removes them.
		for d := o.Path; d != "/"; d = filepath.Dir(d) {
			if o.Host.Exists(d) {
				ents, err := o.Host.ReadDir(d)
				switch {
				case d != o.Path:
				case err != nil:
					return nil, fmt.Errorf("%w: --path %s is not a directory", ErrBadOption, o.Path)
				case len(ents) > 0:
					return nil, fmt.Errorf("%w: --path %s holds files (%s...), which a mount there would hide; choose an empty or new directory", ErrBadOption, o.Path, ents[0].Name())
				}
				break
			}
			m.makeDir = filepath.Join(o.Target, d)
		}
	}
	if o.Persist {
		if err := m.planPersist(o); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// systemdInstalled reports whether the host boots with systemd (its manager is installed).
func systemdInstalled(r host.Root) bool {
	return r.Exists("lib/systemd/systemd") || r.Exists("usr/lib/systemd/systemd")
}

// planPersist chooses how the mount comes back at boot: a mount unit where systemd is the
// init system (the way such hosts mount their file systems; fstab lines become units there
// too), else a line in /etc/fstab.
func (m *mountPlan) planPersist(o MountOptions) error {
	fstab := filepath.Join(o.Target, "etc/fstab")
	var fsEnts []mounts.Entry
	if b, err := o.Host.ReadFile("etc/fstab"); err == nil {
		if fsEnts, err = mounts.Parse(b); err != nil {
			return fmt.Errorf("%s: %w", o.Host.Path("etc/fstab"), err)
		}
	}
	for _, e := range fsEnts {
		if e.Point != o.Path {
			continue
		}
		if e.FSType == "hugetlbfs" && mountSize(o.Host, e) == o.Size {
			m.notes = append(m.notes, fmt.Sprintf("# /etc/fstab mounts hugetlbfs of %s pages at %s at boot already", o.Size, o.Path))
			return nil
		}
		return fmt.Errorf("%w: --persist: /etc/fstab mounts %s at %s at boot; choose another --path or edit that line", ErrBadOption, e.FSType, o.Path)
	}
	if !systemdInstalled(o.Host) {
		m.persist = "fstab"
		line := fmt.Sprintf("hugetlbfs %s hugetlbfs %s,pagesize=%s 0 0", o.Path, mountOptions, o.Size)
		f := persistFile{Path: fstab, Content: "# Added by dpdk-doctor fix hugepages --mount --persist\n" + line + "\n"}
		m.files = append(m.files, f)
		m.notes = append(m.notes, "# no systemd on this host (no /lib/systemd/systemd): the boot-time mount is a line in /etc/fstab")
		return nil
	}
	unit, err := SystemdEscapePath(o.Path)
	if err != nil {
		return fmt.Errorf("%w: --path %s: %v", ErrBadOption, o.Path, err)
	}
	unit += ".mount"
	if len(unit) > 255 {
		return fmt.Errorf("%w: --path %s: its unit name %s is longer than systemd's 255 bytes", ErrBadOption, o.Path, unit)
	}
	m.persist, m.unit = "unit", unit
	for _, dir := range []string{"lib/systemd/system", "usr/lib/systemd/system", "run/systemd/generator"} {
		if o.Host.Exists(dir + "/" + unit) {
			return fmt.Errorf("%w: --persist: /%s/%s exists already (systemd's or a generator's unit for %s); choose another --path", ErrBadOption, dir, unit, o.Path)
		}
	}
	rel := "etc/systemd/system/" + unit
	linkRel := "etc/systemd/system/local-fs.target.wants/" + unit
	if b, err := o.Host.ReadFile(rel); err == nil && string(b) == MountUnit(o.Path, o.Size) {
		if l, err := o.Host.ReadLink(linkRel); err == nil && l == "/"+rel {
			m.notes = append(m.notes, fmt.Sprintf("# /%s is written and enabled already", rel))
			return nil
		}
	} else {
		if err == nil {
			m.notes = append(m.notes, fmt.Sprintf("# /%s exists with other contents: it is replaced (its old text is kept in the run's record, and a rollback puts it back)", rel))
		}
		m.files = append(m.files, persistFile{Path: filepath.Join(o.Target, rel), Content: MountUnit(o.Path, o.Size)})
	}
	m.systemctl = o.Host.Exists("run/systemd/system") && o.Target == "/"
	if !m.systemctl {
		m.link = &linkSnap{Path: filepath.Join(o.Target, linkRel), Target: "/" + rel}
		m.notes = append(m.notes, "# systemd is installed but not running as PID 1 here (no /run/systemd/system): the unit is enabled by its WantedBy link, as systemctl enable makes it")
	}
	return nil
}

// MountUnit is the systemd mount unit that mounts hugetlbfs of size at path at boot. It follows
// systemd's own dev-hugepages.mount (early, before sysinit.target, without default
// dependencies, only where the kernel has the pool), with the page size as an option and an
// [Install] section, since it is enabled rather than static.
func MountUnit(path, size string) string {
	return fmt.Sprintf(`# Written by dpdk-doctor fix hugepages --mount --persist
[Unit]
Description=Huge Pages File System, %[2]s pages (for DPDK)
Documentation=https://docs.kernel.org/admin-guide/mm/hugetlbpage.html
DefaultDependencies=no
Before=local-fs.target sysinit.target
ConditionPathExists=/sys/kernel/mm/hugepages/hugepages-%[3]s
ConditionCapability=CAP_SYS_ADMIN
ConditionVirtualization=!private-users

[Mount]
What=hugetlbfs
Where=%[1]s
Type=hugetlbfs
Options=%[4]s,pagesize=%[2]s

[Install]
WantedBy=local-fs.target
`, path, size, pageKB(size), mountOptions)
}

// SystemdEscapePath is `systemd-escape --path`: the path simplified (repeated and trailing
// slashes and "." dropped; ".." refused), "/" as "-", the leading slash dropped, and every
// byte but ASCII letters, digits, ':', '_' and '.' (not leading) as \xNN.
func SystemdEscapePath(p string) (string, error) {
	var parts []string
	for _, c := range strings.Split(p, "/") {
		switch c {
		case "", ".":
		case "..":
			return "", fmt.Errorf("path %q is not normalized", p)
		default:
			parts = append(parts, c)
		}
	}
	if len(parts) == 0 {
		return "-", nil
	}
	s := strings.Join(parts, "/")
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '/':
			b.WriteByte('-')
		case c == '.' && i == 0:
			fmt.Fprintf(&b, `\x%02x`, c)
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == ':', c == '_', c == '.':
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, `\x%02x`, c)
		}
	}
	return b.String(), nil
}

// changes counts the steps of the plan.
func (m *mountPlan) changes() int {
	n := len(m.files)
	if m.link != nil || m.systemctl {
		n++
	}
	if m.mountNow {
		n++
	}
	return n
}

func (m *mountPlan) plan() []string {
	var out []string
	if m.makeDir != "" {
		out = append(out, fmt.Sprintf("mkdir -p %s   # %s is new: a rollback removes it", shellJoin([]string{m.path}), m.hostPath(m.makeDir)))
	}
	if m.mountNow {
		out = append(out, fmt.Sprintf("mount hugetlbfs at %s (pagesize=%s, %s)   # mount(2); DPDK needs a mount for each page size it uses", m.path, m.size, mountOptions))
	}
	for _, f := range m.files {
		switch m.persist {
		case "fstab":
			out = append(out, fmt.Sprintf("append to %s: %s", m.hostPath(f.Path), strings.TrimSpace(lastLine(f.Content))))
		default:
			out = append(out, fmt.Sprintf("write %s (mounts it at boot)", m.hostPath(f.Path)))
		}
	}
	if m.link != nil {
		out = append(out, fmt.Sprintf("ln -s %s %s   # what systemctl enable %s does", m.link.Target, m.hostPath(m.link.Path), m.unit))
	}
	if m.systemctl {
		out = append(out, "systemctl daemon-reload", "systemctl enable "+shellJoin([]string{m.unit}))
	}
	return append(out, m.notes...)
}

func lastLine(s string) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return l[len(l)-1]
}

// hostPath is p (under target) as the host names it.
func (m *mountPlan) hostPath(p string) string {
	rel, err := filepath.Rel(m.target, p)
	if err != nil {
		return p
	}
	return "/" + rel
}

func (m *mountPlan) snapshot() (*mountSnapshot, error) {
	s := &mountSnapshot{Target: m.target, Path: m.path, Size: m.size, Mounted: m.mountNow, MadeDir: m.makeDir,
		Link: m.link, Systemctl: m.systemctl, Unit: m.unit}
	for _, f := range m.files {
		f, err := f.keep()
		if err != nil {
			return nil, err
		}
		s.Files = append(s.Files, f)
	}
	return s, nil
}

func (m *mountPlan) apply(ctx context.Context, snap *mountSnapshot, out io.Writer) error {
	osPath := filepath.Join(m.target, m.path)
	if m.mountNow {
		if m.makeDir != "" {
			if err := os.MkdirAll(osPath, 0o755); err != nil {
				return fmt.Errorf("making %s: %w", m.path, err)
			}
		}
		if err := unix.Mount("hugetlbfs", osPath, "hugetlbfs", mountFlags, "pagesize="+m.size); err != nil {
			return fmt.Errorf("mount -t hugetlbfs -o %s,pagesize=%s hugetlbfs %s: %w", mountOptions, m.size, m.path, err)
		}
		fmt.Fprintf(out, "  mounted hugetlbfs (pagesize=%s) at %s\n", m.size, m.path)
	}
	for _, f := range snap.Files {
		content := f.Content
		if m.persist == "fstab" && f.Existed {
			content = f.Before
			if content != "" && !strings.HasSuffix(content, "\n") {
				content += "\n"
			}
			content += f.Content
		}
		if err := os.MkdirAll(filepath.Dir(f.Path), 0o755); err != nil {
			return err
		}
		if err := writeAtomicMode(f.Path, []byte(content), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(out, "  wrote %s\n", m.hostPath(f.Path))
	}
	if m.link != nil {
		if err := os.MkdirAll(filepath.Dir(m.link.Path), 0o755); err != nil {
			return err
		}
		if t, err := os.Readlink(m.link.Path); err == nil && t == m.link.Target {
			return nil
		}
		if err := os.Symlink(m.link.Target, m.link.Path); err != nil {
			return fmt.Errorf("enabling %s: %w", m.unit, err)
		}
		if err := syncDir(filepath.Dir(m.link.Path)); err != nil {
			return err
		}
		fmt.Fprintf(out, "  enabled %s (%s -> %s)\n", m.unit, m.hostPath(m.link.Path), m.link.Target)
	}
	if m.systemctl {
		for _, args := range [][]string{{"daemon-reload"}, {"enable", "--", m.unit}} {
			if err := systemctl(ctx, args...); err != nil {
				return err
			}
		}
		fmt.Fprintf(out, "  systemctl enable %s\n", m.unit)
	}
	return nil
}

// systemctl runs systemctl with args (argv, never a shell), bounded by systemctlTimeout.
func systemctl(ctx context.Context, args ...string) error {
	ctx, cancel := context.WithTimeout(ctx, systemctlTimeout)
	defer cancel()
	b, err := exec.CommandContext(ctx, "systemctl", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("systemctl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(b)))
	}
	return nil
}

func (m *mountPlan) verify() ([]string, error) {
	var notes []string
	if !mountedHere(m.host, m.target, m.path, m.size) {
		return nil, fmt.Errorf("%s lists no hugetlbfs of %s pages at %s", m.host.Path("proc/mounts"), m.size, m.path)
	}
	notes = append(notes, fmt.Sprintf("hugetlbfs of %s pages is mounted at %s (%s)", m.size, m.path, m.host.Path("proc/mounts")))
	for _, f := range m.files {
		b, err := readBounded(f.Path, 1<<20)
		if err != nil || !strings.Contains(string(b), f.Content) {
			return nil, fmt.Errorf("%s does not read back as written", m.hostPath(f.Path))
		}
	}
	if m.link != nil {
		if t, err := os.Readlink(m.link.Path); err != nil || t != m.link.Target {
			return nil, fmt.Errorf("%s does not point at %s", m.hostPath(m.link.Path), m.link.Target)
		}
	}
	switch m.persist {
	case "unit":
		notes = append(notes, fmt.Sprintf("at boot: %s, enabled (WantedBy=local-fs.target)", m.unit))
	case "fstab":
		notes = append(notes, "at boot: the line in /etc/fstab")
	}
	return notes, nil
}

// mountedHere reports whether r's proc/mounts lists hugetlbfs of size at path (of the host
// whose root is at target).
func mountedHere(r host.Root, target, path, size string) bool {
	b, err := r.ReadFile("proc/mounts")
	if err != nil {
		return false
	}
	ents, _ := mounts.Parse(b)
	for _, e := range ents {
		if hostPoint(target, e.Point) == path && e.FSType == "hugetlbfs" && mountSize(r, e) == size {
			return true
		}
	}
	return false
}

// undoMount puts back what a mount step did, in reverse: disables the unit, removes the link
// and the files it added (restores those it changed), unmounts what it mounted and removes the
// directories it made. Every step runs even when one fails; the errors are reported together.
func undoMount(ctx context.Context, s *mountSnapshot, out io.Writer) error {
	if validMountPath(s.Path) != "" || !filepath.IsAbs(s.Target) || pageKB(s.Size) == "" {
		return fmt.Errorf("the record's mount step names %q under %q (%s pages), not a mount of dpdk-doctor's", s.Path, s.Target, s.Size)
	}
	osPath := filepath.Join(s.Target, s.Path)
	var errs []error
	if s.Systemctl && s.Unit != "" {
		if err := systemctl(ctx, "disable", "--", s.Unit); err != nil {
			errs = append(errs, err)
		}
	}
	if s.Link != nil {
		if !strings.HasPrefix(s.Link.Path, filepath.Join(s.Target, "etc/systemd/system")+"/") || !strings.HasSuffix(s.Link.Path, ".mount") {
			errs = append(errs, fmt.Errorf("the record's link %q is not a mount unit's", s.Link.Path))
		} else if t, err := os.Readlink(s.Link.Path); err == nil && t == s.Link.Target {
			if err := removeSynced(s.Link.Path); err != nil {
				errs = append(errs, err)
			} else {
				fmt.Fprintf(out, "  removed %s\n", s.Link.Path)
			}
		}
	}
	for _, f := range s.Files {
		if f.Path != filepath.Join(s.Target, "etc/fstab") && !(filepath.Dir(f.Path) == filepath.Join(s.Target, "etc/systemd/system") && strings.HasSuffix(f.Path, ".mount")) {
			errs = append(errs, fmt.Errorf("the record's file %q is neither /etc/fstab nor a mount unit", f.Path))
			continue
		}
		err, did := error(nil), "restored"
		switch {
		case f.Existed && filepath.Base(f.Path) == "fstab":
			// Only the lines the run appended go: edits made since stay.
			cur, rerr := readBounded(f.Path, 1<<20)
			switch {
			case rerr != nil && !isNotExist(rerr):
				err = rerr
			case rerr == nil && strings.Contains(string(cur), f.Content):
				err = writeAtomicMode(f.Path, []byte(strings.Replace(string(cur), f.Content, "", 1)), 0o644)
				did = "removed the run's lines from"
			default:
				did = "found nothing of the run's in"
			}
		case f.Existed:
			err = writeAtomicMode(f.Path, []byte(f.Before), 0o644)
		default:
			err, did = removeSynced(f.Path), "removed"
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Fprintf(out, "  %s %s\n", did, f.Path)
	}
	if s.Systemctl {
		if err := systemctl(ctx, "daemon-reload"); err != nil {
			errs = append(errs, err)
		}
	}
	if s.Mounted {
		switch err := unix.Unmount(osPath, 0); {
		case err == nil:
			fmt.Fprintf(out, "  unmounted %s\n", s.Path)
		case errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOENT):
			// Not mounted (an interrupted run that did not get so far).
		default:
			errs = append(errs, fmt.Errorf("unmounting %s: %w", s.Path, err))
		}
	}
	if s.MadeDir != "" {
		if s.MadeDir != osPath && !strings.HasPrefix(osPath, s.MadeDir+"/") {
			errs = append(errs, fmt.Errorf("the record's made directory %q is not above %s", s.MadeDir, osPath))
		} else {
			// From the mount point up to the directory the run made; only empty ones go.
			for d := osPath; ; d = filepath.Dir(d) {
				if err := os.Remove(d); err != nil && !errors.Is(err, fs.ErrNotExist) {
					errs = append(errs, fmt.Errorf("removing %s: %w", d, err))
					break
				}
				if d == s.MadeDir {
					fmt.Fprintf(out, "  removed %s\n", s.MadeDir)
					break
				}
			}
		}
	}
	return errors.Join(errs...)
}
