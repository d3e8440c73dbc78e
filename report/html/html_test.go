package html

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	xhtml "golang.org/x/net/html"

	"github.com/dpdk-doctor/dpdk-doctor/check"
	"github.com/dpdk-doctor/dpdk-doctor/demo"
	"github.com/dpdk-doctor/dpdk-doctor/host"
	"github.com/dpdk-doctor/dpdk-doctor/internal/testhost"
	"github.com/dpdk-doctor/dpdk-doctor/ivrs"
	"github.com/dpdk-doctor/dpdk-doctor/ovs"
	"github.com/dpdk-doctor/dpdk-doctor/pci"

	"github.com/dpdk-doctor/dpdk-doctor/internal/testenv"
)

// input gathers r's facts and findings as `report --html` does (OVS from the tree's snapshot).
func input(t testing.TB, r host.Root) Input {
	t.Helper()
	f, err := check.Gather(r, check.Options{})
	if err != nil {
		t.Fatal(err)
	}
	in := Input{Facts: f, Findings: check.Run(f), Names: map[pci.Address]string{}}
	st, err := ovs.ReadSnapshot(r)
	if err != nil {
		t.Fatal(err)
	}
	if st != nil {
		in.Findings = append(in.Findings, ovs.Findings(st, f, r.Path(ovs.SnapshotFile))...)
		in.OVS, in.OVSSource = ovs.NewShow(st, f), r.Path(ovs.SnapshotFile)
	}
	ids, _ := pci.ReadIDs(r)
	for _, d := range f.Devices.List {
		in.Names[d.Address] = check.Name(ids, d)
	}
	return in
}

func render(t testing.TB, in Input) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := Write(&b, in); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func demoInput(t testing.TB) Input {
	r, err := demo.Root()
	if err != nil {
		t.Fatal(err)
	}
	return input(t, r)
}

func bigInput(t testing.TB, n int) Input {
	dir := scratch(t)
	if err := testhost.Big(n).Write(dir); err != nil {
		t.Fatal(err)
	}
	r, err := host.Dir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return input(t, r)
}

// scratch is a temporary directory for a big tree: in /dev/shm when there is one (writing and
// removing thousands of small files on a busy disk takes minutes), else the test's own.
func scratch(t testing.TB) string {
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		if dir, err := os.MkdirTemp("/dev/shm", "dpdk-doctor-report-"); err == nil {
			t.Cleanup(func() { os.RemoveAll(dir) })
			return dir
		}
	}
	return t.TempDir()
}

// artefactDir is where a test keeps what a person should look at (screenshots, pages):
// $DPDK_DOCTOR_ARTEFACTS, or testdata/artefacts (ignored by git).
func artefactDir(t *testing.T) string {
	dir := os.Getenv("DPDK_DOCTOR_ARTEFACTS")
	if dir == "" {
		dir = filepath.Join("testdata", "artefacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

// chromium returns the path of Debian's headless-capable Chromium; without it the test skips,
// or fails under CI=true.
func chromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	testenv.Unavailable(t, "chromium is not installed; CI=true requires the browser test to run (apt-get install chromium)")
	return ""
}

// browse runs headless Chromium on page with a fresh profile and no network, with extra
// arguments (--dump-dom, --screenshot=...), and returns its standard output.
func browse(t *testing.T, bin, page string, timeout time.Duration, args ...string) ([]byte, time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	argv := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
		"--user-data-dir=" + t.TempDir()}, args...)
	argv = append(argv, "file://"+page)
	cmd := exec.CommandContext(ctx, bin, argv...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	out, err := cmd.Output()
	took := time.Since(start)
	if ctx.Err() != nil {
		t.Fatalf("chromium did not finish %s within %v", page, timeout)
	}
	if err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, stderr.String())
	}
	return out, took
}

