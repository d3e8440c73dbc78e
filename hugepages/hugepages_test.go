package hugepages

import "testing"

func TestParseMounts(t *testing.T) {
	in := "sysfs /sys sysfs rw 0 0\nhugetlbfs /dev/hugepages hugetlbfs rw,relatime,pagesize=2M 0 0\nnodev /mnt/huge\\0401G hugetlbfs rw,pagesize=1024M 0 0\n"
	m, err := ParseMounts([]byte(in))
	if err != nil || len(m) != 2 || m[0].PageSize != "2M" || m[1].Path != "/mnt/huge 1G" || m[1].PageSize != "1024M" {
		t.Errorf("got %+v, %v", m, err)
	}
	if _, err := ParseMounts([]byte("hugetlbfs /dev/hugepages\n")); err == nil {
		t.Error("a line without a type must fail")
	}
}

func TestSizeKB(t *testing.T) {
	for in, want := range map[string]uint64{"2M": 2048, "1G": 1048576, "2048k": 2048, "1024M": 1048576, "2097152": 2048} {
		if got, err := SizeKB(in); err != nil || got != want {
			t.Errorf("SizeKB(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "x", "0M", "12"} {
		if _, err := SizeKB(in); err == nil {
			t.Errorf("SizeKB(%q) should fail", in)
		}
	}
}

func TestParseMeminfo(t *testing.T) {
	m, err := ParseMeminfo([]byte("MemTotal:       24591288 kB\nHugePages_Total:     512\nHugepagesize:       2048 kB\n"))
	if err != nil || m["Hugepagesize"] != 2048 || m["HugePages_Total"] != 512 {
		t.Errorf("got %v, %v", m, err)
	}
	if _, err := ParseMeminfo([]byte("MemTotal: lots\n")); err == nil {
		t.Error("want an error for a non-number")
	}
}

func FuzzParseMeminfo(f *testing.F) {
	f.Add([]byte("Hugepagesize:       2048 kB\n"))
	f.Fuzz(func(t *testing.T, b []byte) { ParseMeminfo(b) })
}

func FuzzSizeKB(f *testing.F) {
	f.Add("2M")
	f.Fuzz(func(t *testing.T, s string) {
		if n, err := SizeKB(s); err == nil && n == 0 {
			t.Fatal("zero size without error")
		}
	})
}

// FuzzParseMounts: any text gives hugetlbfs mounts with a path, or an error; never a panic.
func FuzzParseMounts(f *testing.F) {
	f.Add([]byte("nodev /mnt/huge\\0401G hugetlbfs rw,pagesize=1G 0 0\nx /a\\ hugetlbfs r 0 0"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ms, err := ParseMounts(b)
		for _, m := range ms {
			if err != nil || m.Path == "" {
				t.Fatalf("%+v, %v", m, err)
			}
		}
	})
}
