package main

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

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
		{tree("usb-only-rmrr"), "0000:02:00.0", "nothing to fix for 0000:02:00.0: no RMRR covers it", 0},
		{copyTree(t, "dl360e-gen8", "sys/class/dmi/id/sys_vendor", "Supermicro"), "0000:03:00.0", "not an HPE ProLiant", 1},
		{tree("dl360e-gen8"), "0000:02:00.0", "not in a physical slot", 1},
		{tree("dl360e-gen8-after-conrep"), "0000:03:00.0", "nothing to fix for 0000:03:00.0: no RMRR covers it", 0},
		{tree("dl360e-gen8"), "0000:09:00.0", "no such PCI device 0000:09:00.0", 2},
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

// copyTree copies a test tree into a temporary directory and overwrites (content != "") or
// removes (content == "") one file in it.
func copyTree(t *testing.T, name, file, content string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	if out, err := exec.Command("cp", "-a", tree(name), dir).CombinedOutput(); err != nil {
		t.Fatalf("copying %s: %v %s", name, err, out)
	}
	p := filepath.Join(dir, file)
	if content == "" {
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
	} else if err := os.WriteFile(p, []byte(content+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// loads counts the double's -l invocations.
func (b *bios) loads(t *testing.T) int {
	var s struct{ Log []string }
	raw, _ := os.ReadFile(b.state)
	json.Unmarshal(raw, &s)
	n := 0
	for _, l := range s.Log {
		if strings.HasPrefix(l, "-l ") {
			n++
		}
	}
	return n
}

// TestFixRMRRPlatformAndVerdicts: fix asks platform (as check does) whether the host is an HPE
// ProLiant, and answers for the device as the RMRR verdict says: a firmware calling itself
// "Hewlett-Packard Company" gets the plan; a host whose DMAR cannot be read gets "cannot tell",
// never "nothing to fix".
func TestFixRMRRPlatformAndVerdicts(t *testing.T) {
	buildDouble(t)
	b := newBIOS(t, "ProLiant DL360e Gen8")
	hp := copyTree(t, "dl360e-gen8", "sys/class/dmi/id/sys_vendor", "Hewlett-Packard Company")
	out, stderr, code := b.run(t, "", b.fixArgs(hp, "0000:03:00.0")...)
	if code != 0 || !strings.Contains(out, "Plan (dry run") || !strings.Contains(out, "RMRDS_Slot2") {
		t.Errorf("sys_vendor Hewlett-Packard Company: exit %d\n%s%s", code, out, stderr)
	}
	noDMAR := copyTree(t, "dl360e-gen8", "sys/firmware/acpi/tables/DMAR", "")
	out, stderr, code = b.run(t, "", b.fixArgs(noDMAR, "0000:03:00.0", "--apply")...)
	if code != 1 || !strings.Contains(stderr, "cannot tell whether the device is RMRR-locked") || !strings.Contains(stderr, "no DMAR table") || strings.Contains(out+stderr, "nothing to fix") || strings.Contains(out, "Nothing to do") {
		t.Errorf("no DMAR: exit %d\n%s%s", code, out, stderr)
	}
	if b.loads(t) != 0 {
		t.Error("nothing may be loaded")
	}
}

// TestFixUnknownRemedy: `fix DEVICE` without a remedy is bad usage that names the right command.
func TestFixUnknownRemedy(t *testing.T) {
	_, stderr, code := runBin(t, "fix", "0000:03:00.0")
	if code != 2 || !strings.Contains(stderr, "unknown remedy") || !strings.Contains(stderr, "try: dpdk-doctor fix rmrr 0000:03:00.0") {
		t.Errorf("fix 0000:03:00.0: exit %d %s", code, stderr)
	}
	if _, stderr, code := runBin(t, "fix", "frobnicate"); code != 2 || !strings.Contains(stderr, "unknown remedy \"frobnicate\"") {
		t.Errorf("fix bind: exit %d %s", code, stderr)
	}
}

// TestFixRMRRLock: a second --apply while the first is loading is refused, names the first
// (pid and command) and changes nothing: the BIOS sees exactly one load.
func TestFixRMRRLock(t *testing.T) {
	buildDouble(t)
	b := newBIOS(t, "ProLiant DL360e Gen8")
	root := tree("dl360e-gen8-two-slots")
	first := exec.Command(hookedBinary, b.fixArgs(root, "0000:03:00.0", "--apply")...)
	// The first run's load waits for this file, which appears once the second run is over.
	gate := filepath.Join(b.dir, "go-on")
	first.Env = append(append(os.Environ(), b.env...), "CONREP_DOUBLE_WAIT="+gate)
	var out1 strings.Builder
	first.Stdout, first.Stderr = &out1, &out1
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until the first run holds the lock and has said who it is.
	lock := filepath.Join(b.dir, "state", "lock")
	for i := 0; i < 100; i++ {
		if raw, _ := os.ReadFile(lock); strings.Contains(string(raw), "pid ") {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	out, stderr, code := b.run(t, "", b.fixArgs(root, "0000:04:00.0", "--apply")...)
	os.WriteFile(gate, nil, 0o644)
	err := first.Wait()
	if err != nil {
		t.Fatalf("the first run failed: %v\n%s", err, out1.String())
	}
	pid := strconv.Itoa(first.Process.Pid)
	if code != 1 || !strings.Contains(stderr, "pid "+pid) || !strings.Contains(stderr, "fix rmrr") || !strings.Contains(stderr, "Nothing was changed") {
		t.Errorf("second run: exit %d, want 1 naming pid %s:\n%s%s", code, pid, out, stderr)
	}
	if n := b.loads(t); n != 1 {
		t.Errorf("the BIOS saw %d loads, want 1", n)
	}
	if got := b.excluded(t); strings.Join(got, ",") != "2" {
		t.Errorf("excluded %v, want [2]", got)
	}
	// The lock goes with the process: a third run works.
	if out, stderr, code := b.run(t, "", b.fixArgs(root, "0000:04:00.0", "--apply")...); code != 0 || strings.Join(b.excluded(t), ",") != "1,2" {
		t.Errorf("after the first run ended: exit %d %s%s", code, out, stderr)
	}
}

// TestFixRMRRDamagedJournal: a journal that cannot be read stops dry runs and --apply with the
// way out; the rollback it names works and removes the journal.
func TestFixRMRRDamagedJournal(t *testing.T) {
	buildDouble(t)
	b := newBIOS(t, "ProLiant DL360e Gen8")
	root := tree("dl360e-gen8-two-slots")
	if out, stderr, code := b.run(t, "", b.fixArgs(root, "0000:03:00.0", "--apply")...); code != 0 {
		t.Fatalf("apply: exit %d %s%s", code, out, stderr)
	}
	journal := filepath.Join(b.dir, "state", "rmrr-pending.json")
	bk := backups(t, b)[0]
	for _, damaged := range []string{`{"backup": "` + bk + `", "slots": ["2"`, "\x00\x00garbage", `{"backup": "/etc/shadow", "slots": ["2"]}`} {
		os.WriteFile(journal, []byte(damaged), 0o600)
		for _, extra := range [][]string{nil, {"--apply"}} {
			out, stderr, code := b.run(t, "", b.fixArgs(root, append([]string{"0000:04:00.0"}, extra...)...)...)
			if code != 1 || !strings.Contains(stderr, "cannot be read") || !strings.Contains(stderr, "--rollback "+bk+" --apply") || !strings.Contains(stderr, "rm "+journal) || strings.Contains(out, "Nothing to do") {
				t.Errorf("journal %q, %v: exit %d\n%s%s", damaged, extra, code, out, stderr)
			}
		}
	}
	if n := b.loads(t); n != 1 || strings.Join(b.excluded(t), ",") != "2" {
		t.Errorf("%d loads, excluded %v: a damaged journal must stop every change", n, b.excluded(t))
	}
	out, stderr, code := b.run(t, "", b.fixArgs(root, "--rollback", bk, "--apply")...)
	if code != 0 || len(b.excluded(t)) != 0 || !strings.Contains(out, "removed the journal") {
		t.Errorf("rollback: exit %d %s%s", code, out, stderr)
	}
	if _, err := os.Stat(journal); err == nil {
		t.Error("the journal should be gone after the rollback")
	}
}

// TestFixRMRRPendingThenNew: a pending journal for slot 2 is finished first, then the request
// for slot 1 is carried out; it does not swallow it.
func TestFixRMRRPendingThenNew(t *testing.T) {
	buildDouble(t)
	b := newBIOS(t, "ProLiant DL360e Gen8")
	root := tree("dl360e-gen8-two-slots")
	if _, _, code := b.run(t, "kill-parent:2", b.fixArgs(root, "0000:03:00.0", "--apply")...); code != -1 {
		t.Fatalf("the run should have been killed, exit %d", code)
	}
	out, _, code := b.run(t, "", b.fixArgs(root, "0000:04:00.0")...)
	if code != 0 || !strings.Contains(out, "interrupted") || !strings.Contains(out, "goes on with the devices named now") || !strings.Contains(out, "slot 1 (0000:04:00.0)") {
		t.Errorf("dry run: exit %d %s", code, out)
	}
	out, stderr, code := b.run(t, "", b.fixArgs(root, "0000:04:00.0", "--apply")...)
	if code != 0 || strings.Count(out, "verified:") != 2 {
		t.Errorf("apply: exit %d %s%s", code, out, stderr)
	}
	if got := b.excluded(t); strings.Join(got, ",") != "1,2" {
		t.Errorf("excluded %v, want [1 2]", got)
	}
}

// TestFixRMRRWrongWrite: a load that also flips a section it was not asked to is caught by the
// read-back, reported loudly and rolled back at once.
func TestFixRMRRWrongWrite(t *testing.T) {
	buildDouble(t)
	b := newBIOS(t, "ProLiant DL360e Gen8")
	out, stderr, code := b.run(t, "flip-other:2", b.fixArgs(tree("dl360e-gen8"), "0000:03:00.0", "--apply")...)
	if code != 1 || !strings.Contains(out+stderr, "NOT ASKED") || !strings.Contains(out+stderr, "RMRDS_Slot16") || !strings.Contains(stderr, "Rolled back") {
		t.Errorf("exit %d\n%s%s", code, out, stderr)
	}
	if got := b.excluded(t); len(got) != 0 {
		t.Errorf("after the rollback the BIOS excludes %v, want nothing", got)
	}
	if _, err := os.Stat(filepath.Join(b.dir, "state", "rmrr-pending.json")); err == nil {
		t.Error("the journal should be gone once the rollback is verified")
	}
}

// writeBackup writes a conrep save of the given platform and sections into dir.
func writeBackup(t *testing.T, dir, name, platform string, sections map[string]string) string {
	t.Helper()
	os.MkdirAll(dir, 0o755)
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n<Conrep version=\"5.2.0.0\" originating_platform=\"" + platform + "\" originating_family=\"P73\" originating_romdate=\"08/02/2014\" originating_processor_manufacturer=\"Intel\">\n")
	for i := 1; i <= 16; i++ {
		v := "Endpoints_Included"
		if i == 2 {
			v = "Endpoints_Excluded"
		}
		b.WriteString(`  <Section name="RMRDS_Slot` + itoa(i) + `" helptext=".">` + v + "</Section>\n")
	}
	for k, v := range sections {
		b.WriteString(`  <Section name="` + k + `" helptext=".">` + v + "</Section>\n")
	}
	b.WriteString("</Conrep>\n")
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestFixRMRRRollbackChecks: a relative BACKUP is the user's (resolved against the current
// directory), a missing state directory is made, and a backup of another platform or with
// sections other than RMRDS_Slot<N> is refused before anything is loaded.
func TestFixRMRRRollbackChecks(t *testing.T) {
	buildDouble(t)
	b := newBIOS(t, "ProLiant DL360e Gen8")
	xml, _ := filepath.Abs("../../testdata/conrep/conrep_rmrds.xml")
	mine := t.TempDir()
	root, _ := filepath.Abs(tree("dl360e-gen8"))
	state := filepath.Join(b.dir, "no", "state") // does not exist yet
	args := func(backup string) []string {
		return []string{"fix", "rmrr", "--root", root, "--conrep", conrepDouble, "--xml", xml, "--state-dir", state, "--rollback", backup, "--apply"}
	}
	runIn := func(dir string, a []string) (string, string, int) {
		cmd := exec.Command(hookedBinary, a...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), b.env...)
		var out, errb strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return out.String(), errb.String(), ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return out.String(), errb.String(), 0
	}
	writeBackup(t, mine, "other.dat", "ProLiant DL380p Gen8", nil)
	writeBackup(t, mine, "extra.dat", "ProLiant DL360e Gen8", map[string]string{"Intel_VT_d": "Disabled"})
	writeBackup(t, mine, "good.dat", "ProLiant DL360e Gen8", nil)
	for _, c := range []struct{ file, want string }{
		{"other.dat", "refusing to load another platform's settings"},
		{"extra.dat", "holds sections other than RMRDS_Slot<N> (Intel_VT_d)"},
		{"missing.dat", "no such file"},
	} {
		out, stderr, code := runIn(mine, args(c.file))
		if code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("%s: exit %d, want 2 with %q:\n%s%s", c.file, code, c.want, out, stderr)
		}
	}
	// A host whose DMI does not name it: conrep's own System Type decides.
	noDMI := args("other.dat")
	noDMI[3] = copyTree(t, "dl360e-gen8", "sys/class/dmi/id/product_name", "")
	if out, stderr, code := runIn(mine, noDMI); code != 2 || !strings.Contains(stderr, "conrep says this machine is a \"ProLiant DL360e Gen8\"") {
		t.Errorf("other.dat on a host without DMI: exit %d\n%s%s", code, out, stderr)
	}
	if b.loads(t) != 0 {
		t.Fatalf("a refused backup was loaded")
	}
	out, stderr, code := runIn(mine, args("good.dat"))
	if code != 0 || !strings.Contains(out, "rolled back") || !strings.Contains(out, filepath.Join(mine, "good.dat")) {
		t.Errorf("relative backup, no state dir: exit %d\n%s%s", code, out, stderr)
	}
	if got := b.excluded(t); strings.Join(got, ",") != "2" {
		t.Errorf("excluded %v, want [2] as the backup says", got)
	}
	if st, err := os.Stat(state); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("state dir: %v %v", st, err)
	}
}

// TestFixRMRRPlantedXML: a conrep_rmrds.xml in the current directory is never used (one that
// maps RMRDS_Slot2 onto another NVRAM byte made --apply write it); --xml given is printed.
func TestFixRMRRPlantedXML(t *testing.T) {
	buildDouble(t)
	b := newBIOS(t, "ProLiant DL360e Gen8")
	cwd := t.TempDir()
	os.WriteFile(filepath.Join(cwd, "conrep_rmrds.xml"), []byte(`<Conrep><Section name="RMRDS_Slot2"><nvram>0x2F0</nvram><value id="0x00">Endpoints_Included</value><value id="0x40">Endpoints_Excluded</value><mask>0x40</mask></Section></Conrep>`), 0o644)
	root, _ := filepath.Abs(tree("dl360e-gen8"))
	state := filepath.Join(b.dir, "state")
	cmd := exec.Command(hookedBinary, "fix", "rmrr", "--root", root, "--conrep", conrepDouble, "--state-dir", state, "0000:03:00.0", "--apply")
	cmd.Dir = cwd
	cmd.Env = append(os.Environ(), b.env...)
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(out), "was not found") || strings.Contains(string(out), "verified") {
		t.Errorf("planted XML: %v\n%s", err, out)
	}
	if n := b.nvram(t); len(n) != 0 || b.loads(t) != 0 {
		t.Errorf("NVRAM written from a planted file: %v", n)
	}
	xml, _ := filepath.Abs("../../testdata/conrep/conrep_rmrds.xml")
	o, stderr, code := b.run(t, "", b.fixArgs(tree("dl360e-gen8"), "0000:03:00.0", "--apply")...)
	if code != 0 || !strings.Contains(o, "conrep definitions: "+xml+" (given with --xml)") {
		t.Errorf("--xml: exit %d %s%s", code, o, stderr)
	}
}

// rmrrRecord reads the runner record of the one fix rmrr run in b's state directory.
func rmrrRecord(t *testing.T, b *bios) (path string, rec struct {
	ID, Kind, State string
	Snapshot        json.RawMessage
}) {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(b.dir, "state", "rmrr-*.json"))
	if len(m) != 1 {
		t.Fatalf("want one rmrr record, found %v", m)
	}
	raw, err := os.ReadFile(m[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &rec); err != nil {
		t.Fatal(err)
	}
	return m[0], rec
}

// TestFixRMRRRollbackByID: a fix rmrr run is a runner record (no rmrr-pending.json is
// written), and `fix --rollback ID` undoes it like `fix rmrr --rollback BACKUP`: a dry run
// changes nothing; --apply loads the backup, verifies it and marks the record rolled back.
func TestFixRMRRRollbackByID(t *testing.T) {
	buildDouble(t)
	b := newBIOS(t, "ProLiant DL360e Gen8")
	state := filepath.Join(b.dir, "state")
	out, stderr, code := b.run(t, "", b.fixArgs(tree("dl360e-gen8"), "0000:03:00.0", "--apply")...)
	_, rec := rmrrRecord(t, b)
	if code != 0 || rec.Kind != "rmrr" || rec.State != "pending-reboot" || !strings.Contains(out, "fix --rollback "+rec.ID+" --apply") {
		t.Fatalf("apply: exit %d, record %+v\n%s%s", code, rec, out, stderr)
	}
	if _, err := os.Stat(filepath.Join(state, "rmrr-pending.json")); err == nil {
		t.Error("rmrr-pending.json is written no more: the record is the journal")
	}
	out, stderr, code = b.run(t, "", "fix", "--rollback", rec.ID, "--state-dir", state)
	if code != 0 || !strings.Contains(out, "Would roll back run "+rec.ID) || len(b.excluded(t)) != 1 {
		t.Errorf("dry run: exit %d, excluded %v\n%s%s", code, b.excluded(t), out, stderr)
	}
	out, stderr, code = b.run(t, "", "fix", "--rollback", rec.ID, "--state-dir", state, "--apply")
	if code != 0 || !strings.Contains(out, "every RMRDS slot reads as in") || len(b.excluded(t)) != 0 {
		t.Errorf("rollback: exit %d, excluded %v\n%s%s", code, b.excluded(t), out, stderr)
	}
	if _, rec = rmrrRecord(t, b); rec.State != "rolled-back" {
		t.Errorf("record state %q after the rollback", rec.State)
	}
}

// TestFixRMRRInterruptedRollbackByID: an interrupted fix rmrr run (its record still
// "applying") is undone by `fix --rollback ID --apply`; afterwards no run is pending.
func TestFixRMRRInterruptedRollbackByID(t *testing.T) {
	buildDouble(t)
	b := newBIOS(t, "ProLiant DL360e Gen8")
	root := tree("dl360e-gen8")
	if _, _, code := b.run(t, "kill-parent:2", b.fixArgs(root, "0000:03:00.0", "--apply")...); code != -1 {
		t.Fatalf("the run should have been killed, exit %d", code)
	}
	_, rec := rmrrRecord(t, b)
	if rec.State != "applying" || len(b.excluded(t)) != 1 {
		t.Fatalf("record %+v, excluded %v", rec, b.excluded(t))
	}
	out, stderr, code := b.run(t, "", "fix", "--rollback", rec.ID, "--state-dir", filepath.Join(b.dir, "state"), "--apply")
	if code != 0 || len(b.excluded(t)) != 0 {
		t.Errorf("rollback: exit %d, excluded %v\n%s%s", code, b.excluded(t), out, stderr)
	}
	if _, rec = rmrrRecord(t, b); rec.State != "rolled-back" {
		t.Errorf("record state %q", rec.State)
	}
	if out, _, code := b.run(t, "", b.fixArgs(root, "0000:03:00.0")...); code != 0 || strings.Contains(out, "interrupted") {
		t.Errorf("dry run after the rollback: exit %d %s", code, out)
	}
}

// TestFixRMRRLegacyJournal: the rmrr-pending.json an older dpdk-doctor left after an
// interrupted run is still found, and finished (verified, then removed).
func TestFixRMRRLegacyJournal(t *testing.T) {
	buildDouble(t)
	b := newBIOS(t, "ProLiant DL360e Gen8")
	root := tree("dl360e-gen8")
	if _, _, code := b.run(t, "kill-parent:2", b.fixArgs(root, "0000:03:00.0", "--apply")...); code != -1 {
		t.Fatalf("the run should have been killed, exit %d", code)
	}
	path, rec := rmrrRecord(t, b)
	// What the older version wrote: the journal alone, without the fields added since.
	var j map[string]any
	json.Unmarshal(rec.Snapshot, &j)
	delete(j, "xml_given")
	delete(j, "platform")
	legacy, _ := json.Marshal(j)
	journal := filepath.Join(b.dir, "state", "rmrr-pending.json")
	if err := os.WriteFile(journal, legacy, 0o600); err != nil {
		t.Fatal(err)
	}
	os.Remove(path)
	out, _, code := b.run(t, "", b.fixArgs(root, "0000:03:00.0")...)
	if code != 0 || !strings.Contains(out, "interrupted") {
		t.Errorf("dry run with the old journal: exit %d %s", code, out)
	}
	out, stderr, code := b.run(t, "", b.fixArgs(root, "0000:03:00.0", "--apply")...)
	if code != 0 || !strings.Contains(out, "verified:") {
		t.Errorf("finishing the old journal: exit %d %s%s", code, out, stderr)
	}
	if _, err := os.Stat(journal); err == nil {
		t.Error("the old journal should be gone once verified")
	}
}

// TestFixRMRRDamagedRecord: a fix rmrr record that cannot be read stops every run with the
// ways out; `fix rmrr --rollback BACKUP --apply` settles it (the record is set aside).
func TestFixRMRRDamagedRecord(t *testing.T) {
	buildDouble(t)
	b := newBIOS(t, "ProLiant DL360e Gen8")
	root := tree("dl360e-gen8-two-slots")
	if out, stderr, code := b.run(t, "", b.fixArgs(root, "0000:03:00.0", "--apply")...); code != 0 {
		t.Fatalf("apply: exit %d %s%s", code, out, stderr)
	}
	path, _ := rmrrRecord(t, b)
	os.WriteFile(path, []byte("\x00garbage"), 0o600)
	bk := backups(t, b)[0]
	out, stderr, code := b.run(t, "", b.fixArgs(root, "0000:04:00.0", "--apply")...)
	if code != 1 || !strings.Contains(stderr, "cannot be read") || !strings.Contains(stderr, "--rollback "+bk+" --apply") || !strings.Contains(stderr, "rm "+path) || b.loads(t) != 1 {
		t.Errorf("damaged record: exit %d, %d loads\n%s%s", code, b.loads(t), out, stderr)
	}
	out, stderr, code = b.run(t, "", b.fixArgs(root, "--rollback", bk, "--apply")...)
	if code != 0 || len(b.excluded(t)) != 0 || !strings.Contains(out, "removed the journal") {
		t.Errorf("rollback: exit %d %s%s", code, out, stderr)
	}
	if _, err := os.Stat(path + ".damaged"); err != nil {
		t.Errorf("the damaged record should be set aside: %v", err)
	}
}

// TestFixRMRRRecordStates: a fix rmrr run goes through the runner, whose record says how it
// ended: a wrong write rolled back by the remedy is "rolled-back"; a failed load is left
// "applying" (not rolled back blindly), so the next run verifies or reports it.
func TestFixRMRRRecordStates(t *testing.T) {
	buildDouble(t)
	for fail, want := range map[string]string{"flip-other:2": "rolled-back", "exit:2": "applying", "ignore-load": "applying", "": "pending-reboot"} {
		b := newBIOS(t, "ProLiant DL360e Gen8")
		out, stderr, _ := b.run(t, fail, b.fixArgs(tree("dl360e-gen8"), "0000:03:00.0", "--apply")...)
		if _, rec := rmrrRecord(t, b); rec.State != want || !strings.Contains(out, "Run "+rec.ID+":") {
			t.Errorf("%q: record %s state %q, want %q\n%s%s", fail, rec.ID, rec.State, want, out, stderr)
		}
	}
}

// TestFixRMRRStopsOnInterruptedRun: an interrupted run of another remedy (its record still
// "applying") stops fix rmrr --apply before anything is loaded, naming the rollback.
func TestFixRMRRStopsOnInterruptedRun(t *testing.T) {
	buildDouble(t)
	b := newBIOS(t, "ProLiant DL360e Gen8")
	state := filepath.Join(b.dir, "state")
	os.MkdirAll(state, 0o700)
	os.WriteFile(filepath.Join(state, "bind-20261126T120000Z.json"), []byte(`{"id":"bind-20261126T120000Z","kind":"bind","started":"2026-11-26T12:00:00Z","state":"applying","plan":[],"snapshot":{}}`), 0o600)
	out, stderr, code := b.run(t, "", b.fixArgs(tree("dl360e-gen8"), "0000:03:00.0", "--apply")...)
	if code != 1 || !strings.Contains(stderr, "fix --rollback bind-20261126T120000Z --apply") || b.loads(t) != 0 || len(backups(t, b)) != 0 {
		t.Errorf("exit %d, %d loads, backups %v\n%s%s", code, b.loads(t), backups(t, b), out, stderr)
	}
}
