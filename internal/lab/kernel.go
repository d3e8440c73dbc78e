package lab

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
)

// Kernel is one Debian kernel unpacked in the cache: its image and modules.
type Kernel struct {
	Name    string // "6.1" or "6.12", as the lab's tables name it
	Package string // linux-image-6.1.0-56-amd64
	Release string // 6.1.0-56-amd64, the modules directory's name
	Vmlinuz string
	Root    string // where the package is unpacked (boot/, lib/modules/)
}

// Modules returns the kernel's modules directory.
func (k *Kernel) Modules() string { return filepath.Join(k.Root, "lib", "modules", k.Release) }

// Kernels the lab boots: Debian 12's own and the one from bookworm-backports (the first with
// the 6.6+ wording of the RMRR refusal).
var Kernels = []KernelSource{
	{Name: "6.1", Suite: "bookworm"},
	{Name: "6.12", Suite: "bookworm-backports"},
}

// KernelSource says where a lab kernel comes from: the Debian suite whose linux-image-amd64
// names it.
type KernelSource struct {
	Name  string
	Suite string
}

// CacheDir is where kernels, QEMU's DMAR tables and built pieces are kept between runs:
// $DPDK_DOCTOR_LAB_CACHE, else /var/cache/dpdk-doctor-lab.
func CacheDir() string {
	if d := os.Getenv("DPDK_DOCTOR_LAB_CACHE"); d != "" {
		return d
	}
	return "/var/cache/dpdk-doctor-lab"
}

// FetchKernel returns the kernel src names, downloading it with `apt-get download` and unpacking
// it with `dpkg -x` into cache the first time. A suite other than the machine's own (backports)
// is read through a private sources list and private package lists under cache, with the URI
// copied from the machine's own Debian sources: the machine's apt configuration is never
// changed.
func FetchKernel(ctx context.Context, cache string, src KernelSource) (*Kernel, error) {
	unlock, err := lockCache(cache)
	if err != nil {
		return nil, err
	}
	defer unlock()
	var aptOpts []string
	if src.Suite != "bookworm" {
		if aptOpts, err = privateApt(ctx, cache, src.Suite); err != nil {
			return nil, err
		}
	}
	out, err := run(ctx, "", "apt-cache", append(aptOpts, "depends", "linux-image-amd64")...)
	if err != nil {
		return nil, fmt.Errorf("kernel %s: asking apt which kernel linux-image-amd64 means: %w", src.Name, err)
	}
	m := regexp.MustCompile(`Depends: (linux-image-[0-9][^\s]*-amd64)\b`).FindStringSubmatch(out)
	if m == nil {
		return nil, fmt.Errorf("kernel %s: apt-cache depends linux-image-amd64 names no linux-image-*-amd64:\n%s", src.Name, out)
	}
	pkg := m[1]
	k := &Kernel{Name: src.Name, Package: pkg, Release: strings.TrimPrefix(pkg, "linux-image-"), Root: filepath.Join(cache, "kernels", pkg)}
	k.Vmlinuz = filepath.Join(k.Root, "boot", "vmlinuz-"+k.Release)
	if _, err := os.Stat(filepath.Join(k.Modules(), "modules.dep")); err == nil {
		return k, nil
	}
	debs := filepath.Join(cache, "debs")
	if err := os.MkdirAll(debs, 0o755); err != nil {
		return nil, err
	}
	deb, err := findDeb(debs, pkg)
	if err != nil {
		return nil, err
	}
	if deb == "" {
		if _, err := run(ctx, debs, "apt-get", append(aptOpts, "-o", "APT::Sandbox::User=root", "download", pkg)...); err != nil {
			return nil, fmt.Errorf("kernel %s: %w", src.Name, err)
		}
		if deb, err = findDeb(debs, pkg); err != nil || deb == "" {
			return nil, fmt.Errorf("kernel %s: apt-get download %s left no .deb in %s", src.Name, pkg, debs)
		}
	}
	if err := os.MkdirAll(filepath.Dir(k.Root), 0o755); err != nil {
		return nil, err
	}
	tmp := k.Root + ".tmp"
	os.RemoveAll(tmp)
	if _, err := run(ctx, "", "dpkg", "-x", deb, tmp); err != nil {
		os.RemoveAll(tmp)
		return nil, fmt.Errorf("kernel %s: %w", src.Name, err)
	}
	if _, err := run(ctx, "", "depmod", "-b", tmp, k.Release); err != nil {
		os.RemoveAll(tmp)
		return nil, fmt.Errorf("kernel %s: %w", src.Name, err)
	}
	os.RemoveAll(k.Root)
	if err := os.Rename(tmp, k.Root); err != nil {
		return nil, err
	}
	return k, nil
}

