// Package kmsg parses kernel log text (dmesg, /dev/kmsg records, syslog and journald lines) and
// finds the messages that explain why a device cannot be given to VFIO or DPDK.
package kmsg

import (
	"bytes"
	"strconv"
	"strings"
)

// Line is one kernel log message with its position in the input.
type Line struct {
	N    int     // 1-based line number in the input
	Time float64 // seconds since boot, or -1 when the line carries no timestamp
	Text string  // the message, without timestamp, syslog prefix or /dev/kmsg header
}

// Parse splits kernel log text into lines, in any of the forms dmesg, /dev/kmsg, syslog
// (kern.log) and journalctl print. It never fails: text it does not recognise is kept as a
// message without a timestamp. Continuation lines of /dev/kmsg records (they start with a space
// and carry KEY=value pairs) are dropped.
//
// The headers are recognised by hand, not by regexp (a log has tens of thousands of lines);
// the fuzz target checks that the result is the one of these regexps, anchored at the line's
// start and tried in this order:
//
//	/dev/kmsg: \d+,\d+,(\d+),[^;]*;            (the third number is the time in µs)
//	syslog:    (?:[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d|\d{4}-\d\d-\d\dT[\d:.]+(?:[+-]\d\d:?\d\d|Z)?) \S+ kernel:␠
//	dmesg:     \[\s*(\d+\.\d+)\]\s?                (after a syslog header, if any)
func Parse(b []byte) []Line {
	all := string(b) // one copy: every line's text is a slice of it
	out := make([]Line, 0, bytes.Count(b, []byte{'\n'})+1)
	n := 0
	for len(all) > 0 {
		var s string
		if i := strings.IndexByte(all, '\n'); i >= 0 {
			s, all = all[:i], all[i+1:]
		} else {
			s, all = all, ""
		}
		n++
		s = strings.TrimRight(s, "\r")
		if s == "" {
			continue
		}
		t := -1.0
		if head, us, ok := kmsgHeader(s); ok {
			if v, err := strconv.ParseInt(us, 10, 64); err == nil {
				t = float64(v) / 1e6
			}
			s = s[head:]
		} else if s[0] == ' ' && strings.Contains(s, "=") && !strings.Contains(s, ":") {
			continue // /dev/kmsg dictionary line
		} else {
			s = s[syslogHeader(s):]
			if head, ts, ok := dmesgHeader(s); ok {
				t, _ = strconv.ParseFloat(ts, 64)
				s = s[head:]
			}
		}
		out = append(out, Line{N: n, Time: t, Text: s})
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// isSpace is what \s matches in a Go regexp: [\t\n\f\r ].
func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r' }

// digits returns how many decimal digits s starts with from i on.
func digits(s string, i int) int {
	j := i
	for j < len(s) && isDigit(s[j]) {
		j++
	}
	return j - i
}

// kmsgHeader matches "PRIO,SEQ,USEC,FLAGS;" at the start of s: the header's length and USEC.
func kmsgHeader(s string) (n int, usec string, ok bool) {
	i := 0
	for field := 0; field < 3; field++ {
		d := digits(s, i)
		if d == 0 || i+d >= len(s) || s[i+d] != ',' {
			return 0, "", false
		}
		if field == 2 {
			usec = s[i : i+d]
		}
		i += d + 1
	}
	j := strings.IndexByte(s[i:], ';')
	if j < 0 {
		return 0, "", false
	}
	return i + j + 1, usec, true
}

// syslogHeader returns the length of a syslog or journal header at the start of s ("Jan 23
// 17:54:48 host kernel: " or "2024-01-23T17:54:48.123456+01:00 host kernel: "), 0 for none.
func syslogHeader(s string) int {
	var i int
	switch {
	case len(s) >= 15 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'a' && s[1] <= 'z' && s[2] >= 'a' && s[2] <= 'z' &&
		s[3] == ' ' && (s[4] == ' ' || isDigit(s[4])) && isDigit(s[5]) && s[6] == ' ' &&
		isDigit(s[7]) && isDigit(s[8]) && s[9] == ':' && isDigit(s[10]) && isDigit(s[11]) && s[12] == ':' &&
		isDigit(s[13]) && isDigit(s[14]):
		i = 15
	case len(s) >= 11 && digits(s, 0) >= 4 && s[4] == '-' && isDigit(s[5]) && isDigit(s[6]) && s[7] == '-' &&
		isDigit(s[8]) && isDigit(s[9]) && s[10] == 'T':
		i = 11
		j := i
		for j < len(s) && (isDigit(s[j]) || s[j] == ':' || s[j] == '.') {
			j++
		}
		if j == i {
			return 0
		}
		i = j
		if i < len(s) && s[i] == 'Z' {
			i++
		} else if i < len(s) && (s[i] == '+' || s[i] == '-') && digits(s, i+1) >= 2 {
			j := i + 3
			if j < len(s) && s[j] == ':' {
				j++
			}
			if digits(s, j) >= 2 {
				i = j + 2
			}
		}
	default:
		return 0
	}
	if i >= len(s) || s[i] != ' ' {
		return 0
	}
	i++
	j := i
	for j < len(s) && !isSpace(s[j]) {
		j++
	}
	if j == i || !strings.HasPrefix(s[j:], " kernel: ") {
		return 0
	}
	return j + len(" kernel: ")
}

// dmesgHeader matches "[  708.044615] " at the start of s: the header's length and the time.
func dmesgHeader(s string) (n int, secs string, ok bool) {
	if s == "" || s[0] != '[' {
		return 0, "", false
	}
	i := 1
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	start := i
	d := digits(s, i)
	if d == 0 || i+d >= len(s) || s[i+d] != '.' {
		return 0, "", false
	}
	i += d + 1
	d = digits(s, i)
	if d == 0 || i+d >= len(s) || s[i+d] != ']' {
		return 0, "", false
	}
	secs = s[start : i+d]
	i += d + 1
	if i < len(s) && isSpace(s[i]) {
		i++
	}
	return i, secs, true
}
