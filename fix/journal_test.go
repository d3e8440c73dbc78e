package fix

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// FuzzDecodeJournal: any bytes give a journal that names an absolute backup and valid slots, or
// an error; never a panic.
func FuzzDecodeJournal(f *testing.F) {
	f.Add([]byte(`{"backup": "/var/lib/dpdk-doctor/rmrds-backup-20261124T050000Z.dat", "slots": ["2"], "started": "2026-11-24T05:00:00Z", "xml": "/x.xml", "conrep": "/usr/sbin/conrep"}`))
	f.Add([]byte(`{"backup": "/var/lib/dpdk-doctor/b.dat", "slots": ["2"`))
	f.Add([]byte(`{"backup": "rel.dat", "slots": ["2"]}`))
	f.Add([]byte(`{"backup": "/b.dat", "slots": ["2;reboot"]}`))
	f.Add([]byte(`{"backup": "/b.dat", "slots": ["2"]} {}`))
	f.Add([]byte("\x00\x00garbage"))
	f.Fuzz(func(t *testing.T, b []byte) {
		j, err := decodeJournal(b)
		if err != nil {
			if j != nil {
				t.Fatal("a journal with an error")
			}
			return
		}
		if !filepath.IsAbs(j.Backup) || len(j.Slots) == 0 {
			t.Fatalf("accepted %+v", j)
		}
	})
}

// TestReadJournal: no journal is nil; a damaged one (truncated, garbage, a backup outside the
// state directory) is an error wrapping ErrJournal that names the newest backup and the file.
func TestReadJournal(t *testing.T) {
	dir := t.TempDir()
	if j, err := readJournal(dir); j != nil || err != nil {
		t.Fatalf("no journal: %v %v", j, err)
	}
	good := &Journal{Backup: filepath.Join(dir, "rmrds-backup-1.dat"), Slots: []string{"2"}, Started: time.Now().UTC()}
	if err := writeJournal(dir, good); err != nil {
		t.Fatal(err)
	}
	if j, err := readJournal(dir); err != nil || j.Backup != good.Backup {
		t.Fatalf("good journal: %v %v", j, err)
	}
	os.WriteFile(good.Backup, []byte("x"), 0o600)
	path := filepath.Join(dir, journalName)
	for _, b := range []string{`{"backup": "` + good.Backup + `", "slo`, "garbage", `{"backup": "/etc/rmrds-backup-1.dat", "slots": ["2"]}`, ""} {
		os.WriteFile(path, []byte(b), 0o600)
		_, err := readJournal(dir)
		if !errors.Is(err, ErrJournal) || !strings.Contains(err.Error(), "--rollback "+good.Backup+" --apply") || !strings.Contains(err.Error(), "rm "+path) {
			t.Errorf("journal %q: %v", b, err)
		}
	}
}

// TestLockState: a second lock is refused while the first is held, naming the holder; it is
// free again once released.
func TestLockState(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	l, err := lockState(dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(dir); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("state dir: %v %v", st, err)
	}
	_, err = lockState(dir, time.Now())
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "pid "+strconv.Itoa(os.Getpid())) {
		t.Errorf("second lock: %v", err)
	}
	l.unlock()
	l2, err := lockState(dir, time.Now())
	if err != nil {
		t.Errorf("after unlock: %v", err)
	}
	l2.unlock()
}

// TestUndoRMRRTrustsXMLAsRecorded: `fix --rollback ID` of an rmrr run checks again that
// definitions found in the usual places are root's, and trusts ones named with --xml as given.
func TestUndoRMRRTrustsXMLAsRecorded(t *testing.T) {
	dir := t.TempDir()
	xml := filepath.Join(dir, "conrep_rmrds.xml")
	os.WriteFile(xml, []byte("<Conrep/>"), 0o644)
	old := trustedOwner
	trustedOwner = os.Getuid() + 1
	defer func() { trustedOwner = old }()
	for _, given := range []bool{false, true} {
		snap, _ := json.Marshal(&Journal{Backup: filepath.Join(dir, "rmrds-backup-x.dat"), Slots: []string{"2"}, XML: xml, XMLGiven: given, Platform: "ProLiant DL360e Gen8"})
		err := undoRMRR(context.Background(), snap, io.Discard)
		if refused := err != nil && strings.Contains(err.Error(), "refusing the conrep definitions"); refused == given || err == nil {
			t.Errorf("xml given %v: %v", given, err)
		}
	}
}

// TestRMRRJournalIsARecord: a fix rmrr journal is a runner record of kind rmrr: found while it
// is "applying" (and named by ID in the runner's refusal), and no longer once settled.
func TestRMRRJournalIsARecord(t *testing.T) {
	dir := t.TempDir()
	r := &Runner{StateDir: dir, Out: io.Discard}
	j := &Journal{Backup: filepath.Join(dir, "rmrds-backup-x.dat"), Slots: []string{"2"}, Started: time.Now()}
	snap, _ := json.Marshal(j)
	j.id = r.newID(rmrrKind)
	if err := r.write(&Record{ID: j.id, Kind: rmrrKind, Started: j.Started, State: StateApplying, Plan: []string{"exclude RMRDS_Slot2"}, Snapshot: snap}); err != nil {
		t.Fatal(err)
	}
	got, err := readJournal(dir)
	if err != nil || got == nil || got.id != j.id || !strings.HasPrefix(j.id, "rmrr-") {
		t.Fatalf("pending: %+v %v", got, err)
	}
	if err := r.interrupted(); !errors.Is(err, ErrInterrupted) || !strings.Contains(err.Error(), "fix --rollback "+j.id) {
		t.Errorf("runner: %v", err)
	}
	if err := settleJournal(dir, j, StatePendingReboot, ""); err != nil {
		t.Fatal(err)
	}
	if got, err := readJournal(dir); got != nil || err != nil {
		t.Errorf("settled: %+v %v", got, err)
	}
	if _, err := os.Stat(filepath.Join(dir, journalName)); err == nil {
		t.Error("rmrr-pending.json written")
	}
}
