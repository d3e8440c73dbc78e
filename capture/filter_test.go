package capture

import (
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode"

	"golang.org/x/sys/unix"

	"github.com/dpdk-doctor/dpdk-doctor/internal/testenv"
)

func vlanChain(n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = fmt.Sprintf("vlan %d", i+1)
	}
	return strings.Join(parts, " or ")
}

// TestFilterLongAgainstTcpdump: filters whose jumps reach past 255 instructions (40 and more
// "vlan N or" terms, which tcpdump compiles) compile, and select what tcpdump selects.
func TestFilterLongAgainstTcpdump(t *testing.T) {
	needTcpdump(t)
	path, fs := seedPcap(t)
	macs := make([]string, 60)
	for i := range macs {
		macs[i] = fmt.Sprintf("ether host 00:0c:29:93:2f:%02x", i+0x30)
	}
	for _, expr := range []string{vlanChain(40), vlanChain(41), "not (" + vlanChain(100) + ") and not stp", strings.Join(macs, " or "),
		"(" + vlanChain(5) + ") and (" + strings.Join(macs, " or ") + ")"} {
		f, err := ParseFilter(expr)
		if err != nil {
			t.Fatalf("%.40q...: %v", expr, err)
		}
		checkAgainstTcpdump(t, path, fs, f)
	}
}

// TestFilterKernelLimit: a filter is accepted exactly when its program fits the kernel's 4096
// instructions, and the longest accepted one really attaches to an AF_PACKET socket.
func TestFilterKernelLimit(t *testing.T) {
	lo, hi := 1, 2000 // accepted, refused
	if _, err := ParseFilter(vlanChain(hi)); err == nil {
		t.Fatalf("%d terms accepted", hi)
	}
	for hi-lo > 1 {
		m := (lo + hi) / 2
		if _, err := ParseFilter(vlanChain(m)); err == nil {
			lo = m
		} else if strings.Contains(err.Error(), "4096") {
			hi = m
		} else {
			t.Fatalf("%d terms: %v", m, err)
		}
	}
	last := lo
	f, _ := ParseFilter(vlanChain(last))
	prog, err := f.Compile(true)
	if err != nil || len(prog) > MaxInstructions || len(prog) < MaxInstructions-20 {
		t.Fatalf("%d terms: %d instructions, %v", last, len(prog), err)
	}
	t.Logf("longest accepted: %d vlan terms, %d instructions", last, len(prog))
	raw, err := Raw(prog)
	if err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, 0)
	if err != nil {
		testenv.Unavailable(t, "an AF_PACKET socket is required (run as root): %v", err)
	}
	defer unix.Close(fd)
	ins := make([]unix.SockFilter, len(raw))
	for i, r := range raw {
		ins[i] = unix.SockFilter{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K}
	}
	if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &unix.SockFprog{Len: uint16(len(ins)), Filter: &ins[0]}); err != nil {
		t.Fatalf("the kernel refuses a %d-instruction program we accept: %v", len(ins), err)
	}
}

// TestFilterHugeInput: a megabyte of filter is refused (or parsed) in well under a second; the
// old tokenizer copied the word so far for every byte (quadratic: a 100 kB word took 1.1 s).
func TestFilterHugeInput(t *testing.T) {
	const mb = 1 << 20
	for name, s := range map[string]string{
		"one word":    strings.Repeat("a", mb),
		"many terms":  strings.Repeat("arp or ", mb/7) + "arp",
		"parentheses": strings.Repeat("(", mb/2) + "arp" + strings.Repeat(")", mb/2),
		"nots":        strings.Repeat("not ", mb/4) + "arp",
		"bangs":       strings.Repeat("!", mb) + "arp",
		"operators":   strings.Repeat("&&", mb/2),
	} {
		start := time.Now()
		_, err := ParseFilter(s)
		d := time.Since(start)
		if err == nil {
			t.Errorf("%s: accepted", name)
		} else if len(err.Error()) > 1000 {
			t.Errorf("%s: the error repeats the input (%d bytes)", name, len(err.Error()))
		}
		if d > 500*time.Millisecond {
			t.Errorf("%s: %v", name, d)
		}
		t.Logf("%s: %v: %.120s", name, d, err)
	}
}

// TestFilterNesting: nesting stops where tcpdump's parser stops (9995 parentheses).
func TestFilterNesting(t *testing.T) {
	for n, ok := range map[int]bool{100: true, 9995: true, 9996: false} {
		_, err := ParseFilter(strings.Repeat("(", n) + "arp" + strings.Repeat(")", n))
		if (err == nil) != ok {
			t.Errorf("%d parentheses: %v", n, err)
		}
	}
}

func FuzzTokenize(f *testing.F) {
	for _, s := range []string{"not stp", "vlan 5&&(ip||!ip6)", "a&b|c", "((", "  \t"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		toks := tokenize(s)
		if len(toks) > len(s) {
			t.Fatalf("%d tokens from %d bytes", len(toks), len(s))
		}
		for _, tok := range toks {
			if tok == "" || strings.IndexFunc(tok, func(r rune) bool { return r < 0x80 && unicode.IsSpace(r) }) >= 0 {
				t.Fatalf("token %q from %q", tok, s)
			}
		}
	})
}
