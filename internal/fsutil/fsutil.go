// Package fsutil holds ron-audit's two file rules: the one way it writes a
// small file that must survive a crash whole (next to its destination,
// fsynced, renamed into place, or linked when it must not replace one,
// and the directory fsynced, as is the parent of each directory created
// for it), and the one way
// it opens a file it reads from a path others may control (a regular file
// only, never blocking on a named pipe: OpenRegular).
package fsutil

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
)

// syncedDir, if set (by a test), is told of each directory SyncDir
// fsyncs. A nil hook, not a replaceable function value: the Micronode
// amnesia check (tools/analyzers) must not find a file-writing function
// whose address is taken.
var syncedDir func(dir string)

// afterLink, if set (by a test), is called by WriteFileNew between
// linking its temporary file into place and removing it.
var afterLink func(tmp string)

// SyncDir fsyncs a directory, making its entries durable. Not on
// Windows, which cannot open a directory for syncing and needs no such
// step.
func SyncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	if syncedDir != nil {
		syncedDir(dir)
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// MkdirAll creates dir and its missing parents with mode 0700, like
// os.MkdirAll (a symbolic link to a directory is followed; one to nothing
// is a *BrokenLinkError, not created through), and makes each directory it creates survive a crash: the
// parent of each is fsynced once the directory is in it (os.MkdirAll
// leaves a new directory's entry in its parent to the file system's
// timing, and a file fsynced inside a directory whose entry a crash took
// away is lost with it).
func MkdirAll(dir string) error {
	dir = filepath.Clean(dir)
	// The missing directories, innermost first.
	var missing []string
	for d := dir; ; {
		fi, err := os.Stat(d)
		if err == nil {
			if !fi.IsDir() {
				return &os.PathError{Op: "mkdir", Path: d, Err: syscall.ENOTDIR}
			}
			break
		}
		if !os.IsNotExist(err) && !errors.Is(err, syscall.ENOTDIR) { // ENOTDIR: a file above, found next
			return err
		}
		if os.IsNotExist(err) {
			// A link to nothing is not missing: os.Mkdir would fail with
			// EEXIST, taken below for another process's directory.
			if fi, lerr := os.Lstat(d); lerr == nil && fi.Mode()&fs.ModeSymlink != 0 {
				if berr := BrokenLink(d); berr != nil {
					return berr
				}
			}
		}
		missing = append(missing, d)
		parent := filepath.Dir(d)
		if parent == d {
			break
		}
		d = parent
	}
	for i := len(missing) - 1; i >= 0; i-- {
		d := missing[i]
		if err := os.Mkdir(d, 0o700); err != nil {
			if !os.IsExist(err) {
				return err
			}
			// Created meanwhile, by another process: if as a directory.
			if fi, serr := os.Stat(d); serr != nil || !fi.IsDir() {
				if berr := BrokenLink(d); berr != nil {
					return berr
				}
				return err
			}
		}
		// Another process may have created it meanwhile: sync its entry
		// all the same, it is ours to rely on now.
		if err := SyncDir(filepath.Dir(d)); err != nil {
			return err
		}
	}
	return nil
}

// WriteTemp writes data to a new temporary file in dir, named by pattern
// as os.CreateTemp names it (readers skip names starting with ".tmp-"),
// with exactly mode perm whatever the umask, fsynced and closed, and
// returns its path. On error nothing is left behind; an error from
// creating the file is os.CreateTemp's (*fs.PathError, Op "createtemp").
func WriteTemp(dir, pattern string, data []byte, perm os.FileMode) (string, error) {
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return "", err
	}
	tmp := f.Name()
	err = f.Chmod(perm)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return "", err
	}
	return tmp, nil
}

// WriteFileNew is WriteFileAtomic for evidence: it never replaces a file.
// If dir/name exists, or another writer creates it first, it returns an
// error that errors.Is fs.ErrExist (an *os.LinkError naming both paths)
// and the existing file is left as it was. The file is put in place with a
// hard link of the fsynced temporary file, which fails rather than
// replace, so that two writers racing for one name cannot both succeed.
func WriteFileNew(dir, name string, data []byte) error {
	if err := MkdirAll(dir); err != nil {
		return err
	}
	tmp, err := WriteTemp(dir, tempPrefix+"*", data, 0o600)
	if err != nil {
		return err
	}
	lerr := os.Link(tmp, filepath.Join(dir, name))
	if lerr == nil && afterLink != nil {
		afterLink(tmp)
	}
	// A temporary file already gone after the link was removed by a sweep
	// (RemoveStaleTemps) that took it for a crash's: what was left to do.
	if err := os.Remove(tmp); err != nil && lerr == nil && !errors.Is(err, fs.ErrNotExist) {
		lerr = err
	}
	if lerr != nil {
		return lerr
	}
	return SyncDir(dir)
}

// WriteFileAtomic writes data to dir/name with mode 0600 (dir is created
// with mode 0700, as MkdirAll does). Readers see the old file or the new one, never part of
// it, and once it returns the file survives a crash. It replaces an
// existing file; callers that must not check first.
func WriteFileAtomic(dir, name string, data []byte) error {
	if err := MkdirAll(dir); err != nil {
		return err
	}
	tmp, err := WriteTemp(dir, tempPrefix+"*", data, 0o600)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		os.Remove(tmp)
		return err
	}
	return SyncDir(dir)
}
