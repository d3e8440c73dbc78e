package metrics

import (
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/dpdk-doctor/dpdk-doctor/check"
	"github.com/dpdk-doctor/dpdk-doctor/host"
	"github.com/dpdk-doctor/dpdk-doctor/internal/testhost"
)

// BenchmarkCheck4096 runs what `check --json` and `check --textfile` do (gather, judge, write)
// over the generated 4,096-function tree, the two side by side in one run; BENCHMARKS.md
// records the figures.
func BenchmarkCheck4096(b *testing.B) {
	base := b.TempDir()
	if d, err := os.MkdirTemp("/dev/shm", "dpdk-doctor-bench"); err == nil {
		base = d
		b.Cleanup(func() { os.RemoveAll(d) })
	}
	dir := filepath.Join(base, "host")
	if err := testhost.Big(4096).Write(dir); err != nil {
		b.Fatal(err)
	}
	r, err := host.Dir(dir)
	if err != nil {
		b.Fatal(err)
	}
	out := b.TempDir()
	run := func(b *testing.B, write func(*check.Facts, []check.Finding) error) {
		for b.Loop() {
			f, err := check.Gather(r, check.Options{})
			if err != nil {
				b.Fatal(err)
			}
			fs := check.Run(f)
			if err := write(f, fs); err != nil {
				b.Fatal(err)
			}
		}
	}
	for range 2 { // paired: json, textfile, json, textfile
		b.Run("json", func(b *testing.B) {
			run(b, func(f *check.Facts, fs []check.Finding) error { return check.NewReport(f, fs).WriteJSON(io.Discard) })
		})
		b.Run("textfile", func(b *testing.B) {
			run(b, func(f *check.Facts, fs []check.Finding) error {
				return WriteFile(out, Input{Facts: f, Findings: fs, Version: "bench", Time: time.Now()})
			})
		})
	}
	// The writing alone, on one gathered and judged check.
	f, err := check.Gather(r, check.Options{})
	if err != nil {
		b.Fatal(err)
	}
	fs := check.Run(f)
	b.Run("write-json", func(b *testing.B) {
		for b.Loop() {
			if err := check.NewReport(f, fs).WriteJSON(io.Discard); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("write-textfile", func(b *testing.B) {
		for b.Loop() {
			if err := WriteFile(out, Input{Facts: f, Findings: fs, Version: "bench", Time: time.Now()}); err != nil {
				b.Fatal(err)
			}
		}
	})
	st, err := os.Stat(filepath.Join(out, FileName))
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("%s: %d bytes", FileName, st.Size())
}
