package check

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/dpdk-doctor/dpdk-doctor/host"
	"github.com/dpdk-doctor/dpdk-doctor/pci"

	"github.com/dpdk-doctor/dpdk-doctor/internal/testenv"
)

// devbindScript finds Debian's dpdk-devbind.py, failing under CI and skipping elsewhere.
func devbindScript(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/dpdk-devbind.py", "/usr/sbin/dpdk-devbind.py"} {
		if _, err := os.Stat(p); err == nil {
			if _, err := exec.LookPath("unshare"); err == nil && os.Geteuid() == 0 {
				return p
			}
		}
	}
	testenv.Unavailable(t, "dpdk-devbind.py (Debian's dpdk package), unshare and root are needed to compare `devices --devbind` with it")
	return ""
}

// runDevbind runs the real dpdk-devbind.py --status-dev net on tree: in a private mount
// namespace the tree's sys is bound over /sys, lspci (the real one) reads the tree's pci.ids
// and `ip -o route` prints a route for every interface of the tree's proc/net/route.
func runDevbind(t *testing.T, script, tree string) (out string, noKmod bool) {
	t.Helper()
	bin := t.TempDir()
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(bin, name), []byte(text), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	lspci, err := exec.LookPath("lspci")
	if err != nil {
		t.Fatal(err)
	}
	write("lspci", "#!/bin/sh\nexec "+lspci+" -A linux-sysfs -i \""+tree+"/usr/share/misc/pci.ids\" \"$@\"\n")
	write("ip", "#!/bin/sh\nawk 'NR>1 {print \"10.0.0.0/8 dev \" $1}' \""+tree+"/proc/net/route\" 2>/dev/null || true\n")
	write("run", "#!/bin/sh\nset -e\nmount --bind \""+tree+"/sys\" /sys\nPATH=\""+bin+":$PATH\" exec python3 \""+script+"\" --status-dev net\n")
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", filepath.Join(bin, "run"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s on %s: %v\n%s", script, tree, err, stderr.String())
	}
	return string(b), strings.Contains(stderr.String(), "libkmod")
}

var ourCols = regexp.MustCompile(`  \[[^\]]*\]$`)

// TestDevbindMatchesRealScript compares `devices --devbind` with the real dpdk-devbind.py on
// every test tree: the same sections, and per device the same name, drv=, unused=, if= and
// *Active* (devbind's *Active* fed the tree's routes). Where lspci -k cannot name kernel modules
// (libkmod finds no /lib/modules for this kernel), our rows are compared without their
// modules.alias module, and that module is checked to be first in our unused=.
func TestDevbindMatchesRealScript(t *testing.T) {
	script := devbindScript(t)
	trees, _ := filepath.Glob("../testdata/hosts/*")
	if len(trees) == 0 {
		t.Fatal("no test trees")
	}
	compared := 0
	for _, tree := range trees {
		tree, _ = filepath.Abs(tree)
		r, err := host.Dir(tree)
		if err != nil {
			t.Fatal(err)
		}
		f, err := Gather(r, Options{})
		if err != nil {
			t.Fatal(err)
		}
		ids, _ := pci.ReadIDs(r)
		al, _ := pci.ReadAliases(r)
		rows := DeviceRows(f, ids, al, true)
		// A copy of the tree, given the sys/module directory devbind lists (some trees have none).
		cp := filepath.Join(t.TempDir(), "tree")
		if out, err := exec.Command("cp", "-a", tree, cp).CombinedOutput(); err != nil {
			t.Fatalf("copying %s: %v\n%s", tree, err, out)
		}
		if err := os.MkdirAll(filepath.Join(cp, "sys", "module"), 0o755); err != nil {
			t.Fatal(err)
		}
		want, noKmod := runDevbind(t, script, cp)
		ours := WriteDevbindStatus(rows, LoadedDPDKDrivers(r))
		if noKmod {
			for i := range rows {
				if len(rows[i].Modules) > 0 && rows[i].Driver != "" && !strings.Contains(ours, "unused="+rows[i].Modules[len(rows[i].Modules)-1]) &&
					rows[i].Modules[len(rows[i].Modules)-1] != rows[i].Driver && strings.HasPrefix(rows[i].Class, "02") {
					t.Errorf("%s %s: our unused= lacks the module %q", tree, rows[i].Address, rows[i].Modules)
				}
				rows[i].Modules = nil
			}
		}
		got := WriteDevbindStatus(rows, LoadedDPDKDrivers(r))
		var stripped []string
		for _, l := range strings.Split(got, "\n") {
			stripped = append(stripped, ourCols.ReplaceAllString(l, ""))
		}
		if g, w := strings.TrimRight(strings.Join(stripped, "\n"), "\n "), strings.TrimRight(want, "\n "); g != w {
			t.Errorf("%s: ours (our columns removed):\n%s\ndpdk-devbind.py:\n%s", filepath.Base(tree), g, w)
		}
		compared += strings.Count(want, "\n0000:")
	}
	if compared < 10 {
		t.Errorf("only %d devices compared", compared)
	}
}

// TestDevbindFormat checks the line forms of the fixtures dpdk-devbind.py printed on real hosts.
func TestDevbindFormat(t *testing.T) {
	g := 14
	rows := []DeviceRow{
		{Address: "0000:03:00.0", Class: "020000", DeviceID: "10fb", DeviceName: "82599ES 10-Gigabit SFI/SFP+ Network Connection", Driver: "vfio-pci", Modules: []string{"ixgbe"}, Slot: "2", IOMMUGroup: &g, RMRR: "locked"},
		{Address: "0000:02:00.0", Class: "020000", DeviceID: "1521", DeviceName: "I350 Gigabit Network Connection", Driver: "igb", Modules: []string{"igb"}, Interfaces: []string{"eno1"}, Active: true},
		{Address: "0000:05:00.0", Class: "020000", DeviceID: "1572", DeviceName: "Ethernet Controller X710 for 10GbE SFP+", Modules: []string{"i40e"}},
		{Address: "0000:00:1f.2", Class: "010601", DeviceID: "1d02", DeviceName: "C600/X79 series chipset 6-Port SATA AHCI Controller", Driver: "ahci"},
	}
	got := WriteDevbindStatus(rows, []string{"vfio-pci"})
	want := `
Network devices using DPDK-compatible driver
============================================
0000:03:00.0 '82599ES 10-Gigabit SFI/SFP+ Network Connection 10fb' drv=vfio-pci unused=ixgbe  [slot=2 group=14 rmrr=locked]

Network devices using kernel driver
===================================
0000:02:00.0 'I350 Gigabit Network Connection 1521' if=eno1 drv=igb unused=vfio-pci *Active*

Other Network devices
=====================
0000:05:00.0 'Ethernet Controller X710 for 10GbE SFP+ 1572' unused=i40e,vfio-pci
`
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	// The fixtures' lines have the same shape (older devbind printed no device ID in the name).
	line := regexp.MustCompile(`^0000:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7] '[^']+' (?:if=\S* )?(?:drv=\S+ +)?unused=\S*(?: \*Active\*)?`)
	files, _ := filepath.Glob("../testdata/fixtures/dpdk-devbind/*.txt")
	n := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "0000:") {
				n++
				if !line.MatchString(l) {
					t.Errorf("%s: fixture line of a shape we do not print: %q", f, l)
				}
			}
		}
	}
	for _, l := range strings.Split(got, "\n") {
		if strings.HasPrefix(l, "0000:") && !line.MatchString(l) {
			t.Errorf("our line does not have devbind's shape: %q", l)
		}
	}
	if n == 0 {
		t.Error("no fixture lines")
	}
}
