package fsutil

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// tempPrefix begins the name of every temporary file WriteFileNew and
// WriteFileAtomic create: the pattern ".tmp-*", which os.CreateTemp
// fills with decimal digits.
const tempPrefix = ".tmp-"

// StaleTempAge is how long a temporary file of WriteFileNew or
// WriteFileAtomic must have gone unmodified before RemoveStaleTemps takes
// it for a crash's leftover. A writer holds its temporary file only while
// it writes, fsyncs and links it, and the file's modification time is
// that of its last write, so a live one is at most as old as its fsync:
// an hour leaves room for a slow disk, and for the clocks of a network
// file system's server and client disagreeing by some minutes.
const StaleTempAge = time.Hour

// IsTempName reports whether name is one WriteFileNew and WriteFileAtomic
// give their temporary files: ".tmp-" and one or more decimal digits.
// Other names beginning ".tmp-" (a key file's ".tmp-<name>-<digits>") are
// not.
func IsTempName(name string) bool {
	digits, ok := strings.CutPrefix(name, tempPrefix)
	if !ok || digits == "" {
		return false
	}
	for _, c := range []byte(digits) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// RemoveStaleTemps removes the temporary files WriteFileNew and
// WriteFileAtomic left in dir when a crash stopped them between creating
// and removing one (nothing reads them; they only take space): the
// entries directly in dir whose name IsTempName, that are regular files
// (by Lstat, just before: a symbolic link, a directory, a named pipe, a
// socket or a device is never touched, nor what a link points to), and
// whose modification time is before cutoff (time.Now().Add(-StaleTempAge):
// a file another writer is still writing and linking is newer, and kept;
// were one removed all the same (a file server's clock an hour behind),
// its writer's link or rename would fail and report it, or, removed just
// after WriteFileNew linked it, the write stands: nothing is lost or half
// written).
//
// found, if not nil, is called for each stale file, with nil if it was
// removed and the error of its removal otherwise; RemoveStaleTemps goes
// on past a failed removal. A file gone meanwhile (its writer done,
// another sweep) is skipped. The error is that of reading dir; a dir that
// does not exist holds nothing and is not an error.
func RemoveStaleTemps(dir string, cutoff time.Time, found func(path string, err error)) error {
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !IsTempName(e.Name()) || !e.Type().IsRegular() {
			continue
		}
		path := filepath.Join(dir, e.Name())
		fi, err := os.Lstat(path)
		if err != nil || !fi.Mode().IsRegular() || !fi.ModTime().Before(cutoff) {
			continue // gone, replaced by something else, or recent
		}
		err = os.Remove(path)
		if os.IsNotExist(err) {
			continue
		}
		if found != nil {
			found(path, err)
		}
	}
	return nil
}

// SweepStaleTemps is RemoveStaleTemps of dir with the cutoff now less
// StaleTempAge, counted: the files removed, those that could not be, and
// the last failure (removing a file, or reading dir), described. The
// checkpoint Keeper and the export FileSink report these as TempStats.
func SweepStaleTemps(dir string, now time.Time) (removed, failed int64, err error) {
	rerr := RemoveStaleTemps(dir, now.Add(-StaleTempAge), func(path string, rmErr error) {
		if rmErr != nil {
			failed++
			err = fmt.Errorf("removing stale temporary file %s: %w", path, rmErr)
			return
		}
		removed++
	})
	if rerr != nil {
		err = fmt.Errorf("looking for stale temporary files in %s: %w", dir, rerr)
	}
	return removed, failed, err
}
