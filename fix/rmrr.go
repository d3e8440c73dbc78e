package fix

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/dpdk-doctor/dpdk-doctor/check"
	"github.com/dpdk-doctor/dpdk-doctor/conrep"
	"github.com/dpdk-doctor/dpdk-doctor/dmar"
	"github.com/dpdk-doctor/dpdk-doctor/pci"
)

// RMRROptions configure the HPE conrep slot exclusion.
type RMRROptions struct {
	Devices  []pci.Address
	Conrep   string // conrep's path; "" searches PATH and the usual places
	XML      string // conrep_rmrds.xml; "" searches the usual places
	StateDir string // backups and the journal; "" is DefaultStateDir
	Out      io.Writer
	Now      func() time.Time
}

// Where conrep and HPE's RMRDS definitions are usually found.
var (
	conrepPlaces = []string{"/usr/sbin/conrep", "/sbin/conrep", "/opt/hp/hp-scripting-tools/bin/conrep", "/opt/hpe/hp-scripting-tools/bin/conrep"}
	xmlPlaces    = []string{"conrep_rmrds.xml", "{state}/conrep_rmrds.xml", "/opt/hp/hp-scripting-tools/etc/conrep_rmrds.xml", "/usr/share/dpdk-doctor/conrep_rmrds.xml"}
)

// RMRRPlan is what the slot exclusion will do. It is made without changing anything.
type RMRRPlan struct {
	Slots       []string            // physical slots to exclude, sorted by number
	Devices     map[string][]string // slot -> the devices in it that asked for it
	Skipped     []string            // devices that need nothing, and why
	Notes       []string            // things the user should know (Gen9+ HPE NICs)
	Runner      conrep.Runner
	StateDir    string
	Platform    string // DMI product name
	Pending     *Journal
	out         io.Writer
	now         func() time.Time
	slotSecs    []string
	nothingToDo bool
}

// ErrNotApplicable is wrapped by errors that say the remedy does not fit this host or device.
var ErrNotApplicable = errors.New("the conrep fix does not apply")

// Journal records a change that was loaded but not yet verified, so that an interrupted run is
// found by the next one.
type Journal struct {
	Backup  string    `json:"backup"`
	Slots   []string  `json:"slots"`
	Started time.Time `json:"started"`
	XML     string    `json:"xml"`
	Conrep  string    `json:"conrep"`
}

const journalName = "rmrr-pending.json"

var hpeVendors = map[string]bool{"HP": true, "HPE": true, "Hewlett-Packard": true, "Hewlett Packard Enterprise": true}

