package fix

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/dpdk-doctor/dpdk-doctor/host"
	"github.com/dpdk-doctor/dpdk-doctor/mounts"

	"github.com/dpdk-doctor/dpdk-doctor/internal/testenv"
)

// need returns the path of a program the test needs, failing under CI and skipping elsewhere.
func need(t *testing.T, prog, why string) string {
	t.Helper()
	p, err := exec.LookPath(prog)
	if err == nil {
		return p
	}
	testenv.Unavailable(t, "%s is needed to %s", prog, why)
	return ""
}

// TestSystemdEscapePathMatchesSystemd compares SystemdEscapePath with the real
// `systemd-escape --path --suffix=mount` on many paths.
func TestSystemdEscapePathMatchesSystemd(t *testing.T) {
	prog := need(t, "systemd-escape", "compare the unit names with systemd's")
	paths := []string{"/dev/hugepages-1G", "/dev/hugepages-2M", "/dev/hugepages", "/", "//", "/mnt/huge", "/mnt/huge_1GB",
		"/a b/.c", "//x//./y/", "/.dot", "/x/.dot/.y", "/ü/é", "/a:b", "/a\\b", "/a-b-c", "/a%b", "/a~b+c=d@e",
		"/run/dpdk/hugepages-1048576kB", "/1", "/_x", "/x.", "/a/b/c/d/e/f/g", "/-", "/--/-", "/tab\there", "/q'u\"o"}
	args := append([]string{"--path", "--suffix=mount"}, paths...)
	out, err := exec.Command(prog, args...).Output()
	if err != nil {
		t.Fatalf("%s: %v", prog, err)
	}
	want := strings.Fields(string(out))
	if len(want) != len(paths) {
		t.Fatalf("systemd-escape gave %d names for %d paths: %q", len(want), len(paths), want)
	}
	for i, p := range paths {
		got, err := SystemdEscapePath(p)
		if err != nil {
			t.Errorf("%q: %v", p, err)
			continue
		}
		if got+".mount" != want[i] {
			t.Errorf("%q: we say %q, systemd-escape says %q", p, got+".mount", want[i])
		}
	}
	if _, err := SystemdEscapePath("/a/../b"); err == nil {
		t.Error("a path with .. was escaped; systemd-escape refuses it")
	}
	if err := exec.Command(prog, "--path", "/a/../b").Run(); err == nil {
		t.Error("systemd-escape took a path with ..; the test's premise is wrong")
	}
}

// TestMountUnitVerifies checks the unit with the real `systemd-analyze verify`, under the name
// systemd requires for its Where=; a unit under another name fails it (the check can fail).
func TestMountUnitVerifies(t *testing.T) {
	prog := need(t, "systemd-analyze", "verify the mount unit")
	for _, c := range []struct{ path, size string }{{"/dev/hugepages-1G", "1G"}, {"/dev/hugepages-2M", "2M"}, {"/mnt/huge 1G", "1G"}} {
		if validMountPath(c.path) != "" {
			continue // taken apart below
		}
		dir := t.TempDir()
		name, _ := SystemdEscapePath(c.path)
		unit := filepath.Join(dir, name+".mount")
		os.WriteFile(unit, []byte(MountUnit(c.path, c.size)), 0o644)
		if out, err := exec.Command(prog, "verify", unit).CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
			t.Errorf("systemd-analyze verify %s: %v\n%s\n%s", unit, err, out, MountUnit(c.path, c.size))
		}
		wrong := filepath.Join(dir, "wrong.mount")
		os.WriteFile(wrong, []byte(MountUnit(c.path, c.size)), 0o644)
		if err := exec.Command(prog, "verify", wrong).Run(); err == nil {
			t.Errorf("systemd-analyze verify took %s under a name not matching Where=: the check above proves nothing", c.path)
		}
	}
	if validMountPath("/mnt/huge 1G") == "" || validMountPath("/a%n") == "" || validMountPath("dev/x") == "" || validMountPath("/dev/x/") == "" {
		t.Error("a path a unit or fstab would read otherwise was taken")
	}
}

