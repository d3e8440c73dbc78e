package lab

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the lab section of BENCHMARKS.md (truth table, boot times) from this run")

// TestTruth boots every scenario on every lab kernel and checks that dpdk-doctor's verdict
// before the attach agrees with what the kernel then does.
func TestTruth(t *testing.T) {
	labEnabled(t)
	if d, ok := t.Deadline(); ok && time.Until(d) < 20*time.Minute {
		t.Fatalf("the lab needs about 15 minutes on 2 cores: run it with -timeout 45m (go test's default is 10m); %v left", time.Until(d).Round(time.Second))
	}
	ks := labKernels(t)
	bin := doctorBinary(t)
	jobs := 2
	if n, err := strconv.Atoi(os.Getenv("DPDK_DOCTOR_LAB_JOBS")); err == nil && n > 0 {
		jobs = n
	}
	sem := make(chan struct{}, jobs)
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
					got, err := s.Judge(k.Name, res)
					if err != nil {
						t.Fatalf("%v\nconsole:\n%s", err, tail(res.Console, 40))
					}
					for _, r := range got {
						t.Logf("%s: kernel %s %s %s %q; dpdk-doctor rmrr=%s verdict=%s (%s)", r.Device, r.KernelOutcome, r.Step, r.Errno, r.KernelLine, r.RMRR, r.Verdict, r.Summary)
					}
					t.Logf("boot to result: %v", res.Elapsed.Round(time.Second))
					checkScenario(t, s, k.Name, res, got)
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
		if err := writeTruth("../../BENCHMARKS.md", rows, times); err != nil {
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
		if !r.Agree {
			if why, ok := s.Known[r.Device]; ok {
				t.Logf("%s: known disagreement: %s", r.Device, why)
			} else {
				t.Errorf("%s: dpdk-doctor said %s (%s; rmrr=%s) but the kernel %s (%s %s)",
					r.Device, r.Verdict, r.Summary, r.RMRR, r.KernelOutcome, r.Step, r.Errno)
			}
		}
	}
	for dev, want := range s.Slots {
		if got := slotOf(res, dev); got != want {
			t.Errorf("%s: physical slot %q in the guest, want %q", dev, got, want)
		}
	}
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
