package host

import (
	"errors"
	"io/fs"
	"runtime"
	"slices"
	"strings"
	"syscall"
)

// The raw paths read sysfs attributes and links with plain system calls, without the os.File
// that os.DirFS allocates (and registers with the poller) for every open: reading every PCI
// function of a large host is thousands of such reads. In a tree, each open refuses a link at
// its end (O_NOFOLLOW) and leaves links to the tree's own resolution (resolve.go).

func (r Root) readlinkRaw(rel string) (string, error) {
	p := "/" + clean(rel)
	buf := make([]byte, 256)
	for {
		n, err := syscall.Readlink(p, buf)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return "", &fs.PathError{Op: "readlink", Path: r.Path(rel), Err: err}
		}
		if n < len(buf) {
			return string(buf[:n]), nil
		}
		buf = make([]byte, 2*len(buf))
	}
}

// OpenedDir is an open directory of the root, for reading several files in it: on disk each read
// then resolves one path component instead of the whole path. It is safe for concurrent use.
type OpenedDir struct {
	r    Root
	rel  string // in a tree, resolved: no links in it
	show string // as asked, for messages
	fd   int    // -1 when reading through fs.FS
}

// OpenDir opens the directory at rel (following symbolic links). Close it when done.
func (r Root) OpenDir(rel string) (*OpenedDir, error) {
	c := clean(rel)
	if !fs.ValidPath(c) {
		return nil, r.pathErr("open", rel, fs.ErrInvalid)
	}
	d := &OpenedDir{r: r, rel: c, show: c, fd: -1}
	var err error
	if r.t == nil {
		if !r.live {
			return nil, r.pathErr("open", rel, errZero)
		}
		for {
			d.fd, err = openat(-100, "/"+c, syscall.O_RDONLY|syscall.O_DIRECTORY|oPath)
			if err != syscall.EINTR {
				break
			}
		}
		if err != nil {
			return nil, r.pathErr("open", rel, err)
		}
		return d, nil
	}
	var m fs.FileMode
	if r.t.fsys == nil {
		d.rel, m, err = r.t.resolveLazy(c)
	} else {
		d.rel, m, err = r.t.resolve(c, true)
	}
	if err == nil && !m.IsDir() && m != modeUnknown {
		err = syscall.ENOTDIR
	}
	if err != nil {
		return nil, r.pathErr("open", rel, err)
	}
	if r.t.fsys != nil {
		return d, nil
	}
	d.fd, err = openBeneath(r.t.fd, d.rel, syscall.O_RDONLY|syscall.O_DIRECTORY|oPath)
	if m == modeUnknown && (err == syscall.ELOOP || err == syscall.ENOTDIR) {
		// The last component was not looked at and is a link (or not a directory).
		d.rel, m, err = r.t.resolve(c, true)
		if err == nil && !m.IsDir() {
			err = syscall.ENOTDIR
		}
		if err == nil {
			d.fd, err = openBeneath(r.t.fd, d.rel, syscall.O_RDONLY|syscall.O_DIRECTORY|oPath)
		}
	}
	runtime.KeepAlive(r.t)
	if err != nil {
		return nil, r.pathErr("open", rel, err)
	}
	return d, nil
}

// Close releases the directory.
func (d *OpenedDir) Close() {
	if d.fd >= 0 {
		syscall.Close(d.fd)
		d.fd = -1
	}
}

// simple reports whether name is one entry of a directory, no path.
func simple(name string) bool {
	return name != "" && name != "." && name != ".." && !strings.Contains(name, "/")
}

// in returns the root-relative path of name in d, and how to show it.
func (d *OpenedDir) in(name string) (rel, show string) {
	return d.rel + "/" + name, d.show + "/" + name
}

// slow reports whether name must go through the root's resolution instead of the descriptor.
func (d *OpenedDir) slow(name string) bool { return d.fd < 0 || !simple(name) }

