package ansiblemod_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestFleetCheckLocal runs fleet-check.yml on 10 and then 200 inventory hosts on the local
// connection (forks 10), each with a tree, and checks the report against the trees' known
// problems. It logs the time per host and in total (BENCHMARKS.md).
func TestFleetCheckLocal(t *testing.T) {
	needAnsible(t)
	buildModule(t)
	sizes := []int{10, 50, 200}
	if testing.Short() {
		sizes = []int{10}
	}
	var lines []string
	for _, n := range sizes {
		dir := t.TempDir()
		env := ansibleEnv(dir, filepath.Join(repo, "ansible"))
		inv := map[string]map[string]any{}
		treeOf := map[string]string{}
		for i := 0; i < n; i++ {
			name := fmt.Sprintf("node%03d", i)
			tr := knownTrees[i%len(knownTrees)]
			treeOf[name] = tr
			inv[name] = map[string]any{"ansible_connection": "local", "dpdk_doctor_root": tree(tr)}
		}
		invFile := writeInventory(t, dir, inv)
		report := filepath.Join(dir, "report")
		p, took := runPlaybook(t, env, "-i", invFile, "-f", "10", "-e", "dpdk_doctor_report_dir="+report, filepath.Join(playbooks, "fleet-check.yml"))
		if got := len(p.task("Check the host (facts dpdk_doctor, dpdk_doctor_platform, dpdk_doctor_devices)")); got != n {
			t.Fatalf("%d hosts checked, want %d", got, n)
		}
		changed := 0
		for h, s := range p.Stats {
			if s["failures"] != 0 || s["unreachable"] != 0 {
				t.Errorf("%s: %v", h, s)
			}
			changed += s["changed"]
		}
		if changed != 1 { // the report, written once
			t.Errorf("%d changes, want 1 (the report): %v", changed, p.Stats)
		}
		r, txt := readReport(t, report)
		if r.Hosts != n {
			t.Fatalf("report of %d hosts, want %d", r.Hosts, n)
		}
		checkKnownProblems(t, r, treeOf)
		g := group(r, "device.rmrr fail, slot 2")
		if g == nil || g.Platforms["HPE ProLiant DL360e Gen8 with ROM P73"] == 0 || g.Platforms["HPE ProLiant DL380 Gen9 with ROM P89"] == 0 {
			t.Errorf("slot 2 group platforms: %+v", g)
		}
		if !strings.Contains(txt, "RMRR-locked NICs in slot 2 (fail); HPE ProLiant DL360e Gen8 with ROM P73: ") {
			t.Errorf("fleet.txt:\n%s", txt)
		}
		if n == sizes[0] {
			// Idempotent: the same fleet again writes the same report, and changes nothing.
			p, _ := runPlaybook(t, env, "-i", invFile, "-f", "10", "-e", "dpdk_doctor_report_dir="+report, filepath.Join(playbooks, "fleet-check.yml"))
			for h, s := range p.Stats {
				if s["changed"] != 0 {
					t.Errorf("rerun: %s changed: %v", h, s)
				}
			}
		}
		lines = append(lines, fmt.Sprintf("%d hosts, forks 10: %.1f s total, %.0f ms per host", n, took.Seconds(), float64(took.Milliseconds())/float64(n)))
		t.Log(lines[len(lines)-1])
	}
	if out := os.Getenv("DPDK_DOCTOR_ANSIBLE_BENCH"); out != "" {
		os.WriteFile(out, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
	}
}

// TestFleetCheckHostFails: a host whose check fails (its tree is missing) fails the play
// (exit 2) but is still in the report, as an error row; the others are reported as usual.
func TestFleetCheckHostFails(t *testing.T) {
	needAnsible(t)
	buildModule(t)
	dir := t.TempDir()
	env := ansibleEnv(dir, filepath.Join(repo, "ansible"))
	invFile := writeInventory(t, dir, map[string]map[string]any{
		"good": {"ansible_connection": "local", "dpdk_doctor_root": tree("dl360e-gen8")},
		"gone": {"ansible_connection": "local", "dpdk_doctor_root": filepath.Join(dir, "no-such-tree")},
	})
	report := filepath.Join(dir, "report")
	p, _ := runPlaybookExit(t, env, 2, "-i", invFile, "-e", "dpdk_doctor_report_dir="+report, filepath.Join(playbooks, "fleet-check.yml"))
	if r := p.task("Check the host (facts dpdk_doctor, dpdk_doctor_platform, dpdk_doctor_devices)")["gone"]; r["failed"] != true || !strings.Contains(fmt.Sprint(r["msg"]), "no-such-tree") {
		t.Errorf("gone: %v", r)
	}
	r, txt := readReport(t, report)
	if r.Hosts != 2 || r.Status["error"] != 1 || r.Status["fail"] != 1 || group(r, "device.rmrr fail, slot 2") == nil {
		t.Errorf("report: %+v\n%s", r, txt)
	}
	if !strings.Contains(txt, "error gone") {
		t.Errorf("fleet.txt lacks the failed host:\n%s", txt)
	}
}

// TestFixRMRRPlaybookCheckMode runs fix-rmrr.yml in check mode with --diff on local hosts with
// trees and the conrep double: the locked HPE hosts report the slot exclusion as a change
// with a diff, the host whose slot is excluded already and the clean one report no change,
// the reboot is skipped, and the double's BIOS is unchanged.
func TestFixRMRRPlaybookCheckMode(t *testing.T) {
	needAnsible(t)
	buildModule(t)
	dir := t.TempDir()
	double := filepath.Join(dir, "conrep")
	buildDouble(t, double)
	env := ansibleEnv(dir, filepath.Join(repo, "ansible"))
	// One BIOS per host, each a file for the double.
	hosts := map[string]string{"locked": "dl360e-gen8", "twoslots": "dl360e-gen8-two-slots", "clean": "usb-only-rmrr", "done": "dl360e-gen8", "supermicro": "bridge-scope"}
	inv := map[string]map[string]any{}
	bios := map[string]string{}
	for h, tr := range hosts {
		b := filepath.Join(dir, h+"-bios.json")
		os.WriteFile(b, []byte(`{"platform":"ProLiant DL360e Gen8","rom_date":"08/02/2014","rom_family":"P73","processor":"Intel"}`), 0o644)
		bios[h] = b
		// The double finds its BIOS through the environment the playbook passes to fix_rmrr.
		inv[h] = map[string]any{"ansible_connection": "local", "dpdk_doctor_root": tree(tr), "dpdk_doctor_conrep": double,
			"dpdk_doctor_xml": filepath.Join(repo, "testdata", "conrep", "conrep_rmrds.xml"), "dpdk_doctor_state_dir": filepath.Join(dir, h+"-state"),
			"dpdk_doctor_environment": map[string]string{"CONREP_DOUBLE_STATE": b}}
	}
	invFile := writeInventory(t, dir, inv)
	// "done": slot 2 was excluded already (applied, not rebooted).
	excludeSlot2(t, double, bios["done"], dir)
	before := map[string]biosState{}
	for h, b := range bios {
		before[h] = readBIOS(t, b)
	}
	p, _ := runPlaybook(t, env, "-i", invFile, "--check", "--diff", "-f", "4", "-e", "dpdk_doctor_serial=2", filepath.Join(playbooks, "fix-rmrr.yml"))
	fix := p.task("Exclude their slots from the RMRRs (conrep)")
	for h, want := range map[string]bool{"locked": true, "twoslots": true, "done": false} {
		r := fix[h]
		if r == nil || r["changed"] != want || r["failed"] == true {
			t.Errorf("%s: fix_rmrr %v, want changed=%v", h, r, want)
		}
	}
	if r := fix["twoslots"]; r != nil {
		d, _ := r["diff"].(map[string]any)
		if !strings.Contains(fmt.Sprint(d["after"]), "RMRDS_Slot1 = Endpoints_Excluded") || !strings.Contains(fmt.Sprint(d["before"]), "RMRDS_Slot2 = Endpoints_Included") {
			t.Errorf("twoslots diff: %v", r["diff"])
		}
	}
	for _, h := range []string{"clean", "supermicro"} {
		if r := fix[h]; r == nil || r["skipped"] != true {
			t.Errorf("%s: fix_rmrr should be skipped (no locked slot device, or not a ProLiant): %v", h, r)
		}
	}
	if r := p.task("Not an HPE ProLiant (conrep does not apply)")["supermicro"]; r == nil || !strings.Contains(fmt.Sprint(r["msg"]), "0000:07:00.0") {
		t.Errorf("supermicro: not reported as not applicable: %v", r)
	}
	for h, r := range p.task("Reboot for the firmware to rebuild its DMAR table (skipped in check mode)") {
		if r["skipped"] != true {
			t.Errorf("%s: reboot not skipped in check mode: %v", h, r)
		}
	}
	for h, b := range bios {
		now := readBIOS(t, b)
		if fmt.Sprint(now.NVRAM) != fmt.Sprint(before[h].NVRAM) {
			t.Errorf("%s: check mode changed the BIOS: %v -> %v", h, before[h].NVRAM, now.NVRAM)
		}
		for _, l := range now.Log[len(before[h].Log):] {
			if !strings.HasPrefix(l, "-s ") {
				t.Errorf("%s: check mode ran conrep %s (only -s, a read, is allowed)", h, l)
			}
		}
	}
}

func buildDouble(t *testing.T, out string) {
	t.Helper()
	cmd := exec.Command("go", "build", "-o", out, "./testdata/conrep-double")
	cmd.Dir = repo
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the conrep double: %v\n%s", err, b)
	}
}

