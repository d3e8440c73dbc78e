package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dpdk-doctor/dpdk-doctor/internal/testhost"
)

var conrepDouble string

// buildDouble builds the conrep test double once.
func buildDouble(t *testing.T) string {
	t.Helper()
	if conrepDouble == "" {
		conrepDouble = filepath.Join(filepath.Dir(binary), "conrep")
		if out, err := exec.Command("go", "build", "-o", conrepDouble, "../../testdata/conrep-double").CombinedOutput(); err != nil {
			t.Fatalf("building the conrep double: %v\n%s", err, out)
		}
	}
	return conrepDouble
}

type bios struct {
	dir, state string
	env        []string
}

// newBIOS makes a fresh BIOS for the double (every slot included) and a state dir.
func newBIOS(t *testing.T, platform string) *bios {
	dir := t.TempDir()
	st := filepath.Join(dir, "bios.json")
	os.WriteFile(st, []byte(`{"platform":"`+platform+`","rom_date":"08/02/2014","rom_family":"P73","processor":"Intel"}`), 0o644)
	return &bios{dir: dir, state: st, env: []string{"CONREP_DOUBLE_STATE=" + st}}
}

func (b *bios) nvram(t *testing.T) map[string]uint32 {
	var s struct {
		NVRAM map[string]uint32 `json:"nvram"`
	}
	raw, _ := os.ReadFile(b.state)
	json.Unmarshal(raw, &s)
	return s.NVRAM
}

// excluded reads which slots the double's BIOS has excluded (RMRDS bits at 0x26a, 0x26b).
func (b *bios) excluded(t *testing.T) []string {
	nv := b.nvram(t)
	var out []string
	for i := 0; i < 16; i++ {
		addr := "0x26a"
		if i >= 8 {
			addr = "0x26b"
		}
		if nv[addr]&(1<<(i%8)) != 0 {
			out = append(out, itoa(i+1))
		}
	}
	return out
}

