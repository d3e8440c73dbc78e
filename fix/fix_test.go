package fix

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestWriteAtomic(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "sub", "backup.dat")
	if err := writeAtomic(p, []byte("one")); err != nil {
		t.Fatal(err)
	}
	if err := writeAtomic(p, []byte("two")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "two" {
		t.Errorf("got %q", b)
	}
	ents, _ := os.ReadDir(filepath.Dir(p))
	if len(ents) != 1 {
		t.Errorf("temporary files left: %v", ents)
	}
	// A directory that cannot be made is an error naming the path, and leaves nothing.
	blocker := filepath.Join(dir, "file")
	os.WriteFile(blocker, nil, 0o644)
	if err := writeAtomic(filepath.Join(blocker, "x.dat"), []byte("x")); err == nil {
		t.Error("want an error")
	}
}

// TestUniquePath: two backups in the same second never share a name (a bug once overwrote one).
func TestUniquePath(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 11, 24, 5, 0, 0, 0, time.UTC)
	a := uniquePath(dir, "rmrds-backup", now)
	os.WriteFile(a, nil, 0o644)
	b := uniquePath(dir, "rmrds-backup", now)
	os.WriteFile(b, nil, 0o644)
	c := uniquePath(dir, "rmrds-backup", now)
	if a == b || b == c || filepath.Base(a) != "rmrds-backup-20261124T050000Z.dat" || filepath.Base(b) != "rmrds-backup-20261124T050000Z-2.dat" {
		t.Errorf("%s %s %s", a, b, c)
	}
}
