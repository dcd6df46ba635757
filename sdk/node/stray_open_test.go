package node_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/rustyonions/ron-audit-go/sdk/checkpoint"
	"github.com/rustyonions/ron-audit-go/sdk/export"
	"github.com/rustyonions/ron-audit-go/sdk/node"
)

// TestStrayEntriesAtOpen: a Node closed cleanly, then one entry of its
// directories replaced by what a crash, an operator or an attacker may
// leave (a link to nothing, a named pipe, a directory, an empty file)
// where a checkpoint, a chain's checkpoint directory or a bundle was.
// Reopened, appended to and closed, the Node fails with an error (at
// Open, or from Close) or leaves a directory that verifies; it never
// hangs (a named pipe opened for reading blocks) nor panics.
func TestStrayEntriesAtOpen(t *testing.T) {
	cases := []struct {
		name string
		rel  func(dir, exports string) string // the entry replaced
		make func(path string) error
	}{
		{"newest checkpoint a link to nothing", newestNote, func(p string) error { return os.Symlink(p+".gone", p) }},
		{"newest checkpoint a named pipe", newestNote, func(p string) error { return syscall.Mkfifo(p, 0o600) }},
		{"newest checkpoint a directory", newestNote, func(p string) error { return os.Mkdir(p, 0o700) }},
		{"newest checkpoint empty", newestNote, func(p string) error { return os.WriteFile(p, nil, 0o600) }},
		{"chain checkpoints a link to nothing", func(dir, _ string) string { return filepath.Join(dir, "checkpoints", "w", "a") },
			func(p string) error { return os.Symlink(p+".gone", p) }},
		{"newest bundle a link to nothing", newestBundle, func(p string) error { return os.Symlink(p+".gone", p) }},
		{"newest bundle a named pipe", newestBundle, func(p string) error { return syscall.Mkfifo(p, 0o600) }},
		{"newest bundle a directory", newestBundle, func(p string) error { return os.Mkdir(p, 0o700) }},
		{"newest bundle empty", newestBundle, func(p string) error { return os.WriteFile(p, nil, 0o600) }},
		{"chain bundles a link to nothing", func(_, exports string) string { return filepath.Join(exports, "w", "a") },
			func(p string) error { return os.Symlink(p+".gone", p) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir, exports, signer, opts := closedNode(t)
			p := tc.rel(dir, exports)
			if err := os.RemoveAll(p); err != nil {
				t.Fatal(err)
			}
			if err := tc.make(p); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() {
				n, _, err := node.Open(dir, signer, opts)
				if err != nil {
					done <- err
					return
				}
				for i := 5; i < 8; i++ {
					if _, err := n.Log().Append(record("w", "a", i)); err != nil {
						done <- errors.Join(err, n.Close())
						return
					}
				}
				done <- n.Close()
			}()
			select {
			case err := <-done:
				if err != nil {
					var ce *checkpoint.Error
					var pe *fs.PathError
					var bl *checkpoint.BrokenLinkError
					var ee *export.Error
					if !errors.As(err, &ce) && !errors.As(err, &pe) && !errors.As(err, &bl) && !errors.As(err, &ee) {
						t.Fatalf("refused with %v (%T): no typed error", err, err)
					}
					t.Logf("refused: %v", err)
					return
				}
			case <-time.After(20 * time.Second):
				t.Fatal("Open, Append or Close hangs")
			}
			verifyAll(t, dir, exports, signer.Public(), map[string]uint64{"a": 8, "b": 5})
		})
	}
}

func newestNote(dir, _ string) string {
	return filepath.Join(dir, "checkpoints", "w", "a", "00000000000000000005.note")
}

func newestBundle(_, exports string) string {
	return filepath.Join(exports, "w", "a", "00000000000000000004-00000000000000000005.bundle")
}
