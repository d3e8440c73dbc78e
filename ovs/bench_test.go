package ovs_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/dpdk-doctor/dpdk-doctor/check"
	"github.com/dpdk-doctor/dpdk-doctor/host"
	"github.com/dpdk-doctor/dpdk-doctor/internal/ovstest"
	"github.com/dpdk-doctor/dpdk-doctor/ovs"

	"github.com/dpdk-doctor/dpdk-doctor/internal/testenv"
)

// BenchmarkShow64 reads the whole OVS state over the unix socket and explains it, with 64 DPDK
// ports (each with the seed's error) in the database; BenchmarkVsctlShow64 times `ovs-vsctl
// show` on the same database, and BenchmarkBinaryShow64 the dpdk-doctor binary end to end.
func BenchmarkShow64(b *testing.B) {
	in, f := bench64(b)
	ctx := context.Background()
	for b.Loop() {
		c, err := ovs.Dial(ctx, in.DB, ovs.TLS{})
		if err != nil {
			b.Fatal(err)
		}
		st, err := c.Read(ctx)
		if err != nil {
			b.Fatal(err)
		}
		s := ovs.NewShow(st, f)
		c.Close()
		if n := len(s.Bridges[0].Ports); n != 65 {
			b.Fatalf("%d ports", n)
		}
	}
}