// mountTree is a host tree for the file part of the mount step: the 1G pool, proc/mounts
// (listing hugetlbfs of 1G at mounted when it is not ""), and systemd installed or not.
func mountTree(t *testing.T, mounted string, systemd bool) (host.Root, string) {
	t.Helper()
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "sys/kernel/mm/hugepages/hugepages-1048576kB"), 0o755)
	os.MkdirAll(filepath.Join(root, "sys/kernel/mm/hugepages/hugepages-2048kB"), 0o755)
	os.MkdirAll(filepath.Join(root, "proc"), 0o755)
	mounts := "sysfs " + root + "/sys sysfs rw 0 0\nhugetlbfs " + root + "/dev/hugepages hugetlbfs rw,relatime,pagesize=2M 0 0\n"
	if mounted != "" {
		mounts += "hugetlbfs " + filepath.Join(root, mounted) + " hugetlbfs rw,nosuid,nodev,relatime,pagesize=1024M 0 0\n"
		os.MkdirAll(filepath.Join(root, mounted), 0o755)
	}
	os.WriteFile(filepath.Join(root, "proc/mounts"), []byte(mounts), 0o644)
	os.WriteFile(filepath.Join(root, "proc/meminfo"), []byte("Hugepagesize:       2048 kB\n"), 0o644)
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	os.WriteFile(filepath.Join(root, "etc/fstab"), []byte("# static file system information\nUUID=1 / ext4 defaults 0 1\n"), 0o644)
	if systemd {
		os.MkdirAll(filepath.Join(root, "lib/systemd"), 0o755)
		os.WriteFile(filepath.Join(root, "lib/systemd/systemd"), nil, 0o755)
	}
	r, err := host.Dir(root)
	if err != nil {
		t.Fatal(err)
	}
	return r, root
}

// listTree is every path under root with its contents or link target.
func listTree(t *testing.T, root string) string {
	var b strings.Builder
	filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		b.WriteString(p + " " + fi.Mode().String())
		if fi.Mode()&os.ModeSymlink != 0 {
			l, _ := os.Readlink(p)
			b.WriteString(" -> " + l)
		} else if fi.Mode().IsRegular() {
			c, _ := os.ReadFile(p)
			b.Write(c)
		}
		b.WriteString("\n")
		return nil
	})
	return b.String()
}

// TestMountPersistUnit: on a host with systemd not running as PID 1 the run writes the unit and
// its WantedBy link as systemctl enable would, the unit passes systemd-analyze verify, a dry run
// changes nothing, and the rollback leaves the tree as it was.
func TestMountPersistUnit(t *testing.T) {
	r, root := mountTree(t, "dev/hugepages-1G", true)
	before := listTree(t, root)
	h, err := PlanMount(MountOptions{Size: "1G", Persist: true, Host: r, Target: root})
	if err != nil {
		t.Fatal(err)
	}
	plan := strings.Join(h.Plan(), "\n")
	for _, w := range []string{`write /etc/systemd/system/dev-hugepages\x2d1G.mount`, `ln -s /etc/systemd/system/dev-hugepages\x2d1G.mount /etc/systemd/system/local-fs.target.wants/dev-hugepages\x2d1G.mount`,
		"mounted at /dev/hugepages-1G already", "not running as PID 1"} {
		if !strings.Contains(plan, w) {
			t.Errorf("plan lacks %q:\n%s", w, plan)
		}
	}
	if strings.Contains(plan, "mount hugetlbfs at") {
		t.Errorf("plan mounts what is mounted:\n%s", plan)
	}
	state := t.TempDir()
	var out bytes.Buffer
	run := &Runner{StateDir: state, Out: &out}
	if _, err := run.Run(context.Background(), h, false); err != nil {
		t.Fatal(err)
	}
	if got := listTree(t, root); got != before {
		t.Fatalf("the dry run changed the tree:\n%s", got)
	}
	if m, _ := filepath.Glob(filepath.Join(state, "*")); len(m) > 0 {
		t.Fatalf("the dry run wrote %v", m)
	}
	rec, err := run.Run(context.Background(), h, true)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	unit := filepath.Join(root, `etc/systemd/system/dev-hugepages\x2d1G.mount`)
	b, err := os.ReadFile(unit)
	if err != nil || !strings.Contains(string(b), "Where=/dev/hugepages-1G\n") || !strings.Contains(string(b), "Options=nosuid,nodev,pagesize=1G\n") {
		t.Fatalf("unit: %v\n%s", err, b)
	}
	if l, err := os.Readlink(filepath.Join(root, `etc/systemd/system/local-fs.target.wants/dev-hugepages\x2d1G.mount`)); err != nil || l != `/etc/systemd/system/dev-hugepages\x2d1G.mount` {
		t.Fatalf("WantedBy link: %q %v", l, err)
	}
	if p, err := exec.LookPath("systemd-analyze"); err == nil {
		if o, err := exec.Command(p, "verify", unit).CombinedOutput(); err != nil {
			t.Errorf("systemd-analyze verify of the written unit: %v\n%s", err, o)
		}
	}
	if rec.State != StateApplied || !strings.Contains(strings.Join(rec.Notes, "\n"), "enabled (WantedBy=local-fs.target)") {
		t.Errorf("record %s notes %q", rec.State, rec.Notes)
	}
	// Run again: nothing to change.
	r2, _ := host.Dir(root)
	if h2, err := PlanMount(MountOptions{Size: "1G", Persist: true, Host: r2, Target: root}); err != nil || h2.Changes() != 0 ||
		!strings.Contains(strings.Join(h2.Plan(), "\n"), "written and enabled already") {
		t.Errorf("second plan: %v %q", err, h2.Plan())
	}
	if err := run.Rollback(context.Background(), rec.ID, true); err != nil {
		t.Fatal(err)
	}
	// The directories the run made for the unit stay (empty system directories), nothing else.
	after := listTree(t, root)
	for _, l := range strings.Split(after, "\n") {
		if l != "" && !strings.Contains(before, l+"\n") && !strings.HasSuffix(l, "drwxr-xr-x") {
			t.Errorf("after the rollback %q is new", l)
		}
	}
}

