//go:build unix

package checkpoint

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rustyonions/ron-audit-go/internal/fsutil/fifotest"
)

// TestOpenDurableMalformedNewestCheckpoint: a newest checkpoint that is
// no checkpoint (an empty file, text that does not parse, a directory or
// a named pipe in its place) makes OpenDurable fail, as it must (the
// Keeper signs nothing on top of it), with a *Error of ReasonFormat. The
// message names the checkpoint file and what is wrong with it, once, and
// not the log: "the log does not hold what its observer vouches for"
// would blame a log that is whole.
func TestOpenDurableMalformedNewestCheckpoint(t *testing.T) {
	for _, tc := range []struct {
		name, why string
		make      func(t *testing.T, path string)
	}{
		{"empty", "is an empty file", func(t *testing.T, path string) {
			if err := os.WriteFile(path, nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{"garbage", "is not a checkpoint: checkpoint text has fewer than 3 lines", func(t *testing.T, path string) {
			if err := os.WriteFile(path, []byte("hello\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{"directory", "is not a regular file (mode d", func(t *testing.T, path string) {
			if err := os.Mkdir(path, 0o700); err != nil {
				t.Fatal(err)
			}
		}},
		{"fifo", "is not a regular file (mode p", func(t *testing.T, path string) { fifotest.Make(t, path) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wdir := filepath.Join(t.TempDir(), "wal")
			k, open := keptLog(t, keeperSigner(t), wdir, filepath.Join(wdir, "checkpoints"))
			paths, err := k.History("svc@inst-1", "caps")
			if err != nil || len(paths) < 2 {
				t.Fatalf("history %v, %v; want two checkpoints or more", paths, err)
			}
			newest := paths[len(paths)-1]
			if err := os.Remove(newest); err != nil {
				t.Fatal(err)
			}
			tc.make(t, newest)
			err = fifotest.Returns(t, "OpenDurable", func() error { _, _, err := open(wdir); return err })
			var ce *Error
			if !errors.As(err, &ce) || ce.Reason != ReasonFormat || !errors.Is(err, ErrFormat) {
				t.Fatalf("OpenDurable with the newest checkpoint %s: %v; want a *checkpoint.Error of ReasonFormat", tc.name, err)
			}
			msg := err.Error()
			if strings.Contains(msg, "does not hold what") || !strings.Contains(msg, newest) || !strings.Contains(msg, tc.why) ||
				strings.Count(msg, "checkpoint: format") != 1 {
				t.Errorf("OpenDurable with the newest checkpoint %s:\n%s\nwant it to name %s and say it %s, once, and not blame the log", tc.name, msg, newest, tc.why)
			}
		})
	}
}
