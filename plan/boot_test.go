package plan

import "testing"

func TestKernelAtLeast(t *testing.T) {
	for rel, want := range map[string]bool{"5.16.0": true, "5.15.0-91-generic": false, "6.1.0-18-amd64": true, "4.19": false, "10.0": true, "": false, "5": false, "x.y": false, "5.16-rc1": true} {
		if got := KernelAtLeast(rel, 5, 16); got != want {
			t.Errorf("%q: %v", rel, got)
		}
	}
}

// FuzzKernelAtLeast: no release string panics the reader, and its answers are ordered.
func FuzzKernelAtLeast(f *testing.F) {
	for _, s := range []string{"5.15.0-91-generic", "6.1.0", "", "5.", "-1.-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if KernelAtLeast(s, 5, 16) && !KernelAtLeast(s, 5, 15) {
			t.Errorf("%q: at least 5.16 but not 5.15", s)
		}
	})
}

// TestBootHugepages: the three forms of hugepages=, and the guarantee that every node gets at
// least what it needs (an even split of the value on old kernels).
func TestBootHugepages(t *testing.T) {
	for _, c := range []struct {
		pages   map[int]uint64
		release string
		want    string
		exact   bool
	}{
		{map[int]uint64{0: 512, 1: 512}, "4.19.0", "1024", true},
		{map[int]uint64{0: 512, 1: 632}, "6.1.0-28-amd64", "0:512,1:632", true},
		{map[int]uint64{0: 512, 1: 0, 2: 632, 3: 0}, "5.16.0", "0:512,2:632", true},
		{map[int]uint64{0: 512, 1: 632}, "5.15.0-91-generic", "1264", false},
		{map[int]uint64{0: 512, 1: 632}, "", "1264", false},
		{map[int]uint64{0: 632}, "4.19.0", "632", true},
	} {
		got, exact := BootHugepages(c.pages, c.release)
		if got != c.want || exact != c.exact {
			t.Errorf("%v on %q: %q %v, want %q %v", c.pages, c.release, got, exact, c.want, c.exact)
		}
	}
}
