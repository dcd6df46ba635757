//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package wal

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLastSegmentSymlink: Open opened the last segment for writing
// following a symbolic link, so a link there made the writer cut (a torn
// tail) and append to the file it points to, outside the log directory,
// as it did with a link at LOCK. Open must refuse it with an *Error
// naming the segment, and leave the file it points to as it was. Readers
// still read such a segment as the file it points to (FORMAT.md section
// 1; the interop tests check that Go's and Python's readers agree).
func TestLastSegmentSymlink(t *testing.T) {
	dir := writeLog(t, 5, Options{Fsync: FsyncAlways})
	segs := segments(t, dir)
	last := segs[len(segs)-1]
	target := filepath.Join(t.TempDir(), "elsewhere.seg")
	if err := os.Rename(last, target); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, last); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(target, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte{0x84, 0x03, 0, 0, 1}) // a torn tail Open would cut
	f.Close()
	before := readFile(t, target)

	l, _, err := Open(dir, Options{Fsync: FsyncAlways})
	if err == nil {
		_, aerr := l.AppendDurable(payloadFor(6))
		l.Close()
		t.Fatalf("Open with the last segment a symbolic link: nil (an append then: %v), want an error naming %s", aerr, last)
	}
	var e *Error
	if !errors.As(err, &e) || e.Path != last || !strings.Contains(err.Error(), "symbolic link") {
		t.Fatalf("Open with the last segment a symbolic link: %v, want an *Error naming %s as a symbolic link", err, last)
	}
	if after := readFile(t, target); !bytes.Equal(after, before) {
		t.Fatalf("the file the segment links to changed: %d bytes before, %d after", len(before), len(after))
	}
	fs, rec, err := readAll(t, dir)
	if err != nil || rec.Frames != 5 || rec.TornBytes != 5 {
		t.Fatalf("ReadDir through the link: %+v, %v; want the 5 frames and the torn tail", rec, err)
	}
	checkFrames(t, fs, 5)
}
