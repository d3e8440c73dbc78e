package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dpdk-doctor/dpdk-doctor/internal/testhost"

	"github.com/dpdk-doctor/dpdk-doctor/internal/testenv"
)

// TestFixHugepagesMountCLI: the dry run on a tree plans the mount and the boot-time line for
// that host (no systemd in the tree: fstab), a --pages run on a tree without the size mounted
// adds the mount, and flags that do not go together, bad sizes and paths are exit 2.
func TestFixHugepagesMountCLI(t *testing.T) {
	out, stderr, code := runBin(t, "fix", "hugepages", "--root", tree("no-hugepages"), "--mount", "--size", "1G", "--persist")
	if code != 0 || !strings.Contains(out, "mount hugetlbfs at /dev/hugepages-1G (pagesize=1G") ||
		!strings.Contains(out, "append to /etc/fstab: hugetlbfs /dev/hugepages-1G hugetlbfs nosuid,nodev,pagesize=1G 0 0") || !strings.Contains(out, "nothing was changed") {
		t.Errorf("dry run: exit %d\n%s%s", code, out, stderr)
	}
	// nic-on-ixgbe has 1G mounted at /dev/hugepages: the 2M pool run adds a 2M mount.
	out, stderr, code = runBin(t, "fix", "hugepages", "--root", tree("nic-on-ixgbe"), "--pages", "64")
	if code != 0 || !strings.Contains(out, "mount hugetlbfs at /dev/hugepages-2M (pagesize=2M") {
		t.Errorf("--pages adds the mount: exit %d\n%s%s", code, out, stderr)
	}
	out, stderr, code = runBin(t, "fix", "hugepages", "--root", tree("nic-on-ixgbe"), "--pages", "64", "--size", "1G")
	if code != 0 || !strings.Contains(out, "hugetlbfs of 1G pages is mounted at /dev/hugepages already: no mount to add") {
		t.Errorf("--pages with the size mounted: exit %d\n%s%s", code, out, stderr)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--mount", "--pages", "4"}, "leave out --pages"},
		{[]string{"--mount", "--for-dpdk"}, "leave out --for-dpdk"},
		{[]string{"--mount", "--size", "3M"}, "--size"},
		{[]string{"--mount", "--path", "dev/x"}, "--path"},
		{[]string{"--mount", "--path", "/dev/a b"}, "--path"},
		{[]string{"--mount", "--path", "/sys"}, "sysfs is mounted there"},
		{[]string{"--mount", "--apply"}, "refusing"},
	} {
		_, stderr, code := runBin(t, append([]string{"fix", "hugepages", "--root", tree("nic-on-ixgbe")}, c.args...)...)
		if code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, want 2 and %q: %s", c.args, code, c.want, stderr)
		}
	}
}

// mountScript runs the test-hooks build on a tree in a private mount namespace, where the
// tree's proc/mounts is this namespace's real mount table: `fix hugepages --mount --persist
// --apply`, the table, the rollback of the run, the table again.
const mountScript = `#!/bin/sh
set -e
root=$1 state=$2 bin=$3
mount --bind /proc/$$/mounts "$root/proc/mounts"
"$bin" fix hugepages --root "$root" --state-dir "$state" --mount --size 2M --persist --apply
echo "--- mounts"
grep hugetlbfs "$root/proc/mounts" || true
echo "--- files"
ls "$root/etc/systemd/system" "$root/etc/systemd/system/local-fs.target.wants"
id=$(basename "$(ls "$state"/hugepages-*.json)" .json)
echo "--- rollback"
"$bin" fix --rollback "$id" --apply --state-dir "$state"
echo "--- after"
grep hugetlbfs "$root/proc/mounts" || true
`

