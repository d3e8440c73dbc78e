// Package host reads a Linux host's sys/, proc/ and kernel log, either live at "/" or from a
// captured copy of one (a support bundle, a test fixture, the embedded demo).
//
// It is the one way the rest of dpdk-doctor reads host facts, in the manner of
// prometheus/procfs: every path is relative to a root, so the same code reads a live host and a
// fixture tree. Nothing else opens /sys or /proc.
package host

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// Root is a host's file system: the live host or a captured tree. The zero value is not usable;
// use Live, Dir or FS.
//
// A captured tree is read as a chroot would see it (see resolve.go): no link in it leads out of
// it, and only regular files are read. Every read is bounded (MaxRead, MaxLargeRead).
type Root struct {
	name string // for messages: "/" or the tree's directory
	live bool
	t    *tree // a captured tree, on disk or in memory; nil for the live host
}

// MaxRead bounds what one read of a host file returns; MaxLargeRead bounds the large files
// (ACPI tables, logs, pci.ids, modules.alias). A larger file is an error, not a truncated read.
const (
	MaxRead      = 1 << 20
	MaxLargeRead = 16 << 20
)

// large are the places whose files may exceed MaxRead.
var large = []string{"sys/firmware/acpi/", "var/log/", "usr/share/", "lib/modules/", "var/lib/dpdk-doctor/"}

func limitFor(c string) int {
	for _, p := range large {
		if strings.HasPrefix(c, p) {
			return MaxLargeRead
		}
	}
	return MaxRead
}

// Live returns the running host's root ("/").
func Live() Root { return Root{name: "/", live: true} }

// Dir returns the captured host tree at dir. It fails when dir is not a directory or holds
// neither sys/ nor proc/.
func Dir(dir string) (Root, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return Root{}, fmt.Errorf("host tree %s: %w", dir, err)
	}
	if !st.IsDir() {
		return Root{}, fmt.Errorf("host tree %s: not a directory", dir)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return Root{}, fmt.Errorf("host tree %s: %w", dir, err)
	}
	fd, err := syscall.Open(abs, oPath|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return Root{}, fmt.Errorf("host tree %s: %w", dir, err)
	}
	r := Root{name: abs, t: newDiskTree(fd)}
	if !r.Exists("sys") && !r.Exists("proc") {
		return Root{}, fmt.Errorf("host tree %s: holds neither sys/ nor proc/ (see README: the tree layout)", dir)
	}
	return r, nil
}

// FS returns a host tree held in fsys (for example the embedded demo), read by the same rules
// as a tree on disk. fsys should implement fs.ReadLinkFS, since sysfs is made of symbolic links.
func FS(fsys fs.FS, name string) Root { return Root{name: name, t: newMemTree(fsys)} }

// IsLive reports whether r is the running host, where the kernel log comes from /dev/kmsg and
// changes can be made.
func (r Root) IsLive() bool { return r.live }

// String names the root for messages: "/" or the tree's directory.
func (r Root) String() string { return r.name }

// Path returns the host path of rel as a user would type it on that host ("/sys/...").
func (r Root) Path(rel string) string { return "/" + strings.TrimPrefix(rel, "/") }

// OSPath returns where rel lives on this machine's file system, when r is on disk, else "".
// In a tree the path is only where rel would be without following links.
func (r Root) OSPath(rel string) string {
	switch {
	case r.live:
		return r.Path(rel)
	case r.t != nil && r.t.fsys == nil:
		return filepath.Join(r.name, filepath.FromSlash(clean(rel)))
	}
	return ""
}

func clean(rel string) string {
	rel = path.Clean(strings.TrimPrefix(rel, "/"))
	if rel == "" {
		return "."
	}
	return rel
}

// pathErr makes the error of an operation on rel, naming the host path, not the tree's.
func (r Root) pathErr(op, rel string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return &fs.PathError{Op: op, Path: r.Path(rel), Err: err}
}

// Resolve returns the path, free of links and inside the root, that rel names (following a
// link at the end). On the live host it is the kernel's answer; in a tree, the chroot's.
func (r Root) Resolve(rel string) (string, error) {
	c := clean(rel)
	if !fs.ValidPath(c) {
		return "", r.pathErr("resolve", rel, fs.ErrInvalid)
	}
	if r.t == nil {
		if !r.live {
			return "", r.pathErr("resolve", rel, errZero)
		}
		p, err := filepath.EvalSymlinks("/" + c)
		if err != nil {
			return "", r.pathErr("resolve", rel, err)
		}
		return clean(p), nil
	}
	p, _, err := r.t.resolve(c, true)
	if err != nil {
		return "", r.pathErr("resolve", rel, err)
	}
	return p, nil
}

