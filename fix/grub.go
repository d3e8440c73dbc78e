package fix

import (
	"errors"
	"fmt"
	"strings"
)

// GrubFile is /etc/default/grub read as what it is: a POSIX shell fragment of assignments. Only
// the assignments of GRUB_CMDLINE_LINUX and GRUB_CMDLINE_LINUX_DEFAULT are understood; every
// other line is kept byte for byte.
type GrubFile struct {
	lines []string // the file split after each '\n'
	vars  map[string]*grubVar
}

// grubVar is one assignment: the lines it spans (continuation lines included) and its value.
type grubVar struct {
	first, last int // line indexes, inclusive
	value       string
	prefix      string // what came before the name ("export ", indentation), kept on rewrite
}

// ErrGrubSyntax is wrapped by the errors of a grub file dpdk-doctor will not edit.
var ErrGrubSyntax = errors.New("cannot edit")

// ParseGrub reads a grub defaults file. It refuses (ErrGrubSyntax) what it cannot rewrite
// faithfully: an unterminated quote, command substitution or a variable assigned twice.
func ParseGrub(b []byte) (*GrubFile, error) {
	if len(b) > 1<<20 {
		return nil, fmt.Errorf("%w: %d bytes, larger than any grub defaults file", ErrGrubSyntax, len(b))
	}
	g := &GrubFile{vars: map[string]*grubVar{}}
	s := string(b)
	for s != "" {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			g.lines = append(g.lines, s)
			break
		}
		g.lines = append(g.lines, s[:i+1])
		s = s[i+1:]
	}
	for i := 0; i < len(g.lines); i++ {
		line := strings.TrimLeft(g.lines[i], " \t")
		line = strings.TrimPrefix(line, "export ")
		prefix := g.lines[i][:len(g.lines[i])-len(line)]
		var name string
		for _, n := range []string{"GRUB_CMDLINE_LINUX_DEFAULT", "GRUB_CMDLINE_LINUX"} {
			if strings.HasPrefix(line, n+"=") {
				name = n
				break
			}
		}
		if name == "" {
			continue
		}
		rest := line[len(name)+1:]
		first := i
		// Join continuation lines (backslash-newline outside single quotes).
		for strings.HasSuffix(strings.TrimRight(rest, "\n"), `\`) && !strings.HasSuffix(rest, `\\`+"\n") && i+1 < len(g.lines) {
			rest = strings.TrimSuffix(strings.TrimRight(rest, "\n"), `\`) + g.lines[i+1]
			i++
		}
		v, err := shellWord(strings.TrimRight(rest, "\n"))
		if err != nil {
			return nil, fmt.Errorf("%w: line %d, %s: %v", ErrGrubSyntax, first+1, name, err)
		}
		if g.vars[name] != nil {
			return nil, fmt.Errorf("%w: %s is assigned twice (lines %d and %d); edit it by hand", ErrGrubSyntax, name, g.vars[name].first+1, first+1)
		}
		g.vars[name] = &grubVar{first: first, last: i, value: v, prefix: prefix}
	}
	return g, nil
}

// shellWord reads the value of an assignment: one shell word of quoted and unquoted parts,
// then optional blanks and a comment. Variable references ($GRUB_X) are kept as written;
// command substitution is refused.
func shellWord(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return "", errors.New("unterminated single quote")
			}
			if strings.ContainsRune(s[i+1:i+1+j], '$') {
				// Rewritten in double quotes, it would be expanded.
				return "", errors.New("a literal $ in single quotes")
			}
			b.WriteString(s[i+1 : i+1+j])
			i += j + 2
		case c == '"':
			i++
			closed := false
			for i < len(s) {
				if s[i] == '"' {
					closed = true
					i++
					break
				}
				if s[i] == '`' || strings.HasPrefix(s[i:], "$(") {
					return "", errors.New("command substitution")
				}
				if s[i] == '\\' && i+1 < len(s) {
					if s[i+1] == '$' {
						return "", errors.New("an escaped $")
					}
					b.WriteByte(s[i+1])
					i += 2
					continue
				}
				b.WriteByte(s[i])
				i++
			}
			if !closed {
				return "", errors.New("unterminated double quote")
			}
		case c == ' ' || c == '\t':
			rest := strings.TrimLeft(s[i:], " \t")
			if rest != "" && rest[0] != '#' && rest[0] != ';' {
				return "", fmt.Errorf("more than one word (%q)", rest)
			}
			return b.String(), nil
		case c == ';':
			return b.String(), nil
		case c == '`' || strings.HasPrefix(s[i:], "$("):
			return "", errors.New("command substitution")
		case c == '\\' && i+1 < len(s):
			if s[i+1] == '$' {
				return "", errors.New("an escaped $")
			}
			b.WriteByte(s[i+1])
			i += 2
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String(), nil
}