// TestFixHugepagesMountApply: the hooked build mounts hugetlbfs of 2M for real (mount(2), in a
// private mount namespace, so nothing stays mounted on this machine), writes the mount unit and
// its WantedBy link (the tree has systemd installed, not running), verifies from the real mount
// table, and the rollback by ID unmounts, removes the directories it made and the files.
func TestFixHugepagesMountApply(t *testing.T) {
	unshare, err := exec.LookPath("unshare")
	if err != nil || os.Geteuid() != 0 {
		testenv.Unavailable(t, "unshare and root are needed to mount hugetlbfs in a private mount namespace")
	}
	if _, err := os.Stat("/sys/kernel/mm/hugepages/hugepages-2048kB"); err != nil {
		testenv.Unavailable(t, "this kernel has no 2M huge pages")
	}
	root := t.TempDir()
	if err := testhost.NUMA4TwoNICs(false).Write(root); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(root, "lib/systemd"), 0o755)
	os.WriteFile(filepath.Join(root, "lib/systemd/systemd"), nil, 0o755)
	script := filepath.Join(t.TempDir(), "run")
	os.WriteFile(script, []byte(mountScript), 0o755)
	state := filepath.Join(t.TempDir(), "state")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b, err := exec.CommandContext(ctx, unshare, "--mount", "--propagation", "private", script, root, state, hookedBinary).CombinedOutput()
	out := string(b)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	apply, rest, _ := strings.Cut(out, "--- mounts")
	mounts, rest, _ := strings.Cut(rest, "--- files")
	files, rest, _ := strings.Cut(rest, "--- rollback")
	rollback, after, _ := strings.Cut(rest, "--- after")
	for _, w := range []string{"mounted hugetlbfs (pagesize=2M) at /dev/hugepages-2M", `wrote /etc/systemd/system/dev-hugepages\x2d2M.mount`,
		"hugetlbfs of 2M pages is mounted at /dev/hugepages-2M (/proc/mounts)", "Done and verified"} {
		if !strings.Contains(apply, w) {
			t.Errorf("apply lacks %q:\n%s", w, out)
		}
	}
	if !strings.Contains(mounts, root+"/dev/hugepages-2M hugetlbfs rw,nosuid,nodev,relatime,pagesize=2M") {
		t.Errorf("the namespace's mount table:\n%s", mounts)
	}
	if strings.Count(files, `dev-hugepages\x2d2M.mount`) != 2 {
		t.Errorf("the unit and its link:\n%s", files)
	}
	if !strings.Contains(rollback, "unmounted /dev/hugepages-2M") || !strings.Contains(rollback, "Rolled back run hugepages-") {
		t.Errorf("the rollback:\n%s", rollback)
	}
	if strings.Contains(after, root+"/dev/hugepages-2M") {
		t.Errorf("still mounted after the rollback:\n%s", out)
	}
	for _, p := range []string{"dev", `etc/systemd/system/dev-hugepages\x2d2M.mount`, `etc/systemd/system/local-fs.target.wants/dev-hugepages\x2d2M.mount`} {
		if _, err := os.Lstat(filepath.Join(root, p)); !os.IsNotExist(err) {
			t.Errorf("after the rollback %s is there: %v", p, err)
		}
	}
	if m, _ := os.ReadFile("/proc/self/mounts"); strings.Contains(string(m), root) {
		t.Error("a mount of the test is visible on this machine")
	}
	t.Logf("%s", out)
}

// TestCheckMountRemedyRuns: check's hugepages.mount remedy on the tree without hugetlbfs is a
// dpdk-doctor command, and run as given (on that tree, a dry run) it plans the mount.
func TestCheckMountRemedyRuns(t *testing.T) {
	out, _, _ := runBin(t, "check", "--root", tree("no-hugepages"), "--json")
	m := regexp.MustCompile(`"run": "(dpdk-doctor fix hugepages --mount[^"]*)"`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no fix hugepages --mount remedy in check --json:\n%s", out)
	}
	args := append(strings.Fields(m[1])[1:], "--root", tree("no-hugepages"))
	got, stderr, code := runBin(t, args...)
	if code != 0 || !strings.Contains(got, "mount hugetlbfs at /dev/hugepages-2M (pagesize=2M") || !strings.Contains(got, "nothing was changed") {
		t.Errorf("%s: exit %d\n%s%s", m[1], code, got, stderr)
	}
}
