package lab

import (
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
)

// A newc ("070701") cpio writer: the format the kernel unpacks an initramfs from. It is a few
// dozen lines, so the lab writes its own rather than pull u-root's module tree (and its
// dependencies) into the project's go.mod for one file format.

// cpioFile is one initramfs entry: a regular file, a directory or a symbolic link.
type cpioFile struct {
	Name string // path inside the archive, without a leading "/"
	Mode uint32 // permission bits
	Data []byte // file contents
	Link string // target, for a symbolic link
	Dir  bool
}

const (
	cpioReg  = 0o100000
	cpioDir  = 0o040000
	cpioLink = 0o120000
)

// writeCPIO writes files (and the directories above them) as a newc archive ending in TRAILER!!!.
func writeCPIO(w io.Writer, files []cpioFile) error {
	seen := map[string]bool{}
	var all []cpioFile
	var addDirs func(string)
	addDirs = func(dir string) {
		if dir == "." || dir == "/" || dir == "" || seen[dir] {
			return
		}
		addDirs(path.Dir(dir))
		seen[dir] = true
		all = append(all, cpioFile{Name: dir, Mode: 0o755, Dir: true})
	}
	sorted := append([]cpioFile(nil), files...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	for _, f := range sorted {
		f.Name = strings.TrimPrefix(path.Clean("/"+f.Name), "/")
		if f.Name == "" {
			return fmt.Errorf("cpio: empty file name")
		}
		addDirs(path.Dir(f.Name))
		if f.Dir {
			addDirs(f.Name)
			continue
		}
		if seen[f.Name] {
			return fmt.Errorf("cpio: %s listed twice", f.Name)
		}
		seen[f.Name] = true
		all = append(all, f)
	}
	for i, f := range all {
		mode, data := f.Mode&0o7777, f.Data
		switch {
		case f.Dir:
			mode |= cpioDir
		case f.Link != "":
			mode |= cpioLink
			data = []byte(f.Link)
		default:
			mode |= cpioReg
		}
		if err := cpioEntry(w, uint32(i+1), mode, f.Name, data); err != nil {
			return err
		}
	}
	return cpioEntry(w, 0, 0, "TRAILER!!!", nil)
}

func cpioEntry(w io.Writer, ino, mode uint32, name string, data []byte) error {
	nlink := 1
	if mode&cpioDir == cpioDir && mode&cpioReg == 0 {
		nlink = 2
	}
	// magic, ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor,
	// rdevminor, namesize, check
	hdr := fmt.Sprintf("070701%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x",
		ino, mode, 0, 0, nlink, 0, len(data), 0, 0, 0, 0, len(name)+1, 0)
	buf := make([]byte, 0, len(hdr)+len(name)+8+len(data)+4)
	buf = append(buf, hdr...)
	buf = append(append(buf, name...), 0)
	buf = pad4(buf)
	buf = pad4(append(buf, data...))
	_, err := w.Write(buf)
	return err
}

func pad4(b []byte) []byte {
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}
