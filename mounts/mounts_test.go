package mounts

import (
	"reflect"
	"testing"
)

func TestParse(t *testing.T) {
	in := "# fstab\n\nUUID=x / ext4 defaults 0 1\nhugetlbfs /dev/hugepages hugetlbfs rw,relatime,pagesize=2M 0 0\nnodev /mnt/huge\\0401G hugetlbfs rw,pagesize=1024M 0 0\nproc /proc proc\n"
	got, err := Parse([]byte(in))
	want := []Entry{
		{Source: "UUID=x", Point: "/", FSType: "ext4", Options: []string{"defaults"}},
		{Source: "hugetlbfs", Point: "/dev/hugepages", FSType: "hugetlbfs", Options: []string{"rw", "relatime", "pagesize=2M"}},
		{Source: "nodev", Point: "/mnt/huge 1G", FSType: "hugetlbfs", Options: []string{"rw", "pagesize=1024M"}},
		{Source: "proc", Point: "/proc", FSType: "proc"},
	}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, %v", got, err)
	}
	if v, ok := got[2].Option("pagesize"); !ok || v != "1024M" {
		t.Errorf("Option(pagesize) = %q, %v", v, ok)
	}
	if _, ok := got[0].Option("pagesize"); ok {
		t.Error("an option the entry lacks was found")
	}
	if _, err := Parse([]byte("a / ext4 rw\nx y\n")); err == nil || err.Error() != `line 2: "x y" has fewer than 3 fields` {
		t.Errorf("a short line: %v", err)
	}
	if s := unescape(`a\\b\04`); s != `a\\b\04` {
		t.Errorf("a cut or non-octal escape must stay: %q", s)
	}
}

// FuzzParse: any text parses or fails with an error, never a panic; every entry has a mount
// point and a type.
func FuzzParse(f *testing.F) {
	f.Add([]byte("hugetlbfs /dev/hugepages hugetlbfs rw,relatime,pagesize=2M 0 0\n# c\n\nUUID=x / ext4 defaults 0 1\n"))
	f.Add([]byte("a /b\\040c d\n"))
	f.Add([]byte("nodev /mnt/huge\\0401G hugetlbfs rw,pagesize=1G 0 0\nx /a\\ hugetlbfs r 0 0"))
	f.Add([]byte("x y\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ents, err := Parse(b)
		if err != nil {
			return
		}
		for _, e := range ents {
			if e.Point == "" || e.FSType == "" {
				t.Fatalf("entry %+v", e)
			}
		}
	})
}
