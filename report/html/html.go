// Package html renders a check as one self-contained HTML page: the PCI tree as a diagram with
// every device coloured by its verdict, IOMMU groups as boxes around their members, the RMRRs
// and what they cover, NUMA nodes, the OVS bridges with every Interface error explained, and the
// findings grouped by cause. The page loads nothing from anywhere: its CSS and script are
// embedded, so it can be mailed, attached to a ticket or opened on an air-gapped machine.
package html

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/dpdk-doctor/dpdk-doctor/check"
	"github.com/dpdk-doctor/dpdk-doctor/dmar"
	"github.com/dpdk-doctor/dpdk-doctor/ivrs"
	"github.com/dpdk-doctor/dpdk-doctor/ovs"
	"github.com/dpdk-doctor/dpdk-doctor/pci"
)

//go:embed report.css
var css string

//go:embed report.js
var js string

//go:embed report.tmpl
var tmplText string

// page is the report's template, parsed on first use: parsing it took half a millisecond of
// every command's start-up, though only `report` renders it.
var page = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("report").Funcs(template.FuncMap{
		"css": func() template.CSS { return template.CSS(css) },
		"js":  func() template.JS { return template.JS(js) },
	}).Parse(tmplText))
})

// Input is what a report shows.
type Input struct {
	Facts     *check.Facts
	Findings  []check.Finding
	OVS       *ovs.Show // nil when there is no OVS to show
	OVSSource string    // where the OVS state was read ("unix:/run/openvswitch/db.sock", a snapshot)
	// Names gives a device's human name by address ("Intel 82599ES ... (X520-2)"); optional.
	Names map[pci.Address]string
	// IVRS is the AMD IVRS table's report (its IVMDs and the devices they cover); optional.
	IVRS *ivrs.Report
	// Version is dpdk-doctor's version, shown in the footer; optional.
	Version string
}

// CollapseAbove is how many functions a bus may hold before runs of alike IOMMU groups on it are
// folded into one summary row (expandable with <details>).
const CollapseAbove = 32

// Write renders in as one HTML document to w.
func Write(w io.Writer, in Input) error {
	v, err := build(in)
	if err != nil {
		return err
	}
	if err := page().Execute(w, v); err != nil {
		return fmt.Errorf("rendering the HTML report: %w", err)
	}
	return nil
}

type view struct {
	Title    string
	Root     string
	Version  string
	Worst    string
	Counts   map[string]int
	Causes   []cause // fail and warn, by root cause, fails first
	Blocking int     // how many causes fail
	Fine     []findingGroup
	NUMA     []numaBand
	Devices  int
	RMRRs    []rmrrView
	DMARNote string
	OVS      *ovs.Show
	OVSSrc   string
	IVRS     *ivrs.Report
}

type findingGroup struct {
	Area        string
	addrs       []string // the devices it concerns
	Severity    string
	ID          string
	Summary     string // the first subject's summary
	Explanation string
	Remedy      []string
	Subjects    []subject
	Ranges      []subjectRange // for many subjects: runs of neighbouring functions
}

// subjectRange is a run of subjects that are neighbours in the PCI tree's address order.
type subjectRange struct {
	First, Last subject
	N           int
}

// manySubjects is how many subjects a finding group lists one by one before showing runs.
const manySubjects = 16

func (g *findingGroup) makeRanges(ds *pci.Devices) {
	if len(g.Subjects) <= manySubjects {
		return
	}
	pos := map[string]int{}
	for i, d := range ds.List {
		pos[d.Address.String()] = i
	}
	last := -2
	for _, s := range g.Subjects {
		p, ok := pos[s.Name]
		switch {
		case ok && len(g.Ranges) > 0 && p == last+1:
			r := &g.Ranges[len(g.Ranges)-1]
			r.Last, r.N = s, r.N+1
		default:
			g.Ranges = append(g.Ranges, subjectRange{First: s, Last: s, N: 1})
		}
		if ok {
			last = p
		} else {
			last = -2
		}
	}
}

// cause is one root cause: the head finding group and the groups that are its echoes.
type cause struct {
	Severity string
	Title    string
	Head     findingGroup
	Related  []findingGroup
	Fix      string // the first remedy's command, "" when it is only a step
	FixNote  string // its comment, or the step
	addrs    []string
}