// PlanRMRR works out the exclusion for the devices in o, from the host's facts, without
// changing anything. It fails (wrapping ErrNotApplicable) when the fix does not fit, saying
// what would, and when conrep or its XML is missing, saying how to get them.
func PlanRMRR(f *check.Facts, o RMRROptions) (*RMRRPlan, error) {
	p := &RMRRPlan{Devices: map[string][]string{}, StateDir: o.StateDir, out: o.Out, now: o.Now}
	if p.StateDir == "" {
		p.StateDir = DefaultStateDir
	}
	p.StateDir, _ = filepath.Abs(p.StateDir)
	if p.out == nil {
		p.out = io.Discard
	}
	if p.now == nil {
		p.now = time.Now
	}
	vendor, _ := f.Root.ReadString("sys/class/dmi/id/sys_vendor")
	p.Platform, _ = f.Root.ReadString("sys/class/dmi/id/product_name")
	if !hpeVendors[vendor] || !strings.Contains(p.Platform, "ProLiant") {
		return nil, fmt.Errorf("%w: this host is not an HPE ProLiant (sys_vendor %q, product_name %q), and only ProLiant firmware has conrep's RMRDS slot settings. "+
			"What would help instead: move the card to a slot no RMRR covers (dpdk-doctor rmrr), use an SR-IOV VF, boot a kernel with intel_iommu=relax_rmrr, or ask the vendor for firmware without the RMRR",
			ErrNotApplicable, vendor, p.Platform)
	}
	gen := 0
	if m := regexp.MustCompile(`Gen(\d+)`).FindStringSubmatch(p.Platform); m != nil {
		gen, _ = strconv.Atoi(m[1])
	}
	for _, a := range o.Devices {
		d := f.Devices.Get(a)
		if d == nil {
			return nil, fmt.Errorf("device %s: no such PCI device on %s", a, f.Root)
		}
		v := f.RMRR[a]
		if v.State != dmar.Locked {
			p.Skipped = append(p.Skipped, fmt.Sprintf("%s is not RMRR-locked (%s): nothing to fix for it", a, v.State))
			continue
		}
		if d.Slot == "" {
			return nil, fmt.Errorf("%w: %s is not in a physical slot (an on-board device): conrep excludes slots only. Use an add-in card in a slot, or an SR-IOV VF", ErrNotApplicable, a)
		}
		if !conrep.ValidSlot(d.Slot) {
			return nil, fmt.Errorf("%w: %s is in slot %q, which is not a slot number conrep's RMRDS sections name", ErrNotApplicable, a, d.Slot)
		}
		if _, ok := p.Devices[d.Slot]; !ok {
			p.Slots = append(p.Slots, d.Slot)
		}
		p.Devices[d.Slot] = append(p.Devices[d.Slot], a.String())
		if gen >= 9 && (d.Config.SubVendorID == 0x103c || d.Config.SubVendorID == 0x1590) {
			p.Notes = append(p.Notes, fmt.Sprintf("%s is an HPE-branded NIC on a Gen%d server: HPE's advisory says to disable its \"HP Shared Memory features\" "+
				"(System Utilities > System Configuration > the NIC > Advanced Configuration) as well: the NIC's own firmware asks for the shared memory, so the slot exclusion alone may not be enough", a, gen))
		}
	}
	sort.Slice(p.Slots, func(i, j int) bool { a, _ := strconv.Atoi(p.Slots[i]); b, _ := strconv.Atoi(p.Slots[j]); return a < b })
	for _, s := range p.Slots {
		p.slotSecs = append(p.slotSecs, conrep.SlotSection(s))
	}
	if j, err := readJournal(p.StateDir); err == nil {
		p.Pending = j
	}
	if len(p.Slots) == 0 && p.Pending == nil {
		p.nothingToDo = true
		return p, nil
	}
	var missing []string
	p.Runner.Path = findConrep(o.Conrep)
	if p.Runner.Path == "" {
		missing = append(missing, conrepHowTo(o.Conrep))
	}
	p.Runner.XML = findXML(o.XML, p.StateDir)
	if p.Runner.XML == "" {
		missing = append(missing, xmlHowTo(o.XML, p.StateDir))
	}
	if len(missing) > 0 {
		return nil, errors.New(strings.Join(missing, "\n\n"))
	}
	b, err := os.ReadFile(p.Runner.XML)
	if err != nil {
		return nil, fmt.Errorf("conrep definitions %s: %w", p.Runner.XML, err)
	}
	defs, err := conrep.ParseDefinitions(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.Runner.XML, err)
	}
	for _, s := range p.slotSecs {
		d, ok := defs[s]
		if !ok {
			return nil, fmt.Errorf("%s has no section %s: this XML does not cover the slot (get HPE's current conrep_rmrds.xml)", p.Runner.XML, s)
		}
		if _, ok := d.Values[conrep.Excluded]; !ok {
			return nil, fmt.Errorf("%s: section %s has no value %s", p.Runner.XML, s, conrep.Excluded)
		}
	}
	p.Runner.Dir = p.StateDir
	return p, nil
}

func executable(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0
}

func findConrep(given string) string {
	if given != "" {
		if executable(given) {
			abs, _ := filepath.Abs(given)
			return abs
		}
		return ""
	}
	if p, err := exec.LookPath("conrep"); err == nil {
		return p
	}
	for _, p := range conrepPlaces {
		if executable(p) {
			return p
		}
	}
	return ""
}

