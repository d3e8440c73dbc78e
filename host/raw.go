package host

import (
	"io/fs"
	"path/filepath"
	"strings"
	"syscall"
)

// The raw paths read sysfs attributes and links with plain system calls, without the os.File
// that os.DirFS allocates (and registers with the poller) for every open: reading every PCI
// function of a large host is thousands of such reads. Paths are cleaned and kept inside the
// root as os.DirFS keeps them.

func (r Root) rawPath(rel string) (string, error) {
	c := clean(rel)
	if !fs.ValidPath(c) {
		return "", &fs.PathError{Op: "open", Path: rel, Err: fs.ErrInvalid}
	}
	if strings.HasSuffix(r.base, "/") {
		return r.base + c, nil
	}
	return filepath.Join(r.base, c), nil
}

func (r Root) readRaw(rel string, max int) ([]byte, error) {
	p, err := r.rawPath(rel)
	if err != nil {
		return nil, err
	}
	var fd int
	for {
		fd, err = syscall.Open(p, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: r.Path(rel), Err: err}
	}
	defer syscall.Close(fd)
	b, err := readFD(fd, max)
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: r.Path(rel), Err: err}
	}
	return b, nil
}

func (r Root) readlinkRaw(rel string) (string, error) {
	p, err := r.rawPath(rel)
	if err != nil {
		return "", err
	}
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
	r   Root
	rel string
	fd  int // -1 when reading through fs.FS
}

// OpenDir opens the directory at rel (following symbolic links). Close it when done.
func (r Root) OpenDir(rel string) (*OpenedDir, error) {
	d := &OpenedDir{r: r, rel: clean(rel), fd: -1}
	if r.base == "" {
		return d, nil
	}
	p, err := r.rawPath(rel)
	if err != nil {
		return nil, err
	}
	for {
		d.fd, err = syscall.Open(p, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC|oPath, 0)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: r.Path(rel), Err: err}
	}
	return d, nil
}

const oPath = 0x200000 // O_PATH: the directory is only a starting point for *at calls

// Close releases the directory.
func (d *OpenedDir) Close() {
	if d.fd >= 0 {
		syscall.Close(d.fd)
		d.fd = -1
	}
}

// ReadHead reads at most n bytes of the file name in the directory.
func (d *OpenedDir) ReadHead(name string, n int) ([]byte, error) {
	if d.fd < 0 {
		return d.r.ReadHead(d.rel+"/"+name, n)
	}
	var fd int
	var err error
	for {
		fd, err = openat(d.fd, name)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: d.r.Path(d.rel + "/" + name), Err: err}
	}
	defer syscall.Close(fd)
	b, err := readFD(fd, n)
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: d.r.Path(d.rel + "/" + name), Err: err}
	}
	return b, nil
}

// LinkBase returns the last element of the target of the link name in the directory, or ""
// when there is no such link.
func (d *OpenedDir) LinkBase(name string) (string, error) {
	if d.fd < 0 {
		return d.r.LinkBase(d.rel + "/" + name)
	}
	var scratch [256]byte // a link target is short; a longer one gets a bigger buffer below
	buf := scratch[:]
	for {
		n, err := readlinkat(d.fd, name, buf)
		if err == syscall.EINTR {
			continue
		}
		if err == syscall.ENOENT {
			return "", nil
		}
		if err != nil {
			return "", &fs.PathError{Op: "readlink", Path: d.r.Path(d.rel + "/" + name), Err: err}
		}
		if n == len(buf) {
			buf = make([]byte, 2*len(buf))
			continue
		}
		t := string(buf[:n])
		if i := strings.LastIndexByte(t, '/'); i >= 0 {
			t = t[i+1:]
		}
		return t, nil
	}
}

// Exists reports whether name exists in the directory.
func (d *OpenedDir) Exists(name string) bool {
	if d.fd < 0 {
		return d.r.Exists(d.rel + "/" + name)
	}
	var st syscall.Stat_t
	return fstatat(d.fd, name, &st) == nil
}

// ReadLink returns the target of the link name in the directory.
func (d *OpenedDir) ReadLink(name string) (string, error) {
	if d.fd < 0 {
		return d.r.ReadLink(d.rel + "/" + name)
	}
	var scratch [256]byte
	buf := scratch[:]
	for {
		n, err := readlinkat(d.fd, name, buf)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return "", &fs.PathError{Op: "readlink", Path: d.r.Path(d.rel + "/" + name), Err: err}
		}
		if n < len(buf) {
			return string(buf[:n]), nil
		}
		buf = make([]byte, 2*len(buf))
	}
}

// OpenDir opens the directory name inside d (following a link), as Root.OpenDir does.
func (d *OpenedDir) OpenDir(name string) (*OpenedDir, error) {
	if d.fd < 0 {
		return d.r.OpenDir(d.rel + "/" + name)
	}
	sub := &OpenedDir{r: d.r, rel: d.rel + "/" + name, fd: -1}
	var err error
	for {
		sub.fd, err = syscall.Openat(d.fd, name, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC|oPath, 0)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: d.r.Path(sub.rel), Err: err}
	}
	return sub, nil
}

// readFD reads at most max bytes from fd, until end of file.
func readFD(fd, max int) ([]byte, error) {
	buf := make([]byte, max)
	n := 0
	for n < max {
		m, err := syscall.Read(fd, buf[n:])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		if m == 0 {
			break
		}
		n += m
	}
	return buf[:n], nil
}
