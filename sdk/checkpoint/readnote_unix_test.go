//go:build unix

package checkpoint

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/rustyonions/ron-audit-go/internal/fsutil/fifotest"
)

// TestReadNoteHostileFiles: a named pipe and a huge (sparse) file where a
// checkpoint belongs are refused at once, without blocking or reading
// gigabytes; LoadHistory goes through ReadNote.
func TestReadNoteHostileFiles(t *testing.T) {
	dir := t.TempDir()
	chain := filepath.Join(dir, escapeComponent("w"), escapeComponent("s"))
	if err := os.MkdirAll(chain, 0o700); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(chain, noteFile(9))
	fifotest.Make(t, fifo)
	err := fifotest.Returns(t, "LoadHistory", func() error { _, err := LoadHistory(dir, "w", "s"); return err })
	if !errors.Is(err, ErrFormat) {
		t.Fatalf("a FIFO checkpoint: %v", err)
	}
	os.Remove(fifo)

	big := filepath.Join(chain, noteFile(10))
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(3 << 30); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := ReadNote(big); !errors.Is(err, ErrFormat) {
		t.Fatalf("a 3 GiB checkpoint file: %v", err)
	}
	if chains, err := HistoryChains(dir); err != nil || len(chains) != 1 || chains[0] != [2]string{"w", "s"} {
		t.Fatalf("HistoryChains: %v %v", chains, err)
	}
	// A Keeper whose newest checkpoint cannot be read refuses to check a
	// replayed log against nothing.
	k, err := NewKeeper(dir, keeperSigner(t), KeeperOptions{Interval: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := k.CheckReplay(); !errors.Is(err, ErrFormat) {
		t.Fatalf("CheckReplay with an unreadable newest checkpoint: %v", err)
	}
}
