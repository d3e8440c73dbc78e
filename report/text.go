package report

import (
	"fmt"
	"io"
	"strings"

	"github.com/dpdk-doctor/dpdk-doctor/check"
	"github.com/dpdk-doctor/dpdk-doctor/internal/quote"
)

// TextOptions says how to print the text report.
type TextOptions struct {
	Verbose bool // list what is fine, and print the evidence of every finding
	Color   bool // ANSI colours: red fail, yellow warn, green ok
	// Width wraps prose (summaries, explanations, steps) to this many columns; commands are
	// never broken. 0 means 80.
	Width int
}

const (
	red    = "\x1b[31m"
	yellow = "\x1b[33m"
	green  = "\x1b[32m"
	bold   = "\x1b[1m"
	reset  = "\x1b[0m"
)

type printer struct {
	b    strings.Builder
	opt  TextOptions
	devs map[string]Device
	told map[string]string // explanations printed so far, to whom
}

func (p *printer) paint(color, s string) string {
	if !p.opt.Color {
		return s
	}
	return color + s + reset
}

// wrap writes text after first (already on the line, printed width n) and continues on lines
// that start with indent, breaking between words at the width.
func (p *printer) wrap(first string, n int, text, indent string) {
	p.b.WriteString(first)
	col := n
	for i, w := range strings.Fields(text) {
		if i > 0 {
			if col+1+len(w) > p.opt.Width && col > len(indent) {
				p.b.WriteString("\n" + indent)
				col = len(indent)
			} else {
				p.b.WriteString(" ")
				col++
			}
		}
		p.b.WriteString(w)
		col += len(w)
	}
	p.b.WriteString("\n")
}

var marks = map[check.Severity]string{check.OK: "ok", check.Warn: "WARN", check.Fail: "FAIL"}
var colors = map[check.Severity]string{check.OK: green, check.Warn: yellow, check.Fail: red}

const indent = "         "

// WriteText writes the result for a person: first what blocks DPDK, one entry per root cause
// with its fix and its explanation printed once; then the warnings, grouped the same way; then
// what is fine (one line, or every check with Verbose). Names read from the host are escaped so
// they cannot drive the terminal.
func WriteText(w io.Writer, r *Result, opt TextOptions) error {
	if opt.Width <= 0 {
		opt.Width = 80
	}
	p := &printer{opt: opt, devs: r.Devices, told: map[string]string{}}
	q := quote.Text
	id := r.Identity
	title := strings.TrimSpace(id.Machine.SysVendor + " " + id.Machine.Product)
	if title == "" {
		title = "host"
	}
	head := "dpdk-doctor check: " + q(title)
	if id.Hostname != "" {
		head += " " + q(id.Hostname)
	}
	head += " (root " + q(id.Root) + ")"
	p.b.WriteString(p.paint(bold, head) + "\n")

	fails := Group(r.Findings, check.Fail)
	warns := Group(r.Findings, check.Warn)
	oks := 0
	for _, f := range r.Findings {
		if f.Severity == check.OK {
			oks++
		}
	}
	p.b.WriteString("\n")
	if len(fails) == 0 {
		p.b.WriteString(p.paint(green, "Nothing blocks DPDK.") + "\n")
	} else {
		verb := "blocks"
		if len(fails) > 1 {
			verb = "block"
		}
		p.b.WriteString(p.paint(bold+red, Plural(len(fails), "problem", "problems")+" "+verb+" DPDK:") + "\n")
		for _, c := range fails {
			p.cause(c)
		}
	}
	if len(warns) > 0 {
		p.b.WriteString("\n" + p.paint(bold+yellow, Plural(len(warns), "warning", "warnings")+":") + "\n")
		for _, c := range warns {
			p.cause(c)
		}
	}
	p.b.WriteString("\n")
	if !opt.Verbose {
		p.b.WriteString(p.paint(green, Plural(oks, "check", "checks")+" ok") + " (-v lists them)\n")
	} else {
		p.b.WriteString(p.paint(bold+green, Plural(oks, "check", "checks")+" ok:") + "\n")
		for _, f := range r.Findings {
			if f.Severity == check.OK {
				p.line(f)
				p.evidence(f)
			}
		}
	}
	_, err := io.WriteString(w, p.b.String())
	return err
}

// line prints one finding on its own: mark, id, subject and summary.
func (p *printer) line(f check.Finding) {
	q := quote.Text
	mark := fmt.Sprintf("  [%-4s] ", marks[f.Severity])
	text := q(f.ID) + ": " + q(subject(f.Subject, p.devs)) + q(f.Summary)
	p.wrap(p.paint(colors[f.Severity], mark), len(mark), text, indent)
}

func subject(s string, devs map[string]Device) string {
	if s == "" || s == "host" {
		return ""
	}
	return Name([]string{s}, devs) + ": "
}

// cause prints one root cause: who, what, the fix, why (once), what else it explains, the
// other ways out, and the evidence with Verbose.
func (p *printer) cause(c *Cause) {
	q := quote.Text
	mark := fmt.Sprintf("  [%-4s] ", marks[c.Severity])
	who := ""
	if subj := c.Subjects(); !(len(subj) == 1 && (subj[0] == "host" || subj[0] == "")) {
		who = Name(subj, p.devs) + ": "
	}
	p.wrap(p.paint(colors[c.Severity], mark), len(mark), q(who)+q(c.Summary()), indent)
	rem := c.Remedy()
	for i, alt := range rem.Alternatives {
		lead := "-> "
		if i > 0 {
			lead = "or "
		}
		for j, a := range alt {
			if j > 0 {
				lead = "   "
			}
			p.action(lead, a)
		}
	}
	if ex := c.Members[0].Explanation; ex != "" {
		if to, ok := p.told[ex]; ok {
			p.wrap(indent, len(indent), "(why: as for "+q(to)+" above)", indent)
		} else {
			p.wrap(indent, len(indent), q(ex), indent)
			p.told[ex] = Name(c.Subjects(), nil)
		}
	}
	for _, f := range c.Also {
		p.wrap(indent+"also ", len(indent)+5, q(f.ID)+": "+q(subject(f.Subject, p.devs))+q(f.Summary), indent+"     ")
	}
	if p.opt.Verbose {
		p.b.WriteString(indent + "(" + q(c.ID) + ")\n")
		for _, f := range c.Members {
			p.evidence(f)
		}
		for _, f := range c.Also {
			p.evidence(f)
		}
	}
}

// action prints a remedy's action: a command whole on one line (never wrapped, so it can be
// copied), a step wrapped as prose.
func (p *printer) action(lead string, a Action) {
	q := quote.Text
	if a.Run != "" {
		p.b.WriteString(indent + lead + p.paint(bold, q(a.Run)))
		switch n := len(indent) + len(lead) + len(q(a.Run)); {
		case a.Note == "":
			p.b.WriteString("\n")
		case n+5+len(q(a.Note)) <= p.opt.Width:
			p.b.WriteString("   # " + q(a.Note) + "\n")
		default: // the note on lines of its own, so the command stays whole
			p.b.WriteString("\n")
			p.wrap(indent+"   # ", len(indent)+5, q(a.Note), indent+"     ")
		}
		return
	}
	p.wrap(indent+lead, len(indent)+len(lead), q(a.Step), indent+"   ")
}

func (p *printer) evidence(f check.Finding) {
	if !p.opt.Verbose {
		return
	}
	q := quote.Text
	for _, e := range f.Evidence {
		p.wrap(indent+"evidence ", len(indent)+9, q(e.File)+": "+q(e.Value), indent+"   ")
	}
}
