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
	"syscall"
	"time"

	"github.com/dpdk-doctor/dpdk-doctor/check"
	"github.com/dpdk-doctor/dpdk-doctor/conrep"
	"github.com/dpdk-doctor/dpdk-doctor/dmar"
	"github.com/dpdk-doctor/dpdk-doctor/pci"
	"github.com/dpdk-doctor/dpdk-doctor/verdict"
)

// RMRROptions configure the HPE conrep slot exclusion.
type RMRROptions struct {
	Devices  []pci.Address
	Conrep   string // conrep's path; "" searches PATH and the usual places
	XML      string // conrep_rmrds.xml, trusted as given; "" searches the fixed root-owned places
	StateDir string // backups, the journal and the lock; "" is DefaultStateDir
	Out      io.Writer
	Now      func() time.Time
}

// Where conrep and HPE's RMRDS definitions are usually found. The definitions decide which NVRAM
// bits conrep writes, so they are read only from these fixed places (never the current
// directory), and only when the file and its directory are root's and not writable by others.
var (
	conrepPlaces = []string{"/usr/sbin/conrep", "/sbin/conrep", "/opt/hp/hp-scripting-tools/bin/conrep", "/opt/hpe/hp-scripting-tools/bin/conrep"}
	xmlPlaces    = []string{"{state}/conrep_rmrds.xml", "/opt/hp/hp-scripting-tools/etc/conrep_rmrds.xml", "/opt/hpe/hp-scripting-tools/etc/conrep_rmrds.xml", "/usr/share/dpdk-doctor/conrep_rmrds.xml"}
	// trustedOwner is the uid that must own the definitions found in xmlPlaces: root.
	trustedOwner = 0
)

// RMRRPlan is what the slot exclusion will do. It is made without changing anything.
type RMRRPlan struct {
	Slots     []string            // physical slots to exclude, sorted by number
	Devices   map[string][]string // slot -> the devices in it that asked for it
	Skipped   []string            // devices that need nothing, and why
	Notes     []string            // things the user should know (Gen9+ HPE NICs)
	Runner    conrep.Runner
	XMLSource string // how the definitions were found: "--xml" or "the usual places"
	StateDir  string
	Platform  string // DMI product name
	Pending   *Journal
	out       io.Writer
	now       func() time.Time
	opts      RMRROptions
}

// Errors PlanRMRR wraps, so that callers can tell bad input from a remedy that does not fit.
var (
	// ErrNotApplicable: the remedy does not fit this host or device.
	ErrNotApplicable = errors.New("the conrep fix does not apply")
	// ErrNoDevice: a device named is not on the host (bad input).
	ErrNoDevice = errors.New("no such PCI device")
	// ErrBadBackup: the backup given to Rollback is missing, unreadable or refused (bad input).
	ErrBadBackup = errors.New("backup")
	// ErrCannotTell: whether a device is RMRR-locked cannot be told (no DMAR table).
	ErrCannotTell = errors.New("cannot tell whether the device is RMRR-locked")
)

