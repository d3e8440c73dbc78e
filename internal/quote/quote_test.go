package quote

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/dpdk-doctor/dpdk-doctor/internal/testenv"
)

func TestText(t *testing.T) {
	for in, want := range map[string]string{
		"eno1":               "eno1",
		"X10\x1b[31m;rm -rf": `X10\x1b[31m;rm -rf`,
		"a\nb\tc\x7f":        `a\nb\tc\x7f`,
		"Carte réseau":       "Carte réseau",
		"bad\xffbyte":        `bad\xffbyte`,
		"rtl\u202eoverride":  `rtl\u202eoverride`,
	} {
		if got := Text(in); got != want {
			t.Errorf("Text(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestShell checks every quoted word with a real shell: bash reads it back as the same bytes.
func TestShell(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		testenv.Unavailable(t, "bash is needed to read the quoted words back")
	}
	for _, s := range []string{"eno1", "ens1f0", "a;rm -rf /", "it's", "x\x1b[2J;reboot", "$(id)", "`id`", "new\nline", "", "\xff\\'"} {
		q := Shell(s)
		if strings.ContainsAny(q, "\x1b\n") {
			t.Errorf("Shell(%q) = %q holds control characters", s, q)
		}
		out, err := exec.Command(bash, "-c", "printf %s "+q).Output()
		if err != nil || string(out) != s {
			t.Errorf("bash read Shell(%q) = %s back as %q (%v)", s, q, out, err)
		}
	}
}

func FuzzShell(f *testing.F) {
	f.Add("a;b\x1b'")
	f.Fuzz(func(t *testing.T, s string) {
		if q := Text(Shell(s)); q != Shell(s) {
			t.Errorf("Shell(%q) = %q is not printable", s, q)
		}
	})
}
