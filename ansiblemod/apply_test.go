package ansiblemod_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// hookedCollection copies the collection into dir with a binary built with the
// dpdkdoctor_testhooks tag as its modules: there a root tree stands for the machine the conrep
// double plays, so fix_rmrr can apply on a tree (release builds refuse it; see TestModuleErrors).
func hookedCollection(t *testing.T, dir string) string {
	t.Helper()
	dst := filepath.Join(dir, "collections", "ansible_collections", "dpdkdoctor", "doctor")
	bin := filepath.Join(dst, "bin", "dpdk-doctor")
	if out, err := goBuild(bin, "dpdkdoctor_testhooks"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, f := range []string{"galaxy.yml", "meta/runtime.yml", "plugins/modules/check.yml", "plugins/modules/fix_rmrr.yml"} {
		b, err := os.ReadFile(filepath.Join(collectionDir, f))
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Dir(filepath.Join(dst, f)), 0o755)
		os.WriteFile(filepath.Join(dst, f), b, 0o644)
	}
	for _, m := range []string{"check", "fix_rmrr"} {
		if err := os.Symlink("../../bin/dpdk-doctor", filepath.Join(dst, "plugins", "modules", m)); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "collections")
}

// TestFixRMRRModuleApply runs the fix_rmrr module for real through ansible-playbook (a test
// build, on a tree, with the conrep double as the firmware): the first run excludes slot 2
// (changed, verified, backed up), a rerun and a check-mode rerun report no change, and the
// diff shows the section before and after.
func TestFixRMRRModuleApply(t *testing.T) {
	needAnsible(t)
	dir := t.TempDir()
	env := ansibleEnv(dir, hookedCollection(t, dir))
	double := filepath.Join(dir, "conrep")
	buildDouble(t, double)
	bios := filepath.Join(dir, "bios.json")
	os.WriteFile(bios, []byte(`{"platform":"ProLiant DL360e Gen8","rom_date":"08/02/2014","rom_family":"P73","processor":"Intel"}`), 0o644)
	state := filepath.Join(dir, "state")
	inv := writeInventory(t, dir, map[string]map[string]any{"n1": {"ansible_connection": "local"}})
	pb := filepath.Join(dir, "apply.yml")
	os.WriteFile(pb, []byte(`- hosts: all
  gather_facts: false
  tasks:
    - name: fix
      dpdkdoctor.doctor.fix_rmrr:
        devices: ["0000:03:00.0", "0000:03:00.1"]
        root: `+tree("dl360e-gen8")+`
        conrep: `+double+`
        xml: `+filepath.Join(repo, "testdata", "conrep", "conrep_rmrds.xml")+`
        state_dir: `+state+`
      environment:
        CONREP_DOUBLE_STATE: `+bios+`
`), 0o644)
	p, _ := runPlaybook(t, env, "-i", inv, "--diff", pb)
	r := p.task("fix")["n1"]
	d, _ := r["diff"].(map[string]any)
	if r["changed"] != true || !strings.Contains(r["msg"].(string), "excluded slot(s) 2") || r["reboot_required"] != true ||
		d["before"] != "RMRDS_Slot2 = Endpoints_Included\n" || d["after"] != "RMRDS_Slot2 = Endpoints_Excluded\n" {
		t.Fatalf("apply: %v", r)
	}
	if s := readBIOS(t, bios); s.NVRAM["0x26a"]&0x2 == 0 {
		t.Errorf("slot 2 not excluded in the BIOS: %v", s.NVRAM)
	}
	if m, _ := filepath.Glob(filepath.Join(state, "rmrds-backup-*.dat")); len(m) != 1 {
		t.Errorf("backups: %v", m)
	}
	for _, args := range [][]string{{"-i", inv, pb}, {"-i", inv, "--check", "--diff", pb}} {
		p, _ := runPlaybook(t, env, args...)
		r := p.task("fix")["n1"]
		if r["changed"] != false || !strings.Contains(r["msg"].(string), "already read Endpoints_Excluded") || r["diff"] != nil {
			t.Errorf("rerun %v: %v", args, r)
		}
	}
	if m, _ := filepath.Glob(filepath.Join(state, "rmrds-backup-*.dat")); len(m) != 1 {
		t.Errorf("a rerun made a backup: %v", m)
	}
}
