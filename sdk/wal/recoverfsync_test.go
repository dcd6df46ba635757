package wal

import (
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"
)

// TestRecoveryFsyncErrorSaysWhich: recovery fsyncs the last segment up to
// twice, first for the frames it found, then after cutting a torn tail,
// and the error of each said only "fsync PATH: ...", the same words
// whichever failed (and the code's own words, "the fsync of the rewritten
// header", were for one case only, an interrupted segment creation). Each
// failure must say which fsync it was.
func TestRecoveryFsyncErrorSaysWhich(t *testing.T) {
	for _, c := range []struct {
		nth  int    // the fsync of the segment that fails, from 1
		want string // in the error
	}{
		{1, "the frames found"},
		{2, "after cutting the torn tail"},
	} {
		t.Run(c.want, func(t *testing.T) {
			dir := logDir(t)
			opts := Options{Fsync: FsyncAlways}
			l, _ := mustOpen(t, dir, opts)
			for i := uint64(1); i <= 3; i++ {
				if _, err := l.AppendDurable(payloadFor(i)); err != nil {
					t.Fatal(err)
				}
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			segs := segments(t, dir)
			last := segs[len(segs)-1]
			f, err := os.OpenFile(last, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.Write([]byte{0x84, 0x03, 0, 0, 1}) // a frame header cut short: a torn tail
			f.Close()

			t.Cleanup(func() { syncFile = (*os.File).Sync })
			n := 0
			syncFile = func(f *os.File) error {
				if f.Name() == last {
					if n++; n == c.nth {
						return &os.PathError{Op: "sync", Path: f.Name(), Err: syscall.EIO}
					}
				}
				return f.Sync()
			}
			_, _, err = Open(dir, opts)
			if n < c.nth {
				t.Fatalf("%d fsyncs of %s, want %d (err %v)", n, last, c.nth, err)
			}
			if !errors.Is(err, syscall.EIO) || !strings.Contains(err.Error(), last) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("fsync %d failed: %v; want EIO, naming %s and saying %q", c.nth, err, last, c.want)
			}
		})
	}
}
