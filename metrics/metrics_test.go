package metrics

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"

	"github.com/dpdk-doctor/dpdk-doctor/check"
	"github.com/dpdk-doctor/dpdk-doctor/demo"
	"github.com/dpdk-doctor/dpdk-doctor/ovs"

	"github.com/dpdk-doctor/dpdk-doctor/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// demoInput is the demo host's check, as `check --demo` runs it, at a fixed time and version.
func demoInput(t testing.TB) Input {
	t.Helper()
	r, err := demo.Root()
	if err != nil {
		t.Fatal(err)
	}
	f, err := check.Gather(r, check.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := ovs.ReadSnapshot(r)
	if err != nil || st == nil {
		t.Fatalf("demo OVS snapshot: %v, %v", st, err)
	}
	findings := append(check.Run(f), ovs.Findings(st, f, "demo")...)
	return Input{Facts: f, Findings: findings, OVS: st, Version: "1.2.3", Time: time.Unix(1700000000, 500e6)}
}

// TestGoldenDemo compares the demo's metrics with testdata/demo.prom (go test -update rewrites it).
func TestGoldenDemo(t *testing.T) {
	var b bytes.Buffer
	if err := Write(&b, demoInput(t)); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "demo.prom")
	if *update {
		if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b.Bytes(), want) {
		t.Errorf("metrics differ from %s (go test ./metrics -run Golden -update to accept):\n%s", golden, b.String())
	}
	// The demo's known problems must be in it, whatever the golden file says.
	for _, s := range []string{
		`dpdk_doctor_findings{severity="fail"} 4`,
		`dpdk_doctor_finding{id="device.rmrr",subject="0000:03:00.0",severity="fail"} 1`,
		`dpdk_doctor_device_ready{device="0000:03:00.0",driver="vfio-pci",slot="2"} 0`,
		`dpdk_doctor_device_rmrr_locked{device="0000:03:00.0",state="locked"} 1`,
		`dpdk_doctor_hugepages_free_pages{node="0",size="2048kB"} 512`,
		`dpdk_doctor_ovs_interface_error{bridge="br-provider",port="dpdk-p0",interface="dpdk-p0",type="dpdk",error="Error attaching device '0000:03:00.0' to DPDK"} 1`,
		`dpdk_doctor_info{version="1.2.3"} 1`,
		`dpdk_doctor_last_run_timestamp_seconds 1700000000.5`,
	} {
		if !strings.Contains(b.String(), s+"\n") {
			t.Errorf("missing %s", s)
		}
	}
}

// TestHelpAndType requires HELP and TYPE before every metric family's samples.
func TestHelpAndType(t *testing.T) {
	var b bytes.Buffer
	if err := Write(&b, demoInput(t)); err != nil {
		t.Fatal(err)
	}
	fams, err := new(expfmt.TextParser).TextToMetricFamilies(&b)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range Names() {
		if !strings.HasPrefix(name, "dpdk_doctor_") {
			t.Errorf("%s: no dpdk_doctor_ prefix", name)
		}
		fam := fams[name]
		if fam == nil {
			if name == "dpdk_doctor_ovs_interface_error" {
				continue
			}
			t.Errorf("%s: not written for the demo", name)
			continue
		}
		if fam.GetHelp() == "" || fam.GetType().String() != "GAUGE" {
			t.Errorf("%s: help %q type %v", name, fam.GetHelp(), fam.GetType())
		}
	}
}

func escapeInput(errText, subject string) Input {
	return Input{
		Findings: []check.Finding{{ID: "ovs.interface", Subject: subject, Severity: check.Fail}},
		OVS: &ovs.State{Bridges: []ovs.Bridge{{Name: "br0", Ports: []ovs.Port{{Name: "p0",
			Interfaces: []ovs.Interface{{Name: "p0", Type: "dpdk", Error: errText}}}}}}},
		Version: "v", Time: time.Unix(1, 0),
	}
}

// TestEscape writes label values with backslash, quote and line feed, and parses them back.
func TestEscape(t *testing.T) {
	if got, want := EscapeLabel("a\\b\"c\nd"), `a\\b\"c\nd`; got != want {
		t.Errorf("EscapeLabel = %s, want %s", got, want)
	}
	const msg = "could not open \"0000:03:00.0\": C:\\dev\nsecond line"
	checkRoundTrip(t, msg, "weird\"subject\\")
}

