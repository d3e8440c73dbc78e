package host

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"testing/fstest"
	"time"

	"github.com/dpdk-doctor/dpdk-doctor/internal/testenv"
)

// hostile is a tree whose links try to leave it. outside is a directory out of the tree with a
// file "secret"; the tree holds its own copy of that path with "inside" in it, where a chroot
// would find it.
type hostile struct {
	files map[string]string // path -> contents
	links map[string]string // path -> target
}

func hostileTree(outside string) hostile {
	o := strings.TrimPrefix(outside, "/")
	return hostile{
		files: map[string]string{
			"proc/meminfo":                      "MemTotal: 1 kB\n",
			o + "/secret":                       "inside\n",
			"sys/bus/pci/drivers/vfio-pci/bind": "",
			"sys/devices/pci0000:00/0000:03:00.0/numa_node": "0\n",
		},
		links: map[string]string{
			"proc/abs":                         outside + "/secret",                                         // absolute, out
			"proc/climb":                       "../../../../../../../../../../../.." + outside + "/secret", // .. past the root
			"proc/cmdline":                     "../proc/climb",                                             // a link to a link
			"proc/loop1":                       "loop2",
			"proc/loop2":                       "loop1",
			"proc/outdir":                      outside,
			"sys/bus/pci/devices/0000:03:00.0": "../../../devices/pci0000:00/0000:03:00.0",
			"sys/devices/pci0000:00/0000:03:00.0/driver": "/sys/bus/pci/drivers/vfio-pci", // absolute, in
			"sys/devices/pci0000:00/0000:03:00.0/up":     "../../../../../..",
		},
	}
}

func (h hostile) disk(t *testing.T) Root {
	t.Helper()
	dir := t.TempDir()
	for p, c := range h.files {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755)
		if err := os.WriteFile(filepath.Join(dir, p), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for p, target := range h.links {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755)
		if err := os.Symlink(target, filepath.Join(dir, p)); err != nil {
			t.Fatal(err)
		}
	}
	r, err := Dir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (h hostile) mem() Root {
	m := fstest.MapFS{}
	for p, c := range h.files {
		m[p] = &fstest.MapFile{Data: []byte(c), Mode: 0o644}
	}
	for p, target := range h.links {
		m[p] = &fstest.MapFile{Data: []byte(target), Mode: fs.ModeSymlink | 0o777}
	}
	return FS(m, "mem")
}

// TestTreeLinksStayInside: a tree's absolute and climbing links are resolved inside the tree, as
// a chroot would, on disk and in memory alike; loops end with ELOOP.
func TestTreeLinksStayInside(t *testing.T) {
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("OUTSIDE\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	h := hostileTree(outside)
	for _, r := range []Root{h.disk(t), h.mem()} {
		for _, p := range []string{"proc/abs", "proc/climb", "proc/cmdline", "proc/outdir/secret"} {
			b, err := r.ReadFile(p)
			if err != nil || string(b) != "inside\n" {
				t.Errorf("%s: %s = %q, %v; want the tree's own copy", r, p, b, err)
			}
		}
		if ents, err := r.ReadDir("proc/outdir"); err != nil || len(ents) != 1 || ents[0].Name() != "secret" {
			t.Errorf("%s: ReadDir through an absolute link = %v, %v", r, ents, err)
		}
		if _, err := r.ReadFile("proc/loop1"); !errors.Is(err, syscall.ELOOP) {
			t.Errorf("%s: a loop: %v, want ELOOP", r, err)
		}
		if !r.Exists("sys/devices/pci0000:00/0000:03:00.0/driver/bind") {
			t.Errorf("%s: an absolute link inside the tree is not followed", r)
		}
		if p, err := r.Resolve("sys/devices/pci0000:00/0000:03:00.0/up/proc/abs"); err != nil || p != strings.TrimPrefix(outside, "/")+"/secret" {
			t.Errorf("%s: Resolve = %q, %v", r, p, err)
		}
		if drv, err := r.LinkBase("sys/bus/pci/devices/0000:03:00.0/driver"); err != nil || drv != "vfio-pci" {
			t.Errorf("%s: driver = %q, %v", r, drv, err)
		}
		d, err := r.OpenDir("sys/bus/pci/devices")
		if err != nil {
			t.Fatal(err)
		}
		dev, err := d.OpenDir("0000:03:00.0")
		if err != nil {
			t.Fatalf("%s: %v", r, err)
		}
		if b, err := dev.ReadHead("numa_node", 8); err != nil || string(b) != "0\n" {
			t.Errorf("%s: numa_node through the bus link = %q, %v", r, b, err)
		}
		if !dev.Exists("driver") {
			t.Errorf("%s: driver link through an absolute target", r)
		}
		up, err := dev.OpenDir("up")
		if err != nil {
			t.Fatalf("%s: %v", r, err)
		}
		if b, err := up.ReadHead("proc/abs", 64); err != nil || string(b) != "inside\n" {
			t.Errorf("%s: up/proc/abs = %q, %v", r, b, err)
		}
		up.Close()
		dev.Close()
		d.Close()
	}
}

// TestTreeReadsBounded: a tree's proc/cmdline that is a FIFO, a character device, a link to
// /dev/zero or a huge file is refused at once, not read forever.
func TestTreeReadsBounded(t *testing.T) {
	cases := map[string]func(p string) error{
		"fifo":        func(p string) error { return syscall.Mkfifo(p, 0o644) },
		"char device": func(p string) error { return syscall.Mknod(p, syscall.S_IFCHR|0o644, 1<<8|5) }, // /dev/zero's 1:5
		"link to /dev/zero": func(p string) error {
			os.MkdirAll(filepath.Join(filepath.Dir(p), "../dev"), 0o755)
			if err := syscall.Mknod(filepath.Join(filepath.Dir(p), "../dev/zero"), syscall.S_IFCHR|0o644, 1<<8|5); err != nil {
				return err
			}
			return os.Symlink("/dev/zero", p)
		},
		"huge file": func(p string) error {
			f, err := os.Create(p)
			if err != nil {
				return err
			}
			defer f.Close()
			return f.Truncate(4 << 30) // sparse: 4 GiB of zeros on no disk
		},
	}
	for name, mk := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			os.MkdirAll(filepath.Join(dir, "proc"), 0o755)
			if err := mk(filepath.Join(dir, "proc/cmdline")); err != nil {
				if errors.Is(err, syscall.EPERM) {
					testenv.Unavailable(t, "cannot make the node (not root): %v", err)
				}
				t.Fatal(err)
			}
			r, err := Dir(dir)
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			start := time.Now()
			go func() {
				_, err := r.ReadFile("proc/cmdline")
				if err == nil {
					_, err = r.ReadString("proc/cmdline")
				}
				done <- err
			}()
			select {
			case err := <-done:
				if err == nil {
					t.Error("read succeeded")
				}
				if !strings.Contains(err.Error(), "/proc/cmdline") {
					t.Errorf("error %q does not name the file", err)
				}
			case <-time.After(2 * time.Second):
				t.Fatal("reading proc/cmdline still runs after 2 s")
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("took %v", d)
			}
			if b, err := r.ReadHead("proc/cmdline", 64); err == nil && name != "huge file" {
				t.Errorf("ReadHead read %d bytes of it", len(b))
			}
		})
	}
}