func findXML(given, state string) string {
	if given != "" {
		if _, err := os.Stat(given); err == nil {
			abs, _ := filepath.Abs(given)
			return abs
		}
		return ""
	}
	for _, p := range xmlPlaces {
		p = strings.ReplaceAll(p, "{state}", state)
		if _, err := os.Stat(p); err == nil {
			abs, _ := filepath.Abs(p)
			return abs
		}
	}
	return ""
}

func conrepHowTo(given string) string {
	head := "conrep (HPE Scripting Toolkit) is not installed"
	if given != "" {
		head = fmt.Sprintf("conrep at %s is missing or not executable", given)
	}
	return head + `. It comes in HPE's hp-scripting-tools package:
  Debian/Ubuntu:
    echo "deb https://downloads.linux.hpe.com/SDR/repo/stk/ $(lsb_release -cs)/current non-free" > /etc/apt/sources.list.d/hpe-stk.list
    curl -fsSL https://downloads.linux.hpe.com/SDR/hpePublicKey2048_key1.pub | gpg --dearmor -o /etc/apt/trusted.gpg.d/hpe.gpg
    apt update && apt install hp-scripting-tools
  RHEL/Rocky/Alma:
    curl -fsSL https://downloads.linux.hpe.com/SDR/add_repo.sh | bash -s -- stk   # or write /etc/yum.repos.d/hpe-stk.repo by hand
    dnf install hp-scripting-tools
  then run this again (or pass --conrep PATH).`
}

func xmlHowTo(given, state string) string {
	head := "HPE's conrep_rmrds.xml (the RMRDS slot definitions) was not found"
	if given != "" {
		head = fmt.Sprintf("the conrep definitions file %s does not exist", given)
	}
	return head + `. Get it from HPE (advisory c04781229) into the state directory:
    wget -O ` + filepath.Join(state, "conrep_rmrds.xml") + ` https://downloads.hpe.com/pub/softlib2/software1/pubsw-linux/p1472592088/v95853/conrep_rmrds.xml
  then run this again (or pass --xml PATH).`
}

func (p *RMRRPlan) say(format string, a ...any) { fmt.Fprintf(p.out, format+"\n", a...) }

// Print writes the plan: what --apply would do, step by step.
func (p *RMRRPlan) Print() {
	for _, s := range p.Skipped {
		p.say("%s", s)
	}
	for _, n := range p.Notes {
		p.say("note: %s", n)
	}
	if p.Pending != nil {
		p.say("A previous run was interrupted after loading an exclusion of slot(s) %s at %s, before verifying it.\n"+
			"  backup of the settings before it: %s\n"+
			"  with --apply, dpdk-doctor reads the settings back now and finishes or reports; or undo it with:\n"+
			"    dpdk-doctor fix rmrr --rollback %s --apply",
			strings.Join(p.Pending.Slots, ", "), p.Pending.Started.Format(time.RFC3339), p.Pending.Backup, p.Pending.Backup)
		return
	}
	if p.nothingToDo {
		p.say("Nothing to do.")
		return
	}
	var which []string
	for _, s := range p.Slots {
		which = append(which, fmt.Sprintf("slot %s (%s)", s, strings.Join(p.Devices[s], ", ")))
	}
	ts := "<time>"
	p.say("Plan (dry run: nothing is changed; add --apply to carry it out) to exclude %s from the RMRR on this %s:", strings.Join(which, "; "), p.Platform)
	p.say("  1. back up the RMRDS settings:  %s -s -x %s -f %s", p.Runner.Path, p.Runner.XML, filepath.Join(p.StateDir, "rmrds-backup-"+ts+".dat"))
	p.say("  2. write the exclusion file %s:\n       %s", filepath.Join(p.StateDir, "rmrds-exclude-"+ts+".dat"), strings.TrimSpace(string(conrep.Exclusion(p.Slots))))
	p.say("  3. load it:                     %s -l -x %s -f %s", p.Runner.Path, p.Runner.XML, filepath.Join(p.StateDir, "rmrds-exclude-"+ts+".dat"))
	p.say("  4. read back and verify:        %s -s -x %s -f %s", p.Runner.Path, p.Runner.XML, filepath.Join(p.StateDir, "rmrds-verify-"+ts+".dat"))
	p.say("     (%s must read %s; every other slot must be unchanged from the backup)", strings.Join(p.slotSecs, ", "), conrep.Excluded)
	p.say("  5. reboot: the firmware builds its DMAR table at boot, so the change takes effect only then.")
}

