// Package ansiblemod lets the dpdk-doctor binary act as an Ansible binary module. Ansible runs a
// binary module as `MODULE ARGSFILE`: the file holds the task's arguments as one JSON object,
// with Ansible's own keys (_ansible_check_mode, _ansible_diff, _ansible_module_name, ...) beside
// the module's; the module prints one JSON object (changed, failed, msg, ansible_facts, diff)
// on stdout. This package reads the one, writes the other, and holds the modules: check (the
// check document as facts), fix_rmrr (the conrep slot exclusion) and fleet_report (one report
// of many hosts' checks, run on the controller).
package ansiblemod

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// maxArgs bounds the args file: fleet_report receives every host's check document.
const maxArgs = 256 << 20

// Names of the modules this package implements, as the last part of their Ansible name.
var Names = []string{"check", "fix_rmrr", "fleet_report"}

// Args is the parsed args file: Ansible's keys and the module's own.
type Args struct {
	CheckMode bool   // _ansible_check_mode: a dry run
	Diff      bool   // _ansible_diff: return a diff of what changes
	Module    string // _ansible_module_name's last part ("check"), or "" when absent
	Params    map[string]json.RawMessage
}

// Result is what a module prints. Field names are Ansible's.
type Result struct {
	Changed bool           `json:"changed"`
	Failed  bool           `json:"failed,omitempty"`
	Msg     string         `json:"msg,omitempty"`
	Facts   map[string]any `json:"ansible_facts,omitempty"`
	Diff    *Diff          `json:"diff,omitempty"`
	// Extra holds module-specific return values (slots, output, report paths).
	Extra map[string]any `json:"-"`
}

// Diff is Ansible's before/after diff.
type Diff struct {
	Before       string `json:"before"`
	After        string `json:"after"`
	BeforeHeader string `json:"before_header,omitempty"`
	AfterHeader  string `json:"after_header,omitempty"`
}

// MarshalJSON merges Extra into the top-level object.
func (r Result) MarshalJSON() ([]byte, error) {
	type plain Result
	b, err := json.Marshal(plain(r))
	if err != nil || len(r.Extra) == 0 {
		return b, err
	}
	m := map[string]any{}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	for k, v := range r.Extra {
		if _, ok := m[k]; !ok {
			m[k] = v
		}
	}
	return json.Marshal(m)
}

// IsArgsFile reports whether path is an Ansible args file: a regular file whose content is a
// JSON object with Ansible's _ansible_module_name key. It reads at most maxArgs bytes; any
// error means no.
func IsArgsFile(path string) bool {
	st, err := os.Stat(path)
	if err != nil || !st.Mode().IsRegular() || st.Size() > maxArgs {
		return false
	}
	b, err := os.ReadFile(path)
	if err != nil || !bytes.HasPrefix(bytes.TrimSpace(b), []byte("{")) {
		return false
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(b, &m) != nil {
		return false
	}
	_, ok := m["_ansible_module_name"]
	return ok
}

// ModuleName returns the module an argv[0] names ("check" for .../check or
// dpdk_doctor_check), or "".
func ModuleName(argv0 string) string {
	base := strings.TrimPrefix(filepath.Base(argv0), "dpdk_doctor_")
	for _, n := range Names {
		if base == n {
			return n
		}
	}
	return ""
}

// ReadArgs reads and parses an args file.
func ReadArgs(path string) (*Args, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("module arguments: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxArgs+1))
	if err != nil {
		return nil, fmt.Errorf("module arguments %s: %w", path, err)
	}
	if len(b) > maxArgs {
		return nil, fmt.Errorf("module arguments %s: larger than %d bytes", path, maxArgs)
	}
	return ParseArgs(b, path)
}

// ParseArgs parses the JSON of an args file; name is for messages.
func ParseArgs(b []byte, name string) (*Args, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("module arguments %s: not a JSON object: %w", name, err)
	}
	if m == nil {
		return nil, fmt.Errorf("module arguments %s: not a JSON object", name)
	}
	a := &Args{Params: map[string]json.RawMessage{}}
	for k, v := range m {
		var err error
		switch k {
		case "_ansible_check_mode":
			err = json.Unmarshal(v, &a.CheckMode)
		case "_ansible_diff":
			err = json.Unmarshal(v, &a.Diff)
		case "_ansible_module_name":
			err = json.Unmarshal(v, &a.Module)
			a.Module = a.Module[strings.LastIndexByte(a.Module, '.')+1:]
		default:
			if !strings.HasPrefix(k, "_ansible_") {
				a.Params[k] = v
			}
		}
		if err != nil {
			return nil, fmt.Errorf("module arguments %s: %s: %w", name, k, err)
		}
	}
	return a, nil
}

// errParam is a bad module argument: the task is wrong, not the host.
var errParam = errors.New("bad module argument")

// params decodes a module's arguments into p, refusing unknown ones (a typo must not be a
// silent no-op) and values of the wrong type, naming the argument.
func (a *Args) decode(known map[string]any) error {
	for k, v := range a.Params {
		dst, ok := known[k]
		if !ok {
			var names []string
			for n := range known {
				names = append(names, n)
			}
			sortStrings(names)
			return fmt.Errorf("%w: unsupported parameter %q for module %s (supported: %s)", errParam, k, a.Module, strings.Join(names, ", "))
		}
		if string(v) == "null" {
			continue
		}
		if err := json.Unmarshal(v, dst); err != nil {
			var te *json.UnmarshalTypeError
			if _, list := dst.(*[]string); list && errors.As(err, &te) && te.Value == "number" {
				return fmt.Errorf("%w: %s: a number where a PCI address was expected: quote PCI addresses in YAML (\"0000:03:00.0\"); unquoted, YAML 1.1 reads 0000:03:00.0 as a base-60 number", errParam, k)
			}
			return fmt.Errorf("%w: %s: %v", errParam, k, err)
		}
	}
	return nil
}

// Write prints r as the module's output.
func Write(w io.Writer, r Result) error {
	b, err := json.Marshal(r)
	if err != nil {
		b, _ = json.Marshal(Result{Failed: true, Msg: "encoding the result: " + err.Error()})
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
