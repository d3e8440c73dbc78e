// Package cmdline parses the kernel command line (/proc/cmdline) into its parameters.
package cmdline

import (
	"strings"

	"github.com/dpdk-doctor/dpdk-doctor/host"
)

// Param is one "key=value" or bare "key" parameter.
type Param struct {
	Key, Value string
	HasValue   bool
}

// Cmdline is the kernel command line, in order. Parameters after a lone "--" go to init and are
// not kept.
type Cmdline struct {
	Raw    string
	Params []Param
}

// Read reads proc/cmdline. A missing file gives an empty command line.
func Read(r host.Root) Cmdline {
	s, _ := r.ReadString("proc/cmdline")
	return Parse(s)
}

// Parse splits a command line as the kernel does: on spaces, with double quotes grouping a
// value that holds spaces.
func Parse(s string) Cmdline {
	c := Cmdline{Raw: strings.TrimSpace(s)}
	var word strings.Builder
	quoted := false
	flush := func() bool {
		w := word.String()
		word.Reset()
		if w == "" {
			return true
		}
		if w == "--" {
			return false
		}
		k, v, ok := strings.Cut(w, "=")
		c.Params = append(c.Params, Param{Key: k, Value: v, HasValue: ok})
		return true
	}
	for _, r := range s {
		switch {
		case r == '"':
			quoted = !quoted
		case !quoted && (r == ' ' || r == '\t' || r == '\n'):
			if !flush() {
				return c
			}
		default:
			word.WriteRune(r)
		}
	}
	flush()
	return c
}

// Get returns the value of the last occurrence of key (the kernel honours the last one for most
// parameters) and whether it is there.
func (c Cmdline) Get(key string) (string, bool) {
	for i := len(c.Params) - 1; i >= 0; i-- {
		if c.Params[i].Key == key {
			return c.Params[i].Value, true
		}
	}
	return "", false
}

// All returns the values of every occurrence of key, in order (hugepagesz= and hugepages= pair
// up this way).
func (c Cmdline) All(key string) []string {
	var out []string
	for _, p := range c.Params {
		if p.Key == key {
			out = append(out, p.Value)
		}
	}
	return out
}

// HasOption reports whether key's comma-separated value list holds opt
// (intel_iommu=on,relax_rmrr has "relax_rmrr").
func (c Cmdline) HasOption(key, opt string) bool {
	for _, v := range c.All(key) {
		for _, o := range strings.Split(v, ",") {
			if o == opt {
				return true
			}
		}
	}
	return false
}