// Apply carries out the plan: backup, exclusion, load, read-back and verification. A change
// that cannot be verified is reported with the slots that disagree and the rollback command;
// the backup is always kept. An interrupted earlier run (the journal) is finished first.
func (p *RMRRPlan) Apply(ctx context.Context) error {
	for _, s := range p.Skipped {
		p.say("%s", s)
	}
	for _, n := range p.Notes {
		p.say("note: %s", n)
	}
	if p.Pending != nil {
		return p.finishPending(ctx)
	}
	if p.nothingToDo {
		p.say("Nothing to do.")
		return nil
	}
	before, raw, err := saveChecked(ctx, p.Runner, p.Platform)
	if err != nil {
		return fmt.Errorf("reading the current RMRDS settings: %w (nothing was changed)", err)
	}
	done := true
	for _, s := range p.slotSecs {
		if v, _ := before.Get(s); v != conrep.Excluded {
			done = false
		}
	}
	if done {
		p.say("%s already read %s: nothing to do (nothing was changed). Reboot if you have not since it was set.", strings.Join(p.slotSecs, ", "), conrep.Excluded)
		return nil
	}
	backup := p.unique("rmrds-backup")
	if err := writeAtomic(backup, raw); err != nil {
		return fmt.Errorf("backing up the RMRDS settings: %w (nothing was changed)", err)
	}
	p.say("backed up the RMRDS settings to %s", backup)
	exclude := p.unique("rmrds-exclude")
	if err := writeAtomic(exclude, conrep.Exclusion(p.Slots)); err != nil {
		return fmt.Errorf("%w (nothing was changed; backup kept at %s)", err, backup)
	}
	j := &Journal{Backup: backup, Slots: p.Slots, Started: p.now().UTC(), XML: p.Runner.XML, Conrep: p.Runner.Path}
	if err := writeJournal(p.StateDir, j); err != nil {
		return fmt.Errorf("%w (nothing was changed)", err)
	}
	p.say("loading %s", exclude)
	// Once conrep writes NVRAM it must finish: an interrupt waits for it.
	if _, err := p.Runner.Load(context.WithoutCancel(ctx), exclude); err != nil {
		return fmt.Errorf("%w\nThe BIOS settings may be partly changed. Backup: %s. Check with a dry run of this command, or undo with:\n  dpdk-doctor fix rmrr --rollback %s --apply", err, backup, backup)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("interrupted after loading and before verifying: the next run of this command verifies it; or undo with:\n  dpdk-doctor fix rmrr --rollback %s --apply", backup)
	}
	return p.verify(ctx, j, before)
}

