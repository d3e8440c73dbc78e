package ovs_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/dpdk-doctor/dpdk-doctor/check"
	"github.com/dpdk-doctor/dpdk-doctor/host"
	"github.com/dpdk-doctor/dpdk-doctor/internal/ovstest"
	"github.com/dpdk-doctor/dpdk-doctor/ovs"
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
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/dpdk-doctor").CombinedOutput(); err != nil {
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
			if os.Getenv("CI") == "true" {
				b.Fatal(err)
			}
			b.Skip(err)
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
