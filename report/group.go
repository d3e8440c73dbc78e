package report

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/dpdk-doctor/dpdk-doctor/check"
)

// Cause is one root cause: findings of one check with the same explanation and the same
// remedy (a device's own address in its remedy aside), and the findings that follow from it.
type Cause struct {
	Severity check.Severity
	ID       string
	Members  []check.Finding // one per subject, in report order
	Also     []check.Finding // other findings that this cause explains (same fix, or on a member)
}

// Subjects lists the members' subjects.
func (c *Cause) Subjects() []string {
	var s []string
	for _, m := range c.Members {
		s = append(s, m.Subject)
	}
	return s
}

// Remedy is the remedy of the cause's first member, typed.
func (c *Cause) Remedy() Remedy { return ParseRemedy(c.Members[0].Remedy) }

// Summary is what the members' summaries say in common: the whole summary for one member,
// otherwise their common beginning, cut before the first detail that differs.
func (c *Cause) Summary() string {
	s := c.Members[0].Summary
	if len(c.Members) == 1 {
		return s
	}
	for _, m := range c.Members[1:] {
		s = commonPrefix(s, m.Summary)
	}
	if len(s) == len(c.Members[0].Summary) {
		return s
	}
	if i := strings.LastIndexByte(s, ' '); i > 0 {
		s = s[:i]
	}
	if i := strings.IndexAny(s, "(:;,"); i > 0 {
		s = s[:i]
	}
	return strings.TrimSpace(s)
}

func commonPrefix(a, b string) string {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			return a[:i]
		}
	}
	return a[:n]
}

// pciAddr is compiled on first use, not at every command's start-up.
var pciAddr = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\b[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]\b`) })

// key is what makes two findings one cause: the same check, explanation and remedy, with the
// finding's own subject taken out of the remedy ("fix rmrr 0000:03:00.0" and "... 03:00.1").
func key(f check.Finding) string {
	rem := strings.Join(f.Remedy, "\n")
	if f.Subject != "" {
		rem = strings.ReplaceAll(rem, f.Subject, "<subject>")
	}
	return string(f.Severity) + "\x00" + f.ID + "\x00" + f.Explanation + "\x00" + rem
}

// Group turns findings of one severity into causes. A cause whose findings all follow from
// another cause joins that one as Also: when their first command is the other's, or when they
// have no remedy and their subject (or a PCI address in their summary) is one of its members.
func Group(findings []check.Finding, sev check.Severity) []*Cause {
	var causes []*Cause
	byKey := map[string]*Cause{}
	for _, f := range findings {
		if f.Severity != sev {
			continue
		}
		k := key(f)
		if c := byKey[k]; c != nil {
			c.Members = append(c.Members, f)
			continue
		}
		c := &Cause{Severity: sev, ID: f.ID, Members: []check.Finding{f}}
		byKey[k] = c
		causes = append(causes, c)
	}
	if sev == check.OK {
		return causes
	}
	merged := map[*Cause]bool{}
	for _, c := range causes {
		var into *Cause
		for _, m := range c.Members {
			o := owner(causes, c, merged, m)
			if o == nil || (into != nil && o != into) {
				into = nil
				break
			}
			into = o
		}
		if into != nil {
			into.Also = append(into.Also, c.Members...)
			into.Also = append(into.Also, c.Also...)
			merged[c] = true
		}
	}
	out := causes[:0]
	for _, c := range causes {
		if !merged[c] {
			out = append(out, c)
		}
	}
	return out
}

// owner is the cause, other than self and not merged away, that f follows from, or nil.
func owner(causes []*Cause, self *Cause, merged map[*Cause]bool, f check.Finding) *Cause {
	first := ParseRemedy(f.Remedy).First()
	for _, c := range causes {
		if c == self || merged[c] {
			continue
		}
		if first != "" {
			for _, m := range c.Members {
				if ParseRemedy(m.Remedy).First() == first {
					return c
				}
			}
			continue
		}
		if len(f.Remedy) > 0 {
			continue
		}
		subj := c.Subjects()
		if pciAddr().MatchString(f.Subject) && slices.Contains(subj, f.Subject) {
			return c
		}
		for _, a := range pciAddr().FindAllString(f.Summary, -1) {
			if slices.Contains(subj, a) {
				return c
			}
		}
	}
	return nil
}

// Name names subjects compactly: "0000:03:00.0 and 0000:03:00.1 (X520-2, slot 2)".
func Name(subjects []string, devs map[string]Device) string {
	list := subjects
	if len(list) > 4 {
		list = append(slices.Clone(list[:3]), fmt.Sprintf("%d more", len(subjects)-3))
	}
	s := joinAnd(list)
	var labels []string
	seen := map[string]bool{}
	for _, a := range subjects {
		d, ok := devs[a]
		if !ok {
			continue
		}
		l := short(d.Name)
		if d.Slot != "" {
			l += ", slot " + d.Slot
		} else {
			l += ", on-board"
		}
		if !seen[l] {
			seen[l] = true
			labels = append(labels, l)
		}
	}
	if len(labels) > 0 && len(labels) <= 2 {
		s += " (" + strings.Join(labels, "; ") + ")"
	}
	return s
}

// short is a device's product in a few words: the subsystem's name in parentheses
// ("Ethernet Server Adapter X520-2" -> "X520-2" when it ends in a model), else the device name
// without the vendor.
func short(name string) string {
	if i := strings.LastIndexByte(name, '('); i >= 0 && strings.HasSuffix(name, ")") {
		sub := name[i+1 : len(name)-1]
		f := strings.Fields(sub)
		if len(sub) <= 24 {
			return sub
		}
		for j := len(f) - 1; j >= 0; j-- {
			if strings.ContainsAny(f[j], "0123456789") {
				return strings.Join(f[j:], " ")
			}
		}
		return sub
	}
	for _, v := range []string{"Intel Corporation ", "Mellanox Technologies ", "Broadcom Inc. and subsidiaries ", "Red Hat, Inc. "} {
		name = strings.TrimPrefix(name, v)
	}
	return name
}

func joinAnd(s []string) string {
	switch len(s) {
	case 0:
		return ""
	case 1:
		return s[0]
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}

// Plural is "1 problem", "2 problems".
func Plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}