type subject struct {
	Name    string
	Anchor  string // "dev-0000:03:00.0" when the subject is a device in the tree
	Summary string
}

type numaBand struct {
	Label   string
	Bridges []*hostBridge
}

type hostBridge struct {
	Name   string
	Groups []item
}

// item is one entry in a bus's list: an IOMMU group box, or a folded run of alike boxes.
type item struct {
	Group  *groupBox
	Folded *folded
}

type groupBox struct {
	Mini    bool // inside a folded run: drawn as a line of addresses, the summary says what they are
	ID      int  // -1: no IOMMU group
	Members []*node
}

type folded struct {
	Summary string
	Verdict string
	Groups  []*groupBox
}

type node struct {
	Dev      *devView
	Children []item
}

type devView struct {
	Addr      string
	Name      string
	Driver    string
	Ifaces    string
	Verdict   string // fail, warn, ok, none (not a DPDK candidate)
	RMRR      string // locked, relaxable, clear, unknown
	RMRRLinks []int  // indexes of the RMRRs that cover it
	Slot      string
	NUMA      int
	Group     int
	Bridge    bool
	IVMD      bool     // an AMD IVMD covers it and the kernel refuses it to VFIO
	ShowNUMA  bool     // more than one NUMA node on the host: each device says its own
	Notes     []string // the summaries of its non-ok findings
	sig       string
}

type rmrrView struct {
	Index   int
	Base    string
	End     string
	Size    string
	Segment uint16
	Scopes  []scopeView
}

type scopeView struct {
	Path     string
	Resolved string // the device the scope names, "" when none is present
	Bridge   bool
	Covered  []coveredView
	Folded   []coveredView // beyond the first few, behind <details>
}

type coveredView struct {
	Path   string
	Addr   string
	Name   string
	State  string // locked, relaxable
	Why    string
	Reason string
}