// PlanRMRR works out the exclusion for the devices in o, from the host's facts, without
// changing anything. A device that is not RMRR-locked needs nothing (Skipped says why); one that
// is not on the host wraps ErrNoDevice; one whose RMRR state cannot be told wraps ErrCannotTell.
// It fails (wrapping ErrNotApplicable) when the fix does not fit, saying what would, when conrep
// or its XML is missing, saying how to get them, and when an interrupted run left a journal that
// cannot be read, saying the way out.
func PlanRMRR(f *check.Facts, o RMRROptions) (*RMRRPlan, error) {
	p := &RMRRPlan{Devices: map[string][]string{}, StateDir: o.StateDir, out: o.Out, now: o.Now, opts: o}
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
	plat := f.Platform // read once, in Gather
	p.Platform = plat.Product
	type locked struct {
		a pci.Address
		d *pci.Device
	}
	var todo []locked
	for _, a := range o.Devices {
		d := f.Devices.Get(a)
		if d == nil {
			return nil, fmt.Errorf("%w %s on %s", ErrNoDevice, a, f.Root)
		}
		// The device's verdict decides (group, kernel view and relax_rmrr included), as in check.
		v := f.Judged(d).Lock
		switch {
		case v.State == dmar.Locked && v.Kind == verdict.RMRR && v.RMRR.State == dmar.Unknown:
			// Locked by the kernel's word alone: no table says which RMRR (the verdict's ConrepWhyNot).
			return nil, fmt.Errorf("%w: %s: no DMAR table could be read on %s (is the IOMMU on, and are you root?), so dpdk-doctor cannot tell which RMRR locks it; `dpdk-doctor check` shows what is missing",
				ErrCannotTell, a, f.Root)
		case v.State == dmar.Locked:
			todo = append(todo, locked{a, d})
		case v.State == dmar.Clear:
			p.Skipped = append(p.Skipped, fmt.Sprintf("nothing to fix for %s: no RMRR covers it (it is not RMRR-locked)", a))
		case v.State == dmar.Relaxable:
			why := "the kernel relaxes its RMRR"
			if v.Reason != "" {
				why = v.Reason
			}
			p.Skipped = append(p.Skipped, fmt.Sprintf("nothing to fix for %s: an RMRR covers it but it is not RMRR-locked: %s", a, why))
		default:
			return nil, fmt.Errorf("%w: %s: no DMAR table could be read on %s (is the IOMMU on, and are you root?), so dpdk-doctor cannot tell whether an RMRR covers it; `dpdk-doctor check` shows what is missing",
				ErrCannotTell, a, f.Root)
		}
	}
	j, err := readJournal(p.StateDir)
	if errors.Is(err, ErrStateUnreadable) && len(todo) == 0 {
		err = nil // nothing is asked of the state directory
	}
	if err != nil {
		return nil, err
	}
	p.Pending = j
	if len(todo) == 0 && p.Pending == nil {
		return p, nil
	}
	// Whether conrep can help is the verdict's answer, the one check and ovs show.
	for _, l := range todo {
		if x := f.Judged(l.d); !x.Conrep && plat.IsHPEProLiant() {
			return nil, fmt.Errorf("%w: %s: %s. Use an add-in card in a slot, or an SR-IOV VF", ErrNotApplicable, l.a, x.ConrepWhyNot)
		} else if !x.Conrep {
			return nil, fmt.Errorf("%w: %s. What would help instead: move the card to a slot no RMRR covers (dpdk-doctor rmrr), use an SR-IOV VF, or ask the vendor for firmware without the RMRR",
				ErrNotApplicable, x.ConrepWhyNot)
		}
	}
	if !plat.IsHPEProLiant() {
		return nil, fmt.Errorf("%w: this host is not an HPE ProLiant (sys_vendor %q, product_name %q), and only ProLiant firmware has conrep's RMRDS slot settings. "+
			"What would help instead: move the card to a slot no RMRR covers (dpdk-doctor rmrr), use an SR-IOV VF, boot a kernel with intel_iommu=relax_rmrr, or ask the vendor for firmware without the RMRR",
			ErrNotApplicable, plat.SysVendor, plat.Product)
	}
	gen := 0
	if m := regexp.MustCompile(`Gen(\d+)`).FindStringSubmatch(p.Platform); m != nil {
		gen, _ = strconv.Atoi(m[1])
	}
	for _, l := range todo {
		a, d := l.a, l.d
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
	sortSlots(p.Slots)
	r, source, defs, err := findTools(o, p.StateDir)
	if err != nil {
		return nil, err
	}
	p.Runner, p.XMLSource = r, source
	for _, s := range slotSections(p.Slots) {
		d, ok := defs[s]
		if !ok {
			return nil, fmt.Errorf("%s has no section %s: this XML does not cover the slot (get HPE's current conrep_rmrds.xml)", p.Runner.XML, s)
		}
		if _, ok := d.Values[conrep.Excluded]; !ok {
			return nil, fmt.Errorf("%s: section %s has no value %s", p.Runner.XML, s, conrep.Excluded)
		}
	}
	return p, nil
}

func sortSlots(slots []string) {
	sort.Slice(slots, func(i, j int) bool { a, _ := strconv.Atoi(slots[i]); b, _ := strconv.Atoi(slots[j]); return a < b })
}

func slotSections(slots []string) []string {
	var out []string
	for _, s := range slots {
		out = append(out, conrep.SlotSection(s))
	}
	return out
}

// findTools finds conrep and the RMRDS definitions, reads the definitions and checks that they
// define RMRDS_Slot sections only (so conrep, given them, can change nothing else).
func findTools(o RMRROptions, state string) (r conrep.Runner, source string, defs conrep.Definitions, err error) {
	var missing []string
	r.Path = findConrep(o.Conrep)
	if r.Path == "" {
		missing = append(missing, conrepHowTo(o.Conrep))
	}
	r.XML, source, err = findXML(o.XML, state)
	if err != nil {
		return r, "", nil, err
	}
	if r.XML == "" {
		missing = append(missing, xmlHowTo(o.XML, state))
	}
	if len(missing) > 0 {
		return r, "", nil, errors.New(strings.Join(missing, "\n\n"))
	}
	b, err := readBounded(r.XML, 16<<20)
	if err != nil {
		return r, "", nil, fmt.Errorf("conrep definitions %s: %w", r.XML, err)
	}
	defs, err = conrep.ParseDefinitions(b)
	if err != nil {
		return r, "", nil, fmt.Errorf("%s: %w", r.XML, err)
	}
	var other []string
	for name := range defs {
		if !isSlotSection(name) {
			other = append(other, name)
		}
	}
	if len(other) > 0 {
		sort.Strings(other)
		return r, "", nil, fmt.Errorf("%s defines sections other than RMRDS_Slot<N> (%s): it is not HPE's conrep_rmrds.xml, and a slot exclusion must never read or write other BIOS settings", r.XML, strings.Join(other, ", "))
	}
	r.Dir = state
	return r, source, defs, nil
}

func isSlotSection(name string) bool {
	n, ok := strings.CutPrefix(name, "RMRDS_Slot")
	return ok && conrep.ValidSlot(n)
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
	if p, err := exec.LookPath("conrep"); err == nil && filepath.IsAbs(p) {
		return p
	}
	for _, p := range conrepPlaces {
		if executable(p) {
			return p
		}
	}
	return ""
}

// findXML returns the definitions file: the one given (trusted as given), or the first of
// xmlPlaces that exists, which must be root's; "" when there is none. A file found in a fixed
// place that someone other than root could have written is an error, not skipped: the operator
// should know.
func findXML(given, state string) (path, source string, err error) {
	if given != "" {
		if _, err := os.Stat(given); err == nil {
			abs, _ := filepath.Abs(given)
			return abs, "given with --xml", nil
		}
		return "", "", nil
	}
	for _, p := range xmlPlaces {
		p = strings.ReplaceAll(p, "{state}", state)
		if _, err := os.Lstat(p); errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err := trustedFile(p); err != nil {
			return "", "", fmt.Errorf("refusing the conrep definitions %s: %w. The definitions decide which NVRAM bits conrep writes; "+
				"make it root's and not writable by others (chown root:root, chmod go-w, for its directory too), or name a file you trust with --xml", p, err)
		}
		return p, "found in the usual places, root-owned", nil
	}
	return "", "", nil
}

// trustedFile checks that path (after symbolic links), its directory, and the directory the
// name is in are owned by trustedOwner and not writable by group or others.
func trustedFile(path string) error {
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return err
	}
	st, err := os.Stat(real)
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", real)
	}
	for _, p := range []string{real, filepath.Dir(real), filepath.Dir(path)} {
		st, err := os.Stat(p)
		if err != nil {
			return err
		}
		sys, ok := st.Sys().(*syscall.Stat_t)
		if !ok {
			return fmt.Errorf("%s: cannot read its owner", p)
		}
		if int(sys.Uid) != trustedOwner {
			return fmt.Errorf("%s is owned by uid %d, not root", p, sys.Uid)
		}
		if st.Mode().Perm()&0o022 != 0 {
			return fmt.Errorf("%s is writable by group or others (mode %v)", p, st.Mode().Perm())
		}
	}
	return nil
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
	head := "HPE's conrep_rmrds.xml (the RMRDS slot definitions) was not found in " + strings.ReplaceAll(strings.Join(xmlPlaces, ", "), "{state}", state)
	if given != "" {
		head = fmt.Sprintf("the conrep definitions file %s does not exist", given)
	}
	return head + `. Get it from HPE (advisory c04781229) into the state directory (which must be root's):
    mkdir -p -m 0700 ` + shellJoin([]string{state}) + `
    wget -O ` + shellJoin([]string{filepath.Join(state, "conrep_rmrds.xml")}) + ` https://downloads.hpe.com/pub/softlib2/software1/pubsw-linux/p1472592088/v95853/conrep_rmrds.xml
  then run this again (or pass --xml PATH).`
}

