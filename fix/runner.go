package fix

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"
)

// A Remedy is one change to a host in the runner's one shape: Plan says what will change and
// changes nothing (the dry run, the default); Snapshot records what a rollback needs, before
// anything changes; Apply makes the change; Verify reads the host again and says whether the
// targeted findings now read ok (or wait for a reboot). Undoing is the job of the Undoer that
// the remedy's Kind names, so that a rollback works from the record alone, in a later run.
type Remedy interface {
	Kind() string // the registered kind, the subcommand ("bind")
	Plan() []string
	Snapshot() (json.RawMessage, error)
	Apply(ctx context.Context, out io.Writer) error
	Verify(ctx context.Context) (Outcome, error)
}

// An Undoer puts back what a Snapshot recorded.
type Undoer func(ctx context.Context, snapshot json.RawMessage, out io.Writer) error

// Outcome is what Verify found.
type Outcome struct {
	OK            bool     // the targeted findings read ok now
	PendingReboot bool     // the change is made and takes effect at the next boot
	Notes         []string // what was found, plainly ("the kernel reserved 900 of 1024 pages")
}

var undoers = map[string]Undoer{}

// register makes kind's records undoable by u. Every remedy registers itself once, in init.
func register(kind string, u Undoer) {
	if _, dup := undoers[kind]; dup {
		panic("fix: remedy kind registered twice: " + kind)
	}
	undoers[kind] = u
}

// Record is the journal of one run of a remedy, kept in the state directory as ID.json. It is
// written before the change begins (State "applying") and rewritten when the run ends; a record
// still "applying" is an interrupted run, reported by every later run until it is rolled back.
type Record struct {
	ID       string          `json:"id"`
	Kind     string          `json:"kind"`
	Started  time.Time       `json:"started"`
	State    string          `json:"state"` // applying, applied, pending-reboot, failed, rolled-back
	Plan     []string        `json:"plan"`
	Snapshot json.RawMessage `json:"snapshot"`
	Notes    []string        `json:"notes,omitempty"`
}

// Record states.
const (
	StateApplying      = "applying"
	StateApplied       = "applied"
	StatePendingReboot = "pending-reboot"
	StateFailed        = "failed"
	StateRolledBack    = "rolled-back"
)

// Errors of the runner.
var (
	// ErrInterrupted: an earlier run was interrupted; it must be settled first.
	ErrInterrupted = errors.New("an earlier run was interrupted")
	// ErrNoRecord: the ID given to Rollback names no record (bad input).
	ErrNoRecord = errors.New("no such run")
	// ErrVerify: the change was made but does not read back as asked.
	ErrVerify = errors.New("the change did not verify")
)

// Runner carries out remedies. It owns the state directory (0700), the lock against two
// concurrent runs, the records (the journal and the rollback data) and their atomic writes.
type Runner struct {
	StateDir string // "" is DefaultStateDir
	Out      io.Writer
	Now      func() time.Time
}

func (r *Runner) dir() string {
	if r.StateDir == "" {
		return DefaultStateDir
	}
	return r.StateDir
}

func (r *Runner) now() time.Time {
	if r.Now == nil {
		return time.Now()
	}
	return r.Now()
}

func (r *Runner) say(format string, a ...any) { fmt.Fprintf(r.Out, format+"\n", a...) }

// Run prints rem's plan and, with apply, carries it out under the lock: the record (with the
// snapshot) is written first, then the change is made and verified. A change that fails to apply
// or to verify is rolled back from the snapshot at once, and the error says so. Without apply,
// nothing on the host or in the state directory changes.
func (r *Runner) Run(ctx context.Context, rem Remedy, apply bool) (*Record, error) {
	plan := rem.Plan()
	if !apply {
		r.say("Plan (dry run; nothing was changed; add --apply to carry it out):")
		for _, l := range plan {
			r.say("  %s", l)
		}
		return nil, nil
	}
	lock, err := lockState(r.dir(), r.now())
	if err != nil {
		return nil, err
	}
	defer lock.unlock()
	if err := r.interrupted(); err != nil {
		return nil, err
	}
	return r.runLocked(ctx, rem, plan)
}

// keptError is a failure of Apply or Verify after which the runner does not roll back: the
// record gets State (StateApplying: the next run finishes or reports it) and the error is
// returned as it is. fix rmrr uses it: whether a failed conrep load changed anything only a
// read-back can tell, and a wrong write is rolled back by the remedy itself.
type keptError struct {
	State string
	error
}

func (k keptError) Unwrap() error { return k.error }

