//go:build unix

package wal

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/rustyonions/ron-audit-go/internal/fsutil/fifotest"
)

// TestFIFOSegment: a named pipe named like a segment is refused as not a
// regular file by ReadDir and Open; opening it would block until a writer
// came.
func TestFIFOSegment(t *testing.T) {
	dir := writeLog(t, 5, testOpts())
	seg := filepath.Join(dir, SegmentName(2))
	fifotest.Make(t, seg)
	for what, read := range map[string]func() error{
		"ReadDir": func() error { _, err := ReadDir(dir, func(Frame) error { return nil }); return err },
		"Open": func() error {
			l, _, err := Open(dir, testOpts())
			if err == nil {
				l.Close()
			}
			return err
		},
	} {
		var ce *CorruptError
		if err := fifotest.Returns(t, what, read); !errors.As(err, &ce) || ce.File != seg {
			t.Fatalf("%s, a FIFO segment: %v", what, err)
		}
	}
}