func checkRoundTrip(t *testing.T, errText, subject string) {
	t.Helper()
	var b bytes.Buffer
	if err := Write(&b, escapeInput(errText, subject)); err != nil {
		t.Fatal(err)
	}
	fams, err := new(expfmt.TextParser).TextToMetricFamilies(bytes.NewReader(b.Bytes()))
	if err != nil {
		t.Fatalf("our output does not parse: %v\n%s", err, b.String())
	}
	label := func(fam, name string) string {
		for _, m := range fams[fam].GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == name {
					return l.GetValue()
				}
			}
		}
		return "<missing>"
	}
	if got := label("dpdk_doctor_ovs_interface_error", "error"); got != errText {
		t.Errorf("error label = %q, want %q", got, errText)
	}
	if got := label("dpdk_doctor_finding", "subject"); got != subject {
		t.Errorf("subject label = %q, want %q", got, subject)
	}
}

// FuzzEscape: any UTF-8 label value survives being written and parsed back.
func FuzzEscape(f *testing.F) {
	f.Add("Error attaching device '0000:03:00.0' to DPDK", "dpdk-p0")
	f.Add("a\\\"\n\\n", "\"")
	f.Fuzz(func(t *testing.T, errText, subject string) {
		if !isValidUTF8(errText) || !isValidUTF8(subject) || errText == "" {
			return // label values are UTF-8 (OVSDB strings are); an empty error is no error
		}
		checkRoundTrip(t, errText, subject)
	})
}

func isValidUTF8(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }

// TestWriteFileAtomic replaces an existing file, leaves no temporary file, keeps the old file on
// failure and names a bad directory.
func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	dst := filepath.Join(dir, FileName)
	if err := os.WriteFile(dst, []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(dir, demoInput(t)); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(dst)
	if err != nil || !bytes.HasPrefix(b, []byte("# HELP dpdk_doctor_info")) {
		t.Fatalf("%s: %q, %v", dst, b, err)
	}
	st, _ := os.Stat(dst)
	if st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644 (node_exporter runs as another user)", st.Mode())
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("directory holds %d files, want only %s", len(ents), FileName)
	}
	if err := WriteFile(filepath.Join(dir, "nope"), Input{}); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("missing directory: %v", err)
	}
	if err := WriteFile(dst, Input{}); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("a file as directory: %v", err)
	}
	if os.Geteuid() != 0 {
		ro := t.TempDir()
		os.WriteFile(filepath.Join(ro, FileName), []byte("old\n"), 0o644)
		os.Chmod(ro, 0o555)
		defer os.Chmod(ro, 0o755)
		if err := WriteFile(ro, Input{}); err == nil {
			t.Error("read-only directory: no error")
		}
		if b, _ := os.ReadFile(filepath.Join(ro, FileName)); string(b) != "old\n" {
			t.Errorf("old file changed on failure: %q", b)
		}
	}
}

// need finds a Debian tool the integration tests run; under CI=true its absence fails the test.
func need(t *testing.T, path, pkg string) string {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		testenv.Unavailable(t, "%s is required (apt-get install %s)", path, pkg)
	}
	return path
}

// TestPromtool runs Debian's promtool on the demo's metrics and on escaped labels: no errors,
// no lint complaints.
func TestPromtool(t *testing.T) {
	promtool := need(t, "/usr/bin/promtool", "prometheus")
	for name, in := range map[string]Input{"demo": demoInput(t), "escape": escapeInput("bad \"x\" \\ y\nz", "s")} {
		var b bytes.Buffer
		if err := Write(&b, in); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(promtool, "check", "metrics")
		cmd.Stdin = &b
		out, err := cmd.CombinedOutput()
		if err != nil || len(bytes.TrimSpace(out)) > 0 {
			t.Errorf("%s: promtool check metrics: %v\n%s", name, err, out)
		}
	}
	// And it must be able to complain: a counter without _total is linted.
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader("# HELP x_bad a\n# TYPE x_bad counter\nx_bad 1\n")
	if out, err := cmd.CombinedOutput(); err == nil && len(out) == 0 {
		t.Error("promtool finds nothing wrong with a bad counter: the test would prove nothing")
	}
}

