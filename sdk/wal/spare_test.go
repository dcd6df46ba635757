package wal

import (
	"bytes"
	"encoding/binary"
	"io"
	"os"
	"testing"
	"time"
)

// TestCommitBufferNotShared: a commit writes its buffer without mu while
// appenders fill the next one, which is the buffer the commit before it
// wrote (the spare). When a commit's buffer was too big to keep as the
// spare (cap > maxBufBytes, which appends during an fsync reach), the
// spare stayed what it was: the buffer appenders were filling already.
// The commit after took that buffer to write and handed it out again to
// the appenders, who then overwrote the frames it was writing: the file
// got other frames' bytes in place of acknowledged ones (a corrupt log,
// found only at the next Open).
//
// The segment file is swapped for a pipe, so that the test decides when a
// commit's write can proceed; every byte the log writes must be the
// frames appended, in order.
func TestCommitBufferNotShared(t *testing.T) {
	l, _ := mustOpen(t, logDir(t), Options{Fsync: FsyncAlways})
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syncFile = (*os.File).Sync })
	syncFile = func(f *os.File) error {
		if f == w {
			return nil // a pipe cannot be fsynced; the test checks the bytes
		}
		return f.Sync()
	}
	l.mu.Lock()
	real := l.f
	l.f = w
	l.mu.Unlock()
	defer func() {
		failed := t.Failed()
		if failed {
			r.Close() // a commit's write waiting for the reader fails
		}
		l.mu.Lock()
		l.f = real
		l.mu.Unlock()
		if err := l.Close(); err != nil && !failed {
			t.Error(err)
		}
		r.Close()
		w.Close()
	}()

	var want [][]byte // the frames appended, encoded, in order
	appendFrame := func(i uint64, n int) {
		t.Helper()
		p := payloadOfSize(i, n)
		if idx, err := l.Append(p); err != nil || idx != i {
			t.Fatalf("Append %d: %d, %v", i, idx, err)
		}
		fr := binary.LittleEndian.AppendUint32(nil, uint32(n))
		fr = binary.LittleEndian.AppendUint32(fr, checksum(p))
		want = append(want, append(fr, p...))
	}
	sync := func() chan error {
		done := make(chan error, 1)
		go func() { done <- l.Sync() }()
		// Until the commit is under way (its write may block on the pipe).
		for {
			l.mu.Lock()
			s := l.syncing
			l.mu.Unlock()
			if s {
				return done
			}
			time.Sleep(time.Millisecond)
		}
	}
	// expect reads the frames want[from:to] off the pipe.
	expect := func(from, to int) {
		t.Helper()
		for i := from; i < to; i++ {
			got := make([]byte, len(want[i]))
			if _, err := io.ReadFull(r, got); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want[i]) {
				k := 0
				for got[k] == want[i][k] {
					k++
				}
				t.Fatalf("frame %d as written differs from the frame appended from byte %d of %d", i+1, k, len(got))
			}
		}
	}

	// Commit 1 writes frame 1 (more than a pipe holds: the write waits
	// for the reader).
	appendFrame(1, 100_000)
	c1 := sync()
	// Meanwhile the next buffer grows past maxBufBytes of capacity,
	// staying under maxBufBytes of frames (no append waits).
	appendFrame(2, 600_000)
	appendFrame(3, 400_000)
	l.mu.Lock()
	n, c := len(l.buf), cap(l.buf)
	l.mu.Unlock()
	if n >= maxBufBytes || c <= maxBufBytes {
		t.Fatalf("buffer of %d bytes, capacity %d: want under %d bytes and capacity over it", n, c, maxBufBytes)
	}
	expect(0, 1)
	if err := <-c1; err != nil {
		t.Fatal(err)
	}
	// Commit 2 writes that big buffer; appenders get commit 1's.
	c2 := sync()
	expect(1, 3)
	if err := <-c2; err != nil {
		t.Fatal(err)
	}
	// Commit 3 writes frame 4 while frame 5 is appended.
	appendFrame(4, 90_000)
	c3 := sync()
	appendFrame(5, 90_000)
	expect(3, 4)
	if err := <-c3; err != nil {
		t.Fatal(err)
	}
	c4 := sync()
	expect(4, 5)
	if err := <-c4; err != nil {
		t.Fatal(err)
	}
}
