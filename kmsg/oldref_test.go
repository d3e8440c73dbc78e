package kmsg

import (
	"bytes"
	"regexp"
	"strconv"
	"strings"
)

// The header regexps Parse used before it recognised headers by hand.
var (
	dmesgTime  = regexp.MustCompile(`^\[\s*(\d+\.\d+)\]\s?`)
	syslogHead = regexp.MustCompile(`^(?:[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d|\d{4}-\d\d-\d\dT[\d:.]+(?:[+-]\d\d:?\d\d|Z)?) \S+ kernel: `)
	kmsgHead   = regexp.MustCompile(`^\d+,\d+,(\d+),[^;]*;`)
)

// The code before the literal pre-filter, kept to prove the new code finds the same.

// Events finds every recognised message in lines, in order. A device named without its PCI
// segment ("03:00.0") is reported in segment 0000.
func eventsRegexpOnly(lines []Line) []Event {
	var out []Event
	for _, l := range lines {
		if !strings.ContainsAny(l.Text, "RDIVEAF") { // cheap pre-filter: every signature holds one
			continue
		}
		for _, sig := range signatures() {
			m := sig.re().FindStringSubmatch(l.Text) // every signature, without its literals
			if m == nil {
				continue
			}
			ev := Event{Kind: sig.kind, Line: l}
			switch {
			case sig.kind == RMRRBase:
				ev.Base, _ = strconv.ParseUint(m[1], 16, 64)
				ev.End, _ = strconv.ParseUint(m[2], 16, 64)
			case len(m) > 1:
				for _, g := range m[1:] {
					if g != "" {
						ev.Device = fullBDF(g)
						break
					}
				}
			}
			out = append(out, ev)
			break
		}
	}
	return out
}

// Parse splits kernel log text into lines, in any of the forms dmesg, /dev/kmsg, syslog
// (kern.log) and journalctl print. It never fails: text it does not recognise is kept as a
// message without a timestamp. Continuation lines of /dev/kmsg records (they start with a space
// and carry KEY=value pairs) are dropped.
func parseRegexpOnly(b []byte) []Line {
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
		if m := kmsgHead.FindStringSubmatch(s); m != nil {
			if us, err := strconv.ParseInt(m[1], 10, 64); err == nil {
				t = float64(us) / 1e6
			}
			s = s[len(m[0]):]
		} else if s[0] == ' ' && strings.Contains(s, "=") && !strings.Contains(s, ":") {
			continue // /dev/kmsg dictionary line
		} else {
			if m := syslogHead.FindString(s); m != "" {
				s = s[len(m):]
			}
			if m := dmesgTime.FindStringSubmatch(s); m != nil {
				t, _ = strconv.ParseFloat(m[1], 64)
				s = s[len(m[0]):]
			}
		}
		out = append(out, Line{N: n, Time: t, Text: s})
	}
	return out
}