// TestReadLimits: ReadFile refuses a file beyond MaxRead; ReadTail keeps the end of a log.
func TestReadLimits(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "proc"), 0o755)
	os.MkdirAll(filepath.Join(dir, "var/log"), 0o755)
	big := strings.Repeat("x", MaxRead) + "y"
	os.WriteFile(filepath.Join(dir, "proc/cpuinfo"), []byte(big), 0o644)
	os.WriteFile(filepath.Join(dir, "var/log/dmesg"), []byte(big), 0o644)
	r, _ := Dir(dir)
	if _, err := r.ReadFile("proc/cpuinfo"); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("a file over MaxRead: %v", err)
	}
	if b, err := r.ReadFile("var/log/dmesg"); err != nil || len(b) != len(big) {
		t.Errorf("a log over MaxRead but under MaxLargeRead: %d, %v", len(b), err)
	}
	if b, err := r.ReadTail("var/log/dmesg", 3); err != nil || string(b) != "xxy" {
		t.Errorf("ReadTail = %q, %v", b, err)
	}
	if b, err := r.ReadHead("proc/cpuinfo", 4); err != nil || string(b) != "xxxx" {
		t.Errorf("ReadHead = %q, %v", b, err)
	}
}

// FuzzResolve builds a small tree of links and directories from the input and resolves a path
// in it: the answer is a path inside the tree with no link in it, or an error, never a panic
// or an endless walk.
func FuzzResolve(f *testing.F) {
	f.Add("a/b=../../../../etc\nc=/a\nd=d\n", "c/b/passwd")
	f.Add("x=/x/y\n", "x")
	f.Add("sys/l=../../../sys/l2\nsys/l2=/\n", "sys/l/sys/l/./..")
	f.Fuzz(func(t *testing.T, spec, rel string) {
		m := fstest.MapFS{"dir/file": {Data: []byte("f")}}
		for i, line := range strings.Split(spec, "\n") {
			if i > 64 {
				break
			}
			name, target, ok := strings.Cut(line, "=")
			name = clean(name)
			if !ok || !fs.ValidPath(name) || name == "." {
				continue
			}
			m[name] = &fstest.MapFile{Data: []byte(target), Mode: fs.ModeSymlink | 0o777}
		}
		tr := newMemTree(m)
		for _, follow := range []bool{true, false} {
			p, mode, err := tr.resolve(rel, follow)
			if err != nil {
				continue
			}
			if !fs.ValidPath(p) {
				t.Fatalf("resolve(%q) = %q: not a path inside the tree", rel, p)
			}
			// No link on the way: every proper prefix is a directory.
			for q := p; ; {
				i := strings.LastIndexByte(q, '/')
				if i < 0 {
					break
				}
				q = q[:i]
				if st, err := fs.Lstat(m, q); err != nil || !st.IsDir() {
					t.Fatalf("resolve(%q) = %q: %q on the way is not a directory", rel, p, q)
				}
			}
			if follow && mode&fs.ModeSymlink != 0 {
				t.Fatalf("resolve(%q) followed to a link %q", rel, p)
			}
		}
	})
}
