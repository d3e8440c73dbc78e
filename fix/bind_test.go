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

	"github.com/dpdk-doctor/dpdk-doctor/check"
	"github.com/dpdk-doctor/dpdk-doctor/host"
	"github.com/dpdk-doctor/dpdk-doctor/pci"
)

// fakeKernel copies a test tree to a temporary directory and plays the kernel's part of
// binding on it: driver_override, unbind and drivers_probe move the driver link as the kernel
// would. It proves what dpdk-doctor writes and in which order, not that a kernel binds (the lab
// does). native names each device's own driver; broken makes drivers_probe leave a device alone.
type fakeKernel struct {
	root   string
	native map[string]string
	broken map[string]bool
	writes []string
}

func newFakeKernel(t *testing.T, tree string) *fakeKernel {
	t.Helper()
	dst := t.TempDir()
	if out, err := exec.Command("cp", "-a", filepath.Join("..", "testdata", "hosts", tree)+"/.", dst).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	k := &fakeKernel{root: dst, native: map[string]string{}, broken: map[string]bool{}}
	devs, _ := filepath.Glob(filepath.Join(dst, "sys/bus/pci/devices/*"))
	for _, d := range devs {
		a := filepath.Base(d)
		os.WriteFile(filepath.Join(d, "driver_override"), []byte("(null)\n"), 0o644)
		if t, err := os.Readlink(filepath.Join(d, "driver")); err == nil {
			k.native[a] = filepath.Base(t)
			os.WriteFile(filepath.Join(dst, "sys/bus/pci/drivers", filepath.Base(t), "unbind"), nil, 0o644)
		}
	}
	os.WriteFile(filepath.Join(dst, "sys/bus/pci/drivers_probe"), nil, 0o644)
	return k
}

func (k *fakeKernel) sysfs() Sysfs { return Sysfs{Root: k.root, kernel: k.react} }

func (k *fakeKernel) dev(a string) string { return filepath.Join(k.root, "sys/bus/pci/devices", a) }

func (k *fakeKernel) react(p, v string) {
	k.writes = append(k.writes, p+" <- "+strings.TrimSpace(v))
	switch {
	case strings.HasSuffix(p, "/driver_override"):
		a := filepath.Base(filepath.Dir(p))
		if strings.TrimSpace(v) == "" {
			os.WriteFile(filepath.Join(k.dev(a), "driver_override"), []byte("(null)\n"), 0o644)
		}
	case strings.HasSuffix(p, "/driver/unbind"):
		os.Remove(filepath.Join(k.dev(v), "driver"))
	case p == "sys/bus/pci/drivers_probe":
		if k.broken[v] {
			return
		}
		ov, _ := os.ReadFile(filepath.Join(k.dev(v), "driver_override"))
		drv := strings.TrimSpace(string(ov))
		if drv == "(null)" {
			drv = k.native[v]
		}
		if drv == "" {
			return
		}
		os.Symlink(filepath.Join(k.root, "sys/bus/pci/drivers", drv), filepath.Join(k.dev(v), "driver"))
	}
}

func (k *fakeKernel) driver(a string) string { return (Sysfs{Root: k.root}).Link(devAttr(a, "driver")) }

