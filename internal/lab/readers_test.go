package lab

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// treeBoot plays a scenario's reader steps on a test tree instead of a guest, with the real
// dpdk-doctor binary and tar(1): what the guest's /init would send back, without a boot.
func treeBoot(t *testing.T, s Scenario, tree string) *Result {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "dpdk-doctor")
	if err := os.WriteFile(bin, doctorBinary(t), 0o755); err != nil {
		t.Fatal(err)
	}
	// The tree as the guest's host: a copy holding the initramfs's OVS snapshot.
	root := filepath.Join(t.TempDir(), "host")
	if err := os.CopyFS(root, os.DirFS(filepath.Join("..", "..", "testdata", "hosts", tree))); err != nil {
		t.Fatal(err)
	}
	snap, err := OVSSnapshot(s.probed())
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(root, filepath.Dir(snap.Path)), 0o755)
	if err := os.WriteFile(filepath.Join(root, snap.Path), snap.Data, 0o644); err != nil {
		t.Fatal(err)
	}
	res := &Result{Sections: map[string]Section{}}
	run := func(name string, args ...string) {
		cmd := exec.Command(args[0], args[1:]...)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		rc := 0
		if err := cmd.Run(); err != nil {
			ee, ok := err.(*exec.ExitError)
			if !ok {
				t.Fatalf("%s: %v", name, err)
			}
			rc = ee.ExitCode()
		}
		res.Sections[name] = Section{RC: rc, Stdout: out.Bytes(), Stderr: errb.Bytes()}
	}
	checkArgs := []string{bin, "--root", root, "check", "--json"}
	for _, d := range s.probed() {
		checkArgs = append(checkArgs, "--device", d)
	}
	run("devices", bin, "--root", root, "devices", "--json", "--all")
	run("check", checkArgs...)
	cap := filepath.Join(t.TempDir(), "cap")
	run("capture-dir", bin, "--root", root, "capture", cap)
	run(captureSection, "tar", "-C", cap, "-czf", "-", ".")
	state := t.TempDir()
	for _, d := range s.probed() {
		run(fixRMRRSection(d), bin, "--root", root, "fix", "rmrr", d, "--state-dir", state)
		run(fixBindSection(d), bin, "--root", root, "fix", "bind", d, "--state-dir", state)
	}
	run(ovsSection, bin, "--root", cap, "ovs", "show", "--json")
	return res
}

// TestReadersCompare runs the lab's reader comparison on the seed's DL360e tree (the NIC in
// slot 2 on vfio-pci, locked, fix rmrr's case; an on-board igb port, locked, which conrep cannot
// free), then makes each guest command in turn say something else: the comparison must name
// that reader. No VM: the guest's commands are played on the tree.
func TestReadersCompare(t *testing.T) {
	s := Scenario{Name: "dl360e-gen8", Bind: []string{"0000:03:00.0", "0000:02:00.1"}}
	res := treeBoot(t, s, "dl360e-gen8")
	ag, err := s.Readers(res, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if len(ag.Problems) > 0 || ag.Probed != 2 || ag.Devices < 15 {
		t.Fatalf("the readers should agree on %d devices and %d probed: %q", ag.Devices, ag.Probed, ag.Problems)
	}
	swap := func(sec, old, new string) func(*Result) {
		return func(r *Result) {
			x := r.Sections[sec]
			if !bytes.Contains(x.Stdout, []byte(old)) {
				t.Fatalf("section %s has no %q:\n%s", sec, old, x.Stdout)
			}
			x.Stdout = bytes.Replace(x.Stdout, []byte(old), []byte(new), 1)
			r.Sections[sec] = x
		}
	}
	for _, c := range []struct {
		reader string
		change func(*Result)
		want   string
	}{
		{"devices --json", func(r *Result) {
			var rows []map[string]any
			if err := json.Unmarshal(r.Sections["devices"].Stdout, &rows); err != nil {
				t.Fatal(err)
			}
			for _, row := range rows {
				if row["address"] == "0000:03:00.0" {
					row["rmrr"] = "clear"
				}
			}
			b, _ := json.Marshal(rows)
			r.Sections["devices"] = Section{Stdout: b}
		}, `devices rmrr "clear"`},
		{"check --json", swap("check", `"severity": "fail"`, `"severity": "ok"`), "check device.rmrr"},
		{"ovs show --json", swap(ovsSection, "-locked", "-free"), "OVS explanation"},
		{"fix rmrr", func(r *Result) {
			r.Sections[fixRMRRSection("0000:02:00.1")] = Section{Stdout: []byte("nothing to fix for 0000:02:00.1: no RMRR covers it\n")}
		}, "fix rmrr"},
		{"fix bind", func(r *Result) { r.Sections[fixBindSection("0000:03:00.0")] = Section{Stdout: []byte("plan\n")} }, "fix bind: would bind it"},
	} {
		changed := &Result{Sections: map[string]Section{}}
		for k, v := range res.Sections {
			changed.Sections[k] = v
		}
		c.change(changed)
		ag, err := s.Readers(changed, t.TempDir())
		if err != nil {
			t.Fatalf("%s: %v", c.reader, err)
		}
		found := false
		for _, p := range ag.Problems {
			found = found || strings.Contains(p, "guest's commands") && strings.Contains(p, c.want)
		}
		if !found {
			t.Errorf("%s said otherwise and the comparison did not notice (want a problem with %q): %q", c.reader, c.want, ag.Problems)
		}
	}
}
