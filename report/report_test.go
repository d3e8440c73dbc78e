package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/dpdk-doctor/dpdk-doctor/check"
	"github.com/dpdk-doctor/dpdk-doctor/demo"
	"github.com/dpdk-doctor/dpdk-doctor/pci"
)

// demoResult checks the demo host as `check --demo` does (without the OVS section).
func demoResult(t *testing.T) *Result {
	t.Helper()
	r, err := demo.Root()
	if err != nil {
		t.Fatal(err)
	}
	f, err := check.Gather(r, check.Options{})
	if err != nil {
		t.Fatal(err)
	}
	findings := check.Run(f)
	ids, _ := pci.ReadIDs(f.Root)
	devs := map[string]Device{}
	for _, d := range f.Selected {
		devs[d.Address.String()] = Device{Name: check.Name(ids, d), Slot: d.Slot}
	}
	return &Result{Identity: IdentityOf(f, "test", time.Unix(0, 0)), Findings: findings, Devices: devs}
}

func text(t *testing.T, r *Result, opt TextOptions) string {
	t.Helper()
	var b bytes.Buffer
	if err := WriteText(&b, r, opt); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestDemoFirstScreen: the first 24 lines at 80 columns name the seed's diagnosis (the X520 in
// slot 2, RMRR-locked) and its fix; the old report reached it at line 151.
func TestDemoFirstScreen(t *testing.T) {
	out := text(t, demoResult(t), TextOptions{Width: 80})
	lines := strings.Split(out, "\n")
	screen := strings.Join(lines[:min(24, len(lines))], "\n")
	for _, want := range []string{"1 problem blocks DPDK:", "0000:03:00.0 and 0000:03:00.1 (X520-2, slot 2)", "RMRR-locked",
		"-> dpdk-doctor fix rmrr 0000:03:00.0"} {
		if !strings.Contains(screen, want) {
			t.Errorf("first screen lacks %q:\n%s", want, screen)
		}
	}
	for i, l := range lines {
		if len(l) > 80 && !strings.Contains(l, "-> ") && !strings.HasPrefix(strings.TrimSpace(l), "or ") {
			t.Errorf("line %d is %d columns (only commands may be longer):\n%s", i+1, len(l), l)
		}
	}
}

// TestExplanationOncePerCause: the RMRR paragraph is printed once, not once per device (the
// old report printed it six times); evidence only with Verbose; ok findings collapsed.
func TestExplanationOncePerCause(t *testing.T) {
	r := demoResult(t)
	out := text(t, r, TextOptions{})
	if n := strings.Count(out, "Reserved Memory Region (RMRR) that"); n != 1 {
		t.Errorf("RMRR explanation printed %d times", n)
	}
	if strings.Contains(out, "evidence") || strings.Contains(out, "[ok  ]") {
		t.Errorf("evidence or ok findings without -v:\n%s", out)
	}
	oks := 0
	for _, f := range r.Findings {
		if f.Severity == check.OK {
			oks++
		}
	}
	if want := Plural(oks, "check", "checks") + " ok"; !strings.Contains(out, want) {
		t.Errorf("no %q line", want)
	}
	v := text(t, r, TextOptions{Verbose: true})
	if !strings.Contains(v, "evidence /sys/firmware/acpi/tables/DMAR") || !strings.Contains(v, "[ok  ] cpu.virtualization") {
		t.Errorf("-v lacks evidence or the ok findings:\n%s", v)
	}
	if strings.Contains(out, "\x1b[") {
		t.Error("colour without Color")
	}
	if c := text(t, r, TextOptions{Color: true}); !strings.Contains(c, red+"  [FAIL] ") || !strings.Contains(c, yellow+"  [WARN] ") {
		t.Errorf("no red FAIL or yellow WARN with Color")
	}
}

func TestPlural(t *testing.T) {
	for _, c := range []struct {
		n    int
		want string
	}{{0, "0 problems"}, {1, "1 problem"}, {2, "2 problems"}} {
		if got := Plural(c.n, "problem", "problems"); got != c.want {
			t.Errorf("Plural(%d) = %q", c.n, got)
		}
	}
	r := &Result{Findings: []check.Finding{
		{ID: "a.b", Severity: check.Fail, Subject: "host", Summary: "x", Explanation: "e1"},
		{ID: "c.d", Severity: check.Fail, Subject: "host", Summary: "y", Explanation: "e2"},
		{ID: "e.f", Severity: check.OK, Subject: "host", Summary: "z"},
	}}
	out := text(t, r, TextOptions{})
	if !strings.Contains(out, "2 problems block DPDK:") || !strings.Contains(out, "1 check ok") {
		t.Errorf("plurals:\n%s", out)
	}
	r.Findings = r.Findings[2:]
	if out := text(t, r, TextOptions{}); !strings.Contains(out, "Nothing blocks DPDK.") {
		t.Errorf("no failure:\n%s", out)
	}
}

// TestGroupSameCause: the same check, explanation and remedy (up to the device's own address)
// is one cause; a different explanation is another; a finding that follows from a cause joins it.
func TestGroupSameCause(t *testing.T) {
	fs := []check.Finding{
		{ID: "device.rmrr", Severity: check.Fail, Subject: "0000:03:00.0", Summary: "RMRR-locked by RMRR 0x1 (scope 00:02.0/00.0)", Explanation: "E", Remedy: []string{"dpdk-doctor fix rmrr 0000:03:00.0"}},
		{ID: "device.rmrr", Severity: check.Fail, Subject: "0000:03:00.1", Summary: "RMRR-locked by RMRR 0x1 (scope 00:02.0/00.1)", Explanation: "E", Remedy: []string{"dpdk-doctor fix rmrr 0000:03:00.1"}},
		{ID: "device.rmrr", Severity: check.Fail, Subject: "0000:04:00.0", Summary: "RMRR-locked", Explanation: "other", Remedy: []string{"# move it"}},
		{ID: "kernellog.x", Severity: check.Fail, Subject: "0000:03:00.1", Summary: "refused"},
		{ID: "ovs.interface", Severity: check.Fail, Subject: "p0", Summary: "error", Remedy: []string{"dpdk-doctor fix rmrr 0000:03:00.0   # then reboot"}},
		{ID: "device.rmrr", Severity: check.Warn, Subject: "0000:02:00.0", Summary: "w", Explanation: "E"},
	}
	cs := Group(fs, check.Fail)
	if len(cs) != 2 {
		t.Fatalf("%d causes, want 2: %+v", len(cs), cs)
	}
	if got := strings.Join(cs[0].Subjects(), ","); got != "0000:03:00.0,0000:03:00.1" {
		t.Errorf("first cause has %s", got)
	}
	if cs[0].Summary() != "RMRR-locked by RMRR 0x1" {
		t.Errorf("common summary %q", cs[0].Summary())
	}
	if len(cs[0].Also) != 2 || cs[0].Also[0].ID != "kernellog.x" || cs[0].Also[1].ID != "ovs.interface" {
		t.Errorf("also: %+v", cs[0].Also)
	}
	if cs[0].Remedy().First() != "dpdk-doctor fix rmrr 0000:03:00.0" {
		t.Errorf("fix %q", cs[0].Remedy().First())
	}
	devs := map[string]Device{"0000:03:00.0": {Name: "Intel Corporation 82599ES 10-Gigabit SFI/SFP+ Network Connection (Ethernet Server Adapter X520-2)", Slot: "2"},
		"0000:03:00.1": {Name: "Intel Corporation 82599ES 10-Gigabit SFI/SFP+ Network Connection (Ethernet Server Adapter X520-2)", Slot: "2"}}
	if got := Name(cs[0].Subjects(), devs); got != "0000:03:00.0 and 0000:03:00.1 (X520-2, slot 2)" {
		t.Errorf("Name = %q", got)
	}
}

// TestParseRemedy: commands are runs, '#' lines steps, '# or' starts an alternative, and a
// reboot is never a run.
func TestParseRemedy(t *testing.T) {
	r := ParseRemedy([]string{
		"dpdk-doctor fix rmrr 0000:03:00.0   # dry run; add --apply",
		"reboot",
		"# or move the card to a slot no RMRR covers",
		"# or, on Proxmox, boot with",
		"# intel_iommu=relax_rmrr.",
		"echo 1024 > /sys/devices/system/node/node0/hugepages/hugepages-2048kB/nr_hugepages",
		"systemctl reboot   # to apply",
	})
	want := Remedy{Alternatives: [][]Action{
		{{Run: "dpdk-doctor fix rmrr 0000:03:00.0", Note: "dry run; add --apply"}, {Step: "reboot the host: reboot"}},
		{{Step: "move the card to a slot no RMRR covers"}},
		{{Step: "on Proxmox, boot with intel_iommu=relax_rmrr."},
			{Run: "echo 1024 > /sys/devices/system/node/node0/hugepages/hugepages-2048kB/nr_hugepages", Shell: true},
			{Step: "reboot the host: systemctl reboot (to apply)"}},
	}}
	g, _ := json.Marshal(r)
	w, _ := json.Marshal(want)
	if string(g) != string(w) {
		t.Errorf("ParseRemedy:\n got %s\nwant %s", g, w)
	}
	if ParseRemedy(nil).Alternatives == nil {
		t.Error("no remedy must be an empty list, not null")
	}
}

// TestJSONIdentityAndExplanation: schema 2 names the host and every warn/fail explains itself.
func TestJSONIdentityAndExplanation(t *testing.T) {
	r := demoResult(t)
	r.Findings = append(r.Findings, check.Finding{ID: "x.y", Area: "x", Severity: check.Warn, Subject: "host", Summary: "no explanation given"})
	var b bytes.Buffer
	if err := WriteJSON(&b, r); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Schema   string `json:"schema_version"`
		Version  string `json:"dpdk_doctor_version"`
		Time     string `json:"time"`
		Kernel   string `json:"kernel_release"`
		Machine  Machine
		Findings []struct {
			Severity    string
			Explanation string
			Remedy      []string
			Remedies    Remedy
		}
	}
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Schema != "2" || doc.Version != "test" || doc.Time != "1970-01-01T00:00:00Z" || doc.Kernel == "" || doc.Machine.Product != "ProLiant DL360e Gen8" || doc.Machine.BIOSVersion == "" {
		t.Errorf("identity: %+v", doc)
	}
	for _, f := range doc.Findings {
		if f.Severity != "ok" && f.Explanation == "" {
			t.Errorf("a %s finding without explanation", f.Severity)
		}
		if len(f.Remedy) > 0 && len(f.Remedies.Alternatives) == 0 {
			t.Errorf("remedy %q not typed", f.Remedy)
		}
	}
}

func TestUseColor(t *testing.T) {
	t.Setenv("NO_COLOR", "")
	t.Setenv("TERM", "xterm")
	for _, c := range []struct {
		mode    string
		tty     bool
		noColor string
		want    bool
	}{{"auto", true, "", true}, {"auto", false, "", false}, {"auto", true, "1", false}, {"always", false, "1", true}, {"never", true, "", false}} {
		t.Setenv("NO_COLOR", c.noColor)
		if got, err := UseColor(c.mode, c.tty); err != nil || got != c.want {
			t.Errorf("UseColor(%q, tty %v, NO_COLOR=%q) = %v, %v", c.mode, c.tty, c.noColor, got, err)
		}
	}
	if _, err := UseColor("sometimes", true); err == nil {
		t.Error("--color sometimes accepted")
	}
}
