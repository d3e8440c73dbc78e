// Command gen writes the test host trees into testdata/hosts (run from the repository root:
// go run ./internal/testhost/gen). The trees are committed; a test checks they match.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/dpdk-doctor/dpdk-doctor/demo"
	"github.com/dpdk-doctor/dpdk-doctor/internal/testhost"
)

func main() {
	out := filepath.Join("testdata", "hosts")
	for _, name := range testhost.Names {
		h, err := testhost.Catalog(name, filepath.Join("testdata", "fixtures", "dmar"))
		if err == nil {
			dir := filepath.Join(out, name)
			if err = os.RemoveAll(dir); err == nil {
				err = h.Write(dir)
			}
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "gen: %s: %v\n", name, err)
			os.Exit(1)
		}
	}
	// The embedded demo is the seed's host.
	f, err := os.Create(filepath.Join("demo", "dl360e-gen8.tar"))
	if err == nil {
		err = demo.Pack(os.DirFS(filepath.Join(out, "dl360e-gen8")), f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "gen: demo: %v\n", err)
		os.Exit(1)
	}
}
