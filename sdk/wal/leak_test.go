package wal

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/rustyonions/ron-audit-go/internal/leakcheck"
)

// TestNoLeak: the FsyncBatch syncer goroutine ends with Close, even on a
// log closed with frames waiting for their fsync, and an Open that fails
// starts none (and lets the directory's lock go).
func TestNoLeak(t *testing.T) {
	t.Run("close", func(t *testing.T) {
		for _, p := range []FsyncPolicy{FsyncBatch, FsyncAlways} {
			check := leakcheck.Check(t)
			dir := filepath.Join(t.TempDir(), "wal")
			l, _, err := Open(dir, Options{Fsync: p, MaxDelay: MaxMaxDelay})
			if err != nil {
				t.Fatal(err)
			}
			for range 3 { // waiting for the batch's delay when Close comes
				if _, err := l.Append([]byte{1, 2, 3}); err != nil {
					t.Fatal(err)
				}
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			check()
		}
	})
	refused := errors.New("refused by the test")
	for _, c := range []struct {
		name string
		open func(dir string) error
	}{
		{"locked", func(dir string) error {
			held, _, err := Open(dir, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer held.Close()
			_, _, err = Open(dir, Options{})
			if !errors.Is(err, ErrLocked) {
				t.Errorf("second open: %v, want ErrLocked", err)
			}
			return err
		}},
		{"recovered-refused", func(dir string) error {
			_, _, err := Open(dir, Options{Recovered: func(Recovery) error { return refused }})
			if !errors.Is(err, refused) {
				t.Errorf("open: %v, want the Recovered error", err)
			}
			return err
		}},
		{"replay-refused", func(dir string) error {
			_, _, err := Open(dir, Options{Replay: func(Frame) error { return refused }})
			return err
		}},
		{"bad-options", func(dir string) error {
			_, _, err := Open(dir, Options{MaxBatch: MaxMaxBatch + 1})
			return err
		}},
	} {
		t.Run("failed-open-"+c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "wal")
			l, _, err := Open(dir, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := l.AppendDurable([]byte{1}); err != nil {
				t.Fatal(err)
			}
			l.Close()
			check := leakcheck.Check(t)
			if err := c.open(dir); err == nil {
				t.Fatal("the open did not fail")
			}
			check()
			l, _, err = Open(dir, Options{})
			if err != nil {
				t.Fatalf("open after a failed open: %v", err)
			}
			l.Close()
		})
	}
}
