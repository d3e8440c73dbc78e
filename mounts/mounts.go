// Package mounts parses mount tables: the kernel's /proc/mounts and /etc/fstab, which share a
// format. The huge-page facts (hugetlbfs mounts) and fix's mount remedy both read through it.
package mounts

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"
)

// Entry is one line of a mount table.
type Entry struct {
	Source, Point, FSType string
	Options               []string
}

// Option returns the value of the option key=value and whether the entry has it.
func (e Entry) Option(key string) (string, bool) {
	for _, o := range e.Options {
		if v, ok := strings.CutPrefix(o, key+"="); ok {
			return v, true
		}
	}
	return "", false
}

// Parse reads mount-table text: blank lines and '#' comments are skipped, the octal escapes
// (\040) of the first two fields are undone. A line of fewer than three fields is an error
// naming its number.
func Parse(b []byte) ([]Entry, error) {
	var out []Entry
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		l := strings.TrimSpace(sc.Text())
		if l == "" || l[0] == '#' {
			continue
		}
		f := strings.Fields(l)
		if len(f) < 3 {
			return nil, fmt.Errorf("line %d: %q has fewer than 3 fields", n, l)
		}
		e := Entry{Source: unescape(f[0]), Point: unescape(f[1]), FSType: f[2]}
		if len(f) > 3 {
			e.Options = strings.Split(f[3], ",")
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// unescape undoes the \NNN escapes mount tables use for space, tab, newline and backslash.
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