func (p *RMRRPlan) say(format string, a ...any) { fmt.Fprintf(p.out, format+"\n", a...) }

// newSlots returns the slots of the plan that a pending journal does not cover already.
func (p *RMRRPlan) newSlots() []string {
	if p.Pending == nil {
		return p.Slots
	}
	had := map[string]bool{}
	for _, s := range p.Pending.Slots {
		had[s] = true
	}
	var out []string
	for _, s := range p.Slots {
		if !had[s] {
			out = append(out, s)
		}
	}
	return out
}

// Print writes the plan: what --apply would do, step by step.
func (p *RMRRPlan) Print() {
	for _, s := range p.Skipped {
		p.say("%s", s)
	}
	for _, n := range p.Notes {
		p.say("note: %s", n)
	}
	slots := p.newSlots()
	if p.Pending != nil {
		p.say("A previous run was interrupted after loading an exclusion of slot(s) %s at %s, before verifying it.\n"+
			"  backup of the settings before it: %s\n"+
			"  with --apply, dpdk-doctor first reads the settings back and finishes or reports it; or undo it with:\n"+
			"    dpdk-doctor fix rmrr --rollback %s --apply",
			strings.Join(p.Pending.Slots, ", "), p.Pending.Started.Format(time.RFC3339), p.Pending.Backup, shellJoin([]string{p.Pending.Backup}))
		if p.Pending.id != "" {
			p.say("    (the same: dpdk-doctor fix --rollback %s --apply --state-dir %s)", p.Pending.id, shellJoin([]string{p.StateDir}))
		}
		if len(slots) == 0 {
			return
		}
		p.say("Once that is verified, --apply goes on with the devices named now:")
	}
	if len(slots) == 0 {
		p.say("Nothing to do.")
		return
	}
	var which []string
	for _, s := range slots {
		which = append(which, fmt.Sprintf("slot %s (%s)", s, strings.Join(p.Devices[s], ", ")))
	}
	ts := "<time>"
	p.say("Plan (dry run: nothing is changed; add --apply to carry it out) to exclude %s from the RMRR on this %s:", strings.Join(which, "; "), p.Platform)
	p.say("  conrep definitions: %s (%s)", p.Runner.XML, p.XMLSource)
	p.say("  1. back up the RMRDS settings:  %s -s -x %s -f %s", p.Runner.Path, p.Runner.XML, filepath.Join(p.StateDir, "rmrds-backup-"+ts+".dat"))
	p.say("  2. write the exclusion file %s:\n       %s", filepath.Join(p.StateDir, "rmrds-exclude-"+ts+".dat"), strings.TrimSpace(string(conrep.Exclusion(slots))))
	p.say("  3. load it:                     %s -l -x %s -f %s", p.Runner.Path, p.Runner.XML, filepath.Join(p.StateDir, "rmrds-exclude-"+ts+".dat"))
	p.say("  4. read back and verify:        %s -s -x %s -f %s", p.Runner.Path, p.Runner.XML, filepath.Join(p.StateDir, "rmrds-verify-"+ts+".dat"))
	p.say("     (%s must read %s; every other section must be unchanged from the backup, or the backup is loaded back)", strings.Join(slotSections(slots), ", "), conrep.Excluded)
	p.say("  5. reboot: the firmware builds its DMAR table at boot, so the change takes effect only then.")
}

