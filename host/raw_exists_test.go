package host

import (
	"os"
	"path/filepath"
	"testing"
)

// TestOpenedDirExists drives the fstatat path (the one that once used a raw amd64-only system
// call number): a file, a link to a file, a dangling link and a missing name.
func TestOpenedDirExists(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "sys/devices/d"), 0o755)
	os.WriteFile(filepath.Join(dir, "sys/devices/d/vendor"), []byte("0x8086\n"), 0o644)
	os.Symlink("vendor", filepath.Join(dir, "sys/devices/d/alias"))
	os.Symlink("nowhere", filepath.Join(dir, "sys/devices/d/dangling"))
	r, err := Dir(dir)
	if err != nil {
		t.Fatal(err)
	}
	d, err := r.OpenDir("sys/devices/d")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.fd < 0 {
		t.Fatal("a tree on disk must be read through a descriptor")
	}
	for name, want := range map[string]bool{"vendor": true, "alias": true, "dangling": false, "missing": false} {
		if got := d.Exists(name); got != want {
			t.Errorf("Exists(%q) = %v, want %v", name, got, want)
		}
	}
}
