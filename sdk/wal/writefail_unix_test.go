//go:build unix

package wal

import (
	"errors"
	"os"
	"syscall"
	"testing"
)

// limitFileSize makes every write of the process past max bytes of a file
// fail (RLIMIT_FSIZE: a write that crosses it writes up to it, then fails
// with EFBIG, as a full disk fails one with ENOSPC; Go ignores the
// SIGXFSZ that comes with it). The returned func lifts the limit; so
// does the end of the test. No test of this package runs in parallel, so
// the limit meets only the Log under test.
func limitFileSize(t *testing.T, max int64) (restore func()) {
	t.Helper()
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		t.Skip("getrlimit:", err)
	}
	if old.Cur < uint64(max) { // (unlimited is the largest value)
		t.Skipf("RLIMIT_FSIZE is %d already", old.Cur)
	}
	lim := old
	lim.Cur = uint64(max)
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &lim); err != nil {
		t.Skip("setrlimit:", err)
	}
	restore = func() {
		if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
			t.Fatal("restoring RLIMIT_FSIZE:", err)
		}
	}
	t.Cleanup(restore)
	return restore
}

// TestWriteFailureDropsUnwritten: a failed write poisons the Log, and
// every frame no fsync covered is reported failed to its caller (Append
// or WaitDurable): the SDK counts its record dropped, an app retries it.
// But only a failed fsync cut those frames: after a failed write (here a
// write cut short by a full file system, as ENOSPC cuts it) the whole
// frames it did write, and those earlier writes left unsynced, stayed in
// the segment, and the next Open took them in, fsynced and replayed them:
// records reported failed reappeared in the log (and a retried one was
// there twice). A failed write must cut the segment back to the last frame
// an fsync covered, as a failed fsync does, whether the write was a
// commit's (before its fsync) or Append's flush of a full buffer.
func TestWriteFailureDropsUnwritten(t *testing.T) {
	for _, c := range []struct {
		name  string
		room  int64 // bytes the file may grow by
		frame int   // payload size of the frames appended after the durable ones
		// write appends frames from index first on and has them written;
		// it returns the first error.
		write func(l *Log, first uint64, frame int) error
	}{
		{"commit", 5000, 2000, func(l *Log, first uint64, frame int) error {
			for i := first; i < first+3; i++ { // 3 frames buffered (not written: under flushBytes)
				if _, err := l.Append(payloadOfSize(i, frame)); err != nil {
					return err
				}
			}
			return l.Sync() // writes them (the first two whole), fails, no fsync
		}},
		{"flush", 100_000, 10_000, func(l *Log, first uint64, frame int) error {
			for i := first; i < first+100; i++ { // the buffer is written out at flushBytes
				if _, err := l.Append(payloadOfSize(i, frame)); err != nil {
					return err
				}
			}
			return errors.New("no write failed")
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := logDir(t)
			opts := Options{Fsync: FsyncAlways}
			l, _ := mustOpen(t, dir, opts)
			const durable = 3
			for i := uint64(1); i <= durable; i++ {
				if _, err := l.AppendDurable(payloadFor(i)); err != nil {
					t.Fatal(err)
				}
			}
			segs := segments(t, dir)
			fi, err := os.Stat(segs[len(segs)-1])
			if err != nil {
				t.Fatal(err)
			}
			restore := limitFileSize(t, fi.Size()+c.room)
			err = c.write(l, durable+1, c.frame)
			restore()
			if !errors.Is(err, ErrPoisoned) || !errors.Is(err, syscall.EFBIG) {
				t.Fatalf("appending past the file size limit: %v; want ErrPoisoned and EFBIG", err)
			}
			if werr := l.WaitDurable(durable + 1); werr == nil {
				t.Fatalf("WaitDurable(%d) after the failed write: nil", durable+1)
			}
			if cerr := l.Close(); !errors.Is(cerr, ErrPoisoned) {
				t.Fatalf("Close: %v", cerr)
			}
			fs, rec, err := readAll(t, dir)
			if err != nil {
				t.Fatal(err)
			}
			if rec.Frames != durable || rec.TornBytes != 0 {
				t.Fatalf("after the failed write the log holds %d frames (torn tail %d bytes), want exactly the %d durable ones: "+
					"frames reported failed would be replayed by the next Open", rec.Frames, rec.TornBytes, durable)
			}
			checkFrames(t, fs, durable)
			l2, _ := mustOpen(t, dir, opts)
			if idx, err := l2.AppendDurable(payloadFor(durable + 1)); err != nil || idx != durable+1 {
				t.Fatalf("append after reopen: %d, %v", idx, err)
			}
			if err := l2.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}
