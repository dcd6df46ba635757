package fsutil

import (
	"io/fs"
	"os"
)

// NotRegularError reports a path that is not a regular file (a named pipe,
// a device, a directory, a socket).
type NotRegularError struct {
	Path string
	Mode fs.FileMode
}

func (e *NotRegularError) Error() string {
	return e.Path + " is not a regular file (mode " + e.Mode.String() + ")"
}

// OpenRegular opens path for reading only if it is a regular file, and
// returns it with its FileInfo (from the open file, so what was checked is
// what is read). It never blocks on what it refuses: on Unix it opens
// with O_NONBLOCK, so a named pipe put there, even between a caller's
// stat and this open, returns at once instead of waiting for a writer;
// for a regular file the flag changes nothing. A refusal is a
// *NotRegularError.
func OpenRegular(path string) (*os.File, fs.FileInfo, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|nonBlock, 0)
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, nil, &NotRegularError{Path: path, Mode: fi.Mode()}
	}
	return f, fi, nil
}