func BenchmarkVsctlShow64(b *testing.B) {
	in, _ := bench64(b)
	for b.Loop() {
		if _, err := in.Vsctl("show"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBinaryShow64(b *testing.B) {
	in, _ := bench64(b)
	bin := filepath.Join(b.TempDir(), "dpdk-doctor")
	build := exec.Command("go", "build", "-o", bin, "../cmd/dpdk-doctor")
	build.Env = append(os.Environ(), "CGO_ENABLED=0") // static, as it ships
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("%v %s", err, out)
	}
	for b.Loop() {
		if out, err := exec.Command(bin, "ovs", "show", "--db", in.DB, "--root", "../testdata/hosts/dl360e-gen8").CombinedOutput(); err != nil {
			b.Fatalf("%v %s", err, out)
		}
	}
}

var shared *ovstest.Instance

// bench64 starts a database (no switch: the state is written as vswitchd would leave it) with
// one bridge of 64 DPDK ports, each carrying the seed's error.
func bench64(b *testing.B) (*ovstest.Instance, *check.Facts) {
	if shared == nil {
		in, err := ovstest.Start(ovstest.Options{})
		if err != nil {
			testenv.Unavailable(b, "a private real OVS-DPDK must run: %v", err)
		}
		shared = in
		args := []string{"--no-wait", "add-br", "br-bench", "--", "set", "bridge", "br-bench", "datapath_type=netdev"}
		for i := range 64 {
			p := fmt.Sprintf("dpdk-p%d", i)
			addr := fmt.Sprintf("0000:%02x:00.%d", 3+i/8, i%8)
			args = append(args, "--", "add-port", "br-bench", p, "--", "set", "Interface", p, "type=dpdk", "options:dpdk-devargs="+addr,
				"error=\"Error attaching device '"+addr+"' to DPDK\"")
		}
		if out, err := in.Vsctl(args...); err != nil {
			b.Fatalf("%v %s", err, out)
		}
	}
	r, err := host.Dir("../testdata/hosts/dl360e-gen8")
	if err != nil {
		b.Fatal(err)
	}
	f, err := check.Gather(r, check.Options{})
	if err != nil {
		b.Fatal(err)
	}
	return shared, f
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared != nil {
		shared.Stop()
	}
	os.Exit(code)
}

// TestPairedSpeed measures, in one run and alternating, `dpdk-doctor ovs show --db X` (this
// tree's binary, built static as it ships, and the one DPDK_DOCTOR_OLD_BIN names when set: the
// binary before a change, which should be built with CGO_ENABLED=0 too) against `ovs-vsctl
// --db=X show`, 20 pairs at 64 and at 512 ports, half of them dpdk ports with the seed's error:
// live (host facts from this machine) with the errors naming PCI devices this host lacks, live
// with the errors naming a network device this host has (its verdict is then computed: kernel
// log, interfaces, vfio-pci), live with no errors at all, with --root TREE (host facts from a captured tree), `plan --root
// TREE --db X DEVICE` and live `plan --db X DEVICE`; then start-up alone (`--version` against
// `ovs-vsctl --version`), and the in-process times of both read paths (ReadOnce over a one-shot
// connection; Dial + Client.Read). Each ratio is the median of the pairs' ratios. It is a
// measurement, not a check: it runs only with DPDK_DOCTOR_BENCH=1.
func TestPairedSpeed(t *testing.T) {
	if os.Getenv("DPDK_DOCTOR_BENCH") != "1" {
		t.Skip("a measurement: set DPDK_DOCTOR_BENCH=1 to run it")
	}
	in, err := ovstest.Start(ovstest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Stop()
	bin := filepath.Join(t.TempDir(), "dpdk-doctor")
	// Built as it ships: static (CGO_ENABLED=0). A cgo build is dynamically linked, and the
	// dynamic loader alone adds half a millisecond to every start.
	build := exec.Command("go", "build", "-o", bin, "../cmd/dpdk-doctor")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	old := os.Getenv("DPDK_DOCTOR_OLD_BIN")
	vsctl, err := exec.LookPath("ovs-vsctl")
	if err != nil {
		t.Fatal(err)
	}
	run := func(argv ...string) time.Duration {
		start := time.Now()
		if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || argv[1] != "plan" {
				t.Fatalf("%v: %v %s", argv, err, out)
			}
		}
		return time.Since(start)
	}
	nic := liveNIC() // "" when this machine shows none: the live plan and the present-device case are left out
	ctx := context.Background()
	const pairs = 20
	have := 0
	errorsNaming := func(n int, dev func(i int) string) {
		var args []string
		for i := 1; i < n; i += 2 {
			p := fmt.Sprintf("p%d", i)
			args = append(args, "--", "set", "Interface", p, "options:dpdk-devargs="+dev(i), `error="Error attaching device '`+dev(i)+`' to DPDK"`)
		}
		if out, err := in.Vsctl(append([]string{"--no-wait"}, args[1:]...)...); err != nil {
			t.Fatalf("%v %s", err, out)
		}
	}
	absent := func(i int) string { return "0000:99:00." + fmt.Sprint(i%8) }
	for _, n := range []int{64, 512} {
		args := []string{"--no-wait", "--may-exist", "add-br", "br-speed", "--", "set", "bridge", "br-speed", "datapath_type=netdev"}
		for i := have; i < n; i++ {
			p := fmt.Sprintf("p%d", i)
			if i%2 == 0 {
				args = append(args, "--", "add-port", "br-speed", p, "--", "set", "Interface", p, "type=internal")
				continue
			}
			args = append(args, "--", "add-port", "br-speed", p, "--", "set", "Interface", p, "type=dpdk", "options:dpdk-devargs="+absent(i),
				`error="Error attaching device '`+absent(i)+`' to DPDK"`, "ofport=-1")
		}
		if out, err := in.Vsctl(args...); err != nil {
			t.Fatalf("%v %s", err, out)
		}
		have = n
		var newT, oldT, vsT, onceT, monT, treeT, oldTreeT, planT, oldPlanT, livePlanT, vsPlanT []time.Duration
		tree := "../testdata/hosts/dl360e-gen8" // host facts from a tree: what is left is start-up and the OVS read
		planArgs := []string{"plan", "--root", tree, "--db", in.DB, "0000:03:00.0"}
		for range pairs {
			newT = append(newT, run(bin, "ovs", "show", "--db", in.DB))
			vsT = append(vsT, run(vsctl, "--db="+in.DB, "show"))
			treeT = append(treeT, run(bin, "ovs", "show", "--db", in.DB, "--root", tree))
			planT = append(planT, run(append([]string{bin}, planArgs...)...))
			if nic != "" {
				livePlanT = append(livePlanT, run(bin, "plan", "--db", in.DB, nic))
				vsPlanT = append(vsPlanT, run(vsctl, "--db="+in.DB, "show"))
			}
			if old != "" {
				oldT = append(oldT, run(old, "ovs", "show", "--db", in.DB))
				oldTreeT = append(oldTreeT, run(old, "ovs", "show", "--db", in.DB, "--root", tree))
				oldPlanT = append(oldPlanT, run(append([]string{old}, planArgs...)...))
			}
			start := time.Now()
			st, err := ovs.ReadOnce(ctx, in.DB, ovs.Options{})
			if err != nil {
				t.Fatal(err)
			}
			onceT = append(onceT, time.Since(start))
			start = time.Now()
			c, err := ovs.Dial(ctx, in.DB, ovs.TLS{})
			if err != nil {
				t.Fatal(err)
			}
			st2, err := c.Read(ctx)
			c.Close()
			if err != nil {
				t.Fatal(err)
			}
			monT = append(monT, time.Since(start))
			if len(st.Bridges[0].Ports) != n+1 || len(st2.Bridges[0].Ports) != n+1 { // and the bridge's own port
				t.Fatalf("%d and %d ports, want %d", len(st.Bridges[0].Ports), len(st2.Bridges[0].Ports), n+1)
			}
		}
		t.Logf("%d ports, %d pairs, medians: dpdk-doctor ovs show %.1f ms, ovs-vsctl show %.1f ms, paired ratio %.2f", n, pairs, ms(newT), ms(vsT), ratio(newT, vsT))
		t.Logf("%d ports: dpdk-doctor ovs show --root TREE %.1f ms, paired ratio to ovs-vsctl %.2f", n, ms(treeT), ratio(treeT, vsT))
		t.Logf("%d ports: dpdk-doctor plan --root TREE --db X 0000:03:00.0 %.1f ms, paired ratio to ovs-vsctl show %.2f", n, ms(planT), ratio(planT, vsT))
		if nic != "" {
			t.Logf("%d ports: dpdk-doctor plan --db X %s (live) %.1f ms, ovs-vsctl show %.1f ms, paired ratio %.2f", n, nic, ms(livePlanT), ms(vsPlanT), ratio(livePlanT, vsPlanT))
		}
		if old != "" {
			t.Logf("%d ports: before: dpdk-doctor ovs show %.1f ms, paired ratio to ovs-vsctl %.2f", n, ms(oldT), ratio(oldT, vsT))
			t.Logf("%d ports: before: dpdk-doctor ovs show --root TREE %.1f ms, paired ratio to ovs-vsctl %.2f", n, ms(oldTreeT), ratio(oldTreeT, vsT))
			t.Logf("%d ports: before: dpdk-doctor plan --root TREE %.1f ms, paired ratio to ovs-vsctl show %.2f", n, ms(oldPlanT), ratio(oldPlanT, vsT))
		}
		t.Logf("%d ports, in process: ReadOnce %.2f ms, Dial+Client.Read %.2f ms, paired ratio %.2f", n, ms(onceT), ms(monT), ratio(monT, onceT))
		// No errors at all, a healthy switch: nothing to explain.
		var args2 []string
		for i := 1; i < n; i += 2 {
			args2 = append(args2, "--", "clear", "Interface", fmt.Sprintf("p%d", i), "error")
		}
		if out, err := in.Vsctl(append([]string{"--no-wait"}, args2[1:]...)...); err != nil {
			t.Fatalf("%v %s", err, out)
		}
		var okT, vsOKT []time.Duration
		for range pairs {
			okT = append(okT, run(bin, "ovs", "show", "--db", in.DB))
			vsOKT = append(vsOKT, run(vsctl, "--db="+in.DB, "show"))
		}
		errorsNaming(n, absent)
		t.Logf("%d ports, no errors: dpdk-doctor ovs show %.1f ms, ovs-vsctl show %.1f ms, paired ratio %.2f", n, ms(okT), ms(vsOKT), ratio(okT, vsOKT))
		if nic == "" {
			t.Logf("%d ports: this machine shows no PCI network device: the case of errors naming one was not measured", n)
			continue
		}
		// The errors name a device this host has: ovs show computes its verdict.
		errorsNaming(n, func(int) string { return nic })
		var presT, vsPresT []time.Duration
		for range pairs {
			presT = append(presT, run(bin, "ovs", "show", "--db", in.DB))
			vsPresT = append(vsPresT, run(vsctl, "--db="+in.DB, "show"))
		}
		errorsNaming(n, absent)
		t.Logf("%d ports, errors naming %s (present here): dpdk-doctor ovs show %.1f ms, ovs-vsctl show %.1f ms, paired ratio %.2f", n, nic, ms(presT), ms(vsPresT), ratio(presT, vsPresT))
	}
	// Start-up alone: nothing read, nothing printed but the version.
	var verT, vsVerT, oldVerT []time.Duration
	for range 2 * pairs {
		verT = append(verT, run(bin, "--version"))
		vsVerT = append(vsVerT, run(vsctl, "--version"))
		if old != "" {
			oldVerT = append(oldVerT, run(old, "--version"))
		}
	}
	t.Logf("start-up, %d pairs: dpdk-doctor --version %.1f ms, ovs-vsctl --version %.1f ms, paired ratio %.2f", 2*pairs, ms(verT), ms(vsVerT), ratio(verT, vsVerT))
	if old != "" {
		t.Logf("start-up: before: dpdk-doctor --version %.1f ms, paired ratio to ovs-vsctl %.2f", ms(oldVerT), ratio(oldVerT, vsVerT))
	}
}

// liveNIC returns the address of a PCI network controller of this machine, "" when it shows
// none.
func liveNIC() string {
	devs, _ := filepath.Glob("/sys/bus/pci/devices/*")
	for _, d := range devs {
		if b, err := os.ReadFile(filepath.Join(d, "class")); err == nil && strings.HasPrefix(string(b), "0x02") {
			return filepath.Base(d)
		}
	}
	return ""
}

// ms is the median of v in milliseconds.
func ms(v []time.Duration) float64 { return float64(median(v).Microseconds()) / 1000 }

// ratio is the median of a[i]/b[i]: runs taken in pairs, so that the machine's changing load
// falls on both sides of each.
func ratio(a, b []time.Duration) float64 {
	r := make([]float64, len(a))
	for i := range a {
		r[i] = float64(a[i]) / float64(b[i])
	}
	sort.Float64s(r)
	if len(r)%2 == 1 {
		return r[len(r)/2]
	}
	return (r[len(r)/2-1] + r[len(r)/2]) / 2
}

func median(v []time.Duration) time.Duration {
	s := append([]time.Duration(nil), v...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// BenchmarkReadOnce64 and BenchmarkClientRead64 time the two read paths alone on bench64's
// database.
func BenchmarkReadOnce64(b *testing.B) {
	in, _ := bench64(b)
	ctx := context.Background()
	for b.Loop() {
		if _, err := ovs.ReadOnce(ctx, in.DB, ovs.Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkClientRead64(b *testing.B) {
	in, _ := bench64(b)
	ctx := context.Background()
	for b.Loop() {
		c, err := ovs.Dial(ctx, in.DB, ovs.TLS{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Read(ctx); err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
}
