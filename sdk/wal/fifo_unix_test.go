//go:build unix

package wal

import (
	"errors"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestFIFOSegment: a named pipe named like a segment is refused as not a
// regular file by ReadDir and Open; opening it would block until a writer
// came.
func TestFIFOSegment(t *testing.T) {
	dir := writeLog(t, 5, testOpts())
	if err := syscall.Mkfifo(filepath.Join(dir, SegmentName(2)), 0o600); err != nil {
		t.Skip("mkfifo:", err)
	}
	done := make(chan error, 2)
	go func() { _, err := ReadDir(dir, func(Frame) error { return nil }); done <- err }()
	go func() {
		l, _, err := Open(dir, testOpts())
		if err == nil {
			l.Close()
		}
		done <- err
	}()
	for range 2 {
		select {
		case err := <-done:
			var ce *CorruptError
			if !errors.As(err, &ce) || ce.File != filepath.Join(dir, SegmentName(2)) {
				t.Fatalf("a FIFO segment: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("reading a log with a FIFO segment hangs")
		}
	}
}