// TestMountPersistReplacesUnit: a unit of that name with other contents is replaced, the plan
// says so, and the rollback puts the old text back.
func TestMountPersistReplacesUnit(t *testing.T) {
	_, root := mountTree(t, "dev/hugepages-1G", true)
	unit := filepath.Join(root, `etc/systemd/system/dev-hugepages\x2d1G.mount`)
	os.MkdirAll(filepath.Dir(unit), 0o755)
	old := "# an operator's own unit\n[Mount]\nWhat=hugetlbfs\nWhere=/dev/hugepages-1G\nType=hugetlbfs\n"
	os.WriteFile(unit, []byte(old), 0o644)
	r, _ := host.Dir(root)
	h, err := PlanMount(MountOptions{Size: "1G", Persist: true, Host: r, Target: root})
	if err != nil {
		t.Fatal(err)
	}
	if plan := strings.Join(h.Plan(), "\n"); !strings.Contains(plan, "exists with other contents: it is replaced") {
		t.Errorf("the plan does not say the unit is replaced:\n%s", plan)
	}
	run := &Runner{StateDir: t.TempDir(), Out: &bytes.Buffer{}}
	rec, err := run.Run(context.Background(), h, true)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(unit); string(b) != MountUnit("/dev/hugepages-1G", "1G") {
		t.Fatalf("unit not replaced:\n%s", b)
	}
	if err := run.Rollback(context.Background(), rec.ID, true); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(unit); string(b) != old {
		t.Errorf("the rollback did not put the old unit back:\n%s", b)
	}
}

