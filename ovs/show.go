package ovs

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/dpdk-doctor/dpdk-doctor/check"
	esc "github.com/dpdk-doctor/dpdk-doctor/internal/quote"
)

// ShowInterface is an interface as `ovs show --json` prints it, with its explanation.
type ShowInterface struct {
	Interface
	Explanation *Explanation `json:"explanation,omitempty"`
}

// ShowPort is a port as `ovs show --json` prints it.
type ShowPort struct {
	Name       string          `json:"name"`
	Tag        *int            `json:"tag,omitempty"`
	Trunks     []int           `json:"trunks,omitempty"`
	Interfaces []ShowInterface `json:"interfaces"`
}

// ShowBridge is a bridge as `ovs show --json` prints it.
type ShowBridge struct {
	Name         string       `json:"name"`
	Controllers  []Controller `json:"controllers,omitempty"`
	FailMode     string       `json:"fail_mode,omitempty"`
	DatapathType string       `json:"datapath_type"`
	Ports        []ShowPort   `json:"ports"`
	Mirrors      []Mirror     `json:"mirrors,omitempty"`
}

// Show is what `ovs show --json` prints: the state with every error explained.
type Show struct {
	UUID            string       `json:"uuid,omitempty"`
	Managers        []Controller `json:"managers,omitempty"`
	OVSVersion      string       `json:"ovs_version"`
	DPDKInitialized bool         `json:"dpdk_initialized"`
	DPDKVersion     string       `json:"dpdk_version"`
	Bridges         []ShowBridge `json:"bridges"`
}

// NewShow explains st's errors with the host's facts (which may be nil).
func NewShow(st *State, f *check.Facts) *Show {
	s := &Show{UUID: st.UUID, Managers: st.Managers, OVSVersion: st.OVSVersion, DPDKInitialized: st.DPDKInitialized, DPDKVersion: st.DPDKVersion, Bridges: []ShowBridge{}}
	x := newExplainer(st, f)
	for bi := range st.Bridges {
		b := &st.Bridges[bi]
		sb := ShowBridge{Name: b.Name, Controllers: b.Controllers, FailMode: b.FailMode, DatapathType: b.DatapathType, Ports: []ShowPort{}, Mirrors: b.Mirrors}
		for pi := range b.Ports {
			p := &b.Ports[pi]
			sp := ShowPort{Name: p.Name, Tag: p.Tag, Trunks: p.Trunks, Interfaces: []ShowInterface{}}
			for ii := range p.Interfaces {
				i := &p.Interfaces[ii]
				sp.Interfaces = append(sp.Interfaces, ShowInterface{Interface: *i, Explanation: x.explain(b, i)})
			}
			sb.Ports = append(sb.Ports, sp)
		}
		s.Bridges = append(s.Bridges, sb)
	}
	return s
}

// ExplainMark starts every line of ours in WriteText's output, so that a reader (or a diff
// against ovs-vsctl show) tells them from OVS's own.
const ExplainMark = "=> "

// WriteText prints the state the way `ovs-vsctl show` does, with explanations under errors
// (lines starting with ExplainMark after the indent).
func (s *Show) WriteText(w io.Writer) error { return s.write(w, true) }

// WriteVsctl prints exactly what `ovs-vsctl show` would print for the state: no explanations.
func (s *Show) WriteVsctl(w io.Writer) error { return s.write(w, false) }