// Apply carries out the plan under the state directory's lock: backup, exclusion, load,
// read-back and verification. A read-back that shows any change that was not asked for is
// rolled back from the backup at once; one where the asked-for change is missing is reported
// with the rollback command; the backup is always kept. An interrupted earlier run (the
// journal) is finished first; then the devices named now are handled.
func (p *RMRRPlan) Apply(ctx context.Context) error {
	lock, err := lockState(p.StateDir, p.now())
	if err != nil {
		return err
	}
	defer lock.unlock()
	// What was read before the lock may be stale: another run may have finished meanwhile.
	if p.Pending, err = readJournal(p.StateDir); err != nil {
		return err
	}
	for _, s := range p.Skipped {
		p.say("%s", s)
	}
	for _, n := range p.Notes {
		p.say("note: %s", n)
	}
	slots := p.newSlots()
	if p.Runner.Path == "" && (p.Pending != nil || len(slots) > 0) {
		// The plan had nothing to do, but a run interrupted since left a journal.
		r, source, _, err := findTools(p.opts, p.StateDir)
		if err != nil {
			return err
		}
		p.Runner, p.XMLSource = r, source
	}
	if p.Pending != nil {
		if err := p.finishPending(ctx); err != nil {
			if len(slots) > 0 {
				err = fmt.Errorf("%w\nThe devices named now (slot(s) %s) were not handled: settle the interrupted run first", err, strings.Join(slots, ", "))
			}
			return err
		}
	}
	if len(slots) == 0 {
		if p.Pending == nil {
			p.say("Nothing to do.")
		}
		return nil
	}
	return p.apply(ctx, slots)
}

