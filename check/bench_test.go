package check

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/dpdk-doctor/dpdk-doctor/host"
	"github.com/dpdk-doctor/dpdk-doctor/internal/testhost"
)

// BenchmarkCheck measures a whole check (read every fact, judge every device) over generated
// trees of growing size; BENCHMARKS.md records the figures.
func BenchmarkCheck(b *testing.B) {
	for _, n := range []int{256, 1024, 4096} {
		// sysfs lives in memory: build the tree on tmpfs where there is one, like the real thing.
		base := b.TempDir()
		if d, err := os.MkdirTemp("/dev/shm", "dpdk-doctor-bench"); err == nil {
			base = d
			b.Cleanup(func() { os.RemoveAll(d) })
		}
		dir := filepath.Join(base, "host")
		if err := testhost.Big(n).Write(dir); err != nil {
			b.Fatal(err)
		}
		r, err := host.Dir(dir)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("functions=%d", n), func(b *testing.B) {
			for b.Loop() {
				f, err := Gather(r, Options{})
				if err != nil {
					b.Fatal(err)
				}
				if len(f.Devices.List) != n {
					b.Fatalf("%d devices, want %d", len(f.Devices.List), n)
				}
				Run(f)
			}
		})
	}
}