// node helpers over the DOM Chromium dumped.
func attr(n *xhtml.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func hasClass(n *xhtml.Node, c string) bool {
	return n.Type == xhtml.ElementNode && strings.Contains(" "+attr(n, "class")+" ", " "+c+" ")
}

func find(n *xhtml.Node, match func(*xhtml.Node) bool) []*xhtml.Node {
	var out []*xhtml.Node
	var walk func(*xhtml.Node)
	walk = func(n *xhtml.Node) {
		if n.Type == xhtml.ElementNode && match(n) {
			out = append(out, n)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return out
}

func text(n *xhtml.Node) string {
	var b strings.Builder
	var walk func(*xhtml.Node)
	walk = func(n *xhtml.Node) {
		if n.Type == xhtml.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return strings.Join(strings.Fields(b.String()), " ")
}

func byID(doc *xhtml.Node, id string) *xhtml.Node {
	ns := find(doc, func(n *xhtml.Node) bool { return attr(n, "id") == id })
	if len(ns) != 1 {
		return nil
	}
	return ns[0]
}

// TestDemoInBrowser loads the demo's report in headless Chromium and checks, in the DOM after the
// page's script ran, that the seed's locked X520 is marked failing and RMRR-locked, with its slot,
// inside its IOMMU group's box, and that the RMRR section names it with the scope path that
// covers it. It keeps a screenshot as an artefact.
func TestDemoInBrowser(t *testing.T) {
	bin := chromium(t)
	dir := artefactDir(t)
	page := filepath.Join(dir, "demo-report.html")
	if err := os.WriteFile(page, render(t, demoInput(t)), 0o644); err != nil {
		t.Fatal(err)
	}
	dom, _ := browse(t, bin, page, 60*time.Second, "--dump-dom")
	doc, err := xhtml.Parse(bytes.NewReader(dom))
	if err != nil {
		t.Fatal(err)
	}
	if body := find(doc, func(n *xhtml.Node) bool { return n.Data == "body" }); len(body) != 1 || attr(body[0], "data-ready") != "1" {
		t.Errorf("the page's script did not run (body lacks data-ready=1)")
	}
	for _, a := range []string{"0000:03:00.0", "0000:03:00.1"} {
		d := byID(doc, "dev-"+a)
		if d == nil {
			t.Fatalf("no device box dev-%s in the DOM", a)
		}
		if attr(d, "data-verdict") != "fail" || !hasClass(d, "v-fail") {
			t.Errorf("%s: verdict %q class %q, want fail", a, attr(d, "data-verdict"), attr(d, "class"))
		}
		if attr(d, "data-rmrr") != "locked" || !hasClass(d, "locked") {
			t.Errorf("%s: rmrr %q, want locked", a, attr(d, "data-rmrr"))
		}
		if len(find(d, func(n *xhtml.Node) bool { return hasClass(n, "lock") && strings.Contains(text(n), "RMRR-locked") })) == 0 {
			t.Errorf("%s: no RMRR-locked badge: %q", a, text(d))
		}
		if attr(d, "data-slot") != "2" || !strings.Contains(text(d), "slot 2") {
			t.Errorf("%s: slot %q, text %q; want slot 2", a, attr(d, "data-slot"), text(d))
		}
		// the IOMMU group box around it
		var box *xhtml.Node
		for p := d.Parent; p != nil; p = p.Parent {
			if hasClass(p, "grp") {
				box = p
				break
			}
		}
		if box == nil || attr(box, "data-group") != "14" || !strings.Contains(text(box), "IOMMU group 14") {
			t.Fatalf("%s is not inside the box of IOMMU group 14", a)
		}
	}
	// both functions in the same box
	box := find(doc, func(n *xhtml.Node) bool { return hasClass(n, "grp") && attr(n, "data-group") == "14" })
	if len(box) != 1 || len(find(box[0], func(n *xhtml.Node) bool { return hasClass(n, "dev") })) != 2 {
		t.Errorf("IOMMU group 14 should be one box holding the X520's two functions")
	}
	// the RMRR that covers it, and why
	var covered bool
	for _, li := range find(doc, func(n *xhtml.Node) bool { return hasClass(n, "cov-locked") }) {
		s := text(li)
		if strings.Contains(s, "0000:03:00.0") && strings.Contains(s, "00:02.0/00.0") && strings.Contains(s, "locked") && strings.Contains(s, "the path names this device") {
			covered = true
		}
	}
	if !covered {
		t.Errorf("no RMRR in the DOM lists 0000:03:00.0 as locked by scope path 00:02.0/00.0")
	}
	// the summary opens with the one blocking cause and its fix
	if g := byID(doc, "glance"); g == nil || !strings.Contains(text(g), "1 problem blocks DPDK") || !strings.Contains(text(g), "dpdk-doctor fix rmrr 0000:03:00.0") {
		t.Errorf("summary does not open with the blocking cause and its fix")
	}
	// OVS's Interface error, explained
	if o := byID(doc, "ovs"); o == nil || !strings.Contains(text(o), "Error attaching device '0000:03:00.0'") || !strings.Contains(text(o), "RMRR") {
		t.Errorf("OVS section lacks the explained Interface error")
	}
	shot := filepath.Join(dir, "demo-report.png")
	os.Remove(shot)
	browse(t, bin, page, 60*time.Second, "--screenshot="+shot, "--window-size=1400,1000", "--hide-scrollbars")
	if st, err := os.Stat(shot); err != nil || st.Size() < 10000 {
		t.Errorf("no screenshot at %s (%v)", shot, err)
	}
	t.Logf("page and screenshot: %s, %s", page, shot)
}

// TestBigTree renders 4,096 functions: the page stays small, renders fast, Chromium loads it
// within a bound, and every function is in the DOM (folded runs inside <details>).
func TestBigTree(t *testing.T) {
	in := bigInput(t, 4096)
	start := time.Now()
	b := render(t, in)
	took := time.Since(start)
	t.Logf("4096 functions: %d bytes, rendered in %v", len(b), took)
	if len(b) > 2<<20 {
		t.Errorf("page is %d bytes, want < 2 MiB", len(b))
	}
	if took > 5*time.Second {
		t.Errorf("rendering took %v, want < 5s", took)
	}
	bin := chromium(t)
	page := filepath.Join(artefactDir(t), "big-report.html")
	if err := os.WriteFile(page, b, 0o644); err != nil {
		t.Fatal(err)
	}
	dom, loaded := browse(t, bin, page, 60*time.Second, "--dump-dom")
	t.Logf("chromium loaded and dumped it in %v", loaded)
	if loaded > 20*time.Second {
		t.Errorf("chromium took %v, want < 20s", loaded)
	}
	doc, err := xhtml.Parse(bytes.NewReader(dom))
	if err != nil {
		t.Fatal(err)
	}
	devs := find(doc, func(n *xhtml.Node) bool { return hasClass(n, "dev") })
	seen := map[string]bool{}
	for _, d := range devs {
		seen[attr(d, "data-addr")] = true
	}
	for _, d := range in.Facts.Devices.List {
		if !seen[d.Address.String()] {
			t.Fatalf("function %s is not in the DOM", d.Address)
		}
	}
	if len(seen) != len(in.Facts.Devices.List) {
		t.Errorf("%d device boxes for %d functions", len(seen), len(in.Facts.Devices.List))
	}
	shot := filepath.Join(filepath.Dir(page), "big-report.png")
	os.Remove(shot)
	browse(t, bin, page, 60*time.Second, "--screenshot="+shot, "--window-size=1400,1000", "--hide-scrollbars")
	if st, err := os.Stat(shot); err != nil || st.Size() < 10000 {
		t.Errorf("no screenshot at %s (%v)", shot, err)
	}
	folded := find(doc, func(n *xhtml.Node) bool { return hasClass(n, "folded") })
	if len(folded) == 0 {
		t.Errorf("no folded runs: 4,096 functions would be drawn one by one")
	}
	// what is visible without opening anything stays short
	open := len(devs)
	for _, f := range folded {
		open -= len(find(f, func(n *xhtml.Node) bool { return hasClass(n, "dev") }))
	}
	if open > 200 {
		t.Errorf("%d device boxes shown before expanding, want <= 200", open)
	}
}

var netRef = regexp.MustCompile(`(?i)\b(?:src|href|action|poster|data)\s*=\s*["']?\s*(?:[a-z][a-z0-9+.-]*:)?//`)

// TestNoNetwork checks the page references no network resource: no src/href to another host,
// no @import or url() of one, in the demo's and the big tree's pages.
func TestNoNetwork(t *testing.T) {
	for name, b := range map[string][]byte{"demo": render(t, demoInput(t)), "big": render(t, bigInput(t, 256))} {
		if m := netRef.Find(b); m != nil {
			t.Errorf("%s: network reference %q", name, m)
		}
		for _, bad := range []string{"http://", "https://", "@import", "url("} {
			if i := bytes.Index(b, []byte(bad)); i >= 0 {
				t.Errorf("%s: %q at %d: %q", name, bad, i, b[max(0, i-60):min(len(b), i+60)])
			}
		}
	}
}

// TestNetRefCatches makes sure the network check would catch what it looks for.
func TestNetRefCatches(t *testing.T) {
	for _, s := range []string{`<script src="https://x/y.js">`, `<link href='//cdn/x.css'>`, `<img SRC=http://a/b>`} {
		if !netRef.MatchString(s) {
			t.Errorf("netRef misses %s", s)
		}
	}
	if netRef.MatchString(`<a href="#dev-0000:03:00.0">`) {
		t.Errorf("netRef flags an in-page link")
	}
}

// TestClusterCauses checks that the demo's RMRR lock, the kernel's refusal and OVS's attach
// error come out as one blocking cause naming both X520 functions and slot 2.
func TestClusterCauses(t *testing.T) {
	v, err := build(demoInput(t))
	if err != nil {
		t.Fatal(err)
	}
	if v.Blocking != 1 {
		for _, c := range v.Causes {
			t.Logf("%s %s: %s", c.Severity, c.Title, c.Head.ID)
		}
		t.Fatalf("%d blocking causes, want 1", v.Blocking)
	}
	c := v.Causes[0]
	if c.Head.ID != "device.rmrr" || !strings.Contains(c.Title, "0000:03:00.0 and 0000:03:00.1") || !strings.Contains(c.Title, "slot 2") {
		t.Errorf("cause %q headed by %s", c.Title, c.Head.ID)
	}
	var ids []string
	for _, r := range c.Related {
		ids = append(ids, r.ID)
	}
	for _, want := range []string{"kernellog.rmrr-ineligible", "ovs.interface"} {
		if !strings.Contains(strings.Join(ids, " "), want) {
			t.Errorf("related %v lacks %s", ids, want)
		}
	}
	if c.Fix != "dpdk-doctor fix rmrr 0000:03:00.0" {
		t.Errorf("fix %q", c.Fix)
	}
}

func TestNoFacts(t *testing.T) {
	if err := Write(&bytes.Buffer{}, Input{}); err == nil {
		t.Error("Write with no facts gave no error")
	}
}

// TestIVMD renders an AMD host whose IVRS table has a device IVMD over its first network
// function: the IVMD section names the device and the device carries the refusal badge.
func TestIVMD(t *testing.T) {
	r, err := host.Dir(filepath.Join("..", "..", "testdata", "hosts", "amd"))
	if err != nil {
		t.Fatal(err)
	}
	in := input(t, r)
	var nic *pci.Device
	for _, d := range in.Facts.Devices.List {
		if d.IsNetwork() {
			nic = d
			break
		}
	}
	if nic == nil {
		t.Fatal("the amd tree has no network device")
	}
	a := nic.Address
	tbl := ivrs.LabTable(2, ivrs.IVMD(ivrs.TypeIVMDDevice, ivrs.ID(a.Bus, a.Device, a.Function), 0, 0xbd000000, 0x100000, false))
	in.IVRS = ivrs.NewReport(tbl, in.Facts.Devices, nil, "6.8.0")
	doc, err := xhtml.Parse(bytes.NewReader(render(t, in)))
	if err != nil {
		t.Fatal(err)
	}
	sec := byID(doc, "ivmd")
	if sec == nil || !strings.Contains(text(sec), a.String()) || !strings.Contains(text(sec), "refuses it to VFIO") {
		t.Fatalf("IVMD section does not name %s as refused", a)
	}
	d := byID(doc, "dev-"+a.String())
	if d == nil || !strings.Contains(text(d), "IVMD: refused") {
		t.Errorf("%s lacks the IVMD badge", a)
	}
}