// TestNodeExporter starts Debian's prometheus-node-exporter with only the textfile collector on
// a loopback port, scrapes it and finds our metrics, with the escaped error label intact and no
// textfile scrape error.
func TestNodeExporter(t *testing.T) {
	bin := need(t, "/usr/bin/prometheus-node-exporter", "prometheus-node-exporter")
	dir := t.TempDir()
	in := demoInput(t)
	const odd = "Error \"attaching\" C:\\x\nline two"
	in.OVS.Bridges = append(in.OVS.Bridges, ovs.Bridge{Name: "br-odd", Ports: []ovs.Port{{Name: "p9",
		Interfaces: []ovs.Interface{{Name: "p9", Type: "dpdk", Error: odd}}}}})
	if err := WriteFile(dir, in); err != nil {
		t.Fatal(err)
	}
	body := scrapeNodeExporter(t, bin, dir)
	if !strings.Contains(body, "node_textfile_scrape_error 0\n") {
		t.Errorf("node_textfile_scrape_error is not 0:\n%s", grep(body, "node_textfile"))
	}
	fams, err := new(expfmt.TextParser).TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range Names() {
		if fams[name] == nil {
			t.Errorf("node_exporter does not expose %s", name)
		}
	}
	if got := len(fams["dpdk_doctor_finding"].GetMetric()); got != len(in.Findings) {
		t.Errorf("node_exporter exposes %d dpdk_doctor_finding series, want %d", got, len(in.Findings))
	}
	found := false
	for _, m := range fams["dpdk_doctor_ovs_interface_error"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "error" && l.GetValue() == odd {
				found = true
			}
		}
	}
	if !found {
		t.Errorf("the escaped error label did not survive node_exporter:\n%s", grep(body, "dpdk_doctor_ovs"))
	}

	// A broken file is reported by node_exporter: the check above can fail.
	if err := os.WriteFile(filepath.Join(dir, FileName), []byte("dpdk_doctor_x{a=\"unterminated} 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if body := scrapeNodeExporter(t, bin, dir); !strings.Contains(body, "node_textfile_scrape_error 1\n") {
		t.Errorf("node_exporter did not report a broken file:\n%s", grep(body, "node_textfile"))
	}
}

func grep(body, prefix string) string {
	var out []string
	for _, l := range strings.Split(body, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// scrapeNodeExporter runs node_exporter on dir, on a free loopback port, until one scrape of
// /metrics succeeds, and stops it.
func scrapeNodeExporter(t *testing.T, bin, dir string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var logs bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "--collector.disable-defaults", "--collector.textfile",
		"--collector.textfile.directory="+dir, "--web.listen-address="+addr)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		cmd.Process.Kill()
		<-exited
	}()
	url := "http://" + addr + "/metrics"
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			b, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			if rerr == nil && resp.StatusCode == http.StatusOK {
				return string(b)
			}
			err = errors.Join(rerr, errors.New(resp.Status))
		}
		select {
		case e := <-exited:
			exited <- e
			t.Fatalf("node_exporter exited: %v\n%s", e, logs.String())
		case <-ctx.Done():
			t.Fatalf("no scrape of %s: %v\n%s", url, err, logs.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// TestWriteFileReaderNeverSeesHalf reads the file while it is rewritten over and over, as a
// scrape would: every read must be a whole file that parses, never a partial one.
func TestWriteFileReaderNeverSeesHalf(t *testing.T) {
	dir := t.TempDir()
	in := demoInput(t)
	in.Time = time.Unix(1700000000, 0) // every version of the file is then the same length
	if err := WriteFile(dir, in); err != nil {
		t.Fatal(err)
	}
	var whole bytes.Buffer
	Write(&whole, in)
	done := make(chan error, 1)
	go func() {
		for i := range 200 {
			in.Time = time.Unix(int64(1700000000+i), 0)
			if err := WriteFile(dir, in); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	reads := 0
	for {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			if reads == 0 {
				t.Fatal("no reads happened while writing")
			}
			return
		default:
		}
		b, err := os.ReadFile(filepath.Join(dir, FileName))
		if err != nil {
			t.Fatalf("read %d: %v", reads, err)
		}
		if len(b) != whole.Len() {
			t.Fatalf("read %d: %d bytes, want %d (a partial file)", reads, len(b), whole.Len())
		}
		if _, err := new(expfmt.TextParser).TextToMetricFamilies(bytes.NewReader(b)); err != nil {
			t.Fatalf("read %d: %v", reads, err)
		}
		reads++
	}
}
