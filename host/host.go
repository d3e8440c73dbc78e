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
	"strconv"
	"strings"
)

// Root is a host's file system: the live host or a captured tree. The zero value is not usable;
// use Live, Dir or FS.
type Root struct {
	fsys fs.FS
	name string // for messages: "/" or the tree's directory
	live bool
	base string // on-disk directory the tree is at ("/" live), "" for in-memory trees
}

// Live returns the running host's root ("/").
func Live() Root { return Root{fsys: os.DirFS("/"), name: "/", live: true, base: "/"} }

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
	r := Root{fsys: os.DirFS(abs), name: abs, base: abs + "/"}
	if !r.Exists("sys") && !r.Exists("proc") {
		return Root{}, fmt.Errorf("host tree %s: holds neither sys/ nor proc/ (see README: the tree layout)", dir)
	}
	return r, nil
}

// FS returns a host tree held in fsys (for example the embedded demo). fsys should implement
// fs.ReadLinkFS, since sysfs is made of symbolic links.
func FS(fsys fs.FS, name string) Root { return Root{fsys: fsys, name: name} }

// IsLive reports whether r is the running host, where the kernel log comes from /dev/kmsg and
// changes can be made.
func (r Root) IsLive() bool { return r.live }

// String names the root for messages: "/" or the tree's directory.
func (r Root) String() string { return r.name }

// Path returns the host path of rel as a user would type it on that host ("/sys/...").
func (r Root) Path(rel string) string { return "/" + strings.TrimPrefix(rel, "/") }

// OSPath returns where rel lives on this machine's file system, when r is on disk, else "".
func (r Root) OSPath(rel string) string {
	switch {
	case r.live:
		return r.Path(rel)
	case strings.HasPrefix(r.name, "/"):
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

// ReadFile reads the file at rel ("sys/bus/pci/devices/0000:03:00.0/config").
func (r Root) ReadFile(rel string) ([]byte, error) {
	return fs.ReadFile(r.fsys, clean(rel))
}

// ReadHead reads at most the first n bytes of a file (the 64-byte header of a PCI config space,
// a one-line sysfs attribute) with as few system calls as the root allows.
func (r Root) ReadHead(rel string, n int) ([]byte, error) {
	if r.base != "" {
		return r.readRaw(rel, n)
	}
	f, err := r.fsys.Open(clean(rel))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	buf := make([]byte, n)
	m, err := io.ReadFull(f, buf)
	if err == io.ErrUnexpectedEOF || err == io.EOF {
		err = nil
	}
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: r.Path(rel), Err: err}
	}
	return buf[:m], nil
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
	return fs.ReadDir(r.fsys, clean(rel))
}

// ReadLink returns the target of the symbolic link at rel.
func (r Root) ReadLink(rel string) (string, error) {
	if r.base != "" {
		return r.readlinkRaw(rel)
	}
	return fs.ReadLink(r.fsys, clean(rel))
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

// Exists reports whether anything is at rel.
func (r Root) Exists(rel string) bool {
	_, err := fs.Stat(r.fsys, clean(rel))
	return err == nil
}
