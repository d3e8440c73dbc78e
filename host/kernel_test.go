package host

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	"github.com/dpdk-doctor/dpdk-doctor/internal/testenv"
)

// kernelInRoot resolves rel beneath the directory fd as the kernel does for a chroot
// (openat2 RESOLVE_IN_ROOT) and returns the path inside it.
func kernelInRoot(t *testing.T, fd int, root, rel string) (string, error) {
	b, _ := syscall.BytePtrFromString(rel)
	how := openHow{flags: uint64(oPath | syscall.O_CLOEXEC), resolve: 0x10} // RESOLVE_IN_ROOT
	r, _, e := syscall.Syscall6(sysOpenat2, uintptr(fd), uintptr(unsafe.Pointer(b)), uintptr(unsafe.Pointer(&how)), unsafe.Sizeof(how), 0, 0)
	if e == syscall.ENOSYS || e == syscall.EPERM {
		testenv.Unavailable(t, "openat2 (Linux 5.6) is needed to compare with the kernel's own RESOLVE_IN_ROOT: %v", e)
	}
	if e != 0 {
		return "", e
	}
	defer syscall.Close(int(r))
	p, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", r))
	if err != nil {
		return "", err
	}
	if p == root {
		return ".", nil
	}
	return strings.TrimPrefix(p, root+"/"), nil
}

// TestResolveMatchesKernel builds random trees of directories, files and links (absolute,
// climbing, looping) and requires the tree's resolution to agree with the kernel's own
// chroot-like one (openat2 RESOLVE_IN_ROOT) on every path tried: the same place, or both fail.
func TestResolveMatchesKernel(t *testing.T) {
	rng := rand.New(rand.NewSource(9))
	names := []string{"a", "b", "c", "d"}
	pick := func(n int) string {
		var parts []string
		for range n {
			switch k := rng.Intn(10); {
			case k < 6:
				parts = append(parts, names[rng.Intn(len(names))])
			case k < 9:
				parts = append(parts, "..")
			default:
				parts = append(parts, ".")
			}
		}
		return strings.Join(parts, "/")
	}
	for round := range 60 {
		dir := t.TempDir()
		for range 12 {
			p := filepath.Join(dir, strings.ReplaceAll(pick(1+rng.Intn(3)), "..", "x"))
			os.MkdirAll(filepath.Dir(p), 0o755)
			switch rng.Intn(3) {
			case 0:
				os.MkdirAll(p, 0o755)
			case 1:
				os.WriteFile(p, []byte("f"), 0o644)
			default:
				target := pick(1 + rng.Intn(4))
				if rng.Intn(3) == 0 {
					target = "/" + target
				}
				os.Symlink(target, p)
			}
		}
		r, err := Dir(dir)
		if err != nil {
			os.MkdirAll(filepath.Join(dir, "sys"), 0o755)
			if r, err = Dir(dir); err != nil {
				t.Fatal(err)
			}
		}
		real, _ := filepath.EvalSymlinks(dir)
		for range 60 {
			rel := strings.ReplaceAll(pick(1+rng.Intn(5)), "x", "a")
			if strings.HasPrefix(clean(rel), "..") {
				rel = "a/" + rel
			}
			want, kerr := kernelInRoot(t, r.t.fd, real, rel)
			got, _, err := r.t.resolve(rel, true)
			if (err == nil) != (kerr == nil) || (err == nil && got != want) {
				t.Errorf("round %d: %q: tree says %q, %v; kernel says %q, %v", round, rel, got, err, want, kerr)
			}
		}
	}
}
