package sdk

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"

	"github.com/rustyonions/ron-audit-go/internal/fsutil"
)

// FileError reports a key or salt file that cannot be loaded or written.
// Err is the underlying error, if any (reachable with errors.Unwrap,
// errors.Is and errors.As); the error also matches its category
// (ErrKeyPermissions, ErrKeyFormat, ErrSaltPermissions, ErrSaltFormat).
type FileError struct {
	What   string // "key file" or "salt file"
	Path   string
	Reason string
	Err    error
	target error // category for Is
}

func (e *FileError) Error() string {
	s := "sdk: " + e.What + " " + e.Path + ": " + e.Reason
	if pe, ok := e.Err.(*fs.PathError); ok && pe.Path == e.Path {
		// The OS's error names the same file: say it once.
		return s + ": " + pe.Op + ": " + pe.Err.Error()
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the underlying error.
func (e *FileError) Unwrap() error { return e.Err }

// Is makes errors.Is match the error's category.
func (e *FileError) Is(target error) bool { return e.target != nil && target == e.target }

// fileProblem is why openSecret refused a file; the caller turns it into
// its own typed error (KeyFileError, SaltFileError).
type fileProblem struct {
	reason string
	err    error
	perms  bool // the file's mode or owner, or a directory on its path, lets someone else in
}

// openSecret opens a key or salt file for reading. It refuses anything but
// a regular file (fsutil.OpenRegular: a FIFO is refused without blocking,
// even one swapped in after a check) and, when private is set and the OS
// has Unix permission bits, a file whose mode lets group or others access
// it, or that another user owns (see trustedOwner), or under a directory
// (see openDir) that group or others may write (without the sticky bit) or
// another user owns. what names the file in the reason, e.g. "private key
// file".
func openSecret(path, what string, private bool) (*os.File, *fileProblem) {
	f, fi, err := fsutil.OpenRegular(path)
	var nr *fsutil.NotRegularError
	if errors.As(err, &nr) {
		return nil, &fileProblem{reason: "not a regular file (mode " + nr.Mode.String() + ")"}
	}
	if err != nil {
		return nil, &fileProblem{reason: "cannot read", err: err}
	}
	if perm := fi.Mode().Perm(); private && perm&0o077 != 0 && runtime.GOOS != "windows" {
		f.Close()
		return nil, &fileProblem{perms: true, reason: fmt.Sprintf("%s has mode %04o, which lets group or others access it; "+
			"restrict it to the owner with: chmod 600 %s", what, perm, path)}
	}
	if uid, ok := fsutil.Owner(fi); private && ok && !trustedOwner(uid) {
		f.Close()
		euid := os.Geteuid()
		return nil, &fileProblem{perms: true, reason: fmt.Sprintf("%s is owned by uid %d, not by this process's user (uid %d) or root, "+
			"so that user can read or replace it; give it to this user with: chown %d %s", what, uid, euid, euid, path)}
	}
	if private {
		if p := openDir(path, what); p != nil {
			f.Close()
			return nil, p
		}
	}
	return f, nil
}

// trustedOwner reports whether a secret file or a directory above one may
// be owned by uid: this process's user or root. Mode 0600 keeps group and
// others out, not the owner: a key another user owns is theirs to read
// and to replace (a root service loading a key from a user's home), and
// root can do both to any file anyway.
func trustedOwner(uid int) bool { return uid == 0 || uid == os.Geteuid() }

// openDir finds a directory on the way to path (as named, and after its
// symbolic links, or its directory's for a path not there yet) that group
// or others may write without the sticky bit, or that another user than
// this process's or root owns (see trustedOwner): whoever can write it can put their own key or salt in
// the file's place, or a directory of their own in one of its parents'.
// (A sticky directory, like /tmp, lets only an entry's owner rename or
// remove it.) Not on Windows, which has no such bits.
func openDir(path, what string) *fileProblem {
	if runtime.GOOS == "windows" {
		return nil
	}
	paths := []string{path}
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		// A file not there yet (writeNewSecret): where it will be is
		// where its directory's links lead.
		if d, derr := filepath.EvalSymlinks(filepath.Dir(path)); derr == nil {
			real, err = filepath.Join(d, filepath.Base(path)), nil
		}
	}
	if err == nil && real != path {
		paths = append(paths, real)
	}
	for _, p := range paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			continue
		}
		for dir := filepath.Dir(abs); ; dir = filepath.Dir(dir) {
			di, err := os.Stat(dir)
			if err == nil && di.Mode().Perm()&0o022 != 0 && di.Mode()&os.ModeSticky == 0 {
				return &fileProblem{perms: true, reason: fmt.Sprintf("the directory %s on its path has mode %04o, so group or others can replace the %s; "+
					"restrict it with: chmod go-w %s", dir, di.Mode().Perm(), what, dir)}
			}
			if uid, ok := ownerOf(di, err); ok && !trustedOwner(uid) {
				euid := os.Geteuid()
				return &fileProblem{perms: true, reason: fmt.Sprintf("the directory %s on its path is owned by uid %d, not by this process's user (uid %d) or root, "+
					"so that user can replace the %s; give it to this user with: chown %d %s", dir, uid, euid, what, euid, dir)}
			}
			if dir == filepath.Dir(dir) {
				break
			}
		}
	}
	return nil
}

// ownerOf is fsutil.Owner of a Stat that succeeded.
func ownerOf(fi os.FileInfo, err error) (int, bool) {
	if err != nil {
		return 0, false
	}
	return fsutil.Owner(fi)
}

// writeNewSecret creates path, failing if it exists (never overwriting a
// key or salt), with exactly mode perm whatever the umask, and makes it
// appear whole: b is written to a temporary file next to path and synced,
// the file is hard-linked to path (link, unlike rename, fails when path
// exists, even as a dangling symlink), and the directory is synced. A
// reader or a crash never finds path empty or short; a crash may leave
// only a ".tmp-" file behind. what names the file in errors ("key file",
// "salt file"), and perms is the category of a refusal for its directory
// (ErrKeyPermissions, ErrSaltPermissions).
func writeNewSecret(what string, perms error, path string, b []byte, perm os.FileMode) error {
	if p := openDir(path, what); p != nil { // it would be refused when loaded
		return &FileError{What: what, Path: path, Reason: p.reason, target: perms}
	}
	// Refuse early, before creating anything, when path exists.
	if _, err := os.Lstat(path); err == nil {
		return &FileError{What: what, Path: path, Reason: "refusing to overwrite it (give a new name, or move it away first)",
			Err: &fs.PathError{Op: "create", Path: path, Err: fs.ErrExist}}
	}
	dir := filepath.Dir(path)
	tmp, err := fsutil.WriteTemp(dir, ".tmp-"+filepath.Base(path)+"-*", b, perm)
	if err != nil {
		reason := "writing"
		if pe := (*fs.PathError)(nil); errors.As(err, &pe) && pe.Op == "createtemp" {
			reason = "creating"
		}
		return &FileError{What: what, Path: path, Reason: reason, Err: err}
	}
	defer os.Remove(tmp) // after the link, path keeps the file
	if err := os.Link(tmp, path); err != nil {
		reason := "creating"
		if errors.Is(err, fs.ErrExist) {
			reason = "already exists, refusing to overwrite"
		}
		return &FileError{What: what, Path: path, Reason: reason, Err: err}
	}
	if err := fsutil.SyncDir(dir); err != nil {
		return &FileError{What: what, Path: path, Reason: "syncing its directory", Err: err}
	}
	return nil
}
