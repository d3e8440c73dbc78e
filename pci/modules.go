package pci

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/dpdk-doctor/dpdk-doctor/host"
)

// Aliases maps PCI modaliases to kernel modules, from modules.alias.
type Aliases struct {
	byVendor map[string][]alias // keyed by the pattern's literal "v0000XXXX" prefix
	wild     []alias            // patterns whose vendor is a wildcard
}

type alias struct{ pattern, module string }

// ReadAliases reads lib/modules/<release>/modules.alias for the host's running kernel
// (proc/sys/kernel/osrelease). A host without them gives an empty map, not an error.
func ReadAliases(r host.Root) (*Aliases, error) {
	rel, err := r.ReadString("proc/sys/kernel/osrelease")
	if err != nil || rel == "" || strings.Contains(rel, "/") {
		return ParseAliases(nil)
	}
	f := "lib/modules/" + rel + "/modules.alias"
	b, err := r.ReadFile(f)
	if errors.Is(err, fs.ErrNotExist) {
		return ParseAliases(nil)
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", r.Path(f), err)
	}
	a, err := ParseAliases(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", r.Path(f), err)
	}
	return a, nil
}

// ParseAliases reads the modules.alias format ("alias PATTERN MODULE" lines, # comments), keeping
// the PCI aliases. A malformed line is an error naming it.
func ParseAliases(b []byte) (*Aliases, error) {
	a := &Aliases{byVendor: map[string][]alias{}}
	for n := 1; len(b) > 0; n++ {
		var line []byte
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			line, b = b, nil
		}
		f := strings.Fields(string(line))
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		if len(f) != 3 || f[0] != "alias" {
			return nil, fmt.Errorf("modules.alias line %d: want \"alias PATTERN MODULE\", got %q", n, line)
		}
		if !strings.HasPrefix(f[1], "pci:") {
			continue
		}
		if _, err := path.Match(f[1], ""); err != nil {
			return nil, fmt.Errorf("modules.alias line %d: bad pattern %q", n, f[1])
		}
		al := alias{f[1], f[2]}
		if len(f[1]) >= 13 && !strings.ContainsAny(f[1][4:13], "*?[") {
			k := f[1][4:13]
			a.byVendor[k] = append(a.byVendor[k], al)
		} else {
			a.wild = append(a.wild, al)
		}
	}
	return a, nil
}

// Modules returns the modules whose aliases match modalias, in file order, without repeats.
func (a *Aliases) Modules(modalias string) []string {
	var out []string
	seen := map[string]bool{}
	try := func(list []alias) {
		for _, al := range list {
			if ok, _ := path.Match(al.pattern, modalias); ok && !seen[al.module] {
				seen[al.module] = true
				out = append(out, al.module)
			}
		}
	}
	if len(modalias) >= 13 {
		try(a.byVendor[modalias[4:13]])
	}
	try(a.wild)
	return out
}