func build(in Input) (*view, error) {
	f := in.Facts
	if f == nil || f.Devices == nil {
		return nil, fmt.Errorf("rendering the HTML report: no facts")
	}
	rep := check.NewReport(f, in.Findings)
	v := &view{Title: rep.Host, Root: rep.Root, Version: in.Version, Counts: rep.Counts, OVS: in.OVS, OVSSrc: in.OVSSource, Devices: len(f.Devices.List)}
	if v.Title == "" {
		v.Title = "this host"
	}
	v.Worst = string(check.Worst(in.Findings))
	v.IVRS = in.IVRS
	var problems []findingGroup
	problems, v.Fine = groupFindings(in.Findings, f.Devices)

	name := func(d *pci.Device) string {
		if n := in.Names[d.Address]; n != "" {
			return n
		}
		return fmt.Sprintf("[%04x:%04x] class %06x", d.Config.VendorID, d.Config.DeviceID, d.Config.Class)
	}
	// verdicts per device
	selected := map[pci.Address]bool{}
	for _, d := range f.Selected {
		selected[d.Address] = true
	}
	worst := map[string]check.Severity{}
	notes := map[string][]string{}
	for _, fd := range in.Findings {
		if rankOf(fd.Severity) > rankOf(worst[fd.Subject]) {
			worst[fd.Subject] = fd.Severity
		}
		if fd.Severity != check.OK {
			notes[fd.Subject] = append(notes[fd.Subject], fd.ID+": "+fd.Summary)
		}
	}
	rmrrIdx := map[int]int{} // structure offset -> index in v.RMRRs
	if f.DMAR != nil {
		for i, r := range f.DMAR.RMRRs() {
			rmrrIdx[r.Offset] = i
		}
	}
	children := map[pci.Address][]*pci.Device{}
	isBridge := map[pci.Address]bool{}
	for _, d := range f.Devices.List {
		if d.Parent != nil {
			children[d.Parent.Address] = append(children[d.Parent.Address], d)
			isBridge[d.Parent.Address] = true
		}
	}
	numaNodes := map[int]bool{}
	for _, d := range f.Devices.List {
		if d.NUMANode >= 0 {
			numaNodes[d.NUMANode] = true
		}
	}
	ivmdRefused := map[string]bool{}
	if in.IVRS != nil {
		for _, m := range in.IVRS.IVMD {
			for _, d := range m.Devices {
				if d.Refused {
					ivmdRefused[d.Address] = true
				}
			}
		}
	}
	views := map[pci.Address]*devView{}
	for _, d := range f.Devices.List {
		a := d.Address.String()
		dv := &devView{Addr: a, Name: name(d), Driver: d.Driver, Ifaces: strings.Join(d.Interfaces, ", "), Slot: d.Slot, NUMA: d.NUMANode,
			Group: d.IOMMUGroup, ShowNUMA: len(numaNodes) > 1, Bridge: isBridge[d.Address] || d.Config.Class>>8 == 0x0604, Notes: notes[a]}
		switch {
		case !selected[d.Address]:
			dv.Verdict = "none"
		case worst[a] == "":
			dv.Verdict = "ok"
		default:
			dv.Verdict = string(worst[a])
		}
		rv := f.RMRR[d.Address]
		dv.RMRR = string(rv.State)
		dv.IVMD = ivmdRefused[a]
		for _, c := range rv.Covers {
			if i, ok := rmrrIdx[c.RMRR.Offset]; ok && !slices.Contains(dv.RMRRLinks, i) {
				dv.RMRRLinks = append(dv.RMRRLinks, i)
			}
		}
		dv.sig = fmt.Sprintf("%04x:%04x %s %s %s %d", d.Config.VendorID, d.Config.DeviceID, d.Driver, dv.Verdict, dv.RMRR, d.NUMANode)
		views[d.Address] = dv
	}
	var mk func(d *pci.Device) *node
	mk = func(d *pci.Device) *node {
		n := &node{Dev: views[d.Address]}
		n.Children = layoutBus(children[d.Address], views, mk)
		return n
	}
	// host bridges: the roots, by the pciSSSS:BB directory they hang from
	hbs := map[string][]*pci.Device{}
	var hbOrder []string
	for _, d := range f.Devices.List {
		if d.Parent != nil {
			continue
		}
		hb := hostBridgeOf(d)
		if _, ok := hbs[hb]; !ok {
			hbOrder = append(hbOrder, hb)
		}
		hbs[hb] = append(hbs[hb], d)
	}
	// NUMA bands: each root-bus device (and its subtree) goes to the node most of its functions
	// report; a host bridge whose root ports sit on different nodes appears in each band.
	bands := map[int]*numaBand{}
	var nodes []int
	for _, hb := range hbOrder {
		byNode := map[int][]*pci.Device{}
		var order []int
		for _, d := range hbs[hb] {
			n := majorityNUMA([]*pci.Device{d}, children)
			if _, ok := byNode[n]; !ok {
				order = append(order, n)
			}
			byNode[n] = append(byNode[n], d)
		}
		// a device with no node of its own (the host bridge's own functions) joins the bridge's majority
		if unknown, ok := byNode[-1]; ok && len(order) > 1 {
			m := majorityNUMA(hbs[hb], children)
			byNode[m] = append(byNode[m], unknown...)
			delete(byNode, -1)
			order = slices.DeleteFunc(order, func(n int) bool { return n == -1 })
		}
		for _, numa := range order {
			b := bands[numa]
			if b == nil {
				label := fmt.Sprintf("NUMA node %d", numa)
				if numa < 0 {
					label = "NUMA node unknown (not a NUMA machine, or the firmware does not say)"
				}
				b = &numaBand{Label: label}
				bands[numa] = b
				nodes = append(nodes, numa)
			}
			roots := byNode[numa]
			slices.SortFunc(roots, func(a, b *pci.Device) int { return strings.Compare(a.Address.String(), b.Address.String()) })
			name := hb
			if len(order) > 1 {
				name += fmt.Sprintf(" (its devices on node %d)", numa)
			}
			b.Bridges = append(b.Bridges, &hostBridge{Name: name, Groups: layoutBus(roots, views, mk)})
		}
	}
	sort.Ints(nodes)
	for _, n := range nodes {
		v.NUMA = append(v.NUMA, *bands[n])
	}
	v.RMRRs, v.DMARNote = rmrrs(f, name)
	byAddr := map[string]*devView{}
	for a, dv := range views {
		byAddr[a.String()] = dv
	}
	v.Causes = clusterCauses(problems, byAddr)
	for _, c := range v.Causes {
		if c.Severity == string(check.Fail) {
			v.Blocking++
		}
	}
	return v, nil
}