// runLocked is Run with apply, the lock held and no interrupted run pending.
func (r *Runner) runLocked(ctx context.Context, rem Remedy, plan []string) (*Record, error) {
	snap, err := rem.Snapshot()
	if err != nil {
		return nil, fmt.Errorf("recording the current state: %w (nothing was changed)", err)
	}
	rec := &Record{ID: r.newID(rem.Kind()), Kind: rem.Kind(), Started: r.now().UTC(), State: StateApplying, Plan: plan, Snapshot: snap}
	if err := r.write(rec); err != nil {
		return nil, fmt.Errorf("%w (nothing was changed)", err)
	}
	r.say("Run %s:", rec.ID)
	for _, l := range plan {
		r.say("  %s", l)
	}
	fail := func(what error) (*Record, error) {
		r.say("Rolling back %s: %v", rec.ID, what)
		if uerr := undoers[rec.Kind](ctx, rec.Snapshot, r.Out); uerr != nil {
			rec.State, rec.Notes = StateFailed, append(rec.Notes, what.Error(), "rollback failed: "+uerr.Error())
			r.write(rec)
			return rec, fmt.Errorf("%w; the rollback failed too: %v; the record is %s", what, uerr, r.path(rec.ID))
		}
		rec.State, rec.Notes = StateRolledBack, append(rec.Notes, what.Error())
		if werr := r.write(rec); werr != nil {
			return rec, fmt.Errorf("%w; rolled back, but the record could not be written: %v", what, werr)
		}
		return rec, fmt.Errorf("%w; it was rolled back", what)
	}
	kept := func(err error) (*Record, error, bool) {
		var k keptError
		if !errors.As(err, &k) {
			return nil, nil, false
		}
		if k.State != StateApplying {
			rec.State, rec.Notes = k.State, append(rec.Notes, k.error.Error())
			if werr := r.write(rec); werr != nil {
				return rec, fmt.Errorf("%w; and the record could not be written: %v", k.error, werr), true
			}
		}
		return rec, k.error, true
	}
	start := time.Now()
	if err := rem.Apply(ctx, r.Out); err != nil {
		if rec, err, ok := kept(err); ok {
			return rec, err
		}
		return fail(err)
	}
	out, err := rem.Verify(ctx)
	if err != nil {
		if rec, err, ok := kept(err); ok {
			return rec, err
		}
		return fail(fmt.Errorf("%w: %v", ErrVerify, err))
	}
	rec.Notes = out.Notes
	for _, n := range out.Notes {
		r.say("  %s", n)
	}
	switch {
	case out.PendingReboot:
		rec.State = StatePendingReboot
	case out.OK:
		rec.State = StateApplied
	default:
		return fail(ErrVerify)
	}
	if err := r.write(rec); err != nil {
		return rec, err
	}
	if rec.State == StatePendingReboot {
		r.say("Done: pending reboot. Undo with: dpdk-doctor fix --rollback %s --apply", rec.ID)
	} else {
		r.say("Done and verified in %v. Undo with: dpdk-doctor fix --rollback %s --apply", time.Since(start).Round(time.Microsecond), rec.ID)
	}
	return rec, nil
}

// Rollback undoes the run id from its record's snapshot. Without apply it says what it would
// undo and changes nothing.
func (r *Runner) Rollback(ctx context.Context, id string, apply bool) error {
	if !validID().MatchString(id) {
		return fmt.Errorf("%w: %q is not a run ID (they look like bind-20261126T141500Z)", ErrNoRecord, id)
	}
	rec, err := r.read(id)
	if err != nil {
		return err
	}
	undo := undoers[rec.Kind]
	if undo == nil {
		return fmt.Errorf("%w: %s is of kind %q, which this dpdk-doctor cannot undo", ErrNoRecord, id, rec.Kind)
	}
	if rec.State == StateRolledBack {
		r.say("Run %s was rolled back already; nothing to do.", id)
		return nil
	}
	if !apply {
		r.say("Would roll back run %s (%s, %s), which did:", id, rec.Kind, rec.State)
		for _, l := range rec.Plan {
			r.say("  %s", l)
		}
		r.say("Nothing was changed; add --apply to roll it back.")
		return nil
	}
	lock, err := lockState(r.dir(), r.now())
	if err != nil {
		return err
	}
	defer lock.unlock()
	if err := undo(ctx, rec.Snapshot, r.Out); err != nil {
		return fmt.Errorf("rolling back %s: %w", id, err)
	}
	rec.State = StateRolledBack
	if err := r.write(rec); err != nil {
		return err
	}
	r.say("Rolled back run %s.", id)
	return nil
}