func (p *RMRRPlan) apply(ctx context.Context, slots []string) error {
	before, raw, err := saveChecked(ctx, p.Runner, p.Platform)
	if err != nil {
		return fmt.Errorf("reading the current RMRDS settings: %w (nothing was changed)", err)
	}
	done := true
	for _, s := range slotSections(slots) {
		if v, _ := before.Get(s); v != conrep.Excluded {
			done = false
		}
	}
	if done {
		p.say("%s already read %s: nothing to do (nothing was changed). Reboot if you have not since it was set.", strings.Join(slotSections(slots), ", "), conrep.Excluded)
		return nil
	}
	// An interrupted run of another remedy stops this one too, as an interrupted fix rmrr run
	// stops theirs (its own was finished above).
	runner := &Runner{StateDir: p.StateDir, Out: p.out, Now: p.now}
	if err := runner.interrupted(); err != nil {
		return err
	}
	p.say("conrep definitions: %s (%s)", p.Runner.XML, p.XMLSource)
	run := &rmrrRun{p: p, slots: slots, before: before, raw: raw, backup: p.unique("rmrds-backup")}
	_, err = runner.runLocked(ctx, run, run.Plan())
	return err
}

// rmrrRun is one fix rmrr exclusion as a Remedy of the runner (which holds the lock, keeps the
// record and journal, and prints the way to undo it): Snapshot is the conrep backup, Apply the
// load, Verify the read-back compared section by section, and undoRMRR, from the record, loads
// the backup back and verifies it. A failed load or read-back is not rolled back by the runner:
// its record stays "applying", and the next run verifies or reports it, as it always did; a
// wrong write is rolled back by Verify itself, at once.
type rmrrRun struct {
	p       *RMRRPlan
	slots   []string
	before  *conrep.Data
	raw     []byte
	backup  string
	exclude string
	j       *Journal
}

func (r *rmrrRun) Kind() string { return rmrrKind }

func (r *rmrrRun) Plan() []string {
	p := r.p
	return []string{
		fmt.Sprintf("back up the RMRDS settings to %s", r.backup),
		fmt.Sprintf("exclude %s from the RMRR: %s -l -x %s", strings.Join(slotSections(r.slots), ", "), p.Runner.Path, p.Runner.XML),
		"read back and verify every section; reboot for it to take effect",
	}
}

func (r *rmrrRun) Snapshot() (json.RawMessage, error) {
	p := r.p
	if err := writeAtomic(r.backup, r.raw); err != nil {
		return nil, fmt.Errorf("backing up the RMRDS settings: %w", err)
	}
	p.say("backed up the RMRDS settings to %s", r.backup)
	r.exclude = p.unique("rmrds-exclude")
	if err := writeAtomic(r.exclude, conrep.Exclusion(r.slots)); err != nil {
		return nil, fmt.Errorf("%w (backup kept at %s)", err, r.backup)
	}
	r.j = &Journal{Backup: r.backup, Slots: r.slots, Started: p.now().UTC(), XML: p.Runner.XML, Conrep: p.Runner.Path, XMLGiven: p.opts.XML != "", Platform: p.Platform, runner: true}
	return json.Marshal(r.j)
}

func (r *rmrrRun) Apply(ctx context.Context, _ io.Writer) error {
	p, backup := r.p, r.backup
	p.say("loading %s", r.exclude)
	// Once conrep writes NVRAM it must finish: an interrupt waits for it.
	if _, err := p.Runner.Load(context.WithoutCancel(ctx), r.exclude); err != nil {
		return keptError{StateApplying, fmt.Errorf("%w\nThe BIOS settings may be partly changed. Backup: %s. Check with a dry run of this command, or undo with:\n  dpdk-doctor fix rmrr --rollback %s --apply", err, backup, shellJoin([]string{backup}))}
	}
	if err := ctx.Err(); err != nil {
		return keptError{StateApplying, fmt.Errorf("interrupted after loading and before verifying: the next run of this command verifies it; or undo with:\n  dpdk-doctor fix rmrr --rollback %s --apply", shellJoin([]string{backup}))}
	}
	return nil
}

func (r *rmrrRun) Verify(ctx context.Context) (Outcome, error) {
	err := r.p.verify(ctx, r.j, r.before)
	var restored restoredError
	switch {
	case errors.As(err, &restored):
		return Outcome{}, keptError{StateRolledBack, restored.error}
	case err != nil:
		return Outcome{}, keptError{StateApplying, err}
	}
	return Outcome{PendingReboot: true}, nil
}

// restoredError is verify's error when a wrong write was found and the backup loaded back and
// verified.
type restoredError struct{ error }

func (e restoredError) Unwrap() error { return e.error }

// diffSections compares every section of got with want: sections missing from either side, or
// with another value.
func diffSections(want, got *conrep.Data) []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range want.Sections {
		seen[s.Name] = true
		v, ok := got.Get(s.Name)
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("%s is missing from the read-back (it was %s)", s.Name, s.Value))
		case v != s.Value:
			out = append(out, fmt.Sprintf("%s reads %q, not %q", s.Name, v, s.Value))
		}
	}
	for _, s := range got.Sections {
		if !seen[s.Name] {
			out = append(out, fmt.Sprintf("%s appeared with %q", s.Name, s.Value))
		}
	}
	return out
}