// Value returns the value of GRUB_CMDLINE_LINUX or GRUB_CMDLINE_LINUX_DEFAULT, "" when unset.
func (g *GrubFile) Value(name string) string {
	if v := g.vars[name]; v != nil {
		return v.value
	}
	return ""
}

// Set replaces the assignment of name (all its lines) with one double-quoted line, or appends
// one when the file has none.
func (g *GrubFile) Set(name, value string) {
	line := name + "=" + dquote(value) + "\n"
	v := g.vars[name]
	if v != nil {
		line = v.prefix + line
	}
	if v == nil {
		if n := len(g.lines); n > 0 && !strings.HasSuffix(g.lines[n-1], "\n") {
			g.lines[n-1] += "\n"
		}
		g.lines = append(g.lines, line)
		g.vars[name] = &grubVar{first: len(g.lines) - 1, last: len(g.lines) - 1, value: value}
		return
	}
	removed := v.last - v.first
	out := append([]string{}, g.lines[:v.first]...)
	out = append(out, line)
	out = append(out, g.lines[v.last+1:]...)
	g.lines = out
	for _, o := range g.vars {
		if o.first > v.first {
			o.first -= removed
			o.last -= removed
		}
	}
	v.last, v.value = v.first, value
}

// dquote quotes s for a shell's double quotes, keeping $VAR references working.
func dquote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "`", "\\`")
	return `"` + r.Replace(s) + `"`
}

// Bytes is the file as it would be written.
func (g *GrubFile) Bytes() []byte { return []byte(strings.Join(g.lines, "")) }

// kernelOptions is what `fix cmdline` may write: each option's name and a check of its value.
// Nothing else is ever written (no amd_iommu=on: the AMD IOMMU is on by default and the kernel
// knows no such value).
var kernelOptions = map[string]func(string) bool{
	"intel_iommu":        oneOf("on", "off", "sm_on", "sm_off"),
	"iommu":              oneOf("pt", "nopt", "off", "force"),
	"amd_iommu":          oneOf("off", "force_isolation", "fullflush"),
	"default_hugepagesz": oneOf("2M", "1G"),
	"hugepagesz":         oneOf("2M", "1G"),
	"hugepages":          isHugepagesCount,
	"vfio-pci.ids":       isIDList,
	"isolcpus":           isCPUList,
}

func oneOf(vals ...string) func(string) bool {
	return func(v string) bool {
		for _, x := range vals {
			if v == x {
				return true
			}
		}
		return false
	}
}

func isCount(v string) bool {
	return v != "" && len(v) < 9 && strings.Trim(v, "0123456789") == ""
}

// isHugepagesCount: a count, or per-node counts "0:512,1:512" (Linux 5.16 and later; `fix
// hugepages --for-dpdk --persist` advises them only for such kernels).
func isHugepagesCount(v string) bool {
	if isCount(v) {
		return true
	}
	for _, nc := range strings.Split(v, ",") {
		n, c, ok := strings.Cut(nc, ":")
		if !ok || len(n) > 4 || !isCount(n) || !isCount(c) {
			return false
		}
	}
	return true
}

func isIDList(v string) bool {
	for _, id := range strings.Split(v, ",") {
		ven, dev, ok := strings.Cut(id, ":")
		if !ok || len(ven) != 4 || len(dev) != 4 || strings.Trim(strings.ToLower(ven+dev), "0123456789abcdef") != "" {
			return false
		}
	}
	return true
}

func isCPUList(v string) bool { return v != "" && strings.Trim(v, "0123456789,-") == "" }

