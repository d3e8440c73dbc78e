package ovs

import (
	"strings"

	"github.com/dpdk-doctor/dpdk-doctor/host"
)

// LogLine is one line of ovs-vswitchd's log, as vlog writes it to its file:
// "2026-11-26T14:00:00.123Z|00012|dpdk|ERR|EAL: 0000:03:00.0 cannot add VFIO group ...".
type LogLine struct {
	Time   string `json:"time"`
	Seq    string `json:"seq"`
	Module string `json:"module"` // dpdk (EAL's own lines), netdev_dpdk, bridge, dpif_netdev, ...
	Level  string `json:"level"`  // EMER, ERR, WARN, INFO, DBG
	Text   string `json:"text"`
}

// MaxOVSLogRead is how much of the end of ovs-vswitchd's log is read to explain an error.
const MaxOVSLogRead = 1 << 20

// ParseLogLine parses a vlog file line; ok is false for anything else (a continuation line of
// a multi-line message, garbage).
func ParseLogLine(s string) (l LogLine, ok bool) {
	s = strings.TrimRight(s, "\r\n")
	f := strings.SplitN(s, "|", 5)
	if len(f) != 5 || len(f[0]) < 10 || f[0][4] != '-' || f[1] == "" || f[2] == "" {
		return LogLine{}, false
	}
	for _, r := range f[1] {
		if r < '0' || r > '9' {
			return LogLine{}, false
		}
	}
	switch f[3] {
	case "EMER", "ERR", "WARN", "INFO", "DBG":
	default:
		return LogLine{}, false
	}
	return LogLine{Time: f[0], Seq: f[1], Module: f[2], Level: f[3], Text: f[4]}, true
}

// ReadOVSLog reads and parses the end of ovs-vswitchd's log (the file the running daemon
// names, or a capture's copy) through the root; nil when there is none or it cannot be read.
func ReadOVSLog(r host.Root, runDirs ...string) []LogLine {
	p := host.OVSLogPath(r, runDirs...)
	if p == "" {
		return nil
	}
	b, err := r.ReadTail(p, MaxOVSLogRead)
	if err != nil {
		return nil
	}
	var out []LogLine
	for _, s := range strings.Split(string(b), "\n") {
		if l, ok := ParseLogLine(s); ok {
			out = append(out, l)
		}
	}
	return out
}

// RelevantLogLines returns, oldest first, the text of the last n warning or error lines that
// name one of keys (an interface name, a devargs, a PCI address) as a whole word. DPDK's EAL
// lines name the device ("EAL: Requested device 0000:03:00.0 cannot be used"), OVS's own
// name the interface.
func RelevantLogLines(lines []LogLine, n int, keys ...string) []string {
	var out []string
	for k := len(lines) - 1; k >= 0 && len(out) < n; k-- {
		l := lines[k]
		if l.Level != "ERR" && l.Level != "WARN" && l.Level != "EMER" {
			continue
		}
		for _, key := range keys {
			if key != "" && containsWord(l.Text, key) {
				out = append(out, l.Module+"|"+l.Level+"|"+l.Text)
				break
			}
		}
	}
	for a, b := 0, len(out)-1; a < b; a, b = a+1, b-1 {
		out[a], out[b] = out[b], out[a]
	}
	return out
}

// containsWord reports whether key occurs in s not glued to a longer name (dpdk0 is not in
// dpdk01, 0000:03:00.0 not in 0000:03:00.01).
func containsWord(s, key string) bool {
	for from := 0; ; {
		k := strings.Index(s[from:], key)
		if k < 0 {
			return false
		}
		k += from
		end := k + len(key)
		if (k == 0 || !nameByte(s[k-1])) && (end == len(s) || !nameByte(s[end])) {
			return true
		}
		from = k + 1
	}
}

func nameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}