func rankOf(s check.Severity) int {
	switch s {
	case check.OK:
		return 1
	case check.Warn:
		return 2
	case check.Fail:
		return 3
	}
	return 0
}

// hostBridgeOf names the host bridge a root-bus device hangs from ("pci0000:00"), from its sysfs
// path, or from its own address when the path does not say.
func hostBridgeOf(d *pci.Device) string {
	for _, part := range strings.Split(d.SysPath, "/") {
		if strings.HasPrefix(part, "pci") && strings.Contains(part, ":") {
			return part
		}
	}
	return fmt.Sprintf("pci%04x:%02x", d.Address.Segment, d.Address.Bus)
}

// majorityNUMA is the NUMA node most functions below the roots report (-1 when none does).
func majorityNUMA(roots []*pci.Device, children map[pci.Address][]*pci.Device) int {
	count := map[int]int{}
	var walk func(ds []*pci.Device)
	walk = func(ds []*pci.Device) {
		for _, d := range ds {
			if d.NUMANode >= 0 {
				count[d.NUMANode]++
			}
			walk(children[d.Address])
		}
	}
	walk(roots)
	best, n := -1, 0
	for k, c := range count {
		if c > n || (c == n && k < best) {
			best, n = k, c
		}
	}
	return best
}

// layoutBus boxes the devices of one bus by IOMMU group, in address order, and on a crowded bus
// folds runs of three or more alike groups after the first into one summary.
func layoutBus(ds []*pci.Device, views map[pci.Address]*devView, mk func(*pci.Device) *node) []item {
	var boxes []*groupBox
	byGroup := map[int]*groupBox{}
	for _, d := range ds {
		g := d.IOMMUGroup
		b := byGroup[g]
		if b == nil || g < 0 {
			b = &groupBox{ID: g}
			boxes = append(boxes, b)
			if g >= 0 {
				byGroup[g] = b
			}
		}
		b.Members = append(b.Members, mk(d))
	}
	var out []item
	if len(ds) <= CollapseAbove {
		for _, b := range boxes {
			out = append(out, item{Group: b})
		}
		return out
	}
	sig := func(b *groupBox) string {
		var s []string
		for _, m := range b.Members {
			if len(m.Children) > 0 {
				return "" // a bridge with a subtree is never folded away
			}
			s = append(s, m.Dev.sig)
		}
		return strings.Join(s, "|")
	}
	for i := 0; i < len(boxes); {
		j := i + 1
		s := sig(boxes[i])
		for s != "" && j < len(boxes) && sig(boxes[j]) == s {
			j++
		}
		out = append(out, item{Group: boxes[i]})
		if j-i >= 3 {
			rest := boxes[i+1 : j]
			for _, b := range rest {
				b.Mini = true
			}
			first, last := rest[0].Members[0].Dev, rest[len(rest)-1].Members
			fns := 0
			for _, b := range rest {
				fns += len(b.Members)
			}
			out = append(out, item{Folded: &folded{
				Verdict: first.Verdict,
				Summary: fmt.Sprintf("%d more IOMMU groups like the one above (%d functions, %s to %s): %s on %s, %s",
					len(rest), fns, first.Addr, last[len(last)-1].Dev.Addr, first.Name, orNone(first.Driver), verdictWord(first.Verdict)),
				Groups: rest,
			}})
		} else {
			for _, b := range boxes[i+1 : j] {
				out = append(out, item{Group: b})
			}
		}
		i = j
	}
	return out
}

func orNone(s string) string {
	if s == "" {
		return "no driver"
	}
	return s
}

func verdictWord(v string) string {
	switch v {
	case "fail":
		return "failing"
	case "warn":
		return "with warnings"
	case "ok":
		return "ready"
	}
	return "not DPDK candidates"
}

