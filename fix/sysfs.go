package fix

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/dpdk-doctor/dpdk-doctor/host"
)

// Sysfs is where the runner writes kernel attributes (/sys). host.Root reads only; writes are the
// runner's, through this one type, rooted at "/" in production and at a temporary directory in
// unit tests (which can check what was written, never that the kernel bound anything: the lab
// proves that).
type Sysfs struct {
	Root string
	// View, when set, is what Read reads instead of Root: the demo or a captured tree, read
	// through host.Root's sandbox, for the dry runs that are all such a host allows.
	View *host.Root
	// kernel, in unit tests only, plays the kernel's answer to a write (moving a driver link).
	kernel func(p, v string)
}

// LiveSysfs writes the running kernel's /sys.
var LiveSysfs = Sysfs{Root: "/"}

func (s Sysfs) path(p string) string { return filepath.Join(s.Root, p) }

// Write writes v to the attribute p ("sys/bus/pci/drivers_probe") in one write(2), as the
// kernel wants attributes written. The file must exist: sysfs attributes are never created.
func (s Sysfs) Write(p, v string) error {
	f, err := os.OpenFile(s.path(p), os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return fmt.Errorf("writing %q to /%s: %w", v, p, err)
	}
	_, err = f.Write([]byte(v))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing %q to /%s: %w", v, p, err)
	}
	if s.kernel != nil {
		s.kernel(p, v)
	}
	return nil
}

// Read reads the attribute p, trimmed; "" when it does not exist.
func (s Sysfs) Read(p string) (string, error) {
	if s.View != nil {
		v, err := s.View.ReadString(p)
		if errors.Is(err, fs.ErrNotExist) {
			return "", nil
		}
		return v, err
	}
	b, err := readBounded(s.path(p), 64<<10)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

// Link returns the base name of the symbolic link p ("e1000e" of .../driver), "" when none.
func (s Sysfs) Link(p string) string {
	t, err := os.Readlink(s.path(p))
	if err != nil {
		return ""
	}
	return filepath.Base(t)
}

// Exists reports whether p exists.
func (s Sysfs) Exists(p string) bool {
	_, err := os.Stat(s.path(p))
	return err == nil
}
