package sdk

import (
	"fmt"
	"os"
	"runtime"
)

// fileProblem is why openSecret refused a file; the caller turns it into
// its own typed error (KeyFileError, SaltFileError).
type fileProblem struct {
	reason string
	err    error
	perms  bool // the file's mode lets group or others in
}

// openSecret opens a key or salt file for reading. It refuses anything but
// a regular file (a FIFO or device is refused before it is opened, and the
// opened file is checked again) and, when private is set and the OS has
// Unix permission bits, a file whose mode lets group or others access it.
// what names the file in the reason, e.g. "private key file".
func openSecret(path, what string, private bool) (*os.File, *fileProblem) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, &fileProblem{reason: "cannot read", err: err}
	}
	if !fi.Mode().IsRegular() {
		return nil, &fileProblem{reason: "not a regular file (mode " + fi.Mode().String() + ")"}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, &fileProblem{reason: "cannot read", err: err}
	}
	if fi, err = f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		if err != nil {
			return nil, &fileProblem{reason: "cannot read", err: err}
		}
		return nil, &fileProblem{reason: "not a regular file (mode " + fi.Mode().String() + ")"}
	}
	if perm := fi.Mode().Perm(); private && perm&0o077 != 0 && runtime.GOOS != "windows" {
		f.Close()
		return nil, &fileProblem{perms: true, reason: fmt.Sprintf("%s has mode %04o, which lets group or others access it; "+
			"restrict it to the owner with: chmod 600 %s", what, perm, path)}
	}
	return f, nil
}
