package host

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeTree writes files and links (path -> target) under dir.
func writeTree(t *testing.T, dir string, files, links map[string]string) {
	t.Helper()
	for p, c := range files {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755)
		if err := os.WriteFile(filepath.Join(dir, p), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for p, target := range links {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755)
		if err := os.Symlink(target, filepath.Join(dir, p)); err != nil {
			t.Fatal(err)
		}
	}
}

// list returns every path under dir.
func list(t *testing.T, dir string) []string {
	var out []string
	filepath.WalkDir(dir, func(p string, _ os.DirEntry, err error) error {
		if err == nil && p != dir {
			out = append(out, strings.TrimPrefix(p, dir+"/"))
		}
		return nil
	})
	return out
}

// TestCaptureProcLinksAsContents: /proc's links (mounts -> self/mounts) are copied as the files
// they lead to, so the bundle still has mounts; sysfs links stay links.
func TestCaptureProcLinksAsContents(t *testing.T) {
	src := t.TempDir()
	writeTree(t, src, map[string]string{
		"proc/self/mounts":                  "hugetlbfs /dev/hugepages hugetlbfs rw 0 0\n",
		"sys/devices/virtual/iommu/dmar0/x": "",
	}, map[string]string{
		"proc/mounts":           "self/mounts",
		"sys/class/iommu/dmar0": "../../devices/virtual/iommu/dmar0",
	})
	r, err := Dir(src)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "bundle")
	if err := Capture(r, dst); err != nil {
		t.Fatal(err)
	}
	st, err := os.Lstat(filepath.Join(dst, "proc/mounts"))
	if err != nil || !st.Mode().IsRegular() {
		t.Fatalf("proc/mounts in the bundle: %v, %v; want a regular file", st, err)
	}
	if b, _ := os.ReadFile(filepath.Join(dst, "proc/mounts")); !bytes.Contains(b, []byte("hugetlbfs")) {
		t.Errorf("proc/mounts = %q", b)
	}
	if st, err := os.Lstat(filepath.Join(dst, "sys/class/iommu/dmar0")); err != nil || st.Mode()&os.ModeSymlink == 0 {
		t.Errorf("a sysfs link should stay a link: %v, %v", st, err)
	}
}

// TestCaptureRefuses: no target, an existing target, and a failure midway leave nothing behind.
func TestCaptureRefuses(t *testing.T) {
	src := t.TempDir()
	writeTree(t, src, map[string]string{"proc/cmdline": "x\n"}, nil)
	r, _ := Dir(src)
	if err := Capture(r, ""); err == nil {
		t.Error(`capture into "" must fail`)
	}
	existing := t.TempDir()
	os.WriteFile(filepath.Join(existing, "keep"), []byte("k"), 0o644)
	if err := Capture(r, existing); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("capture into a non-empty directory: %v", err)
	}
	if err := Capture(r, t.TempDir()); err == nil {
		t.Error("capture into an existing (empty) directory must fail: DIR is created, not reused")
	}
	parent := t.TempDir()
	dst := filepath.Join(parent, "bundle")
	if err := Capture(r, dst, File{Path: "../escape", Data: []byte("x")}); err == nil {
		t.Error("a file outside the tree must fail the capture")
	}
	if got := list(t, parent); len(got) != 0 {
		t.Errorf("a failed capture left %v", got)
	}
	if err := Capture(r, dst, File{Path: "var/lib/dpdk-doctor/ovs-state.json", Data: []byte("{}")}); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dst, "var/lib/dpdk-doctor/ovs-state.json")); err != nil || string(b) != "{}" {
		t.Errorf("the extra file: %q, %v", b, err)
	}
	if got := list(t, parent); len(got) == 0 || strings.Contains(strings.Join(got, " "), ".tmp-") {
		t.Errorf("after the capture: %v", got)
	}
}