// TestMountPersistFstab: without systemd the boot-time mount is a line appended to /etc/fstab,
// and the rollback puts the file back byte for byte.
func TestMountPersistFstab(t *testing.T) {
	r, root := mountTree(t, "mnt/huge", false)
	fstab := filepath.Join(root, "etc/fstab")
	old, _ := os.ReadFile(fstab)
	h, err := PlanMount(MountOptions{Size: "1G", Path: "/mnt/huge", Persist: true, Host: r, Target: root})
	if err != nil {
		t.Fatal(err)
	}
	if p := strings.Join(h.Plan(), "\n"); !strings.Contains(p, "append to /etc/fstab: hugetlbfs /mnt/huge hugetlbfs nosuid,nodev,pagesize=1G 0 0") || !strings.Contains(p, "no systemd") {
		t.Fatalf("plan:\n%s", p)
	}
	run := &Runner{StateDir: t.TempDir(), Out: &bytes.Buffer{}}
	rec, err := run.Run(context.Background(), h, true)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(fstab)
	if !strings.HasPrefix(string(b), string(old)) || !strings.HasSuffix(string(b), "hugetlbfs /mnt/huge hugetlbfs nosuid,nodev,pagesize=1G 0 0\n") {
		t.Fatalf("fstab:\n%s", b)
	}
	ents, err := mounts.Parse(b)
	if err != nil || len(ents) != 2 || ents[1].FSType != "hugetlbfs" {
		t.Fatalf("fstab reads %v %v", ents, err)
	}
	// A second plan sees the line and adds nothing.
	r2, _ := host.Dir(root)
	h2, err := PlanMount(MountOptions{Size: "1G", Path: "/mnt/huge", Persist: true, Host: r2, Target: root})
	if err != nil || h2.Changes() != 0 {
		t.Fatalf("second plan: %v, %d changes: %q", err, h2.Changes(), h2.Plan())
	}
	// A line added by hand after the run stays; the run's lines go.
	os.WriteFile(fstab, append(b, "tmpfs /mnt/t tmpfs defaults 0 0\n"...), 0o644)
	if err := run.Rollback(context.Background(), rec.ID, true); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(fstab); string(b) != string(old)+"tmpfs /mnt/t tmpfs defaults 0 0\n" {
		t.Fatalf("fstab after the rollback:\n%s", b)
	}
}

// TestMountRefusals: bad sizes and paths, another file system at the path, a kernel without
// the pool and an fstab line of another kind at the path are refused as bad options.
func TestMountRefusals(t *testing.T) {
	r, root := mountTree(t, "", true)
	os.WriteFile(filepath.Join(root, "etc/fstab"), []byte("tmpfs /mnt/t tmpfs defaults 0 0\n"), 0o644)
	os.WriteFile(filepath.Join(root, "file"), nil, 0o644)
	for i, o := range []MountOptions{
		{Size: "4M"}, {Size: "2M", Path: "relative"}, {Size: "2M", Path: "/a,b"}, {Size: "2M", Path: "/"},
		{Size: "2M", Path: "/sys"},                  // sysfs is mounted there
		{Size: "1G", Path: "/dev/hugepages"},        // hugetlbfs of 2M is mounted there
		{Size: "2M", Path: "/file"},                 // not a directory
		{Size: "2M", Path: "/etc"},                  // holds files
		{Size: "2M", Path: "/mnt/t", Persist: true}, // fstab mounts tmpfs there
		{Size: "1G", Path: "/mnt/x"},                // no 1G pool (removed below)
	} {
		if i == 9 {
			os.RemoveAll(filepath.Join(root, "sys/kernel/mm/hugepages/hugepages-1048576kB"))
			r, _ = host.Dir(root) // host.Root caches what it resolved
		}
		o.Host, o.Target = r, root
		if _, err := PlanMount(o); !errors.Is(err, ErrBadOption) {
			t.Errorf("%+v: %v, want a bad option", o, err)
		} else {
			t.Logf("%s %s: %v", o.Size, o.Path, err)
		}
	}
	// 2M is mounted at /dev/hugepages already: a pool run adds no mount, and says where.
	h := &Hugepages{size: "2M"}
	if err := h.AddMount(MountOptions{Host: r, Target: root}); err != nil || h.mount != nil || !strings.Contains(strings.Join(h.Plan(), "\n"), "2M pages is mounted at /dev/hugepages already") {
		t.Errorf("AddMount: %q %v %v", h.Plan(), err, h.mount)
	}
	// None of 1G is mounted: the step is added, at /dev/hugepages-1G.
	r, root = mountTree(t, "", true)
	h = &Hugepages{size: "1G"}
	if err := h.AddMount(MountOptions{Host: r, Target: root}); err != nil || h.mount == nil || !strings.Contains(strings.Join(h.Plan(), "\n"), "mount hugetlbfs at /dev/hugepages-1G (pagesize=1G") {
		t.Errorf("AddMount 1G: %q %v", h.Plan(), err)
	}
}

