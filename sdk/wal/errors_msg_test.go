package wal

import (
	"errors"
	"io/fs"
	"syscall"
	"testing"
)

// TestErrorNamesPathOnce: an *Error wrapping the OS's *fs.PathError of
// the same file says the path once ("wal: write X.seg: no space left on
// device"), not twice as both errors print it; an OS operation other
// than the log's stays named, and errors.Is still reaches the errno.
func TestErrorNamesPathOnce(t *testing.T) {
	const seg = "/var/lib/audit/0000000000000003.seg"
	for _, c := range []struct {
		err  *Error
		want string
	}{
		{&Error{Op: "write", Path: seg, Err: &fs.PathError{Op: "write", Path: seg, Err: syscall.ENOSPC}},
			"wal: write " + seg + ": no space left on device"},
		{&Error{Op: "fsync", Path: seg, Err: &fs.PathError{Op: "sync", Path: seg, Err: syscall.EIO}},
			"wal: fsync " + seg + ": sync: input/output error"},
		{&Error{Op: "open", Path: "/var/lib/audit", Err: &fs.PathError{Op: "open", Path: seg, Err: syscall.EACCES}},
			"wal: open /var/lib/audit: open " + seg + ": permission denied"},
	} {
		if got := c.err.Error(); got != c.want {
			t.Errorf("got  %q\nwant %q", got, c.want)
		}
		var errno syscall.Errno
		if !errors.As(c.err, &errno) {
			t.Errorf("%q: the errno is no longer reachable", c.err)
		}
	}
}
