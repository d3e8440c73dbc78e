package fix

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/dpdk-doctor/dpdk-doctor/internal/testenv"
)

// fakePool is a sysfs tree with one 2M pool whose kernel reserves at most max pages.
func fakePool(t *testing.T, old, max int) (Sysfs, string) {
	root := t.TempDir()
	attr := "sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages"
	os.MkdirAll(filepath.Join(root, filepath.Dir(attr)), 0o755)
	os.WriteFile(filepath.Join(root, attr), []byte(strconv.Itoa(old)+"\n"), 0o644)
	s := Sysfs{Root: root, kernel: func(p, v string) {
		if n, _ := strconv.Atoi(v); n > max {
			os.WriteFile(filepath.Join(root, p), []byte(strconv.Itoa(max)+"\n"), 0o644)
		}
	}}
	return s, filepath.Join(root, attr)
}

// TestHugepagesFewerRolledBack: the kernel gives fewer pages than asked; verify says how many,
// plainly, and the pool goes back to its old size.
func TestHugepagesFewerRolledBack(t *testing.T) {
	s, attr := fakePool(t, 16, 100)
	old := sysfsAt
	sysfsAt = func(string) Sysfs { return s }
	defer func() { sysfsAt = old }()
	h, err := PlanHugepages(HugepagesOptions{Size: "2M", Pages: 512, Node: -1, Sysfs: s})
	if err != nil {
		t.Fatal(err)
	}
	if p := strings.Join(h.Plan(), "\n"); !strings.Contains(p, "echo 512 > /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages") || !strings.Contains(p, "now: 16") {
		t.Errorf("plan: %s", p)
	}
	r := &Runner{StateDir: t.TempDir() + "/s", Out: &bytes.Buffer{}}
	_, err = r.Run(context.Background(), h, true)
	if !errors.Is(err, ErrVerify) || !strings.Contains(err.Error(), "reserved 100 of the 512 2M pages") {
		t.Errorf("err %v", err)
	}
	if b, _ := os.ReadFile(attr); strings.TrimSpace(string(b)) != "16" {
		t.Errorf("pool %q after the rollback", b)
	}
}

// TestHugepagesPersistAndBadInput: --persist writes the sysctl.d file (removed by the rollback);
// bad sizes, 1G --persist and --persist --node are refused naming the option.
func TestHugepagesPersistAndBadInput(t *testing.T) {
	s, _ := fakePool(t, 0, 1000)
	old := sysfsAt
	sysfsAt = func(string) Sysfs { return s }
	defer func() { sysfsAt = old }()
	etc := t.TempDir()
	h, err := PlanHugepages(HugepagesOptions{Size: "2M", Pages: 64, Node: -1, Sysfs: s, Persist: true, Etc: etc})
	if err != nil {
		t.Fatal(err)
	}
	r := &Runner{StateDir: t.TempDir() + "/s", Out: &bytes.Buffer{}}
	rec, err := r.Run(context.Background(), h, true)
	if err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(etc, "etc/sysctl.d/80-dpdk-doctor-hugepages.conf")
	if b, _ := os.ReadFile(conf); !strings.Contains(string(b), "vm.nr_hugepages = 64") {
		t.Errorf("%s: %q", conf, b)
	}
	if err := r.Rollback(context.Background(), rec.ID, true); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(conf); err == nil {
		t.Error("the rollback left the sysctl file")
	}
	for _, o := range []HugepagesOptions{
		{Size: "4M", Pages: 1, Node: -1},
		{Size: "2M", Pages: -1, Node: -1},
		{Size: "1G", Pages: 4, Node: -1, Persist: true},
		{Size: "2M", Pages: 4, Node: 0, Persist: true},
		{Size: "2M", Pages: 4, Node: 7},
	} {
		o.Sysfs = s
		if _, err := PlanHugepages(o); !errors.Is(err, ErrBadOption) {
			t.Errorf("%+v: %v", o, err)
		}
	}
}

// TestHugepagesLive changes this machine's real 2M pool on node 0 by two pages, verifies what
// the kernel reserved, rolls back and checks the old size is back. It holds the machine-wide
// lock internal/ovstest holds, so no OVS-DPDK is using the pages meanwhile.
func TestHugepagesLive(t *testing.T) {
	attr := "sys/devices/system/node/node0/hugepages/hugepages-2048kB/nr_hugepages"
	if os.Geteuid() != 0 || !LiveSysfs.Exists(attr) {
		testenv.Unavailable(t, "this test needs root and a 2M pool on node 0 (%s)", attr)
	}
	lf, err := os.OpenFile("/tmp/dpdk-doctor-ovstest.lock", os.O_RDWR|os.O_CREATE, 0o666)
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close()
	if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	before, _ := LiveSysfs.Read(attr)
	n, _ := strconv.Atoi(before)
	defer func() {
		if now, _ := LiveSysfs.Read(attr); now != before {
			t.Errorf("the pool is %s, not back at %s; restoring", now, before)
			LiveSysfs.Write(attr, before)
		}
	}()
	h, err := PlanHugepages(HugepagesOptions{Size: "2M", Pages: n + 2, Node: 0})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	r := &Runner{StateDir: t.TempDir() + "/s", Out: &out}
	rec, err := r.Run(context.Background(), h, true)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if got, _ := LiveSysfs.Read(attr); got != strconv.Itoa(n+2) || !strings.Contains(out.String(), "the kernel reserved "+strconv.Itoa(n+2)) {
		t.Errorf("pool %s after apply\n%s", got, out.String())
	}
	if err := r.Rollback(context.Background(), rec.ID, true); err != nil {
		t.Fatal(err)
	}
	if got, _ := LiveSysfs.Read(attr); got != before {
		t.Errorf("pool %s after rollback, want %s", got, before)
	}
}
