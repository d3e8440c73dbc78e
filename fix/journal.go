package fix

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/dpdk-doctor/dpdk-doctor/conrep"
)

// Journal records a change that was loaded but not yet verified, so that an interrupted run is
// found by the next one.
type Journal struct {
	Backup  string    `json:"backup"`
	Slots   []string  `json:"slots"`
	Started time.Time `json:"started"`
	XML     string    `json:"xml"`
	Conrep  string    `json:"conrep"`
	// XMLGiven: the definitions were named with --xml (trusted as given); otherwise a rollback
	// from the record checks again that they are root's. Platform is the host's DMI product,
	// which the backup must be of.
	XMLGiven bool   `json:"xml_given,omitempty"`
	Platform string `json:"platform,omitempty"`

	id     string // the runner's record that holds this journal; "" for a journalName file
	runner bool   // the runner itself keeps the record (a run in progress, not a pending one)
}

// journalName is where dpdk-doctor before the runner kept the journal of a fix rmrr run. Such
// a file is still read (an upgrade must not lose an interrupted run) and settled, but no longer
// written: a run is now a runner record of kind "rmrr", its snapshot this Journal.
const journalName = "rmrr-pending.json"

// rmrrKind is the runner kind of fix rmrr runs.
const rmrrKind = "rmrr"

// maxJournal bounds what is read of a journal: ours are a few hundred bytes.
const maxJournal = 64 << 10

// ErrJournal is wrapped by the error about a journal that exists but cannot be read.
var ErrJournal = errors.New("the journal of an interrupted run cannot be read")

// ErrStateUnreadable is wrapped when the state directory cannot be read (not root), so whether
// an interrupted run is pending cannot be told.
var ErrStateUnreadable = errors.New("cannot look for an interrupted run")

// decodeJournal reads a journal and checks it names what a journal must: an absolute backup
// path and at least one valid slot.
func decodeJournal(b []byte) (*Journal, error) {
	if len(b) > maxJournal {
		return nil, fmt.Errorf("%d bytes, larger than any journal dpdk-doctor writes", len(b))
	}
	var j Journal
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("data after the JSON object")
	}
	if j.Backup == "" || !filepath.IsAbs(j.Backup) {
		return nil, fmt.Errorf("the backup %q is not an absolute path", j.Backup)
	}
	if len(j.Slots) == 0 {
		return nil, errors.New("it names no slot")
	}
	for _, s := range j.Slots {
		if !conrep.ValidSlot(s) {
			return nil, fmt.Errorf("slot %q is not a slot number", s)
		}
	}
	return &j, nil
}

func writeJournal(dir string, j *Journal) error {
	b, _ := json.MarshalIndent(j, "", "  ")
	return writeAtomic(filepath.Join(dir, journalName), b)
}

// settleJournal ends the run j: its record gets state (and a note), or, for the journal file of
// an older dpdk-doctor, the file is removed.
func settleJournal(dir string, j *Journal, state, note string) error {
	if j.runner {
		return nil
	}
	if j.id == "" {
		return clearJournal(dir)
	}
	r := &Runner{StateDir: dir}
	rec, err := r.read(j.id)
	if err != nil {
		return err
	}
	rec.State = state
	if note != "" {
		rec.Notes = append(rec.Notes, note)
	}
	return r.write(rec)
}

// readJournal returns the pending journal of dir, nil when there is none, and an error wrapping
// ErrJournal, with the way out, when one exists that cannot be read or trusted. The pending
// journal is an older dpdk-doctor's journalName file, or else the oldest rmrr record still
// "applying".
func readJournal(dir string) (*Journal, error) {
	path := filepath.Join(dir, journalName)
	b, err := readBounded(path, maxJournal+1)
	if errors.Is(err, fs.ErrNotExist) {
		return readRecordJournal(dir)
	}
	if errors.Is(err, fs.ErrPermission) {
		return nil, fmt.Errorf("%w: %v: run as root (the state directory is root's)", ErrStateUnreadable, err)
	}
	if err == nil {
		var j *Journal
		j, err = decodeJournal(b)
		if err == nil && filepath.Dir(j.Backup) != dir {
			err = fmt.Errorf("its backup %s is not in the state directory %s", j.Backup, dir)
		}
		if err == nil {
			return j, nil
		}
	}
	return nil, damagedJournal(dir, path, err)
}

