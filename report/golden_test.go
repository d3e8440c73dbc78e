package report_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// go test ./report/ -run Golden -update rewrites testdata/golden from the current binary.
var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

const goldenDir = "../testdata/golden"

// goldenEpoch is the time every golden report claims (SOURCE_DATE_EPOCH): 2024-01-02T03:04:05Z.
const goldenEpoch = "1704164645"

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// binary builds dpdk-doctor once, with version "test", as the golden files expect.
func binary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "dpdk-doctor-golden")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "dpdk-doctor")
		cmd := exec.Command("go", "build", "-ldflags", "-X main.version=test", "-o", binPath, "../cmd/dpdk-doctor")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// goldenCommands are the outputs kept per host: file name, schema (for JSON) and arguments.
var goldenCommands = []struct {
	file, schema string
	args         []string
}{
	{"check.txt", "", []string{"check"}},
	{"check-v.txt", "", []string{"check", "-v"}},
	{"check.json", "check.schema.json", []string{"check", "--json"}},
	{"devices.txt", "", []string{"devices"}},
	{"devices.json", "devices.schema.json", []string{"devices", "--json"}},
	{"rmrr.txt", "", []string{"rmrr"}},
	{"rmrr.json", "rmrr.schema.json", []string{"rmrr", "--json"}},
	{"ovs-show.txt", "", []string{"ovs", "show"}},
	{"ovs-show.json", "", []string{"ovs", "show", "--json"}},
}

// goldenHosts are the demo and every test tree, with the flag that selects them.
func goldenHosts(t *testing.T) map[string][]string {
	hosts := map[string][]string{"demo": {"--demo"}}
	trees, err := filepath.Glob("../testdata/hosts/*")
	if err != nil || len(trees) == 0 {
		t.Fatalf("no test trees under ../testdata/hosts: %v", err)
	}
	for _, d := range trees {
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			hosts[filepath.Base(d)] = []string{"--root", filepath.ToSlash(strings.TrimPrefix(d, "../"))}
		}
	}
	return hosts
}

// run runs the binary as the golden files were made: fixed time, no colour, 80 columns.
func run(t *testing.T, args ...string) (stdout, stderr string, code int) {
	cmd := exec.Command(binary(t), args...)
	cmd.Dir = ".." // the repository: --root names trees relative to it
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "SOURCE_DATE_EPOCH=" + goldenEpoch, "NO_COLOR=1", "COLUMNS=80", "TERM=dumb", "LC_ALL=C"}
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("%v: %v", args, err)
	}
	// The tree's absolute path depends on the checkout: keep it relative to the repository.
	repo, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	rel := func(s string) string { return strings.ReplaceAll(s, repo+string(filepath.Separator), "") }
	return rel(o.String()), rel(e.String()), code
}

func compiler(t *testing.T) *jsonschema.Compiler {
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	return c
}

func loadSchema(t *testing.T, c *jsonschema.Compiler, name string) *jsonschema.Schema {
	t.Helper()
	s, err := c.Compile(filepath.Join("schema", name))
	if err != nil {
		t.Fatalf("schema %s: %v", name, err)
	}
	return s
}

// validate checks one JSON document against a schema file in schema/.
func validate(t *testing.T, c *jsonschema.Compiler, schema, what string, doc []byte) {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		t.Errorf("%s: not JSON: %v", what, err)
		return
	}
	if err := loadSchema(t, c, schema).Validate(v); err != nil {
		t.Errorf("%s does not match %s: %v", what, schema, err)
	}
}

// TestGolden runs check, devices, rmrr and ovs show (text and JSON) on the demo and every test
// tree and compares them with testdata/golden/HOST/*, byte for byte; the exit codes and error
// messages are kept in exit.txt. Every JSON output is validated against its schema.
func TestGolden(t *testing.T) {
	c := compiler(t)
	for host, sel := range goldenHosts(t) {
		t.Run(host, func(t *testing.T) {
			dir := filepath.Join(goldenDir, host)
			var exits strings.Builder
			for _, gc := range goldenCommands {
				out, errOut, code := run(t, append(append([]string{}, gc.args...), sel...)...)
				if code != 0 || errOut != "" {
					fmt.Fprintf(&exits, "%s: exit %d\n", strings.Join(gc.args, " "), code)
					for _, l := range strings.Split(strings.TrimRight(errOut, "\n"), "\n") {
						if l != "" {
							fmt.Fprintf(&exits, "    %s\n", l)
						}
					}
				}
				if code == 2 && out == "" {
					continue // no output, only the error kept in exit.txt
				}
				if gc.schema != "" {
					validate(t, c, gc.schema, host+"/"+gc.file, []byte(out))
				}
				compare(t, filepath.Join(dir, gc.file), out)
			}
			compare(t, filepath.Join(dir, "exit.txt"), exits.String())
		})
	}
}

