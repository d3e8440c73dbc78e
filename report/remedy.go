package report

import (
	"strings"
)

// Action is one step of a remedy: either a command to run (Run) or something only a person
// can do (Step: a firmware setting, moving a card, a reboot). Exactly one of Run and Step is
// set. A reboot is always a Step, never a Run, so a program that runs every Run of an
// alternative never reboots the host by accident.
type Action struct {
	Run  string `json:"run,omitempty"`
	Step string `json:"step,omitempty"`
	// Shell is set when Run needs a shell to mean what it says (a redirection, a pipe, &&):
	// such a command cannot be run as one argv.
	Shell bool `json:"shell,omitempty"`
	// Note is the comment printed after a command ("dry run; add --apply").
	Note string `json:"note,omitempty"`
}

// Remedy is what fixes a finding: alternatives, each an ordered list of actions. The first
// alternative is the recommended one; any one alternative is enough.
type Remedy struct {
	Alternatives [][]Action `json:"alternatives"`
}

// ParseRemedy types a finding's remedy lines (check.Finding.Remedy): a line that starts with
// "#" is a step for a person; "# or ..." starts another alternative; any other line is a
// command, with a trailing "  # note" split off. A command that reboots or powers off the host
// becomes a step.
func ParseRemedy(lines []string) Remedy {
	r := Remedy{Alternatives: [][]Action{}}
	var cur []Action
	flush := func() {
		if len(cur) > 0 {
			r.Alternatives = append(r.Alternatives, cur)
		}
		cur = nil
	}
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		if text, ok := strings.CutPrefix(l, "#"); ok {
			text = strings.TrimSpace(text)
			rest, or := cutOr(text)
			if or {
				flush()
				text = rest
			} else if n := len(cur); n > 0 && cur[n-1].Step != "" && continues(cur[n-1].Step, text) {
				cur[n-1].Step += " " + text // one sentence broken over two '#' lines
				continue
			}
			if text != "" {
				cur = append(cur, Action{Step: text})
			}
			continue
		}
		cmd, note := l, ""
		if i := strings.Index(l, " #"); i >= 0 {
			cmd, note = strings.TrimSpace(l[:i]), strings.TrimSpace(l[i+2:])
		}
		if reboots(cmd) {
			a := Action{Step: "reboot the host: " + cmd}
			if note != "" {
				a.Step += " (" + note + ")"
			}
			cur = append(cur, a)
			continue
		}
		cur = append(cur, Action{Run: cmd, Shell: needsShell(cmd), Note: note})
	}
	flush()
	return r
}

// continues reports whether a step's text stops mid-sentence and next goes on with it (lower
// case, not a label such as "libvirt: ..."), so the two '#' lines are one step.
func continues(step, next string) bool {
	last := step[len(step)-1]
	f := strings.Fields(next)
	return (last >= 'a' && last <= 'z' || last >= '0' && last <= '9' || last == ',') &&
		len(f) > 0 && next[0] >= 'a' && next[0] <= 'z' && !strings.HasSuffix(f[0], ":")
}

// cutOr removes a leading "or" ("or move the card", "or, on kernels ...").
func cutOr(s string) (string, bool) {
	for _, p := range []string{"or, ", "or "} {
		if rest, ok := strings.CutPrefix(s, p); ok {
			return strings.TrimSpace(rest), true
		}
	}
	return s, false
}

// reboots reports whether a command line restarts or stops the host.
func reboots(cmd string) bool {
	f := strings.FieldsFunc(cmd, func(r rune) bool { return r == ' ' || r == '\t' || r == ';' || r == '&' || r == '|' })
	for i, w := range f {
		switch w {
		case "reboot", "poweroff", "halt", "shutdown", "kexec":
			return true
		case "systemctl":
			if i+1 < len(f) && (f[i+1] == "reboot" || f[i+1] == "poweroff" || f[i+1] == "kexec" || f[i+1] == "halt") {
				return true
			}
		}
	}
	return false
}

// needsShell reports whether a command line uses shell syntax.
func needsShell(cmd string) bool {
	return strings.ContainsAny(cmd, "<>|;&$`*")
}

// First is the first command of the recommended alternative, or "" when it has none.
func (r Remedy) First() string {
	if len(r.Alternatives) == 0 {
		return ""
	}
	for _, a := range r.Alternatives[0] {
		if a.Run != "" {
			return a.Run
		}
	}
	return ""
}
