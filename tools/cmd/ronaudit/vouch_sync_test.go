//go:build linux

package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rustyonions/ron-audit-go/internal/synctrace"
	"github.com/rustyonions/ron-audit-go/sdk/wal"
)

// TestVouchOnlyDurable traces checkpoint --out and export (strace; the
// test skips without it) on a log: the last segment they read must be
// fsynced before the checkpoint or bundle that vouches for its records
// is renamed or linked into place. Both read the log without its lock,
// beside a writer whose group commit writes frames before it fsyncs
// them, or after one killed with SIGKILL left its last frames in the page
// cache only: what they sign and make durable must not outlive, in a
// power loss, the records it vouches for.
func TestVouchOnlyDurable(t *testing.T) {
	root := t.TempDir()
	in := func(args ...string) {
		t.Helper()
		var stdout, stderr bytes.Buffer
		recs := `{"kind":"capIssued","reason":"issued","actor":{"capId":"cap-7"}}` + "\n" +
			`{"kind":"capRevoked","reason":"revoked","actor":{"capId":"cap-7"}}` + "\n"
		if code := run(args, strings.NewReader(recs), &stdout, &stderr); code != 0 {
			t.Fatalf("%q: exit %d: %s", args, code, stderr.String())
		}
	}
	t.Chdir(root)
	in("keygen", "-dir", "keys", "-name", "k")
	in("append", "--wal", "log", "--key", "keys/k.key", "--writer", "w@1", "--stream", "s")
	last := filepath.Join(root, "log", wal.SegmentName(1))
	for _, c := range []struct {
		name string
		args []string
		out  func(synctrace.Event) bool
	}{
		{"checkpoint", []string{"checkpoint", "--wal", "log", "--key", "keys/k.key", "--writer", "w@1", "--stream", "s", "--out", "cp/cp.note"},
			func(e synctrace.Event) bool { return e.Call == "renameat" && strings.HasSuffix(e.Path2, "cp.note") }},
		{"export", []string{"export", "--wal", "log", "--key", "keys/k.key", "--writer", "w@1", "--stream", "s", "--out", "exports"},
			func(e synctrace.Event) bool { return e.Call == "linkat" && strings.HasSuffix(e.Path2, ".bundle") }},
	} {
		t.Run(c.name, func(t *testing.T) {
			tr := synctrace.Run(t, root, []string{"RONAUDIT_TEST_MAIN=1"}, os.Args[0], c.args...)
			put, ok := tr.First(c.out)
			if !ok {
				t.Fatal("nothing put in place in the trace")
			}
			read, ok := tr.First(func(e synctrace.Event) bool { return e.Call == "openat" && e.Path == last })
			if !ok {
				t.Fatalf("%s not opened in the trace", last)
			}
			if _, ok := tr.SyncedAfter(last, read.Line, put.Line); !ok {
				t.Errorf("%s is put in place (line %d: %s) before the segment it read, %s, is fsynced", c.name, put.Line, put.Text, last)
			}
		})
	}
}

// TestReplayCheckpointAfterFsync traces append (strace; skipped without
// it) reopening a log whose last checkpoints a crash kept the Keeper from
// writing: the Keeper writes them once the replay is done, and the
// segment it replayed must be fsynced first. After a crash of the
// process, not the machine, its records can be in the page cache only,
// and a checkpoint made durable before them would, after a power loss,
// vouch for records the log no longer holds.
func TestReplayCheckpointAfterFsync(t *testing.T) {
	root := t.TempDir()
	t.Chdir(root)
	var recs strings.Builder
	for i := range 5 {
		recs.WriteString(`{"kind":"capIssued","reason":"issued","actor":{"capId":"cap-` + string(rune('0'+i)) + `"}}` + "\n")
	}
	for _, args := range [][]string{
		{"keygen", "-dir", "keys", "-name", "k"},
		{"append", "--wal", "log", "--key", "keys/k.key", "--writer", "w@1", "--stream", "s", "--seal-every", "2"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(args, strings.NewReader(recs.String()), &stdout, &stderr); code != 0 {
			t.Fatalf("%q: exit %d: %s", args, code, stderr.String())
		}
	}
	// As if a crash came before the checkpoints of sizes 4 and 5.
	for _, n := range []string{"00000000000000000004.note", "00000000000000000005.note"} {
		if err := os.Remove(filepath.Join(root, "log", "checkpoints", "w@1", "s", n)); err != nil {
			t.Fatal(err)
		}
	}
	// No input (synctrace.Run's stdin is empty): append only opens,
	// replays and closes the log.
	tr := synctrace.Run(t, root, []string{"RONAUDIT_TEST_MAIN=1"}, os.Args[0],
		"append", "--wal", "log", "--key", "keys/k.key", "--writer", "w@1", "--stream", "s", "--seal-every", "2")
	last := filepath.Join(root, "log", wal.SegmentName(1))
	link, ok := tr.First(func(e synctrace.Event) bool {
		return e.Call == "linkat" && strings.HasSuffix(e.Path2, "00000000000000000005.note")
	})
	if !ok {
		t.Fatal("the replay wrote no checkpoint of size 5")
	}
	if _, ok := tr.SyncedAfter(last, 0, link.Line); !ok {
		t.Errorf("the checkpoint of size 5 is linked (line %d: %s) before the segment it vouches for, %s, is fsynced", link.Line, link.Text, last)
	}
}
