// Package ovstest starts and stops a real, private Open vSwitch with DPDK for tests: Debian's
// ovsdb-server and ovs-vswitchd-dpdk in a temporary directory, DPDK on huge pages with
// --no-pci. Whatever it starts or creates is stopped and removed by Stop, and what a killed
// test run left is swept away by the next Start.
package ovstest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Paths of Debian's packages (openvswitch-switch-dpdk, openvswitch-common).
const (
	VswitchdDPDK = "/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk"
	Schema       = "/usr/share/openvswitch/vswitch.ovsschema"
	baseDir      = "/tmp/dpdk-doctor-ovstest"
	hugeNr       = "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages"
	hugeFree     = "/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages"
	// lockFile serializes OVS-DPDK instances machine-wide: there are huge pages and cores for
	// one at a time, and test binaries of different packages (or checkouts) run in parallel.
	lockFile = "/tmp/dpdk-doctor-ovstest.lock"
)

// Instance is a running private OVS.
type Instance struct {
	Dir string // holds the database, sockets, logs and pid files
	DB  string // "unix:DIR/db.sock"

	env       []string
	lock      *held  // the machine-wide lock, held from Start to Stop
	hugeSaved string // nr_hugepages before Start raised it, "" when untouched
	switchd   bool   // ovs-vswitchd runs: it makes the tap devices Stop removes
}

// Options choose what Start runs.
type Options struct {
	Switch bool // also start ovs-vswitchd-dpdk and wait for DPDK to initialize
}

