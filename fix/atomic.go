package fix

import (
	"fmt"
	"os"
	"path/filepath"
)

// writeAtomic writes b to path so that path holds either its old contents or all of b, even if
// the machine loses power: a temporary file in the same directory is written and synced, renamed
// into place, and the directory is synced so that the rename itself is on disk. The directory is
// made (0700) when it does not exist.
func writeAtomic(path string, b []byte) error { return writeAtomicMode(path, b, 0o600) }

// writeAtomicMode is writeAtomic for a file of the given mode (system files: 0644).
func writeAtomicMode(path string, b []byte, mode os.FileMode) error {
	dir := filepath.Dir(path)
	if err := makeStateDir(dir); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	tmp := f.Name()
	_, err = f.Write(b)
	if err == nil {
		err = f.Chmod(mode)
	}
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
		err = syncDir(dir)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// syncDir flushes a directory's entries (new names, renames, removals) to disk.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("syncing directory %s: %w", dir, err)
	}
	return nil
}

// makeStateDir makes dir (0700) when it does not exist, and syncs its parent so that the new
// directory survives a crash.
func makeStateDir(dir string) error {
	if st, err := os.Stat(dir); err == nil {
		if !st.IsDir() {
			return fmt.Errorf("state directory %s is not a directory", dir)
		}
		return nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("making the state directory: %w", err)
	}
	return syncDir(filepath.Dir(dir))
}

// removeSynced removes path and syncs its directory, so that the removal is on disk.
func removeSynced(path string) error {
	if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
		return err
	}
	return syncDir(filepath.Dir(path))
}