func (b *bios) run(t *testing.T, fail string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(hookedBinary, args...) // a --root tree stands for the double's machine
	cmd.Env = append(append(os.Environ(), b.env...), "CONREP_DOUBLE_FAIL="+fail)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
		if code < 0 {
			code = -1 // killed
		}
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

func (b *bios) fixArgs(root string, extra ...string) []string {
	return append([]string{"fix", "rmrr", "--root", root, "--conrep", conrepDouble, "--xml", "../../testdata/conrep/conrep_rmrds.xml", "--state-dir", filepath.Join(b.dir, "state")}, extra...)
}

func backups(t *testing.T, b *bios) []string {
	m, _ := filepath.Glob(filepath.Join(b.dir, "state", "rmrds-backup-*.dat"))
	return m
}

func TestFixRMRRHappyPathAndReboot(t *testing.T) {
	buildDouble(t)
	b := newBIOS(t, "ProLiant DL360e Gen8")
	root := tree("dl360e-gen8")
	// Dry run: a plan, nothing changed.
	out, stderr, code := b.run(t, "", b.fixArgs(root, "0000:03:00.0")...)
	if code != 0 || !strings.Contains(out, `<Section name="RMRDS_Slot2" helptext=".">Endpoints_Excluded</Section>`) || len(b.excluded(t)) != 0 {
		t.Fatalf("dry run: exit %d, %s %s; excluded %v", code, out, stderr, b.excluded(t))
	}
	if _, err := os.Stat(filepath.Join(b.dir, "state")); err == nil {
		t.Error("a dry run must not create the state dir")
	}
	out, stderr, code = b.run(t, "", b.fixArgs(root, "0000:03:00.0", "0000:03:00.1", "--apply")...)
	if code != 0 || !strings.Contains(out, "verified") || !strings.Contains(out, "Reboot") {
		t.Fatalf("apply: exit %d\n%s\n%s", code, out, stderr)
	}
	if got := b.excluded(t); len(got) != 1 || got[0] != "2" {
		t.Fatalf("BIOS excludes %v, want [2]", got)
	}
	if len(backups(t, b)) != 1 {
		t.Errorf("want one backup, have %v", backups(t, b))
	}
	// Idempotent: again, nothing to do, no new backup.
	out, _, code = b.run(t, "", b.fixArgs(root, "0000:03:00.0", "--apply")...)
	if code != 0 || !strings.Contains(out, "already read Endpoints_Excluded") || len(backups(t, b)) != 1 {
		t.Errorf("re-run: exit %d, %s, backups %v", code, out, backups(t, b))
	}
	// "Reboot": the firmware builds a DMAR table without slot 2's endpoints; check shows them clear.
	dir := filepath.Join(t.TempDir(), "rebooted")
	if err := testhost.DL360e(b.excluded(t), false).Write(dir); err != nil {
		t.Fatal(err)
	}
	out, _, code = runBin(t, "check", "--root", dir, "--json")
	var doc struct{ Findings []finding }
	json.Unmarshal([]byte(out), &doc)
	clear := 0
	for _, f := range doc.Findings {
		if f.ID == "device.rmrr" && (f.Subject == "0000:03:00.0" || f.Subject == "0000:03:00.1") && f.Severity == "ok" && strings.Contains(f.Summary, "no RMRR") {
			clear++
		}
	}
	if clear != 2 || code != 0 {
		t.Errorf("after the reboot: %d of 2 devices clear, exit %d", clear, code)
	}
	// Rollback: dry run changes nothing; --apply restores slot 2 and verifies.
	bk := backups(t, b)[0]
	if _, _, code := b.run(t, "", b.fixArgs(root, "--rollback", bk)...); code != 0 || len(b.excluded(t)) != 1 {
		t.Errorf("rollback dry run: exit %d, excluded %v", code, b.excluded(t))
	}
	out, stderr, code = b.run(t, "", b.fixArgs(root, "--rollback", bk, "--apply")...)
	if code != 0 || len(b.excluded(t)) != 0 || !strings.Contains(out, "rolled back") {
		t.Errorf("rollback: exit %d %s %s, excluded %v", code, out, stderr, b.excluded(t))
	}
}

func TestFixRMRRTwoSlots(t *testing.T) {
	buildDouble(t)
	b := newBIOS(t, "ProLiant DL360e Gen8")
	out, stderr, code := b.run(t, "", b.fixArgs(tree("dl360e-gen8-two-slots"), "0000:04:00.0", "0000:03:00.0", "0000:03:00.1", "--apply")...)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, stderr)
	}
	if got := b.excluded(t); strings.Join(got, ",") != "1,2" {
		t.Errorf("excluded %v, want [1 2]", got)
	}
	raw, _ := os.ReadFile(b.state)
	if !strings.Contains(string(raw), "RMRDS_Slot1") && !strings.Contains(out, "RMRDS_Slot1, RMRDS_Slot2") {
		t.Errorf("both sections should be verified: %s", out)
	}
}

func TestFixRMRRNotApplicable(t *testing.T) {
	buildDouble(t)
	b := newBIOS(t, "ProLiant DL360e Gen8")
	cases := []struct {
		root, dev, want string
		code            int
	}{
		{tree("usb-only-rmrr"), "0000:02:00.0", "not an HPE ProLiant", 1},
		{tree("dl360e-gen8"), "0000:02:00.0", "not in a physical slot", 1},
		{tree("dl360e-gen8-after-conrep"), "0000:03:00.0", "not RMRR-locked", 0},
		{tree("dl360e-gen8"), "0000:09:00.0", "no such PCI device", 1},
		{tree("dl360e-gen8"), "03:00.0;reboot", "PCI address", 2},
	}
	for _, c := range cases {
		out, stderr, code := b.run(t, "", b.fixArgs(c.root, c.dev, "--apply")...)
		if code != c.code || !strings.Contains(out+stderr, c.want) {
			t.Errorf("%s %s: exit %d, want %d with %q: %s%s", c.root, c.dev, code, c.code, c.want, out, stderr)
		}
	}
	if len(b.nvram(t)) != 0 {
		t.Error("nothing may be loaded")
	}
	out, _, _ := b.run(t, "", b.fixArgs(tree("dl380-gen9-hpe-nic"), "0000:03:00.0")...)
	if !strings.Contains(out, "HP Shared Memory features") {
		t.Errorf("Gen9 with an HPE NIC should mention the shared-memory remedy: %s", out)
	}
}

