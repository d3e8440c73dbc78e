// Package kmsg parses kernel log text (dmesg, /dev/kmsg records, syslog and journald lines) and
// finds the messages that explain why a device cannot be given to VFIO or DPDK.
package kmsg

import (
	"bytes"
	"regexp"
	"strconv"
	"strings"
)

// Line is one kernel log message with its position in the input.
type Line struct {
	N    int     // 1-based line number in the input
	Time float64 // seconds since boot, or -1 when the line carries no timestamp
	Text string  // the message, without timestamp, syslog prefix or /dev/kmsg header
}

var (
	dmesgTime  = regexp.MustCompile(`^\[\s*(\d+\.\d+)\]\s?`)
	syslogHead = regexp.MustCompile(`^(?:[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d|\d{4}-\d\d-\d\dT[\d:.]+(?:[+-]\d\d:?\d\d|Z)?) \S+ kernel: `)
	kmsgHead   = regexp.MustCompile(`^\d+,\d+,(\d+),[^;]*;`)
)

// Parse splits kernel log text into lines, in any of the forms dmesg, /dev/kmsg, syslog
// (kern.log) and journalctl print. It never fails: text it does not recognise is kept as a
// message without a timestamp. Continuation lines of /dev/kmsg records (they start with a space
// and carry KEY=value pairs) are dropped.
func Parse(b []byte) []Line {
	var out []Line
	n := 0
	for len(b) > 0 {
		var raw []byte
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			raw, b = b[:i], b[i+1:]
		} else {
			raw, b = b, nil
		}
		n++
		s := strings.TrimRight(string(raw), "\r")
		if s == "" {
			continue
		}
		t := -1.0
		// The header regexps are anchored; the first byte rules most of them out cheaply.
		digit := s[0] >= '0' && s[0] <= '9'
		if m := matchIf(digit, kmsgHead, s); m != nil {
			if us, err := strconv.ParseInt(m[1], 10, 64); err == nil {
				t = float64(us) / 1e6
			}
			s = s[len(m[0]):]
		} else if s[0] == ' ' && strings.Contains(s, "=") && !strings.Contains(s, ":") {
			continue // /dev/kmsg dictionary line
		} else {
			if digit || s[0] >= 'A' && s[0] <= 'Z' {
				if m := syslogHead.FindString(s); m != "" {
					s = s[len(m):]
				}
			}
			if m := matchIf(s != "" && s[0] == '[', dmesgTime, s); m != nil {
				t, _ = strconv.ParseFloat(m[1], 64)
				s = s[len(m[0]):]
			}
		}
		out = append(out, Line{N: n, Time: t, Text: s})
	}
	return out
}

// matchIf runs re on s only when ok (a cheap test that a match is possible) holds.
func matchIf(ok bool, re *regexp.Regexp, s string) []string {
	if !ok {
		return nil
	}
	return re.FindStringSubmatch(s)
}