// TestMountRealNamespace mounts hugetlbfs for real, in a private mount namespace of a child
// (this test re-executed under unshare), so nothing is left mounted on the host: each page size
// of this kernel is mounted, verified from /proc/mounts, written through (a file of one page
// can be made), and rolled back (unmounted, the directory it made removed). An interrupted
// run's record is rolled back too.
func TestMountRealNamespace(t *testing.T) {
	if os.Getenv("DPDK_DOCTOR_MOUNT_CHILD") == "1" {
		mountChild(t)
		return
	}
	if os.Geteuid() != 0 {
		testenv.Unavailable(t, "mounting hugetlbfs needs root")
	}
	unshare := need(t, "unshare", "mount in a private mount namespace")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, unshare, "--mount", "--propagation", "private", os.Args[0], "-test.run", "^TestMountRealNamespace$", "-test.v", "-test.count=1")
	dir := t.TempDir()
	ns, err := os.Readlink("/proc/self/ns/mnt")
	if err != nil {
		t.Fatal(err)
	}
	cmd.Env = append(os.Environ(), "DPDK_DOCTOR_MOUNT_CHILD=1", "DPDK_DOCTOR_MOUNT_DIR="+dir, "DPDK_DOCTOR_MOUNT_PARENT_NS="+ns)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestMountRealNamespace") {
		t.Fatalf("the child: %v\n%s", err, out)
	}
	t.Logf("%s", out)
	if b, _ := os.ReadFile("/proc/self/mounts"); strings.Contains(string(b), dir+"/") {
		t.Fatal("a mount of the child is visible on the host")
	}
}