func findDeb(dir, pkg string) (string, error) {
	m, err := filepath.Glob(filepath.Join(dir, pkg+"_*.deb"))
	if err != nil || len(m) == 0 {
		return "", err
	}
	return m[len(m)-1], nil
}

// privateApt sets up a sources list holding suite and returns the apt options that use it (and
// private lists and caches) instead of the machine's own configuration, updating the lists
// when they are missing.
func privateApt(ctx context.Context, cache, suite string) ([]string, error) {
	dir := filepath.Join(cache, "apt-"+suite)
	uri, err := debianURI()
	if err != nil {
		return nil, err
	}
	for _, d := range []string{"lists/partial", "cache/archives/partial"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	list := filepath.Join(dir, "sources.list")
	if err := os.WriteFile(list, []byte("deb "+uri+" "+suite+" main\n"), 0o644); err != nil {
		return nil, err
	}
	opts := []string{"-o", "Dir::Etc::sourcelist=" + list, "-o", "Dir::Etc::sourceparts=/dev/null",
		"-o", "Dir::State::Lists=" + filepath.Join(dir, "lists"), "-o", "Dir::Cache=" + filepath.Join(dir, "cache")}
	if m, _ := filepath.Glob(filepath.Join(dir, "lists", "*Packages*")); len(m) == 0 {
		if _, err := run(ctx, "", "apt-get", append(opts, "-o", "APT::Sandbox::User=root", "update")...); err != nil {
			return nil, fmt.Errorf("apt-get update for %s (private lists in %s): %w", suite, dir, err)
		}
	}
	return opts, nil
}

// lockCache takes an exclusive lock on the cache, so that test binaries running at the same
// time fetch and unpack each kernel once.
func lockCache(cache string) (func(), error) {
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return nil, fmt.Errorf("lab cache %s: %w", cache, err)
	}
	f, err := os.OpenFile(filepath.Join(cache, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lab cache %s: %w", cache, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking the lab cache %s: %w", cache, err)
	}
	return func() { f.Close() }, nil
}

// debianURI returns the first Debian archive URI of the machine's own sources (deb822 or
// one-line format), the mirror the machine is allowed to use.
func debianURI() (string, error) {
	for _, f := range []string{"/etc/apt/sources.list.d/debian.sources", "/etc/apt/sources.list"} {
		if b, err := os.ReadFile(f); err == nil {
			if uri := parseSourcesURI(b); uri != "" {
				return uri, nil
			}
		}
	}
	return "", errors.New("no Debian archive URI in /etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list")
}

// parseSourcesURI returns the first archive URI (not the security archive) of an apt sources
// file, deb822 ("URIs: ...") or one-line ("deb [opts] URI suite ..."), or "".
func parseSourcesURI(b []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		var uris []string
		switch {
		case strings.HasPrefix(l, "URIs:"):
			uris = strings.Fields(strings.TrimPrefix(l, "URIs:"))
		case strings.HasPrefix(l, "deb "):
			uris = strings.Fields(l)[1:]
		}
		for _, u := range uris {
			if strings.Contains(u, "://") && !strings.Contains(u, "security") {
				return u
			}
		}
	}
	return ""
}

// run runs a program (argv, never a shell) and returns its output; the error carries stderr.
func run(ctx context.Context, dir, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}