// validID is the shape of a run ID: kind, time, and a counter (compiled on first use).
var validID = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z]+-[0-9]{8}T[0-9]{6}Z(-[0-9]+)?$`) })

func (r *Runner) path(id string) string { return filepath.Join(r.dir(), id+".json") }

func (r *Runner) newID(kind string) string {
	base := kind + "-" + r.now().UTC().Format("20060102T150405Z")
	id := base
	for i := 2; ; i++ {
		if _, err := os.Lstat(r.path(id)); errors.Is(err, fs.ErrNotExist) {
			return id
		}
		id = fmt.Sprintf("%s-%d", base, i)
	}
}

func (r *Runner) write(rec *Record) error {
	b, _ := json.MarshalIndent(rec, "", "  ")
	return writeAtomic(r.path(rec.ID), append(b, '\n'))
}

func (r *Runner) read(id string) (*Record, error) {
	b, err := readBounded(r.path(id), maxJournal+1)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: no record %s", ErrNoRecord, r.path(id))
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrJournal, err)
	}
	rec, err := decodeRecord(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrJournal, r.path(id), err)
	}
	if rec.ID != id {
		return nil, fmt.Errorf("%w: %s holds the record of %q", ErrJournal, r.path(id), rec.ID)
	}
	return rec, nil
}

// decodeRecord reads a record and checks the fields a rollback relies on.
func decodeRecord(b []byte) (*Record, error) {
	if len(b) > maxJournal {
		return nil, fmt.Errorf("%d bytes, larger than any record dpdk-doctor writes", len(b))
	}
	var rec Record
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rec); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("data after the JSON object")
	}
	if !validID().MatchString(rec.ID) || !strings.HasPrefix(rec.ID, rec.Kind+"-") {
		return nil, fmt.Errorf("the ID %q is not a run ID of kind %q", rec.ID, rec.Kind)
	}
	switch rec.State {
	case StateApplying, StateApplied, StatePendingReboot, StateFailed, StateRolledBack:
	default:
		return nil, fmt.Errorf("unknown state %q", rec.State)
	}
	if len(rec.Snapshot) == 0 {
		return nil, errors.New("it holds no snapshot")
	}
	return &rec, nil
}

// Records lists the records of the state directory, oldest first.
func (r *Runner) Records() ([]*Record, error) {
	m, _ := filepath.Glob(filepath.Join(r.dir(), "*.json"))
	var out []*Record
	for _, p := range m {
		id := strings.TrimSuffix(filepath.Base(p), ".json")
		if !validID().MatchString(id) {
			continue // rmrr-pending.json and other files of ours
		}
		rec, err := r.read(id)
		if err != nil {
			return nil, err
		}
		out = append(out, rec)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Started.Before(out[j].Started) })
	return out, nil
}

// interrupted reports a run that was interrupted (its record still "applying"): no new change
// starts until it is rolled back, since what it changed is unknown.
func (r *Runner) interrupted() error {
	// fix rmrr keeps its own journal (its verification needs conrep); an interrupted rmrr run
	// stops the runner's remedies too, as it stops rmrr's.
	if j, err := readJournal(r.dir()); err != nil {
		return err
	} else if j != nil {
		if j.id != "" {
			return fmt.Errorf("%w: fix rmrr run %s was interrupted after loading an exclusion of slot(s) %s (backup %s). "+
				"Nothing was changed now. Finish it first: dpdk-doctor fix rmrr --apply --state-dir %s (it verifies the exclusion), or roll it back: dpdk-doctor fix --rollback %s --apply --state-dir %s",
				ErrInterrupted, j.id, strings.Join(j.Slots, ", "), j.Backup, shellJoin([]string{r.dir()}), j.id, shellJoin([]string{r.dir()}))
		}
		return fmt.Errorf("%w: a `dpdk-doctor fix rmrr --apply` run was interrupted after loading an exclusion of slot(s) %s (backup %s). "+
			"Nothing was changed now. Finish it first: dpdk-doctor fix rmrr --apply --state-dir %s (it verifies the exclusion), or roll it back: dpdk-doctor fix rmrr --rollback %s --apply",
			ErrInterrupted, strings.Join(j.Slots, ", "), j.Backup, shellJoin([]string{r.dir()}), shellJoin([]string{j.Backup}))
	}
	recs, err := r.Records()
	if err != nil {
		return err
	}
	for _, rec := range recs {
		if rec.State == StateApplying {
			return fmt.Errorf("%w: run %s (%s, started %s) did not finish, so what it changed is not known. Nothing was changed now. "+
				"Roll it back first: dpdk-doctor fix --rollback %s --apply --state-dir %s",
				ErrInterrupted, rec.ID, rec.Kind, rec.Started.Format(time.RFC3339), rec.ID, shellJoin([]string{r.dir()}))
		}
	}
	return nil
}