// groupFindings groups findings by ID, verdict, explanation and remedy, with the subject's own
// address taken out of the remedy (so "fix rmrr 0000:03:00.0" and "fix rmrr 0000:03:00.1" are
// one remedy): one entry naming every subject, problems first.
func groupFindings(fs []check.Finding, ds *pci.Devices) (problems, fine []findingGroup) {
	idx := map[string]int{}
	var all []findingGroup
	for _, fd := range fs {
		norm := strings.ReplaceAll(strings.Join(fd.Remedy, "\x00"), fd.Subject, "{}")
		key := string(fd.Severity) + "\x00" + fd.ID + "\x00" + norm + "\x00" + strings.ReplaceAll(fd.Explanation, fd.Subject, "{}")
		i, ok := idx[key]
		if !ok {
			i = len(all)
			idx[key] = i
			all = append(all, findingGroup{Severity: string(fd.Severity), ID: fd.ID, Area: fd.Area, Summary: fd.Summary, Explanation: fd.Explanation, Remedy: fd.Remedy})
		}
		s := subject{Name: fd.Subject, Summary: fd.Summary}
		if a, err := pci.ParseAddress(fd.Subject); err == nil && ds.Get(a) != nil {
			s.Anchor = "dev-" + a.String()
			all[i].addrs = append(all[i].addrs, a.String())
		} else {
			for _, m := range addrRE().FindAllString(fd.Summary, -1) {
				if a, err := pci.ParseAddress(m); err == nil && ds.Get(a) != nil {
					all[i].addrs = append(all[i].addrs, a.String())
				}
			}
		}
		all[i].Subjects = append(all[i].Subjects, s)
	}
	sort.SliceStable(all, func(i, j int) bool {
		return rankOf(check.Severity(all[i].Severity)) > rankOf(check.Severity(all[j].Severity))
	})
	for _, g := range all {
		g.makeRanges(ds)
		if g.Severity == string(check.OK) {
			fine = append(fine, g)
		} else {
			problems = append(problems, g)
		}
	}
	return problems, fine
}

var addrRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`\b[0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]\b`)
})

// areaOrder ranks areas for choosing a cause's head: the device's own finding explains the
// kernel log's and OVS's echoes of it, not the other way round.
var areaOrder = []string{"device", "iommu", "vfio", "cpu", "hugepages", "kernellog", "ovs"}

func areaRank(a string) int {
	if i := slices.Index(areaOrder, a); i >= 0 {
		return i
	}
	return len(areaOrder)
}

// clusterCauses joins problem groups that concern the same devices into one root cause: the
// RMRR lock of a NIC, the kernel log line that shows the refusal and OVS's "Error attaching
// device" are one problem. The head is the most severe group of the most basic area.
func clusterCauses(groups []findingGroup, devs map[string]*devView) []cause {
	parent := make([]int, len(groups))
	for i := range parent {
		parent[i] = i
	}
	find := func(i int) int {
		for parent[i] != i {
			i = parent[i]
		}
		return i
	}
	owner := map[string]int{}
	for i, g := range groups {
		for _, a := range g.addrs {
			if j, ok := owner[a]; ok {
				parent[find(i)] = find(j)
			} else {
				owner[a] = i
			}
		}
	}
	members := map[int][]int{}
	var roots []int
	for i := range groups {
		r := find(i)
		if _, ok := members[r]; !ok {
			roots = append(roots, r)
		}
		members[r] = append(members[r], i)
	}
	var out []cause
	for _, r := range roots {
		ms := members[r]
		sort.SliceStable(ms, func(a, b int) bool {
			ga, gb := groups[ms[a]], groups[ms[b]]
			if ra, rb := rankOf(check.Severity(ga.Severity)), rankOf(check.Severity(gb.Severity)); ra != rb {
				return ra > rb
			}
			return areaRank(ga.Area) < areaRank(gb.Area)
		})
		c := cause{Head: groups[ms[0]], Severity: groups[ms[0]].Severity}
		for _, i := range ms[1:] {
			c.Related = append(c.Related, groups[i])
		}
		seen := map[string]bool{}
		for _, i := range ms {
			for _, a := range groups[i].addrs {
				if !seen[a] {
					seen[a] = true
					c.addrs = append(c.addrs, a)
				}
			}
		}
		sort.Strings(c.addrs)
		c.Title = title(c, devs)
		if len(c.Head.Remedy) > 0 {
			r := c.Head.Remedy[0]
			cmd, note, _ := strings.Cut(r, "#")
			c.Fix, c.FixNote = strings.TrimSpace(cmd), strings.TrimSpace(note)
		}
		out = append(out, c)
	}
	sort.SliceStable(out, func(i, j int) bool {
		return rankOf(check.Severity(out[i].Severity)) > rankOf(check.Severity(out[j].Severity))
	})
	return out
}

