package plan

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"syscall"
	"time"

	"github.com/dpdk-doctor/dpdk-doctor/internal/ovsrpc"
)

// Backup is the previous value of every other_config key a plan changed, written to the state
// directory before the change; Rollback puts it back.
type Backup struct {
	DB    string             `json:"db"`
	Taken time.Time          `json:"taken"`
	Keys  map[string]*string `json:"other_config"` // nil: the key was unset
}

// Result says what Apply or Rollback did.
type Result struct {
	Backup  string            `json:"backup,omitempty"` // the backup file written
	Before  map[string]string `json:"before"`
	After   map[string]string `json:"after"` // read back from OVSDB after the transaction
	Restart []string          `json:"needs_restart"`
}

// restartKeys are the other_config keys ovs-vswitchd reads only when it starts DPDK.
var restartKeys = map[string]bool{"dpdk-socket-mem": true, "dpdk-lcore-mask": true, "dpdk-socket-limit": true, "dpdk-extra": true, "dpdk-init": true}

// NeedsRestart reports whether ovs-vswitchd must restart for key to take effect.
func NeedsRestart(key string) bool { return restartKeys[key] }

// readRoot returns the Open_vSwitch row's uuid and other_config.
func readRoot(c *ovsrpc.Conn) (string, map[string]string, error) {
	res, err := c.Transact("Open_vSwitch", map[string]any{"op": "select", "table": "Open_vSwitch", "where": []any{}, "columns": []string{"_uuid", "other_config"}})
	if err != nil {
		return "", nil, err
	}
	var rows []struct {
		UUID        []string        `json:"_uuid"`
		OtherConfig json.RawMessage `json:"other_config"`
	}
	if err := ovsrpc.Rows(res[0], &rows); err != nil {
		return "", nil, fmt.Errorf("the Open_vSwitch row: %w", err)
	}
	if len(rows) != 1 || len(rows[0].UUID) != 2 {
		return "", nil, fmt.Errorf("the Open_vSwitch table holds %d rows, want 1 (run ovs-vsctl init)", len(rows))
	}
	m, err := ovsrpc.Map(rows[0].OtherConfig)
	return rows[0].UUID[1], m, err
}

// ReadOtherConfig reads the Open_vSwitch row's other_config.
func ReadOtherConfig(c *ovsrpc.Conn) (map[string]string, error) {
	_, m, err := readRoot(c)
	return m, err
}

// write replaces other_config with want in one transaction that first checks nobody changed it
// since it was read as old, then reads it back and compares.
func write(c *ovsrpc.Conn, uuid string, old, want map[string]string) (map[string]string, error) {
	where := []any{[]any{"_uuid", "==", []any{"uuid", uuid}}}
	_, err := c.Transact("Open_vSwitch",
		map[string]any{"op": "wait", "table": "Open_vSwitch", "where": where, "columns": []string{"other_config"}, "until": "==",
			"rows": []any{map[string]any{"other_config": ovsrpc.MapDatum(old)}}, "timeout": 0},
		map[string]any{"op": "update", "table": "Open_vSwitch", "where": where, "row": map[string]any{"other_config": ovsrpc.MapDatum(want)}},
	)
	if err != nil {
		return nil, fmt.Errorf("writing other_config (nothing was changed): %w", err)
	}
	_, got, err := readRoot(c)
	if err != nil {
		return nil, fmt.Errorf("reading other_config back: %w", err)
	}
	for k, v := range want {
		if got[k] != v {
			return got, fmt.Errorf("read back other_config:%s=%q, wrote %q", k, got[k], v)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			return got, fmt.Errorf("read back other_config:%s=%q, which was removed", k, got[k])
		}
	}
	return got, nil
}

// Apply sets the given other_config keys through c in one transaction, after writing the
// previous values to a backup file in stateDir (atomically), and verifies by reading back.
// When the read back differs, the previous values are restored.
func Apply(ctx context.Context, c *ovsrpc.Conn, db string, set map[string]string, stateDir string, now time.Time) (*Result, error) {
	unlock, err := lock(stateDir)
	if err != nil {
		return nil, err
	}
	defer unlock()
	uuid, old, err := readRoot(c)
	if err != nil {
		return nil, err
	}
	b := Backup{DB: db, Taken: now.UTC(), Keys: map[string]*string{}}
	want := copyMap(old)
	for k, v := range set {
		if cur, ok := old[k]; ok {
			b.Keys[k] = &cur
		} else {
			b.Keys[k] = nil
		}
		want[k] = v
	}
	data, _ := json.MarshalIndent(b, "", "  ")
	path := filepath.Join(stateDir, "ovs-plan-"+now.UTC().Format("20060102T150405.000000000Z")+".json")
	if err := writeAtomic(path, data); err != nil {
		return nil, fmt.Errorf("backing up other_config (nothing was changed): %w", err)
	}
	res := &Result{Backup: path, Before: old}
	got, err := write(c, uuid, old, want)
	res.After = got
	if err != nil {
		if got != nil {
			if _, rerr := write(c, uuid, got, old); rerr != nil {
				return res, fmt.Errorf("%w; restoring the previous values failed too: %v (backup: %s)", err, rerr, path)
			}
			return res, fmt.Errorf("%w; the previous values are restored", err)
		}
		return res, err
	}
	res.Restart = restartNeeded(old, got, set)
	return res, nil
}

// Rollback restores the values a backup file holds.
func Rollback(ctx context.Context, c *ovsrpc.Conn, file, stateDir string) (*Result, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var b Backup
	if err := json.Unmarshal(raw, &b); err != nil || b.Keys == nil {
		if err == nil {
			err = errors.New("no other_config in it")
		}
		return nil, fmt.Errorf("%s: not a dpdk-doctor OVS plan backup: %v", file, err)
	}
	unlock, err := lock(stateDir)
	if err != nil {
		return nil, err
	}
	defer unlock()
	uuid, old, err := readRoot(c)
	if err != nil {
		return nil, err
	}
	want := copyMap(old)
	set := map[string]string{}
	for k, v := range b.Keys {
		if v == nil {
			delete(want, k)
		} else {
			want[k] = *v
		}
		set[k] = want[k]
	}
	res := &Result{Before: old}
	got, err := write(c, uuid, old, want)
	res.After = got
	if err != nil {
		return res, err
	}
	res.Restart = restartNeeded(old, got, set)
	return res, nil
}

// Changed lists the keys whose value differs, sorted.
func restartNeeded(before, after map[string]string, keys map[string]string) []string {
	out := []string{}
	for k := range keys {
		if before[k] != after[k] && NeedsRestart(k) {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

func copyMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// lock takes the state directory's OVS plan lock without waiting.
func lock(dir string) (func(), error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("making the state directory: %w", err)
	}
	p := filepath.Join(dir, "ovs-plan.lock")
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", p, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%s is held by another dpdk-doctor changing OVS: nothing was changed; try again when it is done", p)
		}
		return nil, fmt.Errorf("lock %s: %w", p, err)
	}
	return func() { f.Close() }, nil
}

// writeAtomic writes b to path through a synced temporary file renamed into place.
func writeAtomic(path string, b []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil {
		var d *os.File
		if d, err = os.Open(dir); err == nil {
			err = d.Sync()
			d.Close()
		}
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
