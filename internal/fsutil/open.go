package fsutil

import (
	"io"
	"io/fs"
	"os"
	"strconv"
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

// TooLargeError reports a file over a reader's limit. Size is what was
// found: the file's size, or more than Limit when it grew while read.
type TooLargeError struct {
	Path  string
	Size  int64
	Limit int64
}

func (e *TooLargeError) Error() string {
	return e.Path + " is " + strconv.FormatInt(e.Size, 10) + " bytes or more, more than " + strconv.FormatInt(e.Limit, 10)
}

// ReadRegular reads a whole regular file of at most max bytes (see
// OpenRegular). A larger one is a *TooLargeError, found from its size
// before it is read, or after max+1 bytes if it grew meanwhile.
func ReadRegular(path string, max int64) ([]byte, fs.FileInfo, error) {
	f, fi, err := OpenRegular(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	if fi.Size() > max {
		return nil, nil, &TooLargeError{Path: path, Size: fi.Size(), Limit: max}
	}
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, nil, err
	}
	if int64(len(b)) > max {
		return nil, nil, &TooLargeError{Path: path, Size: int64(len(b)), Limit: max}
	}
	return b, fi, nil
}