// Start installs Open vSwitch with DPDK when it is missing (Debian, as root), reserves huge
// pages, and starts a private instance. Call Stop when done, whatever happens.
func Start(o Options) (*Instance, error) {
	lock, err := machineLock()
	if err != nil {
		return nil, err
	}
	unlock := func() { lock.release() }
	Sweep()
	if err := ensureInstalled(); err != nil {
		unlock()
		return nil, err
	}
	if err := os.MkdirAll(baseDir, 0o755); err != nil {
		unlock()
		return nil, err
	}
	dir, err := os.MkdirTemp(baseDir, "ovs-")
	if err != nil {
		unlock()
		return nil, err
	}
	// The owner's pid lets Sweep tell a live instance from one a killed test run left.
	if err := os.WriteFile(filepath.Join(dir, "owner"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		os.RemoveAll(dir)
		unlock()
		return nil, err
	}
	in := &Instance{Dir: dir, DB: "unix:" + filepath.Join(dir, "db.sock"), lock: lock}
	for _, k := range []string{"OVS_RUNDIR", "OVS_LOGDIR", "OVS_DBDIR", "OVS_SYSCONFDIR"} {
		in.env = append(in.env, k+"="+dir)
	}
	fail := func(err error) (*Instance, error) {
		in.Stop()
		return nil, err
	}
	if _, err := in.run("ovsdb-tool", "create", filepath.Join(dir, "conf.db"), Schema); err != nil {
		return fail(err)
	}
	if _, err := in.run("ovsdb-server", filepath.Join(dir, "conf.db"), "--remote=punix:"+filepath.Join(dir, "db.sock"),
		"--pidfile="+filepath.Join(dir, "ovsdb-server.pid"), "--detach", "--log-file="+filepath.Join(dir, "ovsdb-server.log")); err != nil {
		return fail(err)
	}
	if _, err := in.Vsctl("--no-wait", "init"); err != nil {
		return fail(err)
	}
	if !o.Switch {
		return in, nil
	}
	if err := in.reserveHugepages(256); err != nil {
		return fail(err)
	}
	if _, err := in.Vsctl("--no-wait", "set", "Open_vSwitch", ".", "other_config:dpdk-init=true",
		"other_config:dpdk-extra=--no-pci", "other_config:dpdk-socket-mem=256", "other_config:pmd-cpu-mask=0x2"); err != nil {
		return fail(err)
	}
	in.switchd = true
	if _, err := in.run(VswitchdDPDK, in.DB, "--pidfile="+filepath.Join(dir, "ovs-vswitchd.pid"), "--detach",
		"--log-file="+filepath.Join(dir, "ovs-vswitchd.log")); err != nil {
		return fail(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, _ := in.Vsctl("get", "Open_vSwitch", ".", "dpdk_initialized")
		if strings.TrimSpace(out) == "true" {
			return in, nil
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "ovs-vswitchd.log"))
			return fail(fmt.Errorf("DPDK did not initialize in ovs-vswitchd-dpdk within 30s; log:\n%s", tail(string(log), 2000)))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Vsctl runs ovs-vsctl against the instance.
func (in *Instance) Vsctl(args ...string) (string, error) {
	return in.run("ovs-vsctl", append([]string{"--db=" + in.DB, "--timeout=10"}, args...)...)
}

// Log returns ovs-vswitchd's log so far.
func (in *Instance) Log() string {
	b, _ := os.ReadFile(filepath.Join(in.Dir, "ovs-vswitchd.log"))
	return string(b)
}

func (in *Instance) run(prog string, args ...string) (string, error) {
	cmd := exec.Command(prog, args...)
	cmd.Env = append(os.Environ(), in.env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %v: %s", prog, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// Stop stops the daemons by pid, removes the tap devices user-space OVS made (ovs-netdev and one
// per bridge), gives back the huge pages and removes the directory.
func (in *Instance) Stop() error {
	bridges, _ := in.Vsctl("--no-wait", "list-br")
	// The user-space datapath makes a tap for every internal interface too, not only for the
	// bridges' own: collect their names while the database still answers.
	internal, _ := in.Vsctl("--no-wait", "--bare", "--columns=name", "find", "Interface", "type=internal")
	stopDir(in.Dir)
	if in.switchd {
		// Only a running switch makes taps; another instance's must not be touched.
		for _, b := range append(append(strings.Fields(bridges), strings.Fields(internal)...), "ovs-netdev") {
			deleteLink(b)
		}
	}
	if in.hugeSaved != "" {
		os.WriteFile(hugeNr, []byte(in.hugeSaved), 0o644)
	}
	err := os.RemoveAll(in.Dir)
	if in.lock != nil {
		in.lock.release()
		in.lock = nil
	}
	return err
}

// Sweep stops what killed test runs left: the instance directories under the base directory
// whose owning process is gone, their daemons, and OVS's tap device. Instances of live test
// processes (this one's included) are left alone.
func Sweep() {
	ents, _ := os.ReadDir(baseDir)
	swept := false
	for _, e := range ents {
		d := filepath.Join(baseDir, e.Name())
		if b, err := os.ReadFile(filepath.Join(d, "owner")); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && alive(pid) {
				continue
			}
		}
		stopDir(d)
		os.RemoveAll(d)
		swept = true
	}
	if swept {
		deleteLink("ovs-netdev")
	}
}

func stopDir(dir string) {
	for _, pf := range []string{"ovs-vswitchd.pid", "ovsdb-server.pid"} {
		b, err := os.ReadFile(filepath.Join(dir, pf))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 1 {
			continue
		}
		if !isOVS(pid) {
			continue // a reused pid: not ours
		}
		syscall.Kill(pid, syscall.SIGTERM)
		for i := 0; i < 50 && alive(pid); i++ {
			time.Sleep(100 * time.Millisecond)
		}
		if alive(pid) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

func isOVS(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return err == nil && (strings.Contains(string(b), "ovs-vswitchd") || strings.Contains(string(b), "ovsdb-server"))
}

func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	f := strings.Fields(string(b))
	return len(f) > 2 && f[2] != "Z"
}

func deleteLink(name string) {
	if _, err := os.Stat("/sys/class/net/" + name); err == nil {
		exec.Command("ip", "link", "delete", name).Run()
	}
}

func (in *Instance) reserveHugepages(pages int) error {
	if err := mountHugetlbfs(); err != nil {
		return err
	}
	cur, err := os.ReadFile(hugeNr)
	if err != nil {
		return fmt.Errorf("huge pages: %w", err)
	}
	free, _ := os.ReadFile(hugeFree)
	f, _ := strconv.Atoi(strings.TrimSpace(string(free)))
	if f >= pages {
		return nil
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(cur)))
	in.hugeSaved = strings.TrimSpace(string(cur))
	if err := os.WriteFile(hugeNr, []byte(strconv.Itoa(n+pages-f)), 0o644); err != nil {
		return fmt.Errorf("reserving huge pages: %w", err)
	}
	free, _ = os.ReadFile(hugeFree)
	if f, _ = strconv.Atoi(strings.TrimSpace(string(free))); f < pages {
		return fmt.Errorf("asked for %d free 2M huge pages, the kernel gave %d", pages, f)
	}
	return nil
}

func mountHugetlbfs() error {
	b, _ := os.ReadFile("/proc/mounts")
	if strings.Contains(string(b), " hugetlbfs ") {
		return nil
	}
	os.MkdirAll("/dev/hugepages", 0o755)
	if out, err := exec.Command("mount", "-t", "hugetlbfs", "nodev", "/dev/hugepages").CombinedOutput(); err != nil {
		return fmt.Errorf("mounting hugetlbfs: %v: %s", err, out)
	}
	return nil
}

// ensureInstalled installs Debian's Open vSwitch with DPDK when it is missing.
func ensureInstalled() error {
	if _, err := os.Stat(VswitchdDPDK); err == nil {
		if _, err := exec.LookPath("ovsdb-server"); err == nil {
			return nil
		}
	}
	if os.Geteuid() != 0 {
		return errors.New("open vSwitch with DPDK is not installed, and installing it needs root (apt-get install openvswitch-switch-dpdk)")
	}
	env := append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	for _, args := range [][]string{{"update", "-qq"}, {"install", "-y", "-qq", "--no-install-recommends", "openvswitch-switch-dpdk"}} {
		cmd := exec.Command("apt-get", args...)
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("apt-get %s: %v: %s", strings.Join(args, " "), err, tail(string(out), 1000))
		}
	}
	return nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// The machine-wide lock is taken once per process: a test that starts a second instance while
// its process holds one (to compare, or to stop and restart) must not wait for itself, since
// flock locks belong to open files, not processes.
var (
	lockMu    sync.Mutex
	lockFD    *os.File
	lockCount int
)

// held is one Start's share of the process's machine-wide lock.
type held struct{ once sync.Once }

func machineLock() (*held, error) {
	lockMu.Lock()
	defer lockMu.Unlock()
	if lockCount == 0 {
		f, err := os.OpenFile(lockFile, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return nil, err
		}
		// Wait for another checkout's or package's instance to stop; the kernel drops the
		// lock when a test process dies.
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", lockFile, err)
		}
		lockFD = f
	}
	lockCount++
	return &held{}, nil
}

func (h *held) release() {
	h.once.Do(func() {
		lockMu.Lock()
		defer lockMu.Unlock()
		lockCount--
		if lockCount == 0 {
			lockFD.Close()
			lockFD = nil
		}
	})
}
