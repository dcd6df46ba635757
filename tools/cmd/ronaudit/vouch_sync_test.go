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
