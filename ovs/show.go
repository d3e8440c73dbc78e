package ovs

import (
	"fmt"
	"io"
	"sort"
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
	Interfaces []ShowInterface `json:"interfaces"`
}

// ShowBridge is a bridge as `ovs show --json` prints it.
type ShowBridge struct {
	Name         string     `json:"name"`
	DatapathType string     `json:"datapath_type"`
	Ports        []ShowPort `json:"ports"`
	Mirrors      []Mirror   `json:"mirrors,omitempty"`
}

// Show is what `ovs show --json` prints: the state with every error explained.
type Show struct {
	OVSVersion      string       `json:"ovs_version"`
	DPDKInitialized bool         `json:"dpdk_initialized"`
	DPDKVersion     string       `json:"dpdk_version"`
	Bridges         []ShowBridge `json:"bridges"`
}

// NewShow explains st's errors with the host's facts (which may be nil).
func NewShow(st *State, f *check.Facts) *Show {
	s := &Show{OVSVersion: st.OVSVersion, DPDKInitialized: st.DPDKInitialized, DPDKVersion: st.DPDKVersion, Bridges: []ShowBridge{}}
	for bi := range st.Bridges {
		b := &st.Bridges[bi]
		sb := ShowBridge{Name: b.Name, DatapathType: b.DatapathType, Ports: []ShowPort{}, Mirrors: b.Mirrors}
		for pi := range b.Ports {
			p := &b.Ports[pi]
			sp := ShowPort{Name: p.Name, Interfaces: []ShowInterface{}}
			for ii := range p.Interfaces {
				i := &p.Interfaces[ii]
				sp.Interfaces = append(sp.Interfaces, ShowInterface{Interface: *i, Explanation: Explain(st, b, i, f)})
			}
			sb.Ports = append(sb.Ports, sp)
		}
		s.Bridges = append(s.Bridges, sb)
	}
	return s
}

// WriteText prints the state the way `ovs-vsctl show` does, with explanations under errors.
func (s *Show) WriteText(w io.Writer) error {
	var b strings.Builder
	for _, br := range s.Bridges {
		fmt.Fprintf(&b, "    Bridge %s\n", quote(br.Name))
		if br.DatapathType != "" {
			fmt.Fprintf(&b, "        datapath_type: %s\n", esc.Text(br.DatapathType))
		}
		for _, p := range br.Ports {
			fmt.Fprintf(&b, "        Port %s\n", quote(p.Name))
			for _, i := range p.Interfaces {
				fmt.Fprintf(&b, "            Interface %s\n", quote(i.Name))
				if i.Type != "" {
					fmt.Fprintf(&b, "                type: %s\n", esc.Text(i.Type))
				}
				if len(i.Options) > 0 {
					keys := make([]string, 0, len(i.Options))
					for k := range i.Options {
						keys = append(keys, k)
					}
					sort.Strings(keys)
					var kv []string
					for _, k := range keys {
						kv = append(kv, esc.Text(k)+"="+quote(i.Options[k]))
					}
					fmt.Fprintf(&b, "                options: {%s}\n", strings.Join(kv, ", "))
				}
				if i.Error != "" {
					fmt.Fprintf(&b, "                error: %q\n", i.Error)
				}
				if e := i.Explanation; e != nil {
					fmt.Fprintf(&b, "                => cause: %s\n", esc.Text(e.Cause))
					if e.Detail != "" {
						fmt.Fprintf(&b, "                   why: %s\n", esc.Text(e.Detail))
					}
					for _, r := range e.Remedy {
						fmt.Fprintf(&b, "                   fix: %s\n", esc.Text(r))
					}
				}
			}
		}
	}
	if s.OVSVersion != "" {
		fmt.Fprintf(&b, "    ovs_version: %q\n", s.OVSVersion)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// quote quotes a name as ovs-vsctl does: only when it is not a plain identifier.
func quote(s string) string {
	for _, r := range s {
		if !(r == '_' || r == '-' || r == '.' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return fmt.Sprintf("%q", s)
		}
	}
	if s == "" {
		return `""`
	}
	return s
}
