// Package demo holds an embedded copy of the seed's host, the HP ProLiant DL360e Gen8 whose
// Intel X520 in physical slot 2 the firmware's RMRR locks, so that `dpdk-doctor check --demo`
// shows the product on any machine. The tree is testdata/hosts/dl360e-gen8, packed as a tar
// (go:embed cannot hold the symbolic links sysfs is made of) and read into memory.
package demo

import (
	"archive/tar"
	"bytes"
	_ "embed"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
	"testing/fstest"
	"time"

	"github.com/dpdk-doctor/dpdk-doctor/host"
)

//go:embed dl360e-gen8.tar
var tree []byte

// Name is how the demo host is shown as a root.
const Name = "demo:hp-proliant-dl360e-gen8"

// Root returns the demo host, read from memory.
func Root() (host.Root, error) {
	fsys, err := Load(tree)
	if err != nil {
		return host.Root{}, fmt.Errorf("embedded demo host: %w", err)
	}
	return host.FS(fsys, Name), nil
}

// Load reads a tar of a host tree into an in-memory file system that keeps symbolic links.
func Load(b []byte) (fs.FS, error) {
	m := fstest.MapFS{}
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return m, nil
		}
		if err != nil {
			return nil, err
		}
		name := path.Clean(strings.TrimPrefix(h.Name, "./"))
		if !fs.ValidPath(name) || name == "." {
			return nil, fmt.Errorf("bad path %q in tar", h.Name)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			m[name] = &fstest.MapFile{Mode: fs.ModeDir | 0o755}
		case tar.TypeSymlink:
			m[name] = &fstest.MapFile{Mode: fs.ModeSymlink | 0o777, Data: []byte(h.Linkname)}
		case tar.TypeReg:
			data, err := io.ReadAll(tr)
			if err != nil {
				return nil, err
			}
			m[name] = &fstest.MapFile{Mode: 0o644, Data: data}
		}
	}
}

// Pack writes the tree in fsys as a reproducible tar (sorted, fixed times), the form Load reads.
func Pack(fsys fs.FS, w io.Writer) error {
	tw := tar.NewWriter(w)
	epoch := time.Unix(0, 0).UTC()
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == "." {
			return err
		}
		h := &tar.Header{Name: p, ModTime: epoch, Format: tar.FormatPAX, Uname: "root", Gname: "root"}
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			t, err := fs.ReadLink(fsys, p)
			if err != nil {
				return err
			}
			h.Typeflag, h.Linkname, h.Mode = tar.TypeSymlink, t, 0o777
			return tw.WriteHeader(h)
		case d.IsDir():
			h.Typeflag, h.Name, h.Mode = tar.TypeDir, p+"/", 0o755
			return tw.WriteHeader(h)
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		h.Typeflag, h.Mode, h.Size = tar.TypeReg, 0o644, int64(len(data))
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		_, err = tw.Write(data)
		return err
	})
	if err != nil {
		return err
	}
	return tw.Close()
}
