package checkpoint

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestEmptyDirRefused: "" is no directory. KeptDir says "" for a log
// that keeps no checkpoints; given on to LoadHistory (or a sibling), it
// would read as the current directory, whose checkpoints of the chain
// would then be the log's history, and NewKeeper("") would keep its
// checkpoints there. Each refuses it with ErrNoDir, and reads or writes
// nothing.
func TestEmptyDirRefused(t *testing.T) {
	// A current directory holding a chain's history, as a Keeper keeps it.
	cwd := t.TempDir()
	if err := os.MkdirAll(filepath.Join(cwd, "w", "s"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cwd, "w", "s", "00000000000000000001.note"), []byte("not a note\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Chdir(cwd)

	if notes, err := LoadHistory("", "w", "s"); !errors.Is(err, ErrNoDir) {
		t.Errorf("LoadHistory(\"\"): %d notes, %v; want ErrNoDir", len(notes), err)
	}
	if paths, err := HistoryPaths("", "w", "s"); !errors.Is(err, ErrNoDir) {
		t.Errorf("HistoryPaths(\"\"): %q, %v; want ErrNoDir", paths, err)
	}
	if chains, err := HistoryChains(""); !errors.Is(err, ErrNoDir) {
		t.Errorf("HistoryChains(\"\"): %q, %v; want ErrNoDir", chains, err)
	}
	if kept, err := KeptDir(""); !errors.Is(err, ErrNoDir) {
		t.Errorf("KeptDir(\"\"): %q, %v; want ErrNoDir", kept, err)
	}
	before, err := os.ReadDir(cwd)
	if err != nil {
		t.Fatal(err)
	}
	if k, err := NewKeeper("", testSigner(t, "nodir"), KeeperOptions{}); !errors.Is(err, ErrNoDir) {
		t.Errorf("NewKeeper(\"\"): %v, %v; want ErrNoDir", k, err)
	}
	if after, err := os.ReadDir(cwd); err != nil || len(after) != len(before) {
		t.Errorf("NewKeeper(\"\") wrote to the current directory: %d entries, then %d (%v)", len(before), len(after), err)
	}
}
