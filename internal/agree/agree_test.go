package agree

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dpdk-doctor/dpdk-doctor/check"
	"github.com/dpdk-doctor/dpdk-doctor/fix"
	"github.com/dpdk-doctor/dpdk-doctor/host"
	"github.com/dpdk-doctor/dpdk-doctor/pci"
)

func gather(t *testing.T, tree string, devs ...string) *check.Facts {
	t.Helper()
	r, err := host.Dir(filepath.Join("..", "..", "testdata", "hosts", tree))
	if err != nil {
		t.Fatal(err)
	}
	var as []pci.Address
	for _, d := range devs {
		a, err := pci.ParseAddress(d)
		if err != nil {
			t.Fatal(err)
		}
		as = append(as, a)
	}
	f, err := check.Gather(r, check.Options{Devices: as})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestOneReaderDisagrees: the readers agree on a locked NIC (slot 2 of the seed's DL360e, on
// vfio-pci), a locked on-board one (on igb) and an unlocked one (the bridge-scope tree's NIC
// outside the scope); then each reader's answer in turn is changed to the opposite, and the
// comparison must notice.
func TestOneReaderDisagrees(t *testing.T) {
	for _, c := range []struct{ tree, dev string }{{"dl360e-gen8", "0000:03:00.0"}, {"dl360e-gen8", "0000:02:00.1"}, {"bridge-scope", "0000:02:00.0"}} {
		f := gather(t, c.tree, c.dev)
		a, _ := pci.ParseAddress(c.dev)
		d := f.Devices.Get(a)
		x := f.Judged(d)
		ans := Ask(f, d, t.TempDir())
		if got := Disagreements(x, ans); len(got) > 0 {
			t.Fatalf("%s %s: the readers should agree: %q", c.tree, c.dev, got)
		}
		locked := x.Lock.Locked()
		lockErr := errors.New("refused: " + c.dev + " is RMRR-locked, so the kernel refuses it to VFIO")
		for _, m := range []struct {
			reader string
			change func(*Answers)
		}{
			{"check device.rmrr", func(a *Answers) { a.Check = map[bool]check.Severity{true: check.OK, false: check.Fail}[locked] }},
			{"check offers fix rmrr", func(a *Answers) { a.CheckConrep = !a.CheckConrep }},
			{"device.driver", func(a *Answers) { a.DriverLocked = !a.DriverLocked }},
			{"devices rmrr", func(a *Answers) { a.Row = map[bool]string{true: "clear", false: "locked"}[locked] }},
			{"ovs explanation", func(a *Answers) { a.OVSLocked = !a.OVSLocked }},
			{"ovs offers fix rmrr", func(a *Answers) { a.OVSConrep = !a.OVSConrep }},
			{"fix rmrr", func(a *Answers) {
				if locked {
					a.Fix, a.FixSkipped = nil, true
				} else {
					a.Fix, a.FixSkipped = fix.ErrNotApplicable, false
				}
			}},
			{"fix bind", func(a *Answers) {
				if locked {
					a.Bind = nil
				} else {
					a.Bind = lockErr
				}
			}},
		} {
			if m.reader == "device.driver" && d.Driver == "vfio-pci" {
				continue // check does not judge a DPDK driver's lock in device.driver
			}
			changed := ans
			m.change(&changed)
			got := Disagreements(x, changed)
			if len(got) == 0 {
				t.Errorf("%s %s: %s changed its answer and the comparison did not notice", c.tree, c.dev, m.reader)
			}
		}
		// A reader that was not asked makes no claim.
		quiet := ans
		quiet.BindAsked, quiet.Bind = false, lockErr
		if locked {
			quiet.Bind = nil
		}
		if got := Disagreements(x, quiet); len(got) > 0 {
			t.Errorf("%s %s: fix bind was not asked, yet: %q", c.tree, c.dev, got)
		}
	}
}

// TestDisagreementsNameTheReader: the sentence says which reader departs and what it said.
func TestDisagreementsNameTheReader(t *testing.T) {
	f := gather(t, "dl360e-gen8", "0000:03:00.0")
	a, _ := pci.ParseAddress("0000:03:00.0")
	d := f.Devices.Get(a)
	ans := Ask(f, d, t.TempDir())
	ans.Row = "clear"
	got := Disagreements(f.Judged(d), ans)
	if len(got) != 1 || !strings.Contains(got[0], `devices rmrr "clear"`) || !strings.Contains(got[0], "locked") {
		t.Errorf("got %q", got)
	}
}
