// Package fix holds the remedies dpdk-doctor can carry out. Each has one shape: a plan that
// changes nothing (what `dpdk-doctor fix ...` prints by default), then, with --apply, a backup,
// the change, a verification that reads the change back, and a rollback from the backup.
package fix

import (
	"fmt"
	"os"
	"path/filepath"
)

// DefaultStateDir is where remedies keep backups and journals.
const DefaultStateDir = "/var/lib/dpdk-doctor"

// writeAtomic writes b to path through a temporary file in the same directory, synced and
// renamed into place, so that path holds either nothing or all of b.
func writeAtomic(path string, b []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
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
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