// nofollow is O_NOFOLLOW in a tree (links are resolved by the tree), 0 live.
func (d *OpenedDir) nofollow() int {
	if d.r.t != nil {
		return syscall.O_NOFOLLOW
	}
	return 0
}

// ReadHead reads at most n bytes of the file name in the directory.
func (d *OpenedDir) ReadHead(name string, n int) ([]byte, error) {
	b := make([]byte, n)
	m, err := d.ReadAt(name, b, 0)
	if err != nil {
		return nil, err
	}
	return b[:m], nil
}

// ReadAt reads up to len(b) bytes of the file name in the directory, from byte off, into b and
// returns how many it read (fewer at the file's end). On the live host only those bytes are
// read: in a device's sysfs config file every 4 bytes is a read of the device's configuration
// space (in a virtual machine, a trap to the hypervisor of some 20 µs), so a reader asks for
// the bytes it uses.
func (d *OpenedDir) ReadAt(name string, b []byte, off int) (int, error) {
	rel, show := d.in(name)
	if off < 0 {
		return 0, &fs.PathError{Op: "read", Path: d.r.Path(show), Err: fs.ErrInvalid}
	}
	fallback := d.slow(name)
	if !fallback && d.r.t != nil {
		// In a tree, look before opening: opening a device node can act (a watchdog starts, a
		// tape rewinds), and a link is the tree's to resolve.
		var st syscall.Stat_t
		if err := fstatatNoFollow(d.fd, name, &st); err != nil {
			return 0, &fs.PathError{Op: "open", Path: d.r.Path(show), Err: err}
		}
		switch st.Mode & syscall.S_IFMT {
		case syscall.S_IFLNK:
			fallback = true
		case syscall.S_IFREG:
		default:
			return 0, &fs.PathError{Op: "open", Path: d.r.Path(show), Err: checkRegular(modeOf(st.Mode))}
		}
	}
	if fallback {
		head, err := d.r.ReadHead(rel, off+len(b))
		if err != nil {
			return 0, err
		}
		return copy(b, head[min(off, len(head)):]), nil
	}
	var fd int
	var err error
	for {
		fd, err = openat(d.fd, name, syscall.O_RDONLY|syscall.O_NONBLOCK|d.nofollow())
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		return 0, &fs.PathError{Op: "open", Path: d.r.Path(show), Err: err}
	}
	defer syscall.Close(fd)
	n, err := preadFD(fd, b, off) // bounded by len(b); a tree's file was looked at above
	if err != nil {
		return 0, &fs.PathError{Op: "read", Path: d.r.Path(show), Err: err}
	}
	return n, nil
}

// LinkBase returns the last element of the target of the link name in the directory, or ""
// when there is no such link.
func (d *OpenedDir) LinkBase(name string) (string, error) {
	if d.slow(name) {
		rel, _ := d.in(name)
		return d.r.LinkBase(rel)
	}
	t, err := d.readLink(name, false)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	if i := strings.LastIndexByte(t, '/'); i >= 0 {
		t = t[i+1:]
	}
	return t, nil
}

// Exists reports whether name exists in the directory.
func (d *OpenedDir) Exists(name string) bool {
	rel, _ := d.in(name)
	if d.slow(name) {
		return d.r.Exists(rel)
	}
	var st syscall.Stat_t
	if d.r.t == nil {
		return fstatat(d.fd, name, &st) == nil
	}
	if err := fstatatNoFollow(d.fd, name, &st); err != nil {
		return false
	}
	if st.Mode&syscall.S_IFMT == syscall.S_IFLNK {
		return d.r.Exists(rel)
	}
	return true
}

// ReadLink returns the target of the link name in the directory.
func (d *OpenedDir) ReadLink(name string) (string, error) { return d.readLink(name, true) }