// verify reads the settings back and compares them with what was loaded.
func (p *RMRRPlan) verify(ctx context.Context, j *Journal, before *conrep.Data) error {
	verify := p.unique("rmrds-verify")
	after, raw, err := saveChecked(ctx, p.Runner, p.Platform)
	if err == nil {
		err = writeAtomic(verify, raw)
	}
	if err != nil {
		return fmt.Errorf("reading the settings back: %w\nThe exclusion was loaded but is not verified. Backup: %s. Undo with:\n  dpdk-doctor fix rmrr --rollback %s --apply", err, j.Backup, j.Backup)
	}
	var wrong []string
	want := map[string]bool{}
	for _, s := range j.Slots {
		want[conrep.SlotSection(s)] = true
	}
	for _, s := range before.RMRDS() {
		got, _ := after.Get(s.Name)
		switch {
		case want[s.Name] && got != conrep.Excluded:
			wrong = append(wrong, fmt.Sprintf("%s reads %q, not %s", s.Name, got, conrep.Excluded))
		case !want[s.Name] && got != s.Value:
			wrong = append(wrong, fmt.Sprintf("%s changed from %s to %q", s.Name, s.Value, got))
		}
	}
	if len(wrong) > 0 {
		return fmt.Errorf("the read-back (%s) disagrees with what was loaded:\n  %s\nBackup kept: %s. Undo with:\n  dpdk-doctor fix rmrr --rollback %s --apply",
			verify, strings.Join(wrong, "\n  "), j.Backup, j.Backup)
	}
	clearJournal(p.StateDir)
	p.say("verified: %s read %s; every other slot is unchanged (read back into %s).", strings.Join(p.slotSecsOf(j.Slots), ", "), conrep.Excluded, verify)
	p.say("Reboot now: the firmware drops the slot's endpoints from its RMRRs only when it builds the DMAR table at boot.")
	p.say("After the reboot, `dpdk-doctor check` should show device.rmrr ok (\"no RMRR covers it\") for %s.", strings.Join(p.devicesOf(j.Slots), ", "))
	p.say("Backup of the previous settings: %s (undo: dpdk-doctor fix rmrr --rollback %s --apply)", j.Backup, j.Backup)
	return nil
}

func (p *RMRRPlan) slotSecsOf(slots []string) []string {
	var out []string
	for _, s := range slots {
		out = append(out, conrep.SlotSection(s))
	}
	return out
}

func (p *RMRRPlan) devicesOf(slots []string) []string {
	var out []string
	for _, s := range slots {
		out = append(out, p.Devices[s]...)
	}
	if len(out) == 0 {
		return []string{"the devices in slot(s) " + strings.Join(slots, ", ")}
	}
	return out
}

func (p *RMRRPlan) finishPending(ctx context.Context) error {
	j := p.Pending
	p.say("A previous run was interrupted after loading an exclusion of slot(s) %s (backup %s); verifying it now.", strings.Join(j.Slots, ", "), j.Backup)
	b, err := os.ReadFile(j.Backup)
	if err != nil {
		return fmt.Errorf("the interrupted run's backup %s cannot be read: %w", j.Backup, err)
	}
	before, err := conrep.ParseData(b)
	if err != nil {
		return fmt.Errorf("the interrupted run's backup %s: %w", j.Backup, err)
	}
	return p.verify(ctx, j, before)
}

// unique returns a new file name in the state directory: prefix, the time, and a counter when
// a file of that name exists already (two runs in one second must not share a backup).
func (p *RMRRPlan) unique(prefix string) string {
	return uniquePath(p.StateDir, prefix, p.now())
}

func uniquePath(dir, prefix string, t time.Time) string {
	base := filepath.Join(dir, prefix+"-"+t.UTC().Format("20060102T150405Z"))
	name := base + ".dat"
	for i := 2; ; i++ {
		if _, err := os.Lstat(name); errors.Is(err, fs.ErrNotExist) {
			return name
		}
		name = fmt.Sprintf("%s-%d.dat", base, i)
	}
}

// saveChecked runs conrep -s into a temporary file, checks that it wrote a readable file with
// RMRDS sections and that conrep speaks of this platform, and returns the file's contents.
func saveChecked(ctx context.Context, r conrep.Runner, platform string) (*conrep.Data, []byte, error) {
	if err := os.MkdirAll(r.Dir, 0o700); err != nil {
		return nil, nil, err
	}
	f, err := os.CreateTemp(r.Dir, ".conrep-save-*.dat")
	if err != nil {
		return nil, nil, err
	}
	tmp := f.Name()
	f.Close()
	os.Remove(tmp) // conrep must create it: a file left empty would hide "wrote no file"
	defer os.Remove(tmp)
	out, err := r.Save(ctx, tmp)
	if err != nil {
		return nil, nil, err
	}
	if platform != "" && out.SystemType != "" && out.SystemType != platform {
		return nil, nil, fmt.Errorf("conrep reports System Type %q, but this host is %q: refusing to change another machine's BIOS", out.SystemType, platform)
	}
	b, err := os.ReadFile(tmp)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, fmt.Errorf("conrep -s reported success but wrote no file %s", tmp)
	}
	if err != nil {
		return nil, nil, err
	}
	d, err := conrep.ParseData(b)
	if err != nil {
		return nil, nil, fmt.Errorf("conrep -s wrote a file that cannot be read: %w", err)
	}
	if len(d.RMRDS()) == 0 {
		return nil, nil, fmt.Errorf("conrep -s wrote no RMRDS_Slot sections: is %s HPE's conrep_rmrds.xml?", r.XML)
	}
	return d, b, nil
}

