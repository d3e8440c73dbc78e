package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/dpdk-doctor/dpdk-doctor/internal/testhost"

	"github.com/dpdk-doctor/dpdk-doctor/internal/testenv"
)

// binary is dpdk-doctor as released; hookedBinary is built with -tags dpdkdoctor_testhooks,
// where a --root tree stands for this machine (the fix tests: the conrep double plays its firmware).
var binary, hookedBinary string

// TestMain builds the real dpdk-doctor binary once; the tests run it as a user would.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "dpdk-doctor-test")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "dpdk-doctor")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		os.Stderr.Write(out)
		os.Exit(2)
	}
	hookedBinary = filepath.Join(dir, "dpdk-doctor-testhooks")
	build = exec.Command("go", "build", "-tags", "dpdkdoctor_testhooks", "-o", hookedBinary, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		os.Stderr.Write(out)
		os.Exit(2)
	}
	// check --json reports the time it ran: fixed here, so that two runs of one check compare equal.
	os.Setenv("SOURCE_DATE_EPOCH", "1704164645")
	code := m.Run()
	stopOVS()
	os.RemoveAll(dir)
	os.Exit(code)
}

// runBin runs the binary and returns stdout, stderr and the exit code.
func runBin(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

func tree(name string) string { return filepath.Join("..", "..", "testdata", "hosts", name) }

func TestCheckDemo(t *testing.T) {
	out, _, code := runBin(t, "check", "--demo")
	if code != 1 {
		t.Errorf("exit %d, want 1 (the demo host has failures)", code)
	}
	for _, s := range []string{"0000:03:00.0", "RMRR-locked", "physical slot 2", "dpdk-doctor fix rmrr 0000:03:00.0", "Device is ineligible"} {
		if !strings.Contains(out, s) {
			t.Errorf("demo output lacks %q", s)
		}
	}
}

type finding struct {
	ID       string `json:"id"`
	Severity string `json:"severity"`
	Subject  string `json:"subject"`
	Summary  string `json:"summary"`
	Evidence []struct {
		File  string `json:"file"`
		Value string `json:"value"`
	} `json:"evidence"`
	Remedy []string `json:"remedy"`
}

func TestCheckJSON(t *testing.T) {
	out, _, code := runBin(t, "check", "--demo", "--json")
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	var doc struct {
		Findings []finding `json:"findings"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	var rmrr *finding
	for i, f := range doc.Findings {
		if f.ID == "" || f.Subject == "" || f.Summary == "" || f.Evidence == nil || f.Remedy == nil {
			t.Errorf("finding %d lacks a contract field: %+v", i, f)
		}
		if f.Severity != "ok" && f.Severity != "warn" && f.Severity != "fail" {
			t.Errorf("finding %s: severity %q", f.ID, f.Severity)
		}
		if f.ID == "device.rmrr" && f.Subject == "0000:03:00.0" {
			rmrr = &doc.Findings[i]
		}
	}
	if rmrr == nil || rmrr.Severity != "fail" || !strings.Contains(rmrr.Summary, "RMRR") {
		t.Fatalf("device.rmrr for 0000:03:00.0: %+v", rmrr)
	}
}

func TestExitCodes(t *testing.T) {
	cases := []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"check", "--root", tree("usb-only-rmrr")}, 0, ""},
		{[]string{"check", "--root", tree("no-hugepages")}, 1, ""},
		{[]string{"check", "--root", "/nonexistent/tree"}, 2, "/nonexistent/tree"},
		{[]string{"check", "--demo", "--device", "03:00.0x"}, 2, "03:00.0x"},
		{[]string{"check", "--demo", "--device", "0000:09:00.0"}, 2, "no such PCI device"},
		{[]string{"check", "--demo", "--root", tree("amd")}, 2, "cannot be used together"},
		{[]string{"check", "--bogus"}, 2, "bogus"},
		{[]string{"check", "--demo", "--color", "sometimes"}, 2, "sometimes"},
		{[]string{"rmrr", "--dmar", "main.go"}, 2, "no DMAR table"},
		{[]string{"rmrr", "--root", tree("amd")}, 2, "AMD"},
	}
	for _, c := range cases {
		_, stderr, code := runBin(t, c.args...)
		if code != c.code || !strings.Contains(stderr, c.msg) {
			t.Errorf("%v: exit %d stderr %q, want exit %d mentioning %q", c.args, code, stderr, c.code, c.msg)
		}
	}
}

type deviceRow struct {
	Address    string `json:"address"`
	VendorID   string `json:"vendor_id"`
	DeviceID   string `json:"device_id"`
	SubVendor  string `json:"subsystem_vendor_id"`
	SubDevice  string `json:"subsystem_device_id"`
	Class      string `json:"class"`
	Driver     string `json:"driver"`
	IOMMUGroup *int   `json:"iommu_group"`
	NUMANode   *int   `json:"numa_node"`
	Slot       string `json:"slot"`
	Parent     string `json:"parent"`
	RMRR       string `json:"rmrr"`
}

func devices(t *testing.T, args ...string) []deviceRow {
	t.Helper()
	out, stderr, code := runBin(t, append([]string{"devices", "--json"}, args...)...)
	if code != 0 {
		t.Fatalf("devices: exit %d: %s", code, stderr)
	}
	var rows []deviceRow
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatal(err)
	}
	return rows
}

func TestDevicesDemo(t *testing.T) {
	rows := devices(t, "--demo")
	got := map[string]deviceRow{}
	for _, r := range rows {
		got[r.Address] = r
	}
	x := got["0000:03:00.0"]
	if x.VendorID != "8086" || x.DeviceID != "10fb" || x.Class != "020000" || x.Driver != "vfio-pci" ||
		x.Slot != "2" || x.RMRR != "locked" || x.IOMMUGroup == nil || *x.IOMMUGroup != 14 || x.NUMANode == nil {
		t.Errorf("0000:03:00.0 = %+v", x)
	}
	if _, ok := got["0000:00:1a.0"]; ok {
		t.Error("USB controllers are listed only with --all")
	}
	all := devices(t, "--demo", "--all")
	for _, r := range all {
		if r.Address == "0000:00:1a.0" && r.RMRR != "relaxable" {
			t.Errorf("USB controller covered by an RMRR: %q, want relaxable", r.RMRR)
		}
	}
}

// lspciRecords runs the real lspci on a tree and returns its machine-readable records by slot.
func lspciRecords(t *testing.T, dir string) map[string]map[string]string {
	t.Helper()
	cmd := exec.Command("lspci", "-O", "sysfs.path="+filepath.Join(dir, "sys", "bus", "pci"), "-D", "-vmm", "-n", "-k")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("lspci on %s: %v", dir, err)
	}
	recs := map[string]map[string]string{}
	for _, block := range strings.Split(strings.TrimSpace(string(out)), "\n\n") {
		r := map[string]string{}
		for _, line := range strings.Split(block, "\n") {
			k, v, _ := strings.Cut(line, ":\t")
			r[k] = v
		}
		recs[r["Slot"]] = r
	}
	return recs
}

// TestAgainstLspci compares `devices --json --all` with pciutils' lspci, reading the same tree,
// on every test host: addresses, IDs, class, driver, IOMMU group, NUMA node and physical slot.
func TestAgainstLspci(t *testing.T) {
	if _, err := exec.LookPath("lspci"); err != nil {
		testenv.Unavailable(t, "lspci is required (apt-get install pciutils)")
	}
	for _, name := range testhost.Names {
		t.Run(name, func(t *testing.T) {
			recs := lspciRecords(t, tree(name))
			rows := devices(t, "--root", tree(name), "--all")
			if len(rows) != len(recs) {
				t.Errorf("%d devices, lspci lists %d", len(rows), len(recs))
			}
			byAddr := map[string]deviceRow{}
			for _, r := range rows {
				byAddr[r.Address] = r
			}
			for addr, l := range recs {
				r, ok := byAddr[addr]
				if !ok {
					t.Errorf("lspci lists %s, we do not", addr)
					continue
				}
				class := l["Class"] + l["ProgIf"]
				if l["ProgIf"] == "" {
					class += "00"
				}
				check := func(what, ours, theirs string) {
					if ours != theirs {
						t.Errorf("%s %s: ours %q, lspci %q", addr, what, ours, theirs)
					}
				}
				check("vendor", r.VendorID, l["Vendor"])
				check("device", r.DeviceID, l["Device"])
				check("class", r.Class, class)
				check("driver", r.Driver, l["Driver"])
				if sv := l["SVendor"]; sv != "" {
					check("subsystem vendor", r.SubVendor, sv)
					check("subsystem device", r.SubDevice, l["SDevice"])
				}
				group := ""
				if r.IOMMUGroup != nil {
					group = itoa(*r.IOMMUGroup)
				}
				check("IOMMU group", group, l["IOMMUGroup"])
				node := ""
				if r.NUMANode != nil {
					node = itoa(*r.NUMANode)
				}
				check("NUMA node", node, l["NUMANode"])
				// lspci names the slot only for the device whose bus and device number the slot's
				// address gives; we also name it for devices behind a switch in the slot, whose
				// upstream port lspci then shows in that slot.
				if ps := l["PhySlot"]; ps != "" {
					check("physical slot", r.Slot, ps)
				} else if r.Slot != "" {
					up := byAddr[r.Parent]
					for up.Parent != "" && recs[up.Address]["PhySlot"] == "" {
						up = byAddr[up.Parent]
					}
					if recs[up.Address]["PhySlot"] != r.Slot {
						t.Errorf("%s: we put it in slot %q, but no bridge above it is in that slot for lspci", addr, r.Slot)
					}
				}
			}
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestRMRRJSON(t *testing.T) {
	out, stderr, code := runBin(t, "rmrr", "--demo", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var doc struct {
		HostAddressWidth int `json:"host_address_width"`
		Flags            struct {
			IntrRemap bool `json:"intr_remap"`
		} `json:"flags"`
		RMRR []struct {
			Segment int    `json:"segment"`
			Base    string `json:"base"`
			End     string `json:"end"`
			Scopes  []struct {
				Type          string   `json:"type"`
				EnumerationID int      `json:"enumeration_id"`
				StartBus      int      `json:"start_bus"`
				Path          [][2]int `json:"path"`
				Address       string   `json:"address"`
				Slot          string   `json:"slot"`
			} `json:"scopes"`
		} `json:"rmrr"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.HostAddressWidth != 46 || !doc.Flags.IntrRemap || len(doc.RMRR) != 7 {
		t.Fatalf("header or count wrong: %+v", doc)
	}
	found := false
	for _, r := range doc.RMRR {
		for _, s := range r.Scopes {
			if s.Address == "0000:03:00.0" {
				found = s.Slot == "2" && s.Type == "endpoint" && len(s.Path) == 2 && s.Path[0] == [2]int{2, 0}
			}
		}
	}
	if !found {
		t.Error("no RMRR scope resolves to 0000:03:00.0 in slot 2 through path 02.0/00.0")
	}
	// A table from a file, without a host: every scope is unresolved.
	out, _, code = runBin(t, "rmrr", "--json", "--dmar", filepath.Join("..", "..", "testdata", "fixtures", "dmar", "hp-proliant-dl380e-gen8.dmar.bin"))
	if code != 0 || !strings.Contains(out, `"address": ""`) || strings.Contains(out, `"address": "0000`) {
		t.Errorf("rmrr --dmar: exit %d, scopes should be unresolved", code)
	}
}

// TestCaptureRoundTrip captures every test tree (and the demo) with `capture` and requires
// `check --json` to judge the copy exactly as the original.
func TestCaptureRoundTrip(t *testing.T) {
	strip := func(s string) string {
		var keep []string
		for _, l := range strings.Split(s, "\n") {
			if !strings.Contains(l, `"root"`) {
				keep = append(keep, l)
			}
		}
		return strings.Join(keep, "\n")
	}
	sources := [][]string{{"--demo"}}
	for _, n := range testhost.Names {
		sources = append(sources, []string{"--root", tree(n)})
	}
	for _, src := range sources {
		dst := filepath.Join(t.TempDir(), "copy")
		if _, stderr, code := runBin(t, append([]string{"capture", dst}, src...)...); code != 0 {
			t.Fatalf("capture %v: exit %d: %s", src, code, stderr)
		}
		want, _, _ := runBin(t, append([]string{"check", "--json"}, src...)...)
		got, _, _ := runBin(t, "check", "--json", "--root", dst)
		if strip(got) != strip(want) {
			t.Errorf("%v: the captured copy is judged differently", src)
		}
	}
	if _, stderr, code := runBin(t, "capture", t.TempDir(), "--demo"); code != 2 || !strings.Contains(stderr, "already exists") {
		t.Errorf("capture into an existing dir: exit %d %q", code, stderr)
	}
}

// TestBadUsage: bad usage exits 2 with a message naming what was wrong, everywhere.
func TestBadUsage(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"ovs", "show", "--db", "foo"}, `"foo"`},
		{[]string{"check", "--demo", "--db", "foo"}, `"foo"`},
		{[]string{"ovs", "show", "--db-timeout", "-1s"}, "--db-timeout"},
		{[]string{"fix", "0000:03:00.0"}, `unknown remedy "0000:03:00.0"`},
		{[]string{"ovs", "frob"}, `unknown command "frob"`},
		{[]string{"frob"}, `unknown command "frob"`},
		{[]string{"ovs", "add-port", "br0"}, "accepts 2 arg"},
	}
	for _, c := range cases {
		_, stderr, code := runBin(t, c.args...)
		if code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, want 2 with %q: %s", c.args, code, c.want, stderr)
		}
	}
	// fix alone is bad usage too, and names the remedies there are.
	if _, stderr, code := runBin(t, "fix"); code != 2 || !strings.Contains(stderr, "rmrr") {
		t.Errorf("fix alone: exit %d, want 2 naming the remedies: %s", code, stderr)
	}
}

func TestVersion(t *testing.T) {
	out, stderr, code := runBin(t, "--version")
	if code != 0 || !regexp.MustCompile(`^dpdk-doctor version \S+ \(go1\.\d+[^)]*\)\n$`).MatchString(out) {
		t.Errorf("--version: exit %d %q %s", code, out, stderr)
	}
	version, commit = "0.9.0", "0123456789abcdef0123"
	defer func() { version, commit = "", "" }()
	if got := versionString(); !regexp.MustCompile(`^0\.9\.0 \(go1\.\d+\S*, commit 0123456789ab\)$`).MatchString(got) {
		t.Errorf("with ldflags: %q", got)
	}
}
