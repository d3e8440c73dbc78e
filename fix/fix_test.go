package fix

import (
	"os"
	"path/filepath"
	"strings"
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

// TestFindXMLTrust: the definitions are never taken from the current directory; in the fixed
// places they are used only when the file and its directory are root's and not writable by
// others; --xml is taken as given.
func TestFindXMLTrust(t *testing.T) {
	if os.Geteuid() != 0 {
		trustedOwner = os.Geteuid() // files made by this test are ours
		defer func() { trustedOwner = 0 }()
	}
	cwd := t.TempDir()
	t.Chdir(cwd)
	os.WriteFile("conrep_rmrds.xml", []byte("<Conrep/>"), 0o644)
	dir := filepath.Join(t.TempDir(), "etc")
	os.Mkdir(dir, 0o755)
	os.Chmod(dir, 0o755)
	p := filepath.Join(dir, "conrep_rmrds.xml")
	old := xmlPlaces
	defer func() { xmlPlaces = old }()
	xmlPlaces = []string{"{state}/conrep_rmrds.xml", p}
	if got, _, err := findXML("", filepath.Join(cwd, "nostate")); got != "" || err != nil {
		t.Fatalf("nothing in the fixed places: got %q %v (the current directory must not count)", got, err)
	}
	os.WriteFile(p, []byte("<Conrep/>"), 0o644)
	os.Chmod(p, 0o644)
	if got, _, err := findXML("", filepath.Join(cwd, "nostate")); got != p || err != nil {
		t.Fatalf("root's file: %q %v", got, err)
	}
	for _, c := range []struct {
		name string
		mess func()
		want string
	}{
		{"world-writable file", func() { os.Chmod(p, 0o666) }, "writable by group or others"},
		{"group-writable directory", func() { os.Chmod(dir, 0o775) }, "writable by group or others"},
		{"file of another user", func() { os.Lchown(p, 65534, 65534) }, "owned by uid 65534"},
	} {
		if c.name == "file of another user" && os.Geteuid() != 0 {
			continue // only root can give a file away
		}
		c.mess()
		got, _, err := findXML("", filepath.Join(cwd, "nostate"))
		if got != "" || err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "--xml") {
			t.Errorf("%s: %q %v", c.name, got, err)
		}
		os.Chmod(p, 0o644)
		os.Chmod(dir, 0o755)
		os.Lchown(p, os.Geteuid(), os.Getegid())
	}
	if got, source, err := findXML("conrep_rmrds.xml", "/nonexistent"); got != filepath.Join(cwd, "conrep_rmrds.xml") || err != nil || !strings.Contains(source, "--xml") {
		t.Errorf("--xml: %q %q %v", got, source, err)
	}
}

// TestWriteAtomicMakesStateDir: the state directory is made 0700.
func TestWriteAtomicMakesStateDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "state")
	if err := writeAtomic(filepath.Join(dir, "x.dat"), []byte("x")); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(dir); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("%v %v", st, err)
	}
}
