package ansiblemod

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseArgs(t *testing.T) {
	a, err := ParseArgs([]byte(`{"_ansible_check_mode":true,"_ansible_diff":true,"_ansible_module_name":"dpdkdoctor.doctor.fix_rmrr","_ansible_verbosity":0,"devices":["0000:03:00.0"]}`), "args")
	if err != nil {
		t.Fatal(err)
	}
	if !a.CheckMode || !a.Diff || a.Module != "fix_rmrr" || len(a.Params) != 1 || string(a.Params["devices"]) != `["0000:03:00.0"]` {
		t.Errorf("%+v", a)
	}
	for _, bad := range []string{``, `[]`, `null`, `{"_ansible_check_mode":"yes"}`, `{"a":1`} {
		if _, err := ParseArgs([]byte(bad), "args"); err == nil || !strings.Contains(err.Error(), "module arguments args") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestIsArgsFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(s), 0o644)
		return p
	}
	if !IsArgsFile(write("a", `{"_ansible_module_name":"check"}`)) {
		t.Error("an args file")
	}
	for _, p := range []string{write("b", `{"root":"/"}`), write("c", "check"), dir, filepath.Join(dir, "missing")} {
		if IsArgsFile(p) {
			t.Errorf("%s is no args file", p)
		}
	}
	if ModuleName("/home/u/.ansible/tmp/x/check") != "check" || ModuleName("dpdk_doctor_fix_rmrr") != "fix_rmrr" || ModuleName("dpdk-doctor") != "" {
		t.Error("ModuleName")
	}
}

// runArgs runs a module with these args and returns its result as a map.
func runArgs(t *testing.T, args string, o Options) (map[string]any, int) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "args")
	os.WriteFile(p, []byte(args), 0o644)
	var out bytes.Buffer
	code := Run(context.Background(), &out, p, "", o)
	var m map[string]any
	if err := json.Unmarshal(out.Bytes(), &m); err != nil {
		t.Fatalf("output is not JSON: %v: %s", err, out.String())
	}
	return m, code
}

func TestModuleErrors(t *testing.T) {
	for _, c := range []struct{ args, want string }{
		{`{"_ansible_module_name":"x.y.check","rooot":"/"}`, `unsupported parameter "rooot"`},
		{`{"_ansible_module_name":"x.y.check","fail_on":"sometimes"}`, `fail_on "sometimes"`},
		{`{"_ansible_module_name":"x.y.check","devices":"0000:03:00.0"}`, `devices`},
		{`{"_ansible_module_name":"x.y.nope"}`, `no Ansible module "nope"`},
		{`{"_ansible_module_name":"x.y.fix_rmrr","devices":[10800]}`, `quote PCI addresses in YAML`},
		{`{"_ansible_module_name":"x.y.fix_rmrr"}`, `name at least one PCI device`},
		{`{"_ansible_module_name":"x.y.fix_rmrr","devices":["03:00.0;reboot"],"_ansible_check_mode":true}`, `PCI address`},
		{`{"_ansible_module_name":"x.y.fix_rmrr","devices":["0000:03:00.0"],"root":"../testdata/hosts/dl360e-gen8"}`, `refusing to change the firmware's RMRR settings with root ../testdata/hosts/dl360e-gen8`},
		{`{"_ansible_module_name":"x.y.fleet_report","hosts":{}}`, `dest`},
		{`not json`, `not a JSON object`},
	} {
		m, code := runArgs(t, c.args, Options{})
		if code != 1 || m["failed"] != true || m["changed"] != false || !strings.Contains(m["msg"].(string), c.want) {
			t.Errorf("%s: exit %d, %v; want failed with %q", c.args, code, m, c.want)
		}
	}
}

func TestFixRMRRNothingToDo(t *testing.T) {
	// No RMRR covers the device: nothing to do, in check mode and out of it, without conrep.
	for _, cm := range []string{"true", "false"} {
		m, code := runArgs(t, `{"_ansible_module_name":"x.y.fix_rmrr","_ansible_check_mode":`+cm+`,"devices":["0000:03:00.0"],"root":"../testdata/hosts/dl360e-gen8-after-conrep"}`, Options{TreeIsThisHost: true})
		if code != 0 || m["changed"] != false || !strings.Contains(m["msg"].(string), "nothing to fix for 0000:03:00.0") {
			t.Errorf("check mode %s: exit %d %v", cm, code, m)
		}
	}
}

func FuzzParseArgs(f *testing.F) {
	f.Add([]byte(`{"_ansible_check_mode":true,"_ansible_module_name":"a.b.check","root":"/"}`))
	f.Add([]byte(`{"_ansible_diff":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := ParseArgs(b, "fuzz")
		if err == nil && a.Params == nil {
			t.Fatal("no params map")
		}
		if err == nil {
			a.decode(map[string]any{"root": new(string), "devices": new([]string)})
		}
	})
}
