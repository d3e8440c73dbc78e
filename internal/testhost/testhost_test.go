package testhost

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/dpdk-doctor/dpdk-doctor/demo"
)

// TestCommittedTreesAreGenerated regenerates every host tree and the demo's tar and requires
// them to equal what is committed, so the trees cannot drift from the code that describes them.
func TestCommittedTreesAreGenerated(t *testing.T) {
	for _, name := range Names {
		h, err := Catalog(name, "../../testdata/fixtures/dmar")
		if err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(t.TempDir(), name)
		if err := h.Write(dir); err != nil {
			t.Fatal(err)
		}
		compareTrees(t, dir, filepath.Join("../../testdata/hosts", name))
	}
	var tarball bytes.Buffer
	if err := demo.Pack(os.DirFS("../../testdata/hosts/dl360e-gen8"), &tarball); err != nil {
		t.Fatal(err)
	}
	committed, err := os.ReadFile("../../demo/dl360e-gen8.tar")
	if err != nil || !bytes.Equal(committed, tarball.Bytes()) {
		t.Error("demo/dl360e-gen8.tar differs from testdata/hosts/dl360e-gen8: run go run ./internal/testhost/gen")
	}
}

func compareTrees(t *testing.T, got, want string) {
	t.Helper()
	seen := map[string]bool{}
	filepath.WalkDir(got, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(got, p)
		seen[rel] = true
		w := filepath.Join(want, rel)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			a, _ := os.Readlink(p)
			b, err := os.Readlink(w)
			if err != nil || a != b {
				t.Errorf("%s: link %q, committed %q (%v); run go run ./internal/testhost/gen", w, a, b, err)
			}
		case d.IsDir():
			if ents, _ := os.ReadDir(p); len(ents) == 0 {
				t.Errorf("%s is an empty directory: git does not keep those, so a clone would lack it", p)
			}
		default:
			a, _ := os.ReadFile(p)
			b, err := os.ReadFile(w)
			if err != nil || !bytes.Equal(a, b) {
				t.Errorf("%s differs from the generated tree; run go run ./internal/testhost/gen", w)
			}
		}
		return nil
	})
	filepath.WalkDir(want, func(p string, d fs.DirEntry, err error) error {
		rel, _ := filepath.Rel(want, p)
		if !seen[rel] {
			t.Errorf("%s is committed but not generated", p)
		}
		return nil
	})
}
