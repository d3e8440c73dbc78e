package cpu

import "testing"

func TestParse(t *testing.T) {
	in := "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) CPU E5-2420 0 @ 1.90GHz\nflags\t\t: fpu vme vmx sse\n\nprocessor\t: 1\nvendor_id\t: GenuineIntel\nflags\t\t: fpu\n"
	i, err := Parse([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if i.CPUs != 2 || i.Vendor != "GenuineIntel" || i.Virtualization() != "vmx" {
		t.Errorf("got %+v", i)
	}
	if _, err := Parse([]byte("garbage")); err == nil {
		t.Error("no processor lines must be an error")
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("processor : 0\nflags : vmx svm\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		i, err := Parse(b)
		if err == nil && i.CPUs == 0 {
			t.Fatal("no error but no CPUs")
		}
	})
}