func TestFixRMRRFailures(t *testing.T) {
	buildDouble(t)
	root := tree("dl360e-gen8")
	notExec := filepath.Join(t.TempDir(), "conrep")
	os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644)
	noSlotXML := filepath.Join(t.TempDir(), "x.xml")
	os.WriteFile(noSlotXML, []byte(`<Conrep><Section name="RMRDS_Slot1"><nvram>0x26A</nvram><value id="0x00">Endpoints_Included</value><value id="0x01">Endpoints_Excluded</value><mask>0x01</mask></Section></Conrep>`), 0o644)
	cases := []struct {
		name, fail string
		args       []string
		want       string
		changed    bool // whether the BIOS may have been changed
		backup     bool // a backup must exist afterwards
	}{
		{"conrep missing", "", []string{"--conrep", "/nonexistent/conrep"}, "missing or not executable", false, false},
		{"conrep not executable", "", []string{"--conrep", notExec}, "missing or not executable", false, false},
		{"xml missing", "", []string{"--xml", "/nonexistent.xml"}, "wget -O", false, false},
		{"xml lacks the slot", "", []string{"--xml", noSlotXML}, "has no section RMRDS_Slot2", false, false},
		{"conrep exits non-zero", "exit", nil, "exited with status 1", false, false},
		{"conrep prints an error", "error-output", nil, "reported an error although it exited 0", false, false},
		{"conrep writes no file", "no-file", nil, "wrote no file", false, false},
		{"conrep writes a malformed file", "malformed", nil, "cannot be read", false, false},
		{"read-back disagrees", "ignore-load", nil, "RMRDS_Slot2 reads \"Endpoints_Included\"", false, true},
		{"load fails", "exit:2", nil, "may be partly changed", false, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := newBIOS(t, "ProLiant DL360e Gen8")
			args := b.fixArgs(root, "0000:03:00.0", "--apply")
			args = append(args, c.args...) // later flags win
			out, stderr, code := b.run(t, c.fail, args...)
			if code != 1 || !strings.Contains(stderr, c.want) {
				t.Errorf("exit %d, want 1 with %q:\n%s%s", code, c.want, out, stderr)
			}
			if !c.changed && len(b.excluded(t)) != 0 {
				t.Errorf("BIOS changed: %v", b.excluded(t))
			}
			if c.backup && (len(backups(t, b)) != 1 || !strings.Contains(stderr, "--rollback "+backups(t, b)[0])) {
				t.Errorf("the backup must be kept and the rollback command printed: %v\n%s", backups(t, b), stderr)
			}
		})
	}
	// A BIOS that is another machine's: conrep's System Type differs from the host's DMI.
	b := newBIOS(t, "ProLiant DL380p Gen8")
	if _, stderr, code := b.run(t, "", b.fixArgs(root, "0000:03:00.0", "--apply")...); code != 1 || !strings.Contains(stderr, "refusing") || len(b.nvram(t)) != 0 {
		t.Errorf("platform mismatch: exit %d %s", code, stderr)
	}
}

// TestFixRMRRInterrupted: the run is killed between load and verify; the next run finds the
// journal, says so, and finishes the verification.
func TestFixRMRRInterrupted(t *testing.T) {
	buildDouble(t)
	b := newBIOS(t, "ProLiant DL360e Gen8")
	root := tree("dl360e-gen8")
	_, _, code := b.run(t, "kill-parent:2", b.fixArgs(root, "0000:03:00.0", "--apply")...)
	if code != -1 {
		t.Fatalf("the run should have been killed, exit %d", code)
	}
	if got := b.excluded(t); len(got) != 1 {
		t.Fatalf("the load should have happened: %v", got)
	}
	out, _, code := b.run(t, "", b.fixArgs(root, "0000:03:00.0")...)
	if code != 0 || !strings.Contains(out, "interrupted") || !strings.Contains(out, "--rollback") {
		t.Errorf("dry run after the interruption: exit %d %s", code, out)
	}
	out, _, code = b.run(t, "", b.fixArgs(root, "0000:03:00.0", "--apply")...)
	if code != 0 || !strings.Contains(out, "verified") {
		t.Errorf("finishing the interrupted run: exit %d %s", code, out)
	}
	if _, err := os.Stat(filepath.Join(b.dir, "state", "rmrr-pending.json")); err == nil {
		t.Error("the journal should be gone once verified")
	}
}