// ReadFile reads the file at rel ("sys/bus/pci/devices/0000:03:00.0/config"). A file larger
// than MaxRead (MaxLargeRead for logs, ACPI tables and databases) is an error.
func (r Root) ReadFile(rel string) ([]byte, error) {
	return r.read(rel, -1)
}

// ReadHead reads at most the first n bytes of a file (the 64-byte header of a PCI config space,
// a one-line sysfs attribute) with as few system calls as the root allows.
func (r Root) ReadHead(rel string, n int) ([]byte, error) {
	return r.read(rel, n)
}

// read reads rel whole (head < 0, bounded by limitFor) or its first head bytes.
func (r Root) read(rel string, head int) ([]byte, error) {
	c := clean(rel)
	if !fs.ValidPath(c) {
		return nil, r.pathErr("open", rel, fs.ErrInvalid)
	}
	limit, exact := head, false
	if head < 0 {
		limit, exact = limitFor(c), true
	}
	if r.t == nil {
		if !r.live {
			return nil, r.pathErr("open", rel, errZero)
		}
		return r.readFD(rel, -100, "/"+c, syscall.O_RDONLY|syscall.O_NONBLOCK, limit, exact)
	}
	p, m, err := r.t.resolve(c, true)
	if err == nil {
		err = checkRegular(m)
	}
	if err != nil {
		return nil, r.pathErr("open", rel, err)
	}
	if r.t.fsys == nil {
		fd, err := openBeneath(r.t.fd, p, syscall.O_RDONLY|syscall.O_NONBLOCK)
		runtime.KeepAlive(r.t)
		if err != nil {
			return nil, r.pathErr("open", rel, err)
		}
		defer syscall.Close(fd)
		b, err := readRegular(fd, limit, exact, 0)
		if err != nil {
			return nil, r.pathErr("read", rel, err)
		}
		return b, nil
	}
	f, err := r.t.fsys.Open(p)
	if err != nil {
		return nil, r.pathErr("open", rel, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, int64(limit)+1))
	if err == nil && len(b) > limit {
		if !exact {
			return b[:limit], nil
		}
		err = errTooLarge(limit)
	}
	if err != nil {
		return nil, r.pathErr("read", rel, err)
	}
	return b, nil
}

// errZero is the error of a Root that is neither Live, Dir nor FS: it reads nothing.
var errZero = errors.New("not a host root (the zero host.Root)")

func errTooLarge(limit int) error {
	return fmt.Errorf("larger than %d bytes, the most read from one file", limit)
}

// readFD opens name relative to dirfd (following links: the live host) and reads it.
func (r Root) readFD(rel string, dirfd int, name string, flags, limit int, exact bool) ([]byte, error) {
	var fd int
	var err error
	for {
		fd, err = openat(dirfd, name, flags)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		return nil, r.pathErr("open", rel, err)
	}
	defer syscall.Close(fd)
	b, err := readRegular(fd, limit, exact, 0)
	if err != nil {
		return nil, r.pathErr("read", rel, err)
	}
	return b, nil
}

// ReadTail reads at most the last n bytes of a regular file (a log that may be large).
func (r Root) ReadTail(rel string, n int) ([]byte, error) {
	c := clean(rel)
	if !fs.ValidPath(c) {
		return nil, r.pathErr("open", rel, fs.ErrInvalid)
	}
	if r.t != nil && r.t.fsys != nil {
		p, m, err := r.t.resolve(c, true)
		if err == nil {
			err = checkRegular(m)
		}
		if err != nil {
			return nil, r.pathErr("open", rel, err)
		}
		b, err := fs.ReadFile(r.t.fsys, p)
		if err != nil {
			return nil, r.pathErr("read", rel, err)
		}
		return b[max(0, len(b)-n):], nil
	}
	var fd int
	var err error
	if r.t == nil {
		if !r.live {
			return nil, r.pathErr("open", rel, errZero)
		}
		fd, err = openat(-100, "/"+c, syscall.O_RDONLY|syscall.O_NONBLOCK)
	} else {
		var p string
		var m fs.FileMode
		p, m, err = r.t.resolve(c, true)
		if err == nil {
			err = checkRegular(m)
		}
		if err == nil {
			fd, err = openBeneath(r.t.fd, p, syscall.O_RDONLY|syscall.O_NONBLOCK)
			runtime.KeepAlive(r.t)
		}
	}
	if err != nil {
		return nil, r.pathErr("open", rel, err)
	}
	defer syscall.Close(fd)
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return nil, r.pathErr("read", rel, err)
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFREG {
		return nil, r.pathErr("read", rel, errNotRegular)
	}
	if st.Size > int64(n) {
		if _, err := syscall.Seek(fd, st.Size-int64(n), io.SeekStart); err != nil {
			return nil, r.pathErr("read", rel, err)
		}
	}
	// Sized from the file (that may still grow), not from n: a log is usually far smaller.
	b, err := readRegular(fd, n, false, int(min(st.Size+1, int64(n))))
	if err != nil {
		return nil, r.pathErr("read", rel, err)
	}
	return b, nil
}