// write follows ovs-vsctl's cmd_show: the root row's UUID, then per row its name and those
// columns of Open_vSwitch (manager_options, bridges, ovs_version), Bridge (controller,
// fail_mode, datapath_type, ports), Port (tag, trunks, interfaces), Interface (type, options,
// error), Controller and Manager (is_connected) that hold other than their default value,
// indented by four spaces a level, values in OVSDB's own syntax.
func (s *Show) write(w io.Writer, explain bool) error {
	var b strings.Builder
	// One allocation for the whole text: about 150 bytes an interface, 500 with an explanation.
	size := 256
	for _, br := range s.Bridges {
		for _, p := range br.Ports {
			for _, i := range p.Interfaces {
				size += 150
				if explain && i.Explanation != nil {
					size += 500
				}
			}
		}
	}
	b.Grow(size)
	Atom, Map := Atom, Map
	if oldQuoting(s.OVSVersion) {
		Atom = func(v string) string {
			if needsQuotes(v) || strings.ContainsAny(v, "0123456789") {
				return jsonString(v)
			}
			return v
		}
		Map = func(m map[string]string) string { return formatMap(m, Atom) }
	}
	if s.UUID != "" {
		b.WriteString(s.UUID + "\n")
	} else if explain {
		b.WriteString(ExplainMark + "(the snapshot does not carry the Open_vSwitch row's UUID)\n")
	}
	// Plain appends, not fmt: this runs for every interface (a 512-port show is 3,000 lines).
	line := func(parts ...string) {
		for _, p := range parts {
			b.WriteString(p)
		}
		b.WriteByte('\n')
	}
	ctrl := func(indent, kind string, cs []Controller) {
		for _, c := range cs {
			line(indent, kind, " ", Atom(c.Target))
			if c.IsConnected {
				line(indent, "    is_connected: true")
			}
		}
	}
	ctrl("    ", "Manager", s.Managers)
	old := oldQuoting(s.OVSVersion)
	for _, br := range s.Bridges {
		line("    Bridge ", Atom(br.Name))
		ctrl("        ", "Controller", br.Controllers)
		if br.FailMode != "" {
			line("        fail_mode: ", Atom(br.FailMode))
		}
		// 2.9 did not print datapath_type (the seed's netdev bridge shows none); 3.1 does.
		if br.DatapathType != "" && !old {
			line("        datapath_type: ", Atom(br.DatapathType))
		}
		for _, p := range br.Ports {
			line("        Port ", Atom(p.Name))
			if p.Tag != nil {
				line("            tag: ", strconv.Itoa(*p.Tag))
			}
			if len(p.Trunks) > 0 {
				t := make([]string, len(p.Trunks))
				for i, v := range p.Trunks {
					t[i] = strconv.Itoa(v)
				}
				line("            trunks: [", strings.Join(t, ", "), "]")
			}
			for _, i := range p.Interfaces {
				line("            Interface ", Atom(i.Name))
				if i.Type != "" {
					line("                type: ", Atom(i.Type))
				}
				if len(i.Options) > 0 {
					line("                options: ", Map(i.Options))
				}
				if i.Error != "" {
					line("                error: ", Atom(i.Error))
				}
				if e := i.Explanation; e != nil && explain {
					line("                ", ExplainMark, "cause: ", esc.Text(e.Cause))
					if e.Detail != "" {
						line("                ", ExplainMark, "why: ", esc.Text(e.Detail))
					}
					for _, r := range e.Remedy {
						line("                ", ExplainMark, "fix: ", esc.Text(r))
					}
				}
			}
		}
	}
	if s.OVSVersion != "" {
		line("    ovs_version: ", Atom(s.OVSVersion))
	}
	if explain && len(s.Bridges) == 0 {
		b.WriteString("    " + ExplainMark + "no bridges: the database is empty\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// oldQuoting reports whether an OVS version quotes every string with a digit in it: the seed's
// 2.9.0 printed Port "dpdk-p0", 3.1 prints Port dpdk-p0 (ovsdb-data.c's string_needs_quotes
// learned isdigit in between; 2.10 is taken as the first that did).
func oldQuoting(version string) bool {
	var major, minor int
	if n, _ := fmt.Sscanf(version, "%d.%d", &major, &minor); n != 2 {
		return false
	}
	return major < 2 || major == 2 && minor < 10
}

// Atom formats a string as OVSDB prints one (ovsdb-data.c): bare when it is an identifier
// (a letter or '_', then letters, digits, '_', '-' and '.') that cannot be read as another
// type (true, false, a UUID); otherwise as a JSON string.
func Atom(s string) string {
	if needsQuotes(s) {
		return jsonString(s)
	}
	return s
}

func needsQuotes(s string) bool {
	if s == "" {
		return true
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alpha := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		digit := c >= '0' && c <= '9'
		if i == 0 && !alpha && c != '_' || i > 0 && !alpha && !digit && c != '_' && c != '-' && c != '.' {
			return true
		}
	}
	return s == "true" || s == "false" || isUUID(s)
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// jsonString quotes s as OVS's JSON serializer does: backslash escapes for '"', '\\' and
// control characters, every other byte as it is.
func jsonString(s string) string {
	plain := true
	for i := 0; i < len(s) && plain; i++ {
		plain = s[i] >= 0x20 && s[i] != '"' && s[i] != '\\'
	}
	if plain {
		return `"` + s + `"`
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if c < 0x20 {
				fmt.Fprintf(&b, `\u%04x`, c)
			} else {
				b.WriteByte(c)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

// Map formats a string map as OVSDB prints one: {key=value, ...} sorted by key, each side an
// Atom.
func Map(m map[string]string) string { return formatMap(m, Atom) }

func formatMap(m map[string]string, atom func(string) string) string {
	if len(m) == 1 { // the common case (options:dpdk-devargs): no sorting
		for k, v := range m {
			return "{" + atom(k) + "=" + atom(v) + "}"
		}
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	kv := make([]string, len(keys))
	for i, k := range keys {
		kv[i] = atom(k) + "=" + atom(m[k])
	}
	return "{" + strings.Join(kv, ", ") + "}"
}
