package report

import (
	"strings"
	"testing"
)

// FuzzParseRemedy: any remedy lines type without panic; every action is either a run or a
// step, and no run reboots the host.
func FuzzParseRemedy(f *testing.F) {
	f.Add("dpdk-doctor fix rmrr 0000:03:00.0   # then reboot\n# or move the card\nreboot")
	f.Add("#\n# or\n#or,\n a && systemctl reboot #")
	f.Fuzz(func(t *testing.T, s string) {
		r := ParseRemedy(strings.Split(s, "\n"))
		for _, alt := range r.Alternatives {
			if len(alt) == 0 {
				t.Fatal("an empty alternative")
			}
			for _, a := range alt {
				if (a.Run == "") == (a.Step == "") {
					t.Fatalf("action %+v is not exactly one of run and step", a)
				}
				if a.Run != "" && reboots(a.Run) {
					t.Fatalf("run %q reboots", a.Run)
				}
			}
		}
	})
}
