// Package conrep reads and writes the files of HPE's conrep (Scripting Toolkit Configuration
// Replication Program) and runs it: the XML section definitions (conrep_rmrds.xml), the data
// files it saves and loads (.dat), and its console output.
package conrep

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Values an RMRDS_Slot<N> section takes.
const (
	Included = "Endpoints_Included"
	Excluded = "Endpoints_Excluded"
)

// SlotSection returns the section that controls RMRR reporting for a physical slot.
func SlotSection(slot string) string { return "RMRDS_Slot" + slot }

// Definition is one <Section> of a conrep XML definitions file: where the setting lives in
// NVRAM, the bits it uses, and the value names.
type Definition struct {
	Name   string
	NVRAM  uint32
	Mask   uint32
	Values map[string]uint32 // name -> bits
}

// Definitions is a conrep XML definitions file, by section name.
type Definitions map[string]Definition

type xmlDefs struct {
	Sections []struct {
		Name   string `xml:"name,attr"`
		NVRAM  string `xml:"nvram"`
		Mask   string `xml:"mask"`
		Values []struct {
			ID   string `xml:"id,attr"`
			Name string `xml:",chardata"`
		} `xml:"value"`
	} `xml:"Section"`
}

// ParseDefinitions reads a conrep XML definitions file. Any root element is accepted (HPE's
// files differ); every <Section> needs a name, an nvram address, a mask and values.
func ParseDefinitions(b []byte) (Definitions, error) {
	var x xmlDefs
	if err := xml.Unmarshal(b, &x); err != nil {
		return nil, fmt.Errorf("conrep definitions: not well-formed XML: %w", err)
	}
	if len(x.Sections) == 0 {
		return nil, fmt.Errorf("conrep definitions: no <Section> elements")
	}
	defs := Definitions{}
	for i, s := range x.Sections {
		if s.Name == "" {
			return nil, fmt.Errorf("conrep definitions: section %d has no name", i+1)
		}
		nv, err1 := parseNum(s.NVRAM)
		mask, err2 := parseNum(s.Mask)
		if err1 != nil || err2 != nil || mask == 0 {
			return nil, fmt.Errorf("conrep definitions: section %s: bad <nvram> %q or <mask> %q", s.Name, s.NVRAM, s.Mask)
		}
		d := Definition{Name: s.Name, NVRAM: nv, Mask: mask, Values: map[string]uint32{}}
		for _, v := range s.Values {
			id, err := parseNum(v.ID)
			name := strings.TrimSpace(v.Name)
			if err != nil || name == "" || id&^mask != 0 {
				return nil, fmt.Errorf("conrep definitions: section %s: bad value id %q (%q) for mask %#x", s.Name, v.ID, name, mask)
			}
			d.Values[name] = id
		}
		if len(d.Values) == 0 {
			return nil, fmt.Errorf("conrep definitions: section %s has no values", s.Name)
		}
		defs[s.Name] = d
	}
	return defs, nil
}

func parseNum(s string) (uint32, error) {
	s = strings.TrimSpace(s)
	v, err := strconv.ParseUint(strings.TrimPrefix(strings.ToLower(s), "0x"), 16, 32)
	return uint32(v), err
}

// Data is a conrep data file (.dat): the header attributes conrep writes when saving, and the
// sections in file order.
type Data struct {
	Version, Platform, Family, ROMDate, Processor string
	Sections                                      []Setting
}

// Setting is one <Section name="...">value</Section>.
type Setting struct{ Name, Value string }

// Get returns a section's value and whether the file has it.
func (d *Data) Get(name string) (string, bool) {
	for _, s := range d.Sections {
		if s.Name == name {
			return s.Value, true
		}
	}
	return "", false
}

