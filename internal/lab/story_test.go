package lab

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dpdk-doctor/dpdk-doctor/conrep"
)

func TestExcludedSlots(t *testing.T) {
	b, err := os.ReadFile("../../testdata/conrep/conrep_rmrds.xml")
	if err != nil {
		t.Fatal(err)
	}
	defs, err := conrep.ParseDefinitions(b)
	if err != nil {
		t.Fatal(err)
	}
	if got := StoryRMRRs(defs, map[string]uint32{}); len(got) != 1 || len(got[0].Scopes) != 1 {
		t.Fatalf("fresh NVRAM: RMRRs %+v, want the one over slot 2", got)
	}
	nv := map[string]uint32{"0x26a": 0x02} // RMRDS_Slot2: Endpoints_Excluded
	if ex := ExcludedSlots(defs, nv); !ex["2"] || ex["1"] || ex["3"] {
		t.Fatalf("excluded %v, want slot 2 only", ex)
	}
	if got := StoryRMRRs(defs, nv); len(got) != 0 {
		t.Fatalf("slot 2 excluded: RMRRs %+v, want none", got)
	}
}

// TestStory plays the seed's blog post on a real kernel with the real OVS-DPDK: check predicts
// the refusal, add-port fails with "Error attaching device", fix rmrr --apply (the conrep
// double) changes the lab's NVRAM, the next boot's DMAR is built from it, and the port works.
func TestStory(t *testing.T) {
	labEnabled(t)
	if os.Getenv("DPDK_DOCTOR_LAB_STORY") != "1" && os.Getenv("CI") != "true" {
		t.Skip("the story boots two 2-CPU guests with OVS-DPDK (several minutes each): set DPDK_DOCTOR_LAB_STORY=1")
	}
	_, err := os.Stat("/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk")
	need(t, err, "OVS-DPDK on this machine (the guest's userland): apt-get install openvswitch-switch-dpdk")
	ks := labKernels(t)
	k := ks[0] // 6.1, as in the seed
	bin := doctorBinary(t)
	double := buildConrepDouble(t)
	xml, err := os.ReadFile("../../testdata/conrep/conrep_rmrds.xml")
	if err != nil {
		t.Fatal(err)
	}
	defs, err := conrep.ParseDefinitions(xml)
	if err != nil {
		t.Fatal(err)
	}
	state := []byte(`{"platform":"ProLiant DL360e Gen8","rom_date":"08/02/2014","rom_family":"P73","processor":"Intel"}`)
	m := StoryMachine()

	boot := func(before bool, rmrrs []RMRR) *Result {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
		defer cancel()
		var front []byte
		if len(rmrrs) > 0 {
			q, err := QEMUDMAR(ctx, CacheDir(), k, m)
			if err != nil {
				t.Fatal(err)
			}
			tb, err := FirmwareDMAR(q, rmrrs)
			if err != nil {
				t.Fatal(err)
			}
			if front, err = ACPIUpgrade(map[string][]byte{"dmar": tb}); err != nil {
				t.Fatal(err)
			}
		}
		rd, err := Initramfs{Kernel: k, Modules: StoryModules, Init: StoryInit()}.Build(ctx)
		if err != nil {
			t.Fatal(err)
		}
		res, err := Run(ctx, Boot{Machine: m, Kernel: k, Initrd: append(front, rd...), HostRoot: true,
			Cmdline: []string{"intel_iommu=on", "hugepagesz=2M", "hugepages=256"},
			Share: map[string][]byte{"dpdk-doctor": bin, "conrep-double": double, "conrep_rmrds.xml": xml,
				"conrep-state.json": state, "story.sh": []byte(StoryScript(before))}})
		if res != nil {
			if out := os.Getenv("DPDK_DOCTOR_LAB_OUT"); out != "" {
				keep(t, filepath.Join(out, "story", map[bool]string{true: "1-before", false: "2-after"}[before]), res)
			}
		}
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("boot (before fix: %v) to result: %v", before, res.Elapsed.Round(time.Second))
		return res
	}
	sec := func(res *Result, name string) string {
		s, ok := res.Sections[name]
		if !ok {
			t.Fatalf("no %s section from the guest", name)
		}
		return string(s.Stdout) + string(s.Stderr)
	}

	// 1. check predicts the refusal; 2. add-port fails, and ovs show explains it.
	res := boot(true, StoryRMRRs(defs, nil))
	first := res.Elapsed
	if sev := deviceFinding(t, sec(res, "check"), "device.rmrr", StoryNIC); sev != "fail" {
		t.Errorf("check before the fix: device.rmrr is %q, want fail", sev)
	}
	if s := sec(res, "iface"); !strings.Contains(s, "Error attaching device '"+StoryNIC+"' to DPDK") {
		t.Errorf("add-port with the RMRR: Interface error and ofport %q, want \"Error attaching device\"", s)
	}
	if s := sec(res, "vswitchd-log"); !strings.Contains(s, "cannot add VFIO group to container") {
		t.Errorf("ovs-vswitchd.log has no EAL VFIO refusal:\n%s", tail(s, 20))
	}
	if s := sec(res, "ovs-show"); !strings.Contains(s, "RMRR") {
		t.Errorf("ovs show does not explain the failed port by the RMRR:\n%s", s)
	}
	if rc := res.Sections["fix"].RC; rc != 0 {
		t.Fatalf("fix rmrr --apply: exit %d\n%s", rc, sec(res, "fix"))
	}
	nv, err := ConrepNVRAM(res.Share["conrep-state.json"])
	if err != nil {
		t.Fatal(err)
	}
	if !ExcludedSlots(defs, nv)["2"] {
		t.Fatalf("after fix rmrr --apply the NVRAM %v does not exclude slot 2", nv)
	}
	state = res.Share["conrep-state.json"]

	// 3. the next boot's DMAR from the NVRAM; 4. check is clean and the port works.
	rmrrs := StoryRMRRs(defs, nv)
	if len(rmrrs) != 0 {
		t.Fatalf("the slot's RMRR scopes did not drop out: %+v", rmrrs)
	}
	res = boot(false, rmrrs)
	if sev := deviceFinding(t, sec(res, "check"), "device.rmrr", StoryNIC); sev != "ok" {
		t.Errorf("check after the fix: device.rmrr is %q, want ok", sev)
	}
	if s := sec(res, "iface"); strings.Contains(s, "Error") || !strings.Contains(s, "\n1") && !strings.HasSuffix(strings.TrimSpace(s), "1") {
		t.Errorf("add-port after the fix: Interface error and ofport %q, want no error and ofport 1", s)
	}
	if s := sec(res, "vswitchd-log"); !strings.Contains(s, "Probe PCI driver: net_e1000_em") {
		t.Errorf("ovs-vswitchd.log does not show DPDK taking the NIC:\n%s", tail(s, 20))
	}
	// traffic: frames from the second NIC through the DPDK port and the mirror; torn down.
	tr := res.Sections["traffic"]
	if tr.RC != 0 || strings.Count(string(tr.Stdout), "ARP") < 3 {
		t.Errorf("traffic: exit %d, want 3 ARP frames:\n%s\n%s", tr.RC, tr.Stdout, tr.Stderr)
	}
	if s := string(res.Sections["leftovers"].Stdout); strings.Contains(s, "name") || strings.Contains(s, "veth") || strings.TrimSpace(s) != "dpdk-p0" {
		t.Errorf("traffic left something behind (mirrors, ports besides dpdk-p0, veths):\n%s", s)
	}
	if *update && !t.Failed() {
		body := fmt.Sprintf("The seed's story on kernel %s (`scripts/lab.sh story`): q35 + intel-iommu, -smp 2 (TCG multi-threaded), "+
			"2 GiB, 256 x 2 MiB huge pages, this machine's root over 9p, the real OVS-DPDK.\n\n"+
			"| boot | what it shows | seconds |\n|---|---|---|\n"+
			"| 1 | check predicts the refusal; add-port fails (EAL error 1); ovs show explains the RMRR; fix rmrr --apply | %.1f |\n"+
			"| 2 | DMAR from the NVRAM; check clean; add-port probes net_e1000_em; traffic captures 3 ARP frames | %.1f |\n",
			k.Release, first.Seconds(), res.Elapsed.Seconds())
		if err := rewrite("../../BENCHMARKS.md", StoryBegin, StoryEnd, body); err != nil {
			t.Fatal(err)
		}
	}
}

func deviceFinding(t *testing.T, checkJSON, id, dev string) string {
	t.Helper()
	var rep struct {
		Findings []struct{ ID, Severity, Subject string }
	}
	if err := json.Unmarshal([]byte(checkJSON[:strings.LastIndex(checkJSON, "}")+1]), &rep); err != nil {
		t.Errorf("check --json: %v", err)
		return ""
	}
	for _, f := range rep.Findings {
		if f.ID == id && f.Subject == dev {
			return f.Severity
		}
	}
	return ""
}

func buildConrepDouble(t *testing.T) []byte {
	t.Helper()
	dir := t.TempDir()
	out := filepath.Join(dir, "conrep-double")
	cmd := exec.Command("go", "build", "-o", out, "github.com/dpdk-doctor/dpdk-doctor/testdata/conrep-double")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the conrep double: %v: %s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
