package check

import (
	"slices"
	"strings"
	"testing"

	"github.com/dpdk-doctor/dpdk-doctor/host"
	"github.com/dpdk-doctor/dpdk-doctor/hugepages"
)

// TestHugepagesMountRemedy: the hugepages.mount finding's remedy is one dpdk-doctor command
// (fix hugepages --mount), never a shell string: for no mount at all the default size, for
// reserved pages of another size that size.
func TestHugepagesMountRemedy(t *testing.T) {
	mountFinding := func(h hugepages.Info) Finding {
		f := &Facts{Root: host.Live(), Hugepages: h}
		for _, fd := range checkHugepages(f) {
			if fd.ID == "hugepages.mount" {
				return fd
			}
		}
		t.Fatal("no hugepages.mount finding")
		return Finding{}
	}
	for _, c := range []struct {
		name string
		h    hugepages.Info
		sev  Severity
		want []string
	}{
		{"none mounted, default 2M", hugepages.Info{DefaultSizeKB: 2048}, Fail, []string{"dpdk-doctor fix hugepages --mount --size 2M --persist"}},
		{"none mounted, default 1G", hugepages.Info{DefaultSizeKB: 1 << 20}, Fail, []string{"dpdk-doctor fix hugepages --mount --size 1G --persist"}},
		{"1G reserved, only 2M mounted", hugepages.Info{DefaultSizeKB: 2048,
			Pools:  []hugepages.Pool{{SizeKB: 2048, Node: -1, Total: 512}, {SizeKB: 1 << 20, Node: -1, Total: 4}},
			Mounts: []hugepages.Mount{{Path: "/dev/hugepages", PageSize: "2M"}}}, Warn, []string{"dpdk-doctor fix hugepages --mount --size 1G --persist"}},
		{"arm64 32M reserved", hugepages.Info{DefaultSizeKB: 2048,
			Pools:  []hugepages.Pool{{SizeKB: 32 << 10, Node: -1, Total: 4}},
			Mounts: []hugepages.Mount{{Path: "/dev/hugepages", PageSize: "2M"}}}, Warn, []string{"# mount hugetlbfs with -o pagesize=32M (dpdk-doctor fix hugepages --mount takes 2M and 1G)"}},
		{"1G reserved and mounted", hugepages.Info{DefaultSizeKB: 2048,
			Pools:  []hugepages.Pool{{SizeKB: 1 << 20, Node: -1, Total: 4}},
			Mounts: []hugepages.Mount{{Path: "/dev/hugepages", PageSize: "2M"}, {Path: "/dev/hugepages-1G", PageSize: "1024M"}}}, OK, nil},
	} {
		fd := mountFinding(c.h)
		if fd.Severity != c.sev || !slices.Equal(fd.Remedy, c.want) {
			t.Errorf("%s: %s %q, remedy %q; want %s %q", c.name, fd.Severity, fd.Summary, fd.Remedy, c.sev, c.want)
		}
		for _, r := range fd.Remedy {
			if strings.Contains(r, "&&") || strings.HasPrefix(r, "mkdir") || strings.HasPrefix(r, "mount ") {
				t.Errorf("%s: a shell string as remedy: %q", c.name, r)
			}
		}
	}
}