// rmrrRecords returns the paths of the rmrr records of dir, by name (oldest first).
func rmrrRecords(dir string) []string {
	m, _ := filepath.Glob(filepath.Join(dir, rmrrKind+"-*.json"))
	var out []string
	for _, p := range m {
		if validID().MatchString(strings.TrimSuffix(filepath.Base(p), ".json")) {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// readRecordJournal returns the journal of the oldest rmrr record still "applying", nil when
// there is none; a damaged rmrr record is a damaged journal.
func readRecordJournal(dir string) (*Journal, error) {
	r := &Runner{StateDir: dir}
	for _, path := range rmrrRecords(dir) {
		rec, err := r.read(strings.TrimSuffix(filepath.Base(path), ".json"))
		var j *Journal
		if err == nil && rec.Kind != rmrrKind {
			err = fmt.Errorf("it is a record of kind %q", rec.Kind)
		}
		if err == nil && rec.State != StateApplying {
			continue
		}
		if err == nil {
			j, err = decodeJournal(rec.Snapshot)
		}
		if err == nil && filepath.Dir(j.Backup) != dir {
			err = fmt.Errorf("its backup %s is not in the state directory %s", j.Backup, dir)
		}
		if err != nil {
			return nil, damagedJournal(dir, path, err)
		}
		j.id = rec.ID
		return j, nil
	}
	return nil, nil
}

// damagedJournal is the error for a journal that cannot be read: what happened, and the ways out.
func damagedJournal(dir, path string, cause error) error {
	msg := fmt.Sprintf("%s: %v.\n"+
		"An earlier `dpdk-doctor fix rmrr --apply` was interrupted after it wrote this journal, and dpdk-doctor cannot tell what it loaded, "+
		"so it changes nothing until this is settled. Nothing was changed now. The ways out:\n", path, cause)
	if bk := newestBackup(dir); bk != "" {
		msg += fmt.Sprintf("  - undo the interrupted change: dpdk-doctor fix rmrr --rollback %s --apply  (the newest backup; that also removes the journal)\n", shellJoin([]string{bk}))
	} else {
		msg += fmt.Sprintf("  - undo the interrupted change with the backup it made (rmrds-backup-*.dat in %s): dpdk-doctor fix rmrr --rollback BACKUP --apply\n", dir)
	}
	msg += fmt.Sprintf("  - or, after checking the BIOS settings yourself (conrep -s -x conrep_rmrds.xml -f now.dat), remove the journal: rm %s", shellJoin([]string{path}))
	return fmt.Errorf("%w: %s", ErrJournal, msg)
}

// newestBackup returns the newest rmrds-backup-*.dat of dir by modification time, "" when none.
func newestBackup(dir string) string {
	m, _ := filepath.Glob(filepath.Join(dir, "rmrds-backup-*.dat"))
	type file struct {
		name string
		mod  time.Time
	}
	var fs []file
	for _, n := range m {
		if st, err := os.Stat(n); err == nil {
			fs = append(fs, file{n, st.ModTime()})
		}
	}
	if len(fs) == 0 {
		return ""
	}
	sort.Slice(fs, func(i, j int) bool {
		return fs[i].mod.After(fs[j].mod) || fs[i].mod.Equal(fs[j].mod) && fs[i].name > fs[j].name
	})
	return fs[0].name
}

func clearJournal(dir string) error { return removeSynced(filepath.Join(dir, journalName)) }

// readBounded reads at most limit bytes of a regular file.
func readBounded(path string, limit int64) ([]byte, error) {
	// Checked before opening too: opening a FIFO would wait for a writer.
	if st, err := os.Stat(path); err != nil {
		return nil, err
	} else if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	return io.ReadAll(io.LimitReader(f, limit))
}
