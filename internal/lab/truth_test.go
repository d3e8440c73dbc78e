package lab

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dpdk-doctor/dpdk-doctor/vfio"
)

var update = flag.Bool("update", false, "rewrite the lab section of BENCHMARKS.md (truth table, boot times) from this run")

// TestTruth boots every scenario on every lab kernel and checks that dpdk-doctor's verdict
// before the attach agrees with what the kernel then does.
func TestTruth(t *testing.T) {
	labEnabled(t)
	if d, ok := t.Deadline(); ok && time.Until(d) < 20*time.Minute {
		t.Logf("note: the whole lab takes up to 15 minutes on 2 cores, and go test gives %v: run it all with -timeout 45m (scripts/lab.sh does)", time.Until(d).Round(time.Second))
	}
	ks := labKernels(t)
	bin := doctorBinary(t)
	jobs := 2
	if n, err := strconv.Atoi(os.Getenv("DPDK_DOCTOR_LAB_JOBS")); err == nil && n > 0 {
		jobs = n
	}
	sem := make(chan struct{}, jobs)
	start := time.Now()
	// QEMU's DMAR for the standard machine, read once before the parallel boots.
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	_, err := QEMUDMAR(ctx, CacheDir(), ks[0], Standard(true))
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var rows []Row
	var times []timing
	t.Run("scenario", func(t *testing.T) {
		for _, s := range Scenarios {
			for _, k := range ks {
				t.Run(s.Name+"/"+k.Name, func(t *testing.T) {
					t.Parallel()
					sem <- struct{}{}
					defer func() { <-sem }()
					ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
					defer cancel()
					b, err := s.Boot(ctx, CacheDir(), k, bin)
					if err != nil {
						t.Fatal(err)
					}
					res, err := Run(ctx, b)
					if err != nil {
						t.Fatal(err)
					}
					if out := os.Getenv("DPDK_DOCTOR_LAB_OUT"); out != "" {
						keep(t, filepath.Join(out, s.Name, k.Name), res)
					}
					got, err := s.Judge(k.Name, res)
					if err != nil {
						t.Fatalf("%v\nconsole:\n%s", err, tail(res.Console, 40))
					}
					for _, r := range got {
						t.Logf("%s: kernel %s %s %s %q; dpdk-doctor rmrr=%s verdict=%s (%s)", r.Device, r.KernelOutcome, r.Step, r.Errno, r.KernelLine, r.RMRR, r.Verdict, r.Summary)
					}
					t.Logf("boot to result: %v", res.Elapsed.Round(time.Second))
					checkScenario(t, s, k.Name, res, got)
					checkReaders(t, s, res)
					mu.Lock()
					rows = append(rows, got...)
					times = append(times, timing{s.Name, k.Name, res.Elapsed})
					mu.Unlock()
				})
			}
		}
	})
	if *update && len(times) != len(Scenarios)*len(ks) {
		t.Errorf("-update needs every scenario on every kernel (ran %d of %d boots): the table was not rewritten", len(times), len(Scenarios)*len(ks))
	} else if *update && !t.Failed() {
		if err := writeTruth("../../BENCHMARKS.md", rows, times, time.Since(start), jobs); err != nil {
			t.Fatal(err)
		}
	}
}

func checkScenario(t *testing.T, s Scenario, kernel string, res *Result, rows []Row) {
	t.Helper()
	if len(rows) != len(s.probed()) {
		t.Errorf("probe answered for %d devices, want %d", len(rows), len(s.probed()))
	}
	for _, r := range rows {
		want, ok := s.Expect[r.Device][kernel]
		if !ok {
			want = s.Expect[r.Device][""]
		}
		if want != "" && r.KernelOutcome != want {
			t.Errorf("%s: the kernel answered %s (%s %s), the scenario expects %s\nkernel: %s\ndmesg tail:\n%s",
				r.Device, r.KernelOutcome, r.Step, r.Errno, want, r.KernelLine, tail(string(res.Sections["dmesg"].Stdout), 30))
		}
		if !r.DevicesAgree {
			if why, ok := s.Known[r.Device]; ok {
				t.Logf("%s: known disagreement of devices --json: %s", r.Device, why)
			} else {
				t.Errorf("%s: devices --json says rmrr=%s but the kernel %s (%s %s)", r.Device, r.RMRR, r.KernelOutcome, r.Step, r.Errno)
			}
		}
		if !r.Agree {
			if why, ok := s.Known[r.Device]; ok {
				t.Logf("%s: known disagreement: %s", r.Device, why)
			} else {
				t.Errorf("%s: dpdk-doctor said %s (%s; rmrr=%s) but the kernel %s (%s %s)",
					r.Device, r.Verdict, r.Summary, r.RMRR, r.KernelOutcome, r.Step, r.Errno)
			}
		}
	}
	// check --probe, run after the probe, adds the kernel's answer as device.probe findings.
	for _, r := range rows {
		want := map[vfio.Outcome]string{vfio.Attached: "ok", vfio.InUse: "ok", vfio.Refused: "fail", vfio.NotViable: "fail"}[r.KernelOutcome]
		if got := findingOf(res, "check-probe", "device.probe", r.Device); got != want {
			t.Errorf("%s: check --probe gives device.probe %q, want %q (the kernel: %s)", r.Device, got, want, r.KernelOutcome)
		}
	}
	for dev, want := range s.Regions {
		if got := regionsOf(res, dev); !slices.Contains(got, want) {
			t.Errorf("%s: its IOMMU group's reserved_regions have types %v, want %s among them", dev, got, want)
		}
	}
	dmesg := string(res.Sections["dmesg"].Stdout)
	for _, re := range s.Log {
		if !regexp.MustCompile(re).MatchString(dmesg) {
			t.Errorf("the kernel log has no line matching %s", re)
		}
	}
	for id, sev := range s.Findings {
		if got := hostFinding(res, id); got != sev {
			t.Errorf("check: finding %s is %q, want %q", id, got, sev)
		}
	}
	for dev, want := range s.Slots {
		if got := slotOf(res, dev); got != want {
			t.Errorf("%s: physical slot %q in the guest, want %q", dev, got, want)
		}
	}
}