// ReadString reads a one-value sysfs file and returns its text without surrounding space.
func (r Root) ReadString(rel string) (string, error) {
	b, err := r.ReadFile(rel)
	if err != nil {
		return "", err
	}
	return string(bytes.TrimSpace(b)), nil
}

// ReadInt reads a one-value file holding a decimal integer.
func (r Root) ReadInt(rel string) (int64, error) {
	s, err := r.ReadString(rel)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		if len(s) > 32 {
			s = s[:32] + "..."
		}
		return 0, fmt.Errorf("%s: %q is not a number", r.Path(rel), s)
	}
	return n, nil
}

// ReadDir lists the directory at rel, sorted by name.
func (r Root) ReadDir(rel string) ([]fs.DirEntry, error) {
	c := clean(rel)
	if !fs.ValidPath(c) {
		return nil, r.pathErr("open", rel, fs.ErrInvalid)
	}
	if r.t == nil {
		if !r.live {
			return nil, r.pathErr("open", rel, errZero)
		}
		return fs.ReadDir(os.DirFS("/"), c)
	}
	p, m, err := r.t.resolve(c, true)
	if err == nil && !m.IsDir() {
		err = syscall.ENOTDIR
	}
	if err != nil {
		return nil, r.pathErr("open", rel, err)
	}
	if r.t.fsys != nil {
		ents, err := fs.ReadDir(r.t.fsys, p)
		if err != nil {
			return nil, r.pathErr("readdir", rel, err)
		}
		return ents, nil
	}
	fd, err := openBeneath(r.t.fd, p, syscall.O_RDONLY|syscall.O_DIRECTORY)
	runtime.KeepAlive(r.t)
	if err != nil {
		return nil, r.pathErr("open", rel, err)
	}
	f := os.NewFile(uintptr(fd), r.Path(rel))
	defer f.Close()
	ents, err := f.ReadDir(-1)
	if err != nil {
		return nil, r.pathErr("readdir", rel, err)
	}
	slices.SortFunc(ents, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return ents, nil
}

// ReadLink returns the target of the symbolic link at rel, as written: in a tree, a target is
// only text, and any path read through it is resolved inside the tree.
func (r Root) ReadLink(rel string) (string, error) {
	c := clean(rel)
	if !fs.ValidPath(c) || c == "." {
		return "", r.pathErr("readlink", rel, fs.ErrInvalid)
	}
	if r.t == nil {
		if !r.live {
			return "", r.pathErr("readlink", rel, errZero)
		}
		return r.readlinkRaw(rel)
	}
	dir, base := path.Split(c)
	pd, m, err := r.t.resolve(dir, true)
	if err == nil && !m.IsDir() {
		err = syscall.ENOTDIR
	}
	if err != nil {
		return "", r.pathErr("readlink", rel, err)
	}
	if pd != "." {
		base = pd + "/" + base
	}
	t, err := r.t.readlink(base)
	if err != nil {
		return "", r.pathErr("readlink", rel, err)
	}
	return t, nil
}

// LinkBase returns the last element of the link target at rel: the driver name of a
// "driver" link, the group number of an "iommu_group" link. A missing link gives "" and no error.
func (r Root) LinkBase(rel string) (string, error) {
	t, err := r.ReadLink(rel)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return path.Base(t), nil
}

// Exists reports whether anything is at rel (following links, inside a tree).
func (r Root) Exists(rel string) bool {
	c := clean(rel)
	if !fs.ValidPath(c) {
		return false
	}
	if r.t == nil {
		if !r.live {
			return false
		}
		var st syscall.Stat_t
		return fstatat(-100, "/"+c, &st) == nil
	}
	_, _, err := r.t.resolve(c, true)
	return err == nil
}

// lstat returns the type of what is at rel without following a link at the end.
func (r Root) lstat(rel string) (fs.FileMode, error) {
	c := clean(rel)
	if !fs.ValidPath(c) {
		return 0, r.pathErr("lstat", rel, fs.ErrInvalid)
	}
	if r.t == nil {
		if !r.live {
			return 0, r.pathErr("lstat", rel, errZero)
		}
		st, err := os.Lstat("/" + c)
		if err != nil {
			return 0, err
		}
		return st.Mode(), nil
	}
	_, m, err := r.t.resolve(c, false)
	return m, err
}
