package ovs

import (
	"regexp"
	"sync"
)

// lazyRegexp is a regular expression compiled on its first use: the catalog's patterns cost a
// third of a millisecond to compile, which every command paid at start-up (dpdk-doctor
// --version included) though only those that explain an Interface error use them.
type lazyRegexp struct{ re func() *regexp.Regexp }

// lazyRE returns the pattern src, compiled (and checked: a bad pattern panics, as
// regexp.MustCompile does) when it is first used.
func lazyRE(src string) *lazyRegexp {
	return &lazyRegexp{re: sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(src) })}
}

func (l *lazyRegexp) FindStringSubmatch(s string) []string { return l.re().FindStringSubmatch(s) }
func (l *lazyRegexp) MatchString(s string) bool            { return l.re().MatchString(s) }
func (l *lazyRegexp) String() string                       { return l.re().String() }