// verify reads the settings back and compares every section with what was there before plus
// only the asked-for exclusions. Any other difference means the load wrote something it was
// not asked to: the backup is loaded back at once.
func (p *RMRRPlan) verify(ctx context.Context, j *Journal, before *conrep.Data) error {
	verify := p.unique("rmrds-verify")
	after, raw, err := saveChecked(ctx, p.Runner, p.Platform)
	if err == nil {
		err = writeAtomic(verify, raw)
	}
	rollback := shellJoin([]string{j.Backup})
	if err != nil {
		return fmt.Errorf("reading the settings back: %w\nThe exclusion was loaded but is not verified. Backup: %s. Undo with:\n  dpdk-doctor fix rmrr --rollback %s --apply", err, j.Backup, rollback)
	}
	want := &conrep.Data{}
	asked := map[string]bool{}
	for _, s := range slotSections(j.Slots) {
		asked[s] = true
	}
	for _, s := range before.Sections {
		if asked[s.Name] {
			s.Value = conrep.Excluded
		}
		want.Sections = append(want.Sections, s)
	}
	var missing, unasked []string
	for _, s := range slotSections(j.Slots) {
		if v, _ := after.Get(s); v != conrep.Excluded {
			missing = append(missing, fmt.Sprintf("%s reads %q, not %s", s, v, conrep.Excluded))
		}
	}
	for _, d := range diffSections(want, after) {
		if name, _, _ := strings.Cut(d, " "); !asked[name] {
			unasked = append(unasked, d)
		}
	}
	if len(unasked) > 0 {
		msg := fmt.Sprintf("THE LOAD CHANGED BIOS SETTINGS IT WAS NOT ASKED TO CHANGE (read back into %s):\n  %s", verify, strings.Join(unasked, "\n  "))
		if len(missing) > 0 {
			msg += "\nand the exclusion itself is missing:\n  " + strings.Join(missing, "\n  ")
		}
		p.say("%s\nLoading the backup %s back now.", msg, j.Backup)
		if err := p.restore(ctx, j); err != nil {
			return fmt.Errorf("%s\nRolling back FAILED: %w\nThe BIOS settings are in an unknown state: do not reboot before they are checked (conrep -s) and the backup %s is loaded", msg, err, j.Backup)
		}
		return restoredError{fmt.Errorf("%s\nRolled back: every section reads as in the backup %s again: the exclusion is undone. The conrep definitions or the firmware need looking at before trying again", msg, j.Backup)}
	}
	if len(missing) > 0 {
		return fmt.Errorf("the read-back (%s) disagrees with what was loaded:\n  %s\nBackup kept: %s. Undo with:\n  dpdk-doctor fix rmrr --rollback %s --apply",
			verify, strings.Join(missing, "\n  "), j.Backup, rollback)
	}
	if err := settleJournal(p.StateDir, j, StatePendingReboot, "verified; takes effect at the next boot"); err != nil {
		return fmt.Errorf("verified, but the journal cannot be settled: %w", err)
	}
	if err := syncDir(p.StateDir); err != nil {
		return fmt.Errorf("verified, but the state directory cannot be synced (the backup may not survive a reboot): %w", err)
	}
	p.say("verified: %s read %s; every other section is unchanged (read back into %s).", strings.Join(slotSections(j.Slots), ", "), conrep.Excluded, verify)
	p.say("Reboot now: the firmware drops the slot's endpoints from its RMRRs only when it builds the DMAR table at boot.")
	p.say("After the reboot, `dpdk-doctor check` should show device.rmrr ok (\"no RMRR covers it\") for %s.", strings.Join(p.devicesOf(j.Slots), ", "))
	p.say("Backup of the previous settings: %s (undo: dpdk-doctor fix rmrr --rollback %s --apply)", j.Backup, rollback)
	if j.id != "" {
		p.say("Undo with: dpdk-doctor fix --rollback %s --apply --state-dir %s", j.id, shellJoin([]string{p.StateDir}))
	}
	return nil // a run of the runner: it says how to undo it
}