// Rollback loads a backup made by Apply and verifies that every RMRDS slot reads as it says.
// Without apply it only says what it would do.
func Rollback(ctx context.Context, o RMRROptions, platform, backup string, apply bool) error {
	out := o.Out
	if out == nil {
		out = io.Discard
	}
	state := o.StateDir
	if state == "" {
		state = DefaultStateDir
	}
	state, _ = filepath.Abs(state)
	b, err := os.ReadFile(backup)
	if err != nil {
		return fmt.Errorf("backup %s: %w", backup, err)
	}
	want, err := conrep.ParseData(b)
	if err != nil {
		return fmt.Errorf("backup %s: %w", backup, err)
	}
	if len(want.RMRDS()) == 0 {
		return fmt.Errorf("backup %s has no RMRDS_Slot sections", backup)
	}
	r := conrep.Runner{Path: findConrep(o.Conrep), XML: findXML(o.XML, state), Dir: state}
	if r.Path == "" {
		return errors.New(conrepHowTo(o.Conrep))
	}
	if r.XML == "" {
		return errors.New(xmlHowTo(o.XML, state))
	}
	if !apply {
		fmt.Fprintf(out, "Plan (dry run; add --apply): load %s with %s -l -x %s -f %s, read back, and check that all %d RMRDS slots match it; then reboot.\n",
			backup, r.Path, r.XML, backup, len(want.RMRDS()))
		return nil
	}
	if _, err := r.Load(context.WithoutCancel(ctx), backup); err != nil {
		return fmt.Errorf("loading the backup: %w", err)
	}
	got, raw, err := saveChecked(ctx, r, platform)
	if err != nil {
		return fmt.Errorf("reading back after the rollback: %w", err)
	}
	if err := writeAtomic(uniquePath(state, "rmrds-rollback-verify", time.Now()), raw); err != nil {
		return err
	}
	var wrong []string
	for _, s := range want.RMRDS() {
		if v, _ := got.Get(s.Name); v != s.Value {
			wrong = append(wrong, fmt.Sprintf("%s reads %q, the backup says %s", s.Name, v, s.Value))
		}
	}
	if len(wrong) > 0 {
		return fmt.Errorf("rollback not verified:\n  %s", strings.Join(wrong, "\n  "))
	}
	if j, err := readJournal(state); err == nil && j.Backup == backup {
		clearJournal(state)
	}
	fmt.Fprintf(out, "rolled back: every RMRDS slot reads as in %s. Reboot for it to take effect.\n", backup)
	return nil
}

func writeJournal(dir string, j *Journal) error {
	b, _ := json.MarshalIndent(j, "", "  ")
	return writeAtomic(filepath.Join(dir, journalName), b)
}

func readJournal(dir string) (*Journal, error) {
	b, err := os.ReadFile(filepath.Join(dir, journalName))
	if err != nil {
		return nil, err
	}
	var j Journal
	if err := json.Unmarshal(b, &j); err != nil || j.Backup == "" {
		return nil, fmt.Errorf("journal %s is damaged", filepath.Join(dir, journalName))
	}
	return &j, nil
}

func clearJournal(dir string) { os.Remove(filepath.Join(dir, journalName)) }