// title names a cause's devices the way an operator says them: "0000:03:00.0 and 0000:03:00.1
// (Intel ... X520-2, slot 2)".
func title(c cause, devs map[string]*devView) string {
	if len(c.addrs) == 0 {
		return c.Head.Subjects[0].Name
	}
	shown := c.addrs
	more := ""
	if len(shown) > 4 {
		shown, more = shown[:4], fmt.Sprintf(" and %d more", len(c.addrs)-4)
	}
	t := shown[0]
	if len(shown) > 1 && more == "" {
		t = strings.Join(shown[:len(shown)-1], ", ") + " and " + shown[len(shown)-1]
	} else if len(shown) > 1 {
		t = strings.Join(shown, ", ") + more
	}
	var names, slots []string
	for _, a := range c.addrs {
		d := devs[a]
		if d == nil {
			continue
		}
		if !slices.Contains(names, d.Name) {
			names = append(names, d.Name)
		}
		if d.Slot != "" && !slices.Contains(slots, d.Slot) {
			slots = append(slots, d.Slot)
		}
	}
	var extra []string
	if len(names) == 1 {
		extra = append(extra, names[0])
	}
	if len(slots) == 1 {
		extra = append(extra, "slot "+slots[0])
	} else if len(slots) > 1 {
		extra = append(extra, "slots "+strings.Join(slots, ", "))
	}
	if len(extra) > 0 {
		t += " (" + strings.Join(extra, ", ") + ")"
	}
	return t
}

const maxCovered = 8

func rmrrs(f *check.Facts, name func(*pci.Device) string) ([]rmrrView, string) {
	if f.DMAR == nil {
		if f.DMARErr != nil {
			return nil, "The DMAR table could not be decoded: " + f.DMARErr.Error()
		}
		return nil, "No ACPI DMAR table: no RMRRs to show."
	}
	var out []rmrrView
	for i, r := range f.DMAR.RMRRs() {
		rv := rmrrView{Index: i, Base: fmt.Sprintf("0x%x", r.Address), End: fmt.Sprintf("0x%x", r.End), Size: size(r.End - r.Address + 1), Segment: r.Segment}
		for _, s := range r.Scopes {
			sv := scopeView{Path: s.String()}
			via := dmar.Resolve(r.Segment, s, f.Devices)
			if via != nil {
				sv.Resolved = via.Address.String()
				sv.Bridge = via.Config.Class>>8 == 0x0604
			}
			for _, d := range f.Devices.List {
				for _, c := range f.RMRR[d.Address].Covers {
					if c.RMRR.Offset != r.Offset || c.Scope.Offset != s.Offset {
						continue
					}
					cv := coveredView{Path: s.String(), Addr: d.Address.String(), Name: name(d), State: "locked", Reason: c.Reason}
					if c.Relaxed {
						cv.State = "relaxable"
					}
					if c.Via == d {
						cv.Why = "the path names this device"
					} else {
						cv.Why = fmt.Sprintf("the path names bridge %s; this device is on a bus below it", c.Via.Address)
					}
					if len(sv.Covered) < maxCovered {
						sv.Covered = append(sv.Covered, cv)
					} else {
						sv.Folded = append(sv.Folded, cv)
					}
				}
			}
			rv.Scopes = append(rv.Scopes, sv)
		}
		out = append(out, rv)
	}
	if len(out) == 0 {
		return nil, "The DMAR table has no RMRRs: none of the devices is locked by one."
	}
	return out, ""
}

func size(n uint64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
