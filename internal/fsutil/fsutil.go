// Package fsutil holds ron-audit's two file rules: the one way it writes a
// small file that must survive a crash whole (next to its destination,
// fsynced, renamed into place, and the directory fsynced), and the one way
// it opens a file it reads from a path others may control (a regular file
// only, never blocking on a named pipe: OpenRegular).
package fsutil

import (
	"os"
	"path/filepath"
)

// WriteFileAtomic writes data to dir/name with mode 0600 (dir is created
// with mode 0700). Readers see the old file or the new one, never part of
// it, and once it returns the file survives a crash. It replaces an
// existing file; callers that must not check first.
func WriteFileAtomic(dir, name string, data []byte) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	tmp, done := f.Name(), false
	defer func() {
		if !done {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := f.Chmod(0o600); err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		return err
	}
	done = true
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