// excludeSlot2 loads an exclusion of slot 2 into a BIOS with the double directly.
func excludeSlot2(t *testing.T, double, bios, dir string) {
	t.Helper()
	f := filepath.Join(dir, "excl.dat")
	os.WriteFile(f, []byte(`<Conrep><Section name="RMRDS_Slot2" helptext=".">Endpoints_Excluded</Section></Conrep>`), 0o644)
	cmd := exec.Command(double, "-l", "-x", filepath.Join(repo, "testdata", "conrep", "conrep_rmrds.xml"), "-f", f)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CONREP_DOUBLE_STATE="+bios)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("double -l: %v\n%s", err, out)
	}
}

// biosState is the double's state file.
type biosState struct {
	NVRAM map[string]uint32 `json:"nvram"`
	Log   []string          `json:"log"`
}

func readBIOS(t *testing.T, path string) biosState {
	t.Helper()
	var s biosState
	b, _ := os.ReadFile(path)
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return s
}

// writeInventory writes a YAML (JSON) inventory: one group "fleet" with these hosts and vars.
func writeInventory(t *testing.T, dir string, hosts map[string]map[string]any) string {
	t.Helper()
	b, err := json.Marshal(map[string]any{"fleet": map[string]any{"hosts": hosts}})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "inventory.yml")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
