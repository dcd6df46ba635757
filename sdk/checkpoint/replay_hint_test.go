package checkpoint

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckReplayHintOnlyForRollback: a chain with checkpoints but no
// record at all in the log is most likely a log whose segments are gone
// or a directory another log keeps its checkpoints in too, and
// CheckReplay's rollback says so ("a Keeper's directory belongs to one
// log"). A newest checkpoint that is no checkpoint (an empty file, text
// that does not parse) is a malformed file whatever the log: the hint
// on that ReasonFormat would mislead, so it has none.
func TestCheckReplayHintOnlyForRollback(t *testing.T) {
	const hint = "a Keeper's directory belongs to one log"
	root := t.TempDir()
	k, reopen := keptLog(t, keeperSigner(t), filepath.Join(root, "wal"), filepath.Join(root, "checkpoints"))
	open := func(wdir string) error {
		k, l, err := reopen(wdir)
		if err == nil {
			_ = l.Close()
			_ = k.Close()
		}
		return err
	}
	paths, err := k.History("svc@inst-1", "caps")
	if err != nil || len(paths) == 0 {
		t.Fatalf("history %v, %v; want checkpoints", paths, err)
	}
	newest := paths[len(paths)-1]

	// Another, empty, log with the same checkpoint directory: the hint
	// says why.
	err = open(filepath.Join(root, "other"))
	if !errors.Is(err, ErrRollback) || !strings.Contains(err.Error(), hint) {
		t.Errorf("an empty log on another log's checkpoints: %v; want ErrRollback with the hint %q", err, hint)
	}

	for _, tc := range []struct{ name, body string }{{"empty", ""}, {"garbage", "hello\n"}} {
		if err := os.WriteFile(newest, []byte(tc.body), 0o600); err != nil {
			t.Fatal(err)
		}
		err := open(filepath.Join(root, "other-"+tc.name))
		if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), newest) {
			t.Fatalf("newest checkpoint %s, no record of its chain: %v; want ErrFormat naming %s", tc.name, err, newest)
		}
		if strings.Contains(err.Error(), hint) {
			t.Errorf("newest checkpoint %s, no record of its chain: %v\nsays %q of a malformed file", tc.name, err, hint)
		}
	}
}
