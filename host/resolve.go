package host

import (
	"errors"
	"io/fs"
	"runtime"
	"strings"
	"sync"
	"syscall"
)

// A captured tree comes from a stranger, and sysfs is made of symbolic links, some of them
// (in a tree copied with cp -a, or crafted) absolute or climbing with "..". A tree is read the
// way a chroot would see it: links are resolved here, one component at a time, against the
// tree's own directory; an absolute target starts again at the tree's root, ".." stops at the
// root, and more than maxHops links in one lookup fail as the kernel's ELOOP does. What is then
// opened is a path without links, opened beneath the tree's descriptor with the kernel refusing
// any link or escape (openat2 RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS). The live root "/" is read
// as the kernel resolves it.

// maxHops is how many symbolic links one lookup may follow, as Linux's MAXSYMLINKS.
const maxHops = 40

// errLoop is returned when a lookup follows more than maxHops links.
var errLoop = syscall.ELOOP

// tree is the state of a captured tree: its directory descriptor on disk (or its fs.FS in
// memory) and the directories already known to be real directories, so that the thousands of
// lookups of a large host share their prefixes.
type tree struct {
	fd   int   // O_PATH descriptor of the tree's directory; -1 for an in-memory tree
	fsys fs.FS // the in-memory tree; nil on disk

	seen sync.Map // resolved path -> entry: the directories and links met (a tree does not change)
}

// entry is what a lookup found at a path: a directory, or a link and its target.
type entry struct {
	mode   fs.FileMode
	target string
}

func newDiskTree(fd int) *tree {
	t := &tree{fd: fd}
	runtime.AddCleanup(t, func(fd int) { syscall.Close(fd) }, fd)
	return t
}

func newMemTree(fsys fs.FS) *tree { return &tree{fd: -1, fsys: fsys} }

func (t *tree) cached(p string) (entry, bool) {
	v, ok := t.seen.Load(p)
	if !ok {
		return entry{}, false
	}
	return v.(entry), true
}

func (t *tree) remember(p string, e entry) { t.seen.Store(p, e) }

// lstat returns the type of the entry at p, a path whose parent holds no links.
func (t *tree) lstat(p string) (fs.FileMode, error) {
	if t.fsys != nil {
		st, err := fs.Lstat(t.fsys, p)
		if err != nil {
			return 0, err
		}
		return st.Mode(), nil
	}
	var st syscall.Stat_t
	err := fstatatNoFollow(t.fd, p, &st)
	runtime.KeepAlive(t)
	if err != nil {
		return 0, err
	}
	return modeOf(st.Mode), nil
}

func (t *tree) readlink(p string) (string, error) {
	if t.fsys != nil {
		return fs.ReadLink(t.fsys, p)
	}
	buf := make([]byte, 256)
	for {
		n, err := readlinkat(t.fd, p, buf)
		runtime.KeepAlive(t)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return "", err
		}
		if n < len(buf) {
			return string(buf[:n]), nil
		}
		if len(buf) >= 1<<16 {
			return "", syscall.ENAMETOOLONG
		}
		buf = make([]byte, 2*len(buf))
	}
}

func modeOf(m uint32) fs.FileMode {
	switch m & syscall.S_IFMT {
	case syscall.S_IFDIR:
		return fs.ModeDir
	case syscall.S_IFLNK:
		return fs.ModeSymlink
	case syscall.S_IFREG:
		return 0
	case syscall.S_IFIFO:
		return fs.ModeNamedPipe
	case syscall.S_IFSOCK:
		return fs.ModeSocket
	case syscall.S_IFCHR:
		return fs.ModeDevice | fs.ModeCharDevice
	}
	return fs.ModeDevice
}

// resolve returns the path inside the tree, free of links, that rel names, and the type of what
// is there. rel is relative to the tree's root; links met on the way are followed inside the
// tree, and so is a link at the end when follow is set. The root itself is ".".
func (t *tree) resolve(rel string, follow bool) (string, fs.FileMode, error) {
	return t.walk(rel, follow, false)
}

// modeUnknown is the type resolveLazy gives a last component it did not look at.
const modeUnknown = fs.ModeIrregular

// resolveLazy is resolve without the look at the last component when nothing is known of it:
// for a caller that opens the result refusing links (openBeneath) and, when that open fails
// with ELOOP or ENOTDIR, calls resolve.
func (t *tree) resolveLazy(rel string) (string, fs.FileMode, error) {
	return t.walk(rel, true, true)
}

func (t *tree) walk(rel string, follow, lazy bool) (string, fs.FileMode, error) {
	cur := ""          // resolved so far, no links in it
	var lens []int     // len(cur) before each component, for ".."
	mode := fs.ModeDir // of cur
	todo := rel        // what is left to walk
	hops := 0
	for todo != "" {
		var c string
		if i := strings.IndexByte(todo, '/'); i >= 0 {
			c, todo = todo[:i], todo[i+1:]
		} else {
			c, todo = todo, ""
		}
		switch c {
		case "", ".":
			if !mode.IsDir() { // "file/." or "file/"
				return "", 0, syscall.ENOTDIR
			}
			continue
		case "..":
			if !mode.IsDir() {
				return "", 0, syscall.ENOTDIR
			}
			if len(lens) > 0 {
				cur, lens = cur[:lens[len(lens)-1]], lens[:len(lens)-1]
			}
			mode = fs.ModeDir
			continue
		}
		if !mode.IsDir() {
			return "", 0, syscall.ENOTDIR
		}
		p := c
		if cur != "" {
			p = cur + "/" + c
		}
		e, known := t.cached(p)
		if !known && lazy && todo == "" {
			return p, modeUnknown, nil
		}
		if !known {
			var err error
			if e.mode, err = t.lstat(p); err != nil {
				return "", 0, err
			}
		}
		// A link is followed unless it ends the path and follow is off; anything after it, even
		// "/" or "/.", makes it a directory to enter, as for the kernel.
		if e.mode&fs.ModeSymlink != 0 && (follow || todo != "") {
			if hops++; hops > maxHops {
				return "", 0, errLoop
			}
			if !known {
				var err error
				if e.target, err = t.readlink(p); err != nil {
					return "", 0, err
				}
				t.remember(p, e)
			}
			target := e.target
			if target == "" {
				return "", 0, syscall.ENOENT
			}
			if target[0] == '/' {
				cur, lens = "", lens[:0]
			}
			if todo != "" {
				target += "/" + todo
			}
			todo, mode = target, fs.ModeDir
			continue
		}
		if !known && e.mode.IsDir() {
			t.remember(p, e)
		}
		m := e.mode
		lens = append(lens, len(cur))
		cur, mode = p, m
	}
	if cur == "" {
		cur = "."
	}
	return cur, mode, nil
}

var (
	errNotRegular = errors.New("not a regular file (devices, FIFOs and sockets are not read)")
	errIsDir      = errors.New("is a directory")
)

// checkRegular refuses what is not a plain file before it is opened.
func checkRegular(m fs.FileMode) error {
	switch {
	case m.IsDir():
		return errIsDir
	case !m.IsRegular():
		return errNotRegular
	}
	return nil
}