type xmlData struct {
	XMLName   xml.Name `xml:"Conrep"`
	Version   string   `xml:"version,attr"`
	Platform  string   `xml:"originating_platform,attr"`
	Family    string   `xml:"originating_family,attr"`
	ROMDate   string   `xml:"originating_romdate,attr"`
	Processor string   `xml:"originating_processor_manufacturer,attr"`
	Sections  []struct {
		Name  string `xml:"name,attr"`
		Value string `xml:",chardata"`
	} `xml:"Section"`
}

// ParseData reads a conrep .dat file. A file that is not well-formed, has no <Conrep> root, or
// names a section twice is an error.
func ParseData(b []byte) (*Data, error) {
	var x xmlData
	if err := xml.Unmarshal(b, &x); err != nil {
		return nil, fmt.Errorf("conrep data: not a well-formed <Conrep> file: %w", err)
	}
	d := &Data{Version: x.Version, Platform: x.Platform, Family: x.Family, ROMDate: x.ROMDate, Processor: x.Processor}
	seen := map[string]bool{}
	for _, s := range x.Sections {
		if s.Name == "" {
			return nil, fmt.Errorf("conrep data: a <Section> has no name")
		}
		if seen[s.Name] {
			return nil, fmt.Errorf("conrep data: section %s appears twice", s.Name)
		}
		seen[s.Name] = true
		d.Sections = append(d.Sections, Setting{s.Name, strings.TrimSpace(s.Value)})
	}
	return d, nil
}

// Exclusion is the file that tells conrep to exclude slots from RMRR, in the seed's form:
// <Conrep> <Section name="RMRDS_Slot2" helptext=".">Endpoints_Excluded</Section> </Conrep>
func Exclusion(slots []string) []byte {
	settings := make([]Setting, len(slots))
	for i, s := range slots {
		settings[i] = Setting{SlotSection(s), Excluded}
	}
	return Load(settings)
}

// Load writes settings as a file for `conrep -l`.
func Load(settings []Setting) []byte {
	var b bytes.Buffer
	b.WriteString("<Conrep>")
	for _, s := range settings {
		fmt.Fprintf(&b, ` <Section name="%s" helptext=".">%s</Section>`, xmlEscape(s.Name), xmlEscape(s.Value))
	}
	b.WriteString(" </Conrep>\n")
	return b.Bytes()
}

// Save writes a data file as `conrep -s` does (the form of the seed's verify.dat).
func Save(d *Data) []byte {
	var b bytes.Buffer
	b.WriteString("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")
	fmt.Fprintf(&b, "<!--generated by conrep version %s-->\n", xmlEscape(d.Version))
	fmt.Fprintf(&b, "<Conrep version=\"%s\" originating_platform=\"%s\" originating_family=\"%s\" originating_romdate=\"%s\" originating_processor_manufacturer=\"%s\">\n",
		xmlEscape(d.Version), xmlEscape(d.Platform), xmlEscape(d.Family), xmlEscape(d.ROMDate), xmlEscape(d.Processor))
	for _, s := range d.Sections {
		fmt.Fprintf(&b, "  <Section name=\"%s\" helptext=\".\">%s</Section>\n", xmlEscape(s.Name), xmlEscape(s.Value))
	}
	b.WriteString("</Conrep>\n")
	return b.Bytes()
}

func xmlEscape(s string) string {
	var b bytes.Buffer
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

// RMRDS returns the RMRDS_Slot<N> settings of d, by slot name, sorted by slot number.
func (d *Data) RMRDS() []Setting {
	var out []Setting
	for _, s := range d.Sections {
		if strings.HasPrefix(s.Name, "RMRDS_Slot") {
			out = append(out, s)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return slotNum(out[i].Name) < slotNum(out[j].Name) })
	return out
}

func slotNum(section string) int {
	n, _ := strconv.Atoi(strings.TrimPrefix(section, "RMRDS_Slot"))
	return n
}

// ValidSlot reports whether s is a physical slot name conrep's RMRDS sections can name: a
// number from 1 to 99.
func ValidSlot(s string) bool {
	return regexp.MustCompile(`^[1-9][0-9]?$`).MatchString(s)
}
