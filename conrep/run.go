package conrep

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// Output is what conrep printed, parsed.
type Output struct {
	Text       string
	SystemType string // "ProLiant DL360e Gen8"
	ROMFamily  string
	ROMDate    string
	ReturnCode int // from "Conrep Return Code: N"; -1 when missing
	Errors     []string
}

// outputRE holds the patterns of conrep's console output, compiled on first use (not at the
// start-up of every dpdk-doctor command).
var outputRE = sync.OnceValue(func() (r struct{ systemType, romFamily, romDate, returnCode, errLine *regexp.Regexp }) {
	r.systemType = regexp.MustCompile(`(?m)^\s*System Type:\s*(.+?)\s*$`)
	r.romFamily = regexp.MustCompile(`(?m)^\s*ROM Family\s*:\s*(.+?)\s*$`)
	r.romDate = regexp.MustCompile(`(?m)^\s*ROM Date\s*:\s*(.+?)\s*$`)
	r.returnCode = regexp.MustCompile(`(?m)^Conrep Return Code:\s*(-?\d+)`)
	r.errLine = regexp.MustCompile(`(?mi)^.*\b(error|failed|failure|not found|invalid)\b.*$`)
	return r
})

// ParseOutput reads conrep's console output.
func ParseOutput(b []byte) Output {
	s := string(b)
	o := Output{Text: s, ReturnCode: -1}
	re := outputRE()
	if m := re.systemType.FindStringSubmatch(s); m != nil {
		o.SystemType = m[1]
	}
	if m := re.romFamily.FindStringSubmatch(s); m != nil {
		o.ROMFamily = m[1]
	}
	if m := re.romDate.FindStringSubmatch(s); m != nil {
		o.ROMDate = m[1]
	}
	if m := re.returnCode.FindStringSubmatch(s); m != nil {
		o.ReturnCode, _ = strconv.Atoi(m[1])
	}
	for _, l := range re.errLine.FindAllString(s, -1) {
		o.Errors = append(o.Errors, strings.TrimSpace(l))
	}
	return o
}

// Runner runs one conrep binary with one definitions file.
type Runner struct {
	Path string // the conrep program
	XML  string // the definitions file (-x)
	Dir  string // working directory, where conrep writes its logs
}

// Save runs `conrep -s -x XML -f file`: conrep writes the current settings to file.
func (r Runner) Save(ctx context.Context, file string) (Output, error) {
	return r.run(ctx, "-s", file)
}

// Load runs `conrep -l -x XML -f file`: conrep writes file's settings to the BIOS.
func (r Runner) Load(ctx context.Context, file string) (Output, error) {
	return r.run(ctx, "-l", file)
}

// run executes conrep with an argument list (never a shell) and judges its output: a non-zero
// exit, a non-zero return code or an error line is an error carrying what conrep said.
func (r Runner) run(ctx context.Context, mode, file string) (Output, error) {
	cmd := exec.CommandContext(ctx, r.Path, mode, "-x", r.XML, "-f", file)
	cmd.Dir = r.Dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	o := ParseOutput(out.Bytes())
	line := "conrep " + mode + " -x " + r.XML + " -f " + file
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return o, fmt.Errorf("%s: exited with status %d: %s", line, ee.ExitCode(), excerpt(o))
	case err != nil:
		return o, fmt.Errorf("%s: %w", line, err)
	case o.ReturnCode > 0:
		return o, fmt.Errorf("%s: Conrep Return Code %d: %s", line, o.ReturnCode, excerpt(o))
	case len(o.Errors) > 0:
		return o, fmt.Errorf("%s: reported an error although it exited 0: %s", line, strings.Join(o.Errors, "; "))
	case o.ReturnCode < 0:
		return o, fmt.Errorf("%s: printed no \"Conrep Return Code\": %s", line, excerpt(o))
	}
	return o, nil
}

func excerpt(o Output) string {
	if len(o.Errors) > 0 {
		return strings.Join(o.Errors, "; ")
	}
	t := strings.TrimSpace(o.Text)
	if len(t) > 400 {
		t = "..." + t[len(t)-400:]
	}
	if t == "" {
		return "(no output)"
	}
	return t
}