// readLink reads the link name; in a tree, remember keeps it for the lookups that follow it
// (the PCI walk reads a device's link, then opens the directory it leads to).
func (d *OpenedDir) readLink(name string, remember bool) (string, error) {
	rel, show := d.in(name)
	if d.slow(name) {
		return d.r.ReadLink(rel)
	}
	var scratch [256]byte
	buf := scratch[:]
	for {
		n, err := readlinkat(d.fd, name, buf)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return "", &fs.PathError{Op: "readlink", Path: d.r.Path(show), Err: err}
		}
		if n < len(buf) {
			t := string(buf[:n])
			if remember && d.r.t != nil {
				d.r.t.remember(rel, entry{mode: fs.ModeSymlink, target: t})
			}
			return t, nil
		}
		buf = make([]byte, 2*len(buf))
	}
}

// OpenDir opens the directory name inside d (following a link, inside a tree), as Root.OpenDir
// does.
func (d *OpenedDir) OpenDir(name string) (*OpenedDir, error) {
	rel, show := d.in(name)
	if d.slow(name) {
		sub, err := d.r.OpenDir(rel)
		if sub != nil {
			sub.show = show
		}
		return sub, err
	}
	if d.r.t != nil {
		if e, ok := d.r.t.cached(rel); ok && e.mode&fs.ModeSymlink != 0 {
			sub, err := d.r.OpenDir(rel)
			if sub != nil {
				sub.show = show
			}
			return sub, err
		}
	}
	sub := &OpenedDir{r: d.r, rel: rel, show: show, fd: -1}
	var err error
	for {
		sub.fd, err = openat(d.fd, name, syscall.O_RDONLY|syscall.O_DIRECTORY|oPath|d.nofollow())
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil && err != syscall.ENOENT && d.r.t != nil { // a link: the tree resolves it
		sub, err := d.r.OpenDir(rel)
		if sub != nil {
			sub.show = show
		}
		return sub, err
	}
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: d.r.Path(show), Err: err}
	}
	return sub, nil
}

// readRegular reads from fd, which must be a regular file: at most limit bytes, or, when exact,
// the whole file, which must not be longer than limit. guess, when not 0, is the size to start
// with; else it comes from the file (sysfs says 4096 and procfs 0 whatever the contents).
func readRegular(fd, limit int, exact bool, guess int) ([]byte, error) {
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return nil, err
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFREG {
		return nil, errNotRegular
	}
	if !exact && guess == 0 && limit <= 64<<10 {
		return readFD(fd, limit) // a small head: one buffer
	}
	if guess == 0 {
		guess = int(min(max(st.Size, 512), int64(limit)))
	}
	buf := make([]byte, 0, guess+1)
	for {
		if len(buf) == cap(buf) {
			if len(buf) > limit {
				break
			}
			buf = slices.Grow(buf, max(1, min(len(buf), limit+1-len(buf))))
		}
		m, err := syscall.Read(fd, buf[len(buf):min(cap(buf), limit+1)])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		if m == 0 {
			break
		}
		buf = buf[:len(buf)+m]
	}
	if len(buf) > limit {
		if exact {
			return nil, errTooLarge(limit)
		}
		buf = buf[:limit]
	}
	return buf, nil
}

// readFD reads at most max bytes from fd, until end of file.
func readFD(fd, max int) ([]byte, error) {
	buf := make([]byte, max)
	n, err := preadFD(fd, buf, -1)
	if err != nil {
		return nil, err
	}
	return buf[:n], nil
}

// preadFD fills b from fd at off (from the file offset when off < 0), stopping early only at the
// file's end.
func preadFD(fd int, b []byte, off int) (int, error) {
	n := 0
	for n < len(b) {
		var m int
		var err error
		if off < 0 {
			m, err = syscall.Read(fd, b[n:])
		} else {
			m, err = syscall.Pread(fd, b[n:], int64(off+n))
		}
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return 0, err
		}
		if m == 0 {
			break
		}
		n += m
	}
	return n, nil
}