// TestCaptureMaliciousTree: a tree whose links climb out of it (relative links that land
// elsewhere from the capture's directory than from the tree's, ".." past the root, absolute
// targets) makes no file or link outside the capture's directory.
func TestCaptureMaliciousTree(t *testing.T) {
	base := t.TempDir()
	src := filepath.Join(base, "s/1/2/3/tree") // deeper than the bundle: the same link lands elsewhere
	outside := filepath.Join(base, "d/out")    // where the tree's links lead from the bundle
	parent := filepath.Join(base, "d")
	dst := filepath.Join(parent, "bundle")
	up := strings.Repeat("../", 40)
	o := strings.TrimPrefix(outside, "/")
	dev := "sys/devices/pci0000:00/0000:03:00.0"
	writeTree(t, src, map[string]string{
		dev + "/config":             strings.Repeat("\x00", 64),
		o + "/evil/placeholder":     "", // where a chroot finds the driver: inside the tree
		"proc/sys/kernel/osrelease": "../../../../" + o + "\n",
		"../out/config":             "from beside the tree\n", // what the climbing link reads on the tree's side
	}, map[string]string{
		"sys/bus/pci/devices/0000:03:00.0": "../../../devices/pci0000:00/0000:03:00.0",
		"sys/bus/pci/devices/0000:04:00.0": "../../../class/iommu/dmar0",
		"sys/class/iommu/dmar0":            "../../../../out", // tree side: base/s/1/2/3/out; bundle side: outside
		"../out/driver":                    "../../bus/pci/drivers/x",
		dev + "/driver":                    up + o + "/evil",
		dev + "/iommu_group":               outside,
		"proc/mounts":                      outside + "/secret",
	})
	os.MkdirAll(outside, 0o755)
	os.WriteFile(filepath.Join(outside, "secret"), []byte("OUTSIDE"), 0o644)
	r, err := Dir(src)
	if err != nil {
		t.Fatal(err)
	}
	err = Capture(r, dst)
	if got := list(t, outside); len(got) != 1 || got[0] != "secret" {
		t.Errorf("the capture wrote outside its directory: %v", got)
	}
	if err != nil {
		if got := list(t, parent); len(got) != 1 {
			t.Errorf("a failed capture left %v", got)
		}
		return
	}
	// Inside the bundle, the driver's back link is where the tree's own resolution put it.
	if _, err := os.Lstat(filepath.Join(dst, o, "evil/0000:03:00.0")); err != nil {
		t.Errorf("driver back link: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dst, "proc/mounts")); bytes.Contains(b, []byte("OUTSIDE")) {
		t.Error("proc/mounts copied from outside the tree")
	}
}

// TestCaptureOVSLog: the end of a tree's ovs-vswitchd log goes into the bundle, bounded.
func TestCaptureOVSLog(t *testing.T) {
	src := t.TempDir()
	log := strings.Repeat("a", MaxOVSLog) + "|dpdk|ERR|EAL: the last line\n"
	writeTree(t, src, map[string]string{"proc/cmdline": "x\n", OVSLog: log}, nil)
	r, _ := Dir(src)
	dst := filepath.Join(t.TempDir(), "bundle")
	if err := Capture(r, dst); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dst, OVSLog))
	if err != nil || len(b) != MaxOVSLog || !strings.HasSuffix(string(b), "EAL: the last line\n") {
		t.Errorf("ovs-vswitchd log in the bundle: %d bytes, %v", len(b), err)
	}
	for in, want := range map[string]string{
		"ovs-vswitchd\x00unix:/run/db.sock\x00--log-file\x00--pidfile": OVSLog,
		"ovs-vswitchd\x00--log-file=/tmp/ovs-x/vswitchd.log":           "tmp/ovs-x/vswitchd.log",
		"ovs-vswitchd\x00--detach":                                     "",
		"ovs-vswitchd\x00--log-file=rel.log":                           "",
	} {
		if got := logFileArg([]byte(in)); got != want {
			t.Errorf("logFileArg(%q) = %q, want %q", in, got, want)
		}
	}
}
