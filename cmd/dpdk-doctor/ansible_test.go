package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestAnsibleModuleMode: given one argument that is an Ansible args file, the binary answers
// as a module (one JSON result on stdout); named after a module (argv[0]), it does so for any
// file; otherwise it stays the command.
func TestAnsibleModuleMode(t *testing.T) {
	dir := t.TempDir()
	args := filepath.Join(dir, "args")
	os.WriteFile(args, []byte(`{"_ansible_module_name":"dpdkdoctor.doctor.check","_ansible_check_mode":true,"root":"`+tree("dl360e-gen8")+`"}`), 0o644)
	out, stderr, code := runBin(t, args)
	var r struct {
		Changed bool
		Failed  bool
		Facts   map[string]json.RawMessage `json:"ansible_facts"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil || code != 0 || r.Changed || r.Failed {
		t.Fatalf("exit %d, %v: %s %s", code, err, out, stderr)
	}
	var doc struct{ Counts map[string]int }
	json.Unmarshal(r.Facts["dpdk_doctor"], &doc)
	want, _, _ := runBin(t, "check", "--json", "--root", tree("dl360e-gen8"))
	var wantDoc any
	var gotDoc any
	json.Unmarshal([]byte(want), &wantDoc)
	json.Unmarshal(r.Facts["dpdk_doctor"], &gotDoc)
	if b1, _ := json.Marshal(wantDoc); string(b1) != func() string { b, _ := json.Marshal(gotDoc); return string(b) }() {
		t.Errorf("the dpdk_doctor fact is not the check --json document")
	}
	if !strings.Contains(string(r.Facts["dpdk_doctor_platform"]), `"bios_version":"P73"`) || !strings.Contains(string(r.Facts["dpdk_doctor_devices"]), `"slot":"2"`) {
		t.Errorf("platform %s devices %.200s", r.Facts["dpdk_doctor_platform"], r.Facts["dpdk_doctor_devices"])
	}
	// A file that is not an args file is still the command's unknown argument.
	plain := filepath.Join(dir, "plain.json")
	os.WriteFile(plain, []byte(`{"rooot":"/"}`), 0o644)
	if _, stderr, code := runBin(t, plain); code != 2 || !strings.Contains(stderr, "unknown command") {
		t.Errorf("plain file: exit %d %s", code, stderr)
	}
	// argv[0] dpdk_doctor_check: a module whatever the file says.
	link := filepath.Join(dir, "dpdk_doctor_check")
	os.Symlink(binary, link)
	o, err := exec.Command(link, plain).Output()
	if !strings.Contains(string(o), `"failed":true`) || !strings.Contains(string(o), `unsupported parameter \"rooot\"`) {
		t.Errorf("argv0 module: %v %s", err, o)
	}
}

func TestFleetReportCommand(t *testing.T) {
	dir := t.TempDir()
	var files []string
	for _, name := range []string{"dl360e-gen8", "dl360e-gen8-two-slots", "amd"} {
		out, _, _ := runBin(t, "check", "--json", "--root", tree(name))
		p := filepath.Join(dir, name+".json")
		os.WriteFile(p, []byte(out), 0o644)
		files = append(files, p)
	}
	out, stderr, code := runBin(t, append([]string{"fleet-report"}, files...)...)
	if code != 0 || !strings.Contains(out, "3 hosts, 2 fail, 1 ok") || !strings.Contains(out, "2 hosts have RMRR-locked NICs on board (fail), all HP ProLiant DL360e Gen8") ||
		!strings.Contains(out, "hosts: dl360e-gen8, dl360e-gen8-two-slots") {
		t.Errorf("exit %d\n%s%s", code, out, stderr)
	}
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"x":1}`), 0o644)
	if _, stderr, code := runBin(t, "fleet-report", files[0], bad); code != 2 || !strings.Contains(stderr, bad) {
		t.Errorf("bad input: exit %d %s", code, stderr)
	}
}
