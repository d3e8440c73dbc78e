package pci

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/dpdk-doctor/dpdk-doctor/host"
	"github.com/dpdk-doctor/dpdk-doctor/internal/testenv"
)

// configTree is a tree of one device whose config file a test rewrites.
type configTree struct {
	r    host.Root
	file string
}

func newConfigTree(t testing.TB) *configTree {
	dir := t.TempDir()
	dev := filepath.Join(dir, "sys/bus/pci/devices/0000:00:00.0")
	if err := os.MkdirAll(dev, 0o755); err != nil {
		t.Fatal(err)
	}
	r, err := host.Dir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return &configTree{r: r, file: filepath.Join(dev, "config")}
}

// read writes b as the device's config file and reads it with readConfig.
func (c *configTree) read(t testing.TB, b []byte) (Config, error) {
	if err := os.WriteFile(c.file, b, 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := c.r.OpenDir("sys/bus/pci/devices/0000:00:00.0")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	return readConfig(d)
}

// TestReadConfigAsWhole: reading only the bytes Config keeps decodes what ParseConfig decodes
// from the whole header, for endpoints, bridges, CardBus bridges, absent devices and every
// file length. A file shorter than the header gives ParseConfig's error, unless it holds every
// byte read (then the fields, or the all-ones error, are those of the file, zero-padded).
func TestReadConfigAsWhole(t *testing.T) {
	tree := newConfigTree(t)
	rng := rand.New(rand.NewPCG(1, 2))
	for _, typ := range []byte{0x00, 0x01, 0x02, 0x80, 0x81, 0x7f} {
		for _, allOnes := range []bool{false, true} {
			for n := 0; n <= 80; n++ {
				b := make([]byte, n)
				for i := range b {
					b[i] = byte(rng.Uint32())
				}
				if n > 14 {
					b[14] = typ
				}
				if allOnes && n > 1 {
					b[0], b[1] = 0xff, 0xff
				}
				got, gotErr := tree.read(t, b)
				padded := make([]byte, 64)
				copy(padded, b)
				want, wantErr := ParseConfig(b[:min(n, 64)])
				if n < 64 {
					tail := map[byte]int{0: 0x30, 1: 0x1c}[typ&0x7f]
					if n >= 16 && (tail == 0 || n >= tail || allOnes) {
						want, wantErr = ParseConfig(padded) // every byte read is there (all ones: only the first 16 are)
					}
				}
				if (gotErr == nil) != (wantErr == nil) || gotErr != nil && gotErr.Error() != wantErr.Error() || got != want {
					t.Fatalf("type %#x, %d bytes, all ones %v: %+v, %v; want %+v, %v", typ, n, allOnes, got, gotErr, want, wantErr)
				}
			}
		}
	}
}

// FuzzReadConfig: whatever a tree's config file holds, readConfig agrees with ParseConfig on a
// header's worth of it (the rule TestReadConfigAsWhole checks length by length).
func FuzzReadConfig(f *testing.F) {
	f.Add(make([]byte, 64))
	f.Add(append([]byte{0x86, 0x80, 0x3c, 0x02, 0, 0, 0, 0, 7, 0, 4, 6, 0, 0, 1, 0}, make([]byte, 48)...))
	tree := newConfigTree(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < 64 {
			b = append(b, make([]byte, 64-len(b))...)
		}
		got, gotErr := tree.read(t, b)
		want, wantErr := ParseConfig(b[:64])
		if (gotErr == nil) != (wantErr == nil) || got != want {
			t.Fatalf("%x: %+v, %v; want %+v, %v", b[:64], got, gotErr, want, wantErr)
		}
	})
}

// TestReadConfigLive: on the live host, the 5 reads of each device decode what the kernel's
// whole 64-byte header decodes.
func TestReadConfigLive(t *testing.T) {
	devs, _ := filepath.Glob("/sys/bus/pci/devices/*")
	if len(devs) == 0 {
		testenv.Unavailable(t, "this machine shows no PCI devices in /sys/bus/pci/devices")
	}
	r := host.Live()
	for _, dev := range devs {
		rel := "sys/bus/pci/devices/" + filepath.Base(dev)
		head, err := r.ReadHead(rel+"/config", 64)
		if err != nil {
			t.Fatal(err)
		}
		want, wantErr := ParseConfig(head)
		d, err := r.OpenDir(rel)
		if err != nil {
			t.Fatal(err)
		}
		got, gotErr := readConfig(d)
		d.Close()
		if got != want || (gotErr == nil) != (wantErr == nil) {
			t.Errorf("%s: %+v, %v; the whole header gives %+v, %v", dev, got, gotErr, want, wantErr)
		}
	}
}