// checkReaders asks every reader of the verdict about every device of the tree captured in the
// guest, and reads the guest's own readers' answers about each probed device: all must give the
// verdict's answer (internal/agree).
func checkReaders(t *testing.T, s Scenario, res *Result) {
	t.Helper()
	ag, err := s.Readers(res, t.TempDir())
	if err != nil {
		t.Errorf("the readers' agreement: %v", err)
		return
	}
	for _, p := range ag.Problems {
		t.Errorf("readers disagree: %s", p)
	}
	if ag.Devices == 0 || ag.Probed != len(s.probed()) {
		t.Errorf("the readers were asked about %d devices of the captured tree and %d probed devices (want %d)", ag.Devices, ag.Probed, len(s.probed()))
	}
	t.Logf("readers: asked about the %d devices of the guest's captured tree and, through the guest's own commands, its %d probed devices: %d disagreements (the guest's reader steps took %v)",
		ag.Devices, ag.Probed, len(ag.Problems), ReadersTime(res).Round(100*time.Millisecond))
}

// keep writes a boot's sections and console into dir, for a person to read.
func keep(t *testing.T, dir string, res *Result) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Error(err)
		return
	}
	os.WriteFile(filepath.Join(dir, "console.log"), []byte(res.Console), 0o644)
	for n, s := range res.Sections {
		os.WriteFile(filepath.Join(dir, n+".out"), s.Stdout, 0o644)
		os.WriteFile(filepath.Join(dir, n+".err"), s.Stderr, 0o644)
	}
}

// regionsOf returns the reserved-region types of dev's IOMMU group, from the regions section
// ("N: dev dev" lines, each followed by its group's "start end type" lines).
func regionsOf(res *Result, dev string) []string {
	var out []string
	in := false
	for _, l := range strings.Split(string(res.Sections["regions"].Stdout), "\n") {
		f := strings.Fields(l)
		switch {
		case len(f) > 0 && strings.HasSuffix(f[0], ":"):
			in = slices.Contains(f[1:], dev)
		case in && len(f) == 3:
			out = append(out, f[2])
		}
	}
	return out
}

// hostFinding returns the severity of check's finding id, or "" when check did not report it.
func hostFinding(res *Result, id string) string {
	var rep struct {
		Findings []struct{ ID, Severity string }
	}
	json.Unmarshal(res.Sections["check"].Stdout, &rep)
	for _, f := range rep.Findings {
		if f.ID == id {
			return f.Severity
		}
	}
	return ""
}

// findingOf returns the severity of finding id about subject in a check --json section.
func findingOf(res *Result, section, id, subject string) string {
	var rep struct {
		Findings []struct{ ID, Severity, Subject string }
	}
	json.Unmarshal(res.Sections[section].Stdout, &rep)
	for _, f := range rep.Findings {
		if f.ID == id && f.Subject == subject {
			return f.Severity
		}
	}
	return ""
}

// slotOf returns the physical slot devices --json gives dev.
func slotOf(res *Result, dev string) string {
	var devs []struct{ Address, Slot string }
	if json.Unmarshal(res.Sections["devices"].Stdout, &devs) != nil {
		return "(devices --json unreadable)"
	}
	for _, d := range devs {
		if d.Address == dev {
			return d.Slot
		}
	}
	return "(no such device)"
}
