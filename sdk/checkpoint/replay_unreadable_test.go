package checkpoint

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOpenDurableUnreadableHistory: a chain's checkpoint directory that is
// not a directory (a file in its place) makes OpenDurable fail, as it
// must: the history that would show the log rolled back cannot be read.
// The message says the history could not be read, not that the log
// "does not hold what its observer vouches for", which reads as a
// rollback found; and the *fs.PathError naming the path is in the chain.
func TestOpenDurableUnreadableHistory(t *testing.T) {
	wdir := filepath.Join(t.TempDir(), "wal")
	k, open := keptLog(t, keeperSigner(t), wdir, filepath.Join(wdir, "checkpoints"))
	chainDir := k.chainDir("svc@inst-1", "caps")
	if err := os.RemoveAll(chainDir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(chainDir, []byte("not a directory\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err := open(wdir)
	var pe *fs.PathError
	if err == nil || !errors.As(err, &pe) || !strings.Contains(err.Error(), chainDir) {
		t.Fatalf("OpenDurable with a file for a chain's checkpoint directory: %v; want an error carrying the *fs.PathError of %s", err, chainDir)
	}
	// No verdict on the log or a checkpoint: a *Error (ReasonFormat, say)
	// would make the CLI call it a verification failure (exit 1) where
	// its verify calls it unreadable (exit 3).
	if ce := (*Error)(nil); errors.As(err, &ce) {
		t.Errorf("OpenDurable: %v; a *checkpoint.Error (%s), a verdict, for a directory it could not read", err, ce.Reason)
	}
	if msg := err.Error(); strings.Contains(msg, "does not hold what") || !strings.Contains(msg, "could not read") {
		t.Errorf("OpenDurable: %q; want it to say the observer's history could not be read, not that the log does not hold it", msg)
	}
}
