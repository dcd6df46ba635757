//go:build unix

package checkpoint

import (
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestHistoryChainsFIFO: a FIFO in place of a writer's or a stream's
// directory of the history is refused as a file is, naming it and its
// mode, and promptly: listing it would open it, which blocks until a
// writer comes.
func TestHistoryChainsFIFO(t *testing.T) {
	for _, level := range []string{"writer", "stream"} {
		t.Run(level, func(t *testing.T) {
			wdir := sealedLog(t, t.TempDir(), 0, 4, nil)
			cpDir := filepath.Join(wdir, "checkpoints")
			path := filepath.Join(cpDir, "fifo")
			if level == "stream" {
				path = filepath.Join(cpDir, dirName(vdWriter), "fifo")
			}
			if err := syscall.Mkfifo(path, 0o600); err != nil {
				t.Skip("mkfifo:", err)
			}
			type result struct {
				chains [][2]string
				err    error
			}
			done := make(chan result, 1)
			go func() {
				chains, err := HistoryChains(cpDir)
				done <- result{chains, err}
			}()
			select {
			case r := <-done:
				var pe *fs.PathError
				if r.chains != nil || !errors.As(r.err, &pe) || pe.Path != path || !strings.Contains(r.err.Error(), "not a directory (mode p") {
					t.Fatalf("HistoryChains with a FIFO at %s: %v, %v; want an *fs.PathError naming it and its mode", path, r.chains, r.err)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("HistoryChains with a FIFO at %s: blocked", path)
			}
		})
	}
}