func (k *fakeKernel) facts(t *testing.T) *check.Facts {
	t.Helper()
	r, err := host.Dir(k.root)
	if err != nil {
		t.Fatal(err)
	}
	f, err := check.Gather(r, check.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (k *fakeKernel) useForUndo(t *testing.T) {
	old := sysfsAt
	sysfsAt = func(root string) Sysfs { return k.sysfs() }
	t.Cleanup(func() { sysfsAt = old })
}

func addrs(t *testing.T, s ...string) []pci.Address {
	var out []pci.Address
	for _, a := range s {
		p, err := pci.ParseAddress(a)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

// TestBindGroupApplyVerifyRollback: binding one function binds its whole IOMMU group (02:00.0
// and 02:00.1 share group 6), verify reads the links, and the rollback gives both back to ixgbe.
// The dry run before changes nothing.
func TestBindGroupApplyVerifyRollback(t *testing.T) {
	k := newFakeKernel(t, "nic-on-ixgbe")
	k.useForUndo(t)
	state := filepath.Join(t.TempDir(), "state")
	b, err := PlanBind(k.facts(t), BindOptions{Devices: addrs(t, "0000:02:00.0"), Sysfs: k.sysfs(), Etc: k.root})
	if err != nil {
		t.Fatal(err)
	}
	plan := strings.Join(b.Plan(), "\n")
	if !strings.Contains(plan, "0000:02:00.1 shares IOMMU group 6") || !strings.Contains(plan, "echo vfio-pci > /sys/bus/pci/devices/0000:02:00.1/driver_override") {
		t.Errorf("plan:\n%s", plan)
	}
	var out bytes.Buffer
	r := &Runner{StateDir: state, Out: &out}
	if _, err := r.Run(context.Background(), b, false); err != nil || len(k.writes) != 0 {
		t.Fatalf("dry run: %v, writes %v", err, k.writes)
	}
	if _, err := os.Stat(state); err == nil {
		t.Error("the dry run made the state dir")
	}
	rec, err := r.Run(context.Background(), b, true)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if rec.State != StateApplied || k.driver("0000:02:00.0") != "vfio-pci" || k.driver("0000:02:00.1") != "vfio-pci" {
		t.Fatalf("state %s, drivers %s %s\n%s", rec.State, k.driver("0000:02:00.0"), k.driver("0000:02:00.1"), out.String())
	}
	// Order: override before unbind before probe, so no other driver can grab it between.
	want := []string{"driver_override <- vfio-pci", "driver/unbind <- 0000:02:00.0", "drivers_probe <- 0000:02:00.0"}
	for i, w := range want {
		if !strings.HasSuffix(k.writes[i], w) && !strings.Contains(k.writes[i], w) {
			t.Errorf("write %d = %q, want %q", i, k.writes[i], w)
		}
	}
	if st, _ := os.Stat(state); st.Mode().Perm() != 0o700 {
		t.Errorf("state dir mode %v", st.Mode())
	}
	if err := r.Rollback(context.Background(), rec.ID, true); err != nil {
		t.Fatalf("rollback: %v\n%s", err, out.String())
	}
	if k.driver("0000:02:00.0") != "ixgbe" || k.driver("0000:02:00.1") != "ixgbe" {
		t.Errorf("after rollback: %s %s", k.driver("0000:02:00.0"), k.driver("0000:02:00.1"))
	}
	if ov, _ := os.ReadFile(filepath.Join(k.dev("0000:02:00.0"), "driver_override")); strings.TrimSpace(string(ov)) != "(null)" {
		t.Errorf("override left: %q", ov)
	}
	if err := r.Rollback(context.Background(), rec.ID, true); err != nil || !strings.Contains(out.String(), "rolled back already") {
		t.Errorf("second rollback: %v", err)
	}
}

// TestBindVerifyFailsRollsBack: a device the driver does not take fails verification, and the
// runner rolls the whole group back at once.
func TestBindVerifyFailsRollsBack(t *testing.T) {
	k := newFakeKernel(t, "nic-on-ixgbe")
	k.useForUndo(t)
	b, err := PlanBind(k.facts(t), BindOptions{Devices: addrs(t, "0000:02:00.0"), Sysfs: k.sysfs()})
	if err != nil {
		t.Fatal(err)
	}
	k.broken["0000:02:00.1"] = true
	var out bytes.Buffer
	r := &Runner{StateDir: t.TempDir(), Out: &out}
	rec, err := r.Run(context.Background(), b, true)
	if !errors.Is(err, ErrVerify) || rec == nil || rec.State != StateFailed && rec.State != StateRolledBack {
		t.Fatalf("err %v rec %+v", err, rec)
	}
	if k.driver("0000:02:00.0") != "ixgbe" {
		t.Errorf("02:00.0 not rolled back: %s\n%s", k.driver("0000:02:00.0"), out.String())
	}
}

// TestBindRefusals: an active interface (without --force), an RMRR-locked device and a host
// with the IOMMU off are refused before anything is written, naming the device and the way out.
func TestBindRefusals(t *testing.T) {
	for _, c := range []struct{ tree, dev, want string }{
		{"shared-group", "0000:02:00.0", "0000:02:00.1 has an interface the host uses"},
		{"dl360e-gen8", "0000:03:00.0", "free it first with `dpdk-doctor fix rmrr 0000:03:00.0`"},
		{"iommu-off-kernel", "0000:02:00.0", "fix cmdline"},
	} {
		k := newFakeKernel(t, c.tree)
		_, err := PlanBind(k.facts(t), BindOptions{Devices: addrs(t, c.dev), Sysfs: k.sysfs()})
		if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), c.want) || len(k.writes) != 0 {
			t.Errorf("%s: %v (writes %v)", c.tree, err, k.writes)
		}
	}
	k := newFakeKernel(t, "shared-group")
	if _, err := PlanBind(k.facts(t), BindOptions{Devices: addrs(t, "0000:02:00.0"), Sysfs: k.sysfs(), Force: true}); err != nil {
		t.Errorf("--force: %v", err)
	}
	if _, err := PlanBind(k.facts(t), BindOptions{Devices: addrs(t, "0000:09:00.0"), Sysfs: k.sysfs()}); !errors.Is(err, ErrNoDevice) {
		t.Errorf("absent device: %v", err)
	}
}

// TestBindPersist: --persist writes driverctl's file when driverctl is there, a udev rule when
// not, and the rollback removes them.
func TestBindPersist(t *testing.T) {
	for _, dc := range []bool{true, false} {
		k := newFakeKernel(t, "nic-on-ixgbe")
		k.useForUndo(t)
		b, err := PlanBind(k.facts(t), BindOptions{Devices: addrs(t, "0000:02:00.0"), Sysfs: k.sysfs(), Etc: k.root, Persist: true, Driverctl: dc})
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		r := &Runner{StateDir: t.TempDir(), Out: &out}
		rec, err := r.Run(context.Background(), b, true)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(k.root, "etc/udev/rules.d/61-dpdk-doctor-0000:02:00.1.rules")
		want := `KERNEL=="0000:02:00.1", ATTR{driver_override}="vfio-pci"`
		if dc {
			p, want = filepath.Join(k.root, "etc/driverctl.d/pci-0000:02:00.1"), "vfio-pci\n"
		}
		if got, _ := os.ReadFile(p); !strings.Contains(string(got), want) {
			t.Errorf("driverctl=%v: %s = %q", dc, p, got)
		}
		if err := r.Rollback(context.Background(), rec.ID, true); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(p); err == nil {
			t.Errorf("rollback left %s", p)
		}
	}
}

// TestUnbind: a device on vfio-pci goes back to its kernel driver, and the rollback puts it back
// on vfio-pci.
func TestUnbind(t *testing.T) {
	k := newFakeKernel(t, "nic-on-ixgbe")
	k.useForUndo(t)
	r := &Runner{StateDir: t.TempDir(), Out: &bytes.Buffer{}}
	b, _ := PlanBind(k.facts(t), BindOptions{Devices: addrs(t, "0000:02:00.0"), Sysfs: k.sysfs()})
	if _, err := r.Run(context.Background(), b, true); err != nil {
		t.Fatal(err)
	}
	r.Now = func() time.Time { return time.Now().Add(time.Minute) }
	u, err := PlanUnbind(k.facts(t), BindOptions{Devices: addrs(t, "0000:02:00.0"), Sysfs: k.sysfs()})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := r.Run(context.Background(), u, true)
	if err != nil || k.driver("0000:02:00.0") != "ixgbe" {
		t.Fatalf("unbind: %v, driver %s", err, k.driver("0000:02:00.0"))
	}
	if err := r.Rollback(context.Background(), rec.ID, true); err != nil || k.driver("0000:02:00.0") != "vfio-pci" {
		t.Errorf("rollback of unbind: %v, driver %s", err, k.driver("0000:02:00.0"))
	}
}

// TestRunnerInterrupted: a record left "applying" (the process died mid-change) stops the next
// run, which names the rollback command; the rollback settles it.
func TestRunnerInterrupted(t *testing.T) {
	k := newFakeKernel(t, "nic-on-ixgbe")
	k.useForUndo(t)
	state := t.TempDir()
	snap, _ := json.Marshal(driversSnapshot{SysRoot: k.root, Target: "vfio-pci", Members: []member{{Address: "0000:02:00.0", Driver: "ixgbe"}}})
	rec := &Record{ID: "bind-20261126T120000Z", Kind: "bind", Started: time.Now(), State: StateApplying, Plan: []string{"x"}, Snapshot: snap}
	r := &Runner{StateDir: state, Out: &bytes.Buffer{}}
	if err := r.write(rec); err != nil {
		t.Fatal(err)
	}
	b, _ := PlanBind(k.facts(t), BindOptions{Devices: addrs(t, "0000:02:00.0"), Sysfs: k.sysfs()})
	_, err := r.Run(context.Background(), b, true)
	if !errors.Is(err, ErrInterrupted) || !strings.Contains(err.Error(), "fix --rollback bind-20261126T120000Z --apply") || len(k.writes) != 0 {
		t.Fatalf("%v, writes %v", err, k.writes)
	}
	if err := r.Rollback(context.Background(), rec.ID, true); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Run(context.Background(), b, true); err != nil {
		t.Errorf("after the rollback: %v", err)
	}
	// A bad ID is bad input; a damaged record is reported, never trusted.
	if err := r.Rollback(context.Background(), "../etc/passwd", true); !errors.Is(err, ErrNoRecord) {
		t.Errorf("bad id: %v", err)
	}
	os.WriteFile(filepath.Join(state, "bind-20261126T130000Z.json"), []byte(`{"id":"x"`), 0o600)
	if err := r.Rollback(context.Background(), "bind-20261126T130000Z", true); !errors.Is(err, ErrJournal) {
		t.Errorf("damaged: %v", err)
	}
}

// FuzzDecodeRecord: no record, however damaged, panics the decoder or passes without an ID,
// a known state and a snapshot.
func FuzzDecodeRecord(f *testing.F) {
	f.Add([]byte(`{"id":"bind-20261126T120000Z","kind":"bind","started":"2026-11-26T12:00:00Z","state":"applied","plan":[],"snapshot":{}}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, err := decodeRecord(b)
		if err == nil && (!validID().MatchString(rec.ID) || len(rec.Snapshot) == 0) {
			t.Errorf("accepted %q", b)
		}
	})
}

// TestRunnerLockAndRMRRJournal: a run while another holds the state lock changes nothing and
// names the holder; an interrupted fix rmrr run (its journal) stops the runner's remedies too.
func TestRunnerLockAndRMRRJournal(t *testing.T) {
	k := newFakeKernel(t, "nic-on-ixgbe")
	state := filepath.Join(t.TempDir(), "state")
	b, err := PlanBind(k.facts(t), BindOptions{Devices: addrs(t, "0000:02:00.0"), Sysfs: k.sysfs()})
	if err != nil {
		t.Fatal(err)
	}
	r := &Runner{StateDir: state, Out: &bytes.Buffer{}}
	l, err := lockState(state, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Run(context.Background(), b, true); !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "pid ") || len(k.writes) != 0 {
		t.Errorf("locked: %v, writes %v", err, k.writes)
	}
	l.unlock()
	writeJournal(state, &Journal{Backup: filepath.Join(state, "rmrds-backup-x.dat"), Slots: []string{"1"}, Started: time.Now()})
	if _, err := r.Run(context.Background(), b, true); !errors.Is(err, ErrInterrupted) || !strings.Contains(err.Error(), "fix rmrr") || len(k.writes) != 0 {
		t.Errorf("rmrr journal: %v, writes %v", err, k.writes)
	}
}