func mountChild(t *testing.T) {
	base := os.Getenv("DPDK_DOCTOR_MOUNT_DIR")
	// Never mount on the host: the child must run in a mount namespace of its own. (It used to
	// look for the line of "/" in mountinfo, which a chroot such as fresh-check's lacks.)
	if ns, err := os.Readlink("/proc/self/ns/mnt"); err != nil || ns == os.Getenv("DPDK_DOCTOR_MOUNT_PARENT_NS") {
		t.Fatalf("not in a private mount namespace (%s, the parent's %s): %v", ns, os.Getenv("DPDK_DOCTOR_MOUNT_PARENT_NS"), err)
	}
	live := host.Live()
	sizes := 0
	for _, size := range []string{"2M", "1G"} {
		if !live.Exists("sys/kernel/mm/hugepages/hugepages-" + pageKB(size)) {
			t.Logf("this kernel has no %s pages", size)
			continue
		}
		sizes++
		path := filepath.Join(base, "made", "hugepages-"+size)
		h, err := PlanMount(MountOptions{Size: size, Path: path})
		if err != nil {
			t.Fatal(err)
		}
		if h.mount.makeDir != filepath.Join(base, "made") {
			t.Fatalf("%s: the run would make %q", size, h.mount.makeDir)
		}
		var out bytes.Buffer
		run := &Runner{StateDir: filepath.Join(base, "state"), Out: &out}
		rec, err := run.Run(context.Background(), h, true)
		if err != nil {
			t.Fatalf("%s: %v\n%s", size, err, out.String())
		}
		if !mountedHere(live, "/", path, size) {
			t.Fatalf("%s: /proc/mounts lists no hugetlbfs at %s after the run", size, path)
		}
		if at := MountedAt(live, size); at == "" {
			t.Fatalf("%s: MountedAt finds none", size)
		}
		// The kernel's own word: the file system's block size is the page size, and a file
		// of one page can be made there.
		var st unix.Statfs_t
		if err := unix.Statfs(path, &st); err != nil || st.Type != unix.HUGETLBFS_MAGIC || st.Bsize != int64(hugepageBytes(size)) {
			t.Fatalf("%s: statfs %s: %v, type %#x, block size %d", size, path, err, st.Type, st.Bsize)
		}
		f, err := os.Create(filepath.Join(path, "page"))
		if err == nil {
			err = f.Truncate(int64(hugepageBytes(size)))
			f.Close()
			os.Remove(filepath.Join(path, "page"))
		}
		if err != nil {
			t.Fatalf("%s: a file of one page: %v", size, err)
		}
		t.Logf("%s", out.String())
		if err := run.Rollback(context.Background(), rec.ID, true); err != nil {
			t.Fatal(err)
		}
		if mountedHere(live, "/", path, size) {
			t.Fatalf("%s: still mounted after the rollback", size)
		}
		if _, err := os.Stat(filepath.Join(base, "made")); !os.IsNotExist(err) {
			t.Fatalf("%s: the directory the run made is still there: %v", size, err)
		}
	}
	if sizes == 0 {
		t.Fatal("this kernel has no huge page sizes to mount")
	}
	// An interrupted run: mounted, record still "applying"; the next run refuses, the rollback
	// from the record unmounts and removes the directory.
	path := filepath.Join(base, "intr", "hp")
	h, err := PlanMount(MountOptions{Size: "2M", Path: path})
	if err != nil {
		t.Fatal(err)
	}
	snap, err := h.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Apply(context.Background(), &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	run := &Runner{StateDir: filepath.Join(base, "state2"), Out: &bytes.Buffer{}}
	rec := &Record{ID: "hugepages-20261126T170000Z", Kind: "hugepages", Started: time.Now(), State: StateApplying, Plan: h.Plan(), Snapshot: snap}
	os.MkdirAll(run.dir(), 0o700)
	if err := run.write(rec); err != nil {
		t.Fatal(err)
	}
	h2, _ := PlanMount(MountOptions{Size: "2M", Path: filepath.Join(base, "other")})
	if _, err := run.Run(context.Background(), h2, true); !errors.Is(err, ErrInterrupted) {
		t.Fatalf("a run after an interrupted one: %v", err)
	}
	if err := run.Rollback(context.Background(), rec.ID, true); err != nil {
		t.Fatal(err)
	}
	if mountedHere(live, "/", path, "2M") {
		t.Fatal("the interrupted run's mount is still there")
	}
	if _, err := os.Stat(filepath.Join(base, "intr")); !os.IsNotExist(err) {
		t.Fatal("the interrupted run's directory is still there")
	}
	// A run interrupted before it mounted: the rollback finds nothing mounted and is content.
	var s hugepagesSnapshot
	json.Unmarshal(snap, &s)
	if err := undoMount(context.Background(), s.Mount, &bytes.Buffer{}); err != nil {
		t.Fatalf("rolling back a mount that was never made: %v", err)
	}
}

func hugepageBytes(size string) int {
	if size == "1G" {
		return 1 << 30
	}
	return 2 << 20
}

// FuzzSystemdEscapePath: the name holds only the bytes systemd leaves in unit names.
func FuzzSystemdEscapePath(f *testing.F) {
	for _, s := range []string{"/dev/hugepages-1G", "/", "/.x", "/a/../b", "/ü"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		s, err := SystemdEscapePath(p)
		if err != nil {
			return
		}
		for i := 0; i < len(s); i++ {
			c := s[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte(`:_.\-`, c) >= 0) {
				t.Fatalf("%q -> %q holds %q", p, s, c)
			}
		}
		if s != "-" && s[0] == '.' {
			t.Fatalf("%q -> %q begins with a dot", p, s)
		}
	})
}

// TestMountPlanSystemctl: where systemd runs as PID 1 (/run/systemd/system) on the live root,
// the unit is enabled through systemctl (daemon-reload, enable), not a link of ours.
func TestMountPlanSystemctl(t *testing.T) {
	_, root := mountTree(t, "", true)
	os.MkdirAll(filepath.Join(root, "run/systemd/system"), 0o755)
	r, _ := host.Dir(root)
	h, err := PlanMount(MountOptions{Size: "1G", Persist: true, Host: r, Target: "/"})
	if err != nil {
		t.Fatal(err)
	}
	p := strings.Join(h.Plan(), "\n")
	if !strings.Contains(p, "systemctl daemon-reload\nsystemctl enable 'dev-hugepages\\x2d1G.mount'") || strings.Contains(p, "ln -s") || h.mount.link != nil {
		t.Errorf("plan:\n%s", p)
	}
	// On a tree (tests) systemctl would act on this machine: the link is written instead.
	h, _ = PlanMount(MountOptions{Size: "1G", Persist: true, Host: r, Target: root})
	if h.mount.systemctl || h.mount.link == nil {
		t.Errorf("tree plan: %q", h.Plan())
	}
}
