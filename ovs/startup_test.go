package ovs_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestNoLibovsdbClient: the binary links libovsdb's ovsdb types only, not its client and what
// the client pulls in (validator, prometheus, rpc2 and encoding/gob, logr, ...): those were a
// third of the start-up's package initialisation, and dpdk-doctor needs none of them.
func TestNoLibovsdbClient(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "../cmd/dpdk-doctor").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v %s", err, out)
	}
	deps := strings.Fields(string(out))
	for _, banned := range []string{"github.com/ovn-kubernetes/libovsdb/client", "github.com/ovn-kubernetes/libovsdb/cache",
		"github.com/go-playground/validator", "github.com/prometheus/", "github.com/cenkalti/rpc2", "encoding/gob", "github.com/go-logr/logr",
		"github.com/gabriel-vasile/mimetype", "golang.org/x/net/html", "golang.org/x/text/"} {
		for _, d := range deps {
			if strings.HasPrefix(d, banned) {
				t.Errorf("cmd/dpdk-doctor depends on %s", d)
			}
		}
	}
	if !strings.Contains(string(out), "github.com/ovn-kubernetes/libovsdb/ovsdb\n") {
		t.Error("libovsdb's ovsdb types are not used any more: update this test")
	}
}

// TestLazyInit: the packages that build the OVS view, the plan, top and the reports, and those
// of conrep, fix and traffic, do no work at start-up (regexps, the catalog's patterns, the HTML
// template are made on first use), as GODEBUG=inittrace=1 shows for `dpdk-doctor --version`.
func TestLazyInit(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "dpdk-doctor")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/dpdk-doctor").CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	cmd := exec.Command(bin, "--version")
	cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v %s", err, out)
	}
	seen := 0
	for _, l := range strings.Split(string(out), "\n") {
		// init PKG @T ms, C ms clock, B bytes, A allocs
		f := strings.Fields(l)
		if len(f) < 10 || f[0] != "init" {
			continue
		}
		switch strings.TrimPrefix(f[1], "github.com/dpdk-doctor/dpdk-doctor/") {
		case "ovs", "report", "report/html", "plan", "top", "internal/ovsrpc", "conrep", "fix", "traffic":
			seen++
			b, err := strconv.Atoi(f[7]) // f[6] is "clock,"
			if err != nil || f[8] != "bytes," {
				t.Fatalf("not inittrace's format: %q", l)
			}
			if b > 16<<10 {
				t.Errorf("%s allocates %d bytes at start-up (%s)", f[1], b, l)
			}
		}
	}
	if seen < 7 {
		t.Fatalf("inittrace named %d of our packages: %s", seen, out)
	}
}