// restore loads a backup back after a bad load and checks every section reads as it says.
func (p *RMRRPlan) restore(ctx context.Context, j *Journal) error {
	backup := j.Backup
	b, err := readBounded(backup, 16<<20)
	if err != nil {
		return err
	}
	want, err := conrep.ParseData(b)
	if err != nil {
		return fmt.Errorf("backup %s: %w", backup, err)
	}
	if _, err := p.Runner.Load(context.WithoutCancel(ctx), backup); err != nil {
		return err
	}
	got, raw, err := saveChecked(ctx, p.Runner, p.Platform)
	if err != nil {
		return err
	}
	if err := writeAtomic(p.unique("rmrds-rollback-verify"), raw); err != nil {
		return err
	}
	if wrong := diffSections(want, got); len(wrong) > 0 {
		return fmt.Errorf("after loading the backup: %s", strings.Join(wrong, "; "))
	}
	if err := settleJournal(p.StateDir, j, StateRolledBack, "the load changed settings it was not asked to; the backup was loaded back and verified"); err != nil {
		return err
	}
	return syncDir(p.StateDir)
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
	b, err := readBounded(j.Backup, 16<<20)
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
	if err := makeStateDir(r.Dir); err != nil {
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
	b, err := readBounded(tmp, 16<<20)
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
	if platform != "" && d.Platform != "" && d.Platform != platform {
		return nil, nil, fmt.Errorf("conrep's settings are of a %q, but this host is %q: refusing to change another machine's BIOS", d.Platform, platform)
	}
	return d, b, nil
}

// Rollback loads a backup made by Apply and verifies that every section reads as it says.
// Without apply it only checks the backup and says what it would do. A backup of another
// platform, or one holding sections other than RMRDS_Slot<N>, is refused: a rollback must never
// write other BIOS settings. With apply it takes the state directory's lock (making the
// directory when it does not exist) and, once verified, removes the journal of an interrupted
// run, readable or not: the settings are now the backup's.
func Rollback(ctx context.Context, o RMRROptions, hostPlatform, backup string, apply bool) error {
	out := o.Out
	if out == nil {
		out = io.Discard
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	state := o.StateDir
	if state == "" {
		state = DefaultStateDir
	}
	state, _ = filepath.Abs(state)
	backup, err := filepath.Abs(backup)
	if err != nil {
		return fmt.Errorf("backup %s: %w", backup, err)
	}
	want, err := readBackup(backup, hostPlatform)
	if err != nil {
		return err
	}
	r, source, defs, err := findTools(o, state)
	if err != nil {
		return err
	}
	for _, s := range want.Sections {
		if _, ok := defs[s.Name]; !ok {
			return fmt.Errorf("backup %s names %s, which %s does not define", backup, s.Name, r.XML)
		}
	}
	if !apply {
		fmt.Fprintf(out, "Plan (dry run; add --apply): load %s with %s -l -x %s -f %s (conrep definitions %s), read back, and check that all %d RMRDS slots match it and nothing else changed; then reboot.\n",
			backup, r.Path, r.XML, backup, source, len(want.Sections))
		return nil
	}
	lock, err := lockState(state, now())
	if err != nil {
		return err
	}
	defer lock.unlock()
	return rollbackLocked(ctx, r, source, state, hostPlatform, backup, want, out, now)
}

// rollbackLocked loads backup (read and checked as want) with r and verifies it; the caller
// holds the state lock.
func rollbackLocked(ctx context.Context, r conrep.Runner, source, state, hostPlatform, backup string, want *conrep.Data, out io.Writer, now func() time.Time) error {
	fmt.Fprintf(out, "conrep definitions: %s (%s)\n", r.XML, source)
	before, _, err := saveChecked(ctx, r, hostPlatform)
	if err != nil {
		return fmt.Errorf("reading the current settings: %w (nothing was changed)", err)
	}
	if before.Platform != "" && before.Platform != want.Platform {
		return fmt.Errorf("%w %s is of a %q, but conrep says this machine is a %q: refusing to load another platform's settings (nothing was changed)", ErrBadBackup, backup, want.Platform, before.Platform)
	}
	if _, err := r.Load(context.WithoutCancel(ctx), backup); err != nil {
		return fmt.Errorf("loading the backup: %w", err)
	}
	got, raw, err := saveChecked(ctx, r, hostPlatform)
	if err != nil {
		return fmt.Errorf("reading back after the rollback: %w", err)
	}
	if err := writeAtomic(uniquePath(state, "rmrds-rollback-verify", now()), raw); err != nil {
		return err
	}
	// Every section must read as the backup says; a section the backup does not name must read
	// as it did before the load.
	expect := &conrep.Data{Sections: append([]conrep.Setting(nil), want.Sections...)}
	for _, s := range before.Sections {
		if _, ok := want.Get(s.Name); !ok {
			expect.Sections = append(expect.Sections, s)
		}
	}
	if wrong := diffSections(expect, got); len(wrong) > 0 {
		return fmt.Errorf("rollback not verified:\n  %s", strings.Join(wrong, "\n  "))
	}
	if n, err := settleInterrupted(state); err != nil {
		return fmt.Errorf("rolled back, but the journal cannot be removed: %w", err)
	} else if n > 0 {
		fmt.Fprintf(out, "removed the journal of the interrupted run: the settings are now the backup's.\n")
	}
	if err := syncDir(state); err != nil {
		return err
	}
	fmt.Fprintf(out, "rolled back: every RMRDS slot reads as in %s. Reboot for it to take effect.\n", backup)
	return nil
}

// readBackup reads a backup for a rollback and refuses one that is not a conrep save of this
// platform's RMRDS settings.
func readBackup(backup, hostPlatform string) (*conrep.Data, error) {
	b, err := readBounded(backup, 16<<20)
	if err != nil {
		return nil, fmt.Errorf("%w %s: %w", ErrBadBackup, backup, err)
	}
	want, err := conrep.ParseData(b)
	if err != nil {
		return nil, fmt.Errorf("%w %s: %w", ErrBadBackup, backup, err)
	}
	if len(want.RMRDS()) == 0 {
		return nil, fmt.Errorf("%w %s has no RMRDS_Slot sections", ErrBadBackup, backup)
	}
	var other []string
	for _, s := range want.Sections {
		if !isSlotSection(s.Name) {
			other = append(other, s.Name)
		}
	}
	if len(other) > 0 {
		return nil, fmt.Errorf("%w %s holds sections other than RMRDS_Slot<N> (%s): a rollback must never write other BIOS settings, so it is refused (nothing was changed)", ErrBadBackup, backup, strings.Join(other, ", "))
	}
	switch {
	case want.Platform == "":
		return nil, fmt.Errorf("%w %s does not say which platform it is from (no originating_platform): it is not a conrep save, refused (nothing was changed)", ErrBadBackup, backup)
	case hostPlatform != "" && want.Platform != hostPlatform:
		return nil, fmt.Errorf("%w %s is of a %q, but this host is a %q: refusing to load another platform's settings (nothing was changed)", ErrBadBackup, backup, want.Platform, hostPlatform)
	}
	return want, nil
}

// settleInterrupted ends every interrupted rmrr run of state, readable or not, once a backup is
// loaded back and verified: an older dpdk-doctor's journal file is removed, a record still
// "applying" becomes "rolled-back", and a record that cannot be read is renamed aside
// (ID.json.damaged). It returns how many it settled.
func settleInterrupted(state string) (int, error) {
	n := 0
	if _, err := os.Lstat(filepath.Join(state, journalName)); err == nil {
		if err := clearJournal(state); err != nil {
			return n, err
		}
		n++
	}
	r := &Runner{StateDir: state}
	for _, path := range rmrrRecords(state) {
		rec, err := r.read(strings.TrimSuffix(filepath.Base(path), ".json"))
		if err != nil {
			if err := os.Rename(path, path+".damaged"); err != nil {
				return n, err
			}
			n++
			continue
		}
		if rec.State != StateApplying {
			continue
		}
		rec.State = StateRolledBack
		rec.Notes = append(rec.Notes, "interrupted; its backup was loaded back and verified")
		if err := r.write(rec); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

func init() { register(rmrrKind, undoRMRR) }

// undoRMRR is `fix --rollback ID` for a fix rmrr run: the same rollback as
// `fix rmrr --rollback BACKUP`, with the backup, conrep, definitions and platform the record
// names. Definitions that were not named with --xml must still be root's. The runner holds the
// lock.
func undoRMRR(ctx context.Context, snapshot json.RawMessage, out io.Writer) error {
	j, err := decodeJournal(snapshot)
	if err != nil {
		return fmt.Errorf("the record's snapshot: %w", err)
	}
	state := filepath.Dir(j.Backup)
	if !j.XMLGiven && j.XML != "" {
		if err := trustedFile(j.XML); err != nil {
			return fmt.Errorf("refusing the conrep definitions %s: %w", j.XML, err)
		}
	}
	want, err := readBackup(j.Backup, j.Platform)
	if err != nil {
		return err
	}
	r, source, defs, err := findTools(RMRROptions{Conrep: j.Conrep, XML: j.XML}, state)
	if err != nil {
		return err
	}
	if !j.XMLGiven {
		source = "named by the record, root-owned"
	}
	for _, s := range want.Sections {
		if _, ok := defs[s.Name]; !ok {
			return fmt.Errorf("backup %s names %s, which %s does not define", j.Backup, s.Name, r.XML)
		}
	}
	return rollbackLocked(ctx, r, source, state, j.Platform, j.Backup, want, out, time.Now)
}