func compare(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Errorf("%v (run: go test ./report/ -run Golden -update)", err)
		return
	}
	if string(want) != got {
		t.Errorf("%s differs from the output (if the change is intended: go test ./report/ -run Golden -update):\n%s", path, diff(string(want), got))
	}
}

// diff shows the first lines that differ.
func diff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < max(len(w), len(g)); i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			return fmt.Sprintf("line %d:\n  want %q\n  got  %q", i+1, a, b)
		}
	}
	return "(same lines, different ending)"
}

// TestSchemasRejectBadDocuments proves the schemas can fail: a finding without explanation, a
// remedy that would reboot the host as a command, an RMRR base as a number, a scope type as a
// number.
func TestSchemasRejectBadDocuments(t *testing.T) {
	c := compiler(t)
	good, _, _ := run(t, "check", "--json", "--demo")
	rm, _, _ := run(t, "rmrr", "--json", "--demo")
	for _, tc := range []struct {
		schema, doc, from, to string
	}{
		{"check.schema.json", good, `"schema_version": "2"`, `"schema_version": "1"`},
		{"check.schema.json", good, `"time": "2024-01-02T03:04:05Z"`, `"time": "yesterday"`},
		{"check.schema.json", good, `"severity": "fail"`, `"severity": "bad"`},
		{"rmrr.schema.json", rm, `"base": "0x7dffd000"`, `"base": 2113916928`},
		{"rmrr.schema.json", rm, `"type": "endpoint"`, `"type": 1`},
	} {
		if !strings.Contains(tc.doc, tc.from) {
			t.Fatalf("output lacks %q", tc.from)
		}
		bad := strings.Replace(tc.doc, tc.from, tc.to, 1)
		v, err := jsonschema.UnmarshalJSON(strings.NewReader(bad))
		if err != nil {
			t.Fatalf("%s -> %s: %v", tc.from, tc.to, err)
		}
		if err := loadSchema(t, c, tc.schema).Validate(v); err == nil {
			t.Errorf("%s accepts %s", tc.schema, tc.to)
		}
	}
	// A failing finding without explanation, and a reboot as a command to run.
	for what, edit := range map[string]func(m map[string]any){
		"a failing finding without explanation": func(m map[string]any) { m["explanation"] = "" },
		"a reboot as a command to run": func(m map[string]any) {
			m["remedies"] = map[string]any{"alternatives": []any{[]any{map[string]any{"run": "systemctl reboot"}}}}
		},
	} {
		var doc map[string]any
		if err := json.Unmarshal([]byte(good), &doc); err != nil {
			t.Fatal(err)
		}
		for _, f := range doc["findings"].([]any) {
			if m := f.(map[string]any); m["severity"] == "fail" {
				edit(m)
				break
			}
		}
		if err := loadSchema(t, c, "check.schema.json").Validate(doc); err == nil {
			t.Errorf("check.schema.json accepts %s", what)
		}
	}
}

// TestDemoFirstScreenCommand: the first 24 lines of `check --demo` at 80 columns, as an
// operator sees them, name the seed's diagnosis (the X520 in slot 2, RMRR-locked) and its fix.
func TestDemoFirstScreenCommand(t *testing.T) {
	out, _, code := run(t, "check", "--demo")
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	lines := strings.Split(out, "\n")
	screen := strings.Join(lines[:min(24, len(lines))], "\n")
	for _, want := range []string{"1 problem blocks DPDK:", "(X520-2, slot 2): RMRR-locked", "-> dpdk-doctor fix rmrr 0000:03:00.0"} {
		if !strings.Contains(screen, want) {
			t.Errorf("the first screen lacks %q:\n%s", want, screen)
		}
	}
}

// TestMain removes the binary that binary built, whatever the tests did.
func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}