// ParseKernelOption checks one option of --add ("intel_iommu=on") against kernelOptions.
func ParseKernelOption(s string) (name, value string, err error) {
	name, value, ok := strings.Cut(s, "=")
	check := kernelOptions[name]
	switch {
	case !ok || check == nil:
		var known []string
		for k := range kernelOptions {
			known = append(known, k)
		}
		sortStrings(known)
		return "", "", fmt.Errorf("%w: %q is not an option dpdk-doctor writes (NAME=VALUE, NAME one of %s)", ErrBadOption, s, strings.Join(known, ", "))
	case !check(value):
		return "", "", fmt.Errorf("%w: %q: the kernel takes no such value for %s", ErrBadOption, s, name)
	}
	return name, value, nil
}

// EditCmdline returns cmdline with the options of add set: an option of the same name is
// replaced, not duplicated; hugepages= belongs to the hugepagesz= before it, so
// "hugepagesz=1G hugepages=4" replaces the count of an existing 1G pool only. remove drops
// options by name.
func EditCmdline(cmdline string, add []string, remove []string) string {
	words := strings.Fields(cmdline)
	drop := map[string]bool{}
	for _, r := range remove {
		drop[r] = true
	}
	// Group add into units: a hugepagesz= with the hugepages= after it is one unit.
	type unit struct{ words []string }
	var units []unit
	for i := 0; i < len(add); i++ {
		n, _, _ := strings.Cut(add[i], "=")
		if n == "hugepagesz" && i+1 < len(add) && strings.HasPrefix(add[i+1], "hugepages=") {
			units = append(units, unit{[]string{add[i], add[i+1]}})
			i++
			continue
		}
		units = append(units, unit{[]string{add[i]}})
	}
	for _, u := range units {
		n, _, _ := strings.Cut(u.words[0], "=")
		switch {
		case n == "hugepagesz":
			idx := -1
			for i, w := range words {
				if w == u.words[0] {
					idx = i
				}
			}
			if idx >= 0 {
				end := idx + 1
				if end < len(words) && strings.HasPrefix(words[end], "hugepages=") {
					end++
				}
				words = append(words[:idx], append(append([]string{}, u.words...), words[end:]...)...)
			} else {
				words = append(words, u.words...)
			}
		case n == "hugepages":
			// A pool count without a size is the default size's: replace a count not after a hugepagesz=.
			done := false
			for i, w := range words {
				if strings.HasPrefix(w, "hugepages=") && (i == 0 || !strings.HasPrefix(words[i-1], "hugepagesz=")) {
					words[i], done = u.words[0], true
					break
				}
			}
			if !done {
				words = append(words, u.words[0])
			}
		default:
			done := false
			var out []string
			for _, w := range words {
				wn, _, _ := strings.Cut(w, "=")
				if wn == n {
					if !done {
						out = append(out, u.words[0])
						done = true
					}
					continue
				}
				out = append(out, w)
			}
			if !done {
				out = append(out, u.words[0])
			}
			words = out
		}
	}
	var out []string
	for _, w := range words {
		wn, _, _ := strings.Cut(w, "=")
		if !drop[wn] {
			out = append(out, w)
		}
	}
	return strings.Join(out, " ")
}

// lineDiff is a short diff of two texts: the changed lines, "-" old and "+" new, with the
// first changed line's number.
func lineDiff(path string, a, b []byte) []string {
	al, bl := strings.SplitAfter(string(a), "\n"), strings.SplitAfter(string(b), "\n")
	i := 0
	for i < len(al) && i < len(bl) && al[i] == bl[i] {
		i++
	}
	ja, jb := len(al), len(bl)
	for ja > i && jb > i && al[ja-1] == bl[jb-1] {
		ja--
		jb--
	}
	if i == ja && i == jb {
		return nil
	}
	out := []string{"--- " + path, "+++ " + path + " (new)", fmt.Sprintf("@@ line %d @@", i+1)}
	for _, l := range al[i:ja] {
		if l != "" {
			out = append(out, "-"+strings.TrimRight(l, "\n"))
		}
	}
	for _, l := range bl[i:jb] {
		if l != "" {
			out = append(out, "+"+strings.TrimRight(l, "\n"))
		}
	}
	return out
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}
