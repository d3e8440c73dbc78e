package testenv

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestUnavailable: under CI=true the test fails, elsewhere it skips (run in a child process, so
// that the outcome itself can be looked at).
func TestUnavailable(t *testing.T) {
	if os.Getenv("TESTENV_CHILD") == "1" {
		Unavailable(t, "needs %s", "a thing")
		return
	}
	for ci, want := range map[string]string{"true": "--- FAIL: TestUnavailable", "": "--- SKIP: TestUnavailable"} {
		cmd := exec.Command(os.Args[0], "-test.run", "^TestUnavailable$", "-test.v")
		cmd.Env = append(os.Environ(), "TESTENV_CHILD=1", "CI="+ci)
		out, _ := cmd.CombinedOutput()
		if !strings.Contains(string(out), want) || !strings.Contains(string(out), "needs a thing") {
			t.Errorf("CI=%q: want %q and the reason, got\n%s", ci, want, out)
		}
	}
}
