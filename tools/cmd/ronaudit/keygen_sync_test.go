//go:build linux

package main

import (
	"os"
	"testing"

	"github.com/rustyonions/ron-audit-go/internal/synctrace"
)

// TestKeygenSurvivesPowerLoss traces keygen's system calls (strace; the
// test skips without it) into a directory it must create, two levels
// deep: every directory and file it makes must have its entry fsynced in
// its parent before keygen says it made them. A process crash never
// loses a directory entry (the page cache has it), so only the trace
// shows one that a power loss would take away with the key in it.
func TestKeygenSurvivesPowerLoss(t *testing.T) {
	root := t.TempDir()
	tr := synctrace.Run(t, root, []string{"RONAUDIT_TEST_MAIN=1"}, os.Args[0], "keygen", "-dir", "a/b/keys", "-name", "ops")
	ack, ok := tr.First(func(e synctrace.Event) bool { return e.Call == "write" && e.FD == 1 })
	if !ok {
		t.Fatal("keygen wrote nothing to stdout")
	}
	if len(tr.Entries(root)) < 5 {
		t.Fatalf("the trace shows %d entries made, want the 3 directories and 2 key files: %+v", len(tr.Entries(root)), tr.Entries(root))
	}
	for _, en := range tr.UnsyncedEntries(root, ack.Line) {
		t.Errorf("%s (trace line %d: %s) is not fsynced in its parent before keygen reports the keys (line %d)", en.Path, en.At.Line, en.At.Text, ack.Line)
	}
}
