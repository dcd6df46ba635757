package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rustyonions/ron-audit-go/sdk/export"
	"github.com/rustyonions/ron-audit-go/sdk/wal"
)

// TestVerifySegmentCheckpoint: --checkpoint is checked against a chain of
// the log directory; with one segment file in its place it is a usage
// error, said as one, not a verified segment followed by "open SEG: not
// a directory" (exit 1, as if the log failed).
func TestVerifySegmentCheckpoint(t *testing.T) {
	t.Chdir(t.TempDir())
	cliCheckpoint(t)
	var stdout, stderr strings.Builder
	args := []string{"verify", filepath.Join("log", "0000000000000001.seg"), "--pub", "keys/k.pub", "--checkpoint", "cp.note"}
	code := run(args, nil, &stdout, &stderr)
	if code != 2 || stdout.Len() != 0 || !strings.Contains(stderr.String(), "--checkpoint needs the log directory") {
		t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 2, nothing on stdout, and why", args, code, stdout.String(), stderr.String())
	}
	// The directory itself is checked against it.
	stdout.Reset()
	args = []string{"verify", "log", "--pub", "keys/k.pub", "--checkpoint", "cp.note"}
	if code := run(args, nil, &stdout, io.Discard); code != 0 || !strings.Contains(stdout.String(), "checkpoint ok") {
		t.Errorf("%q: exit %d, stdout %q", args, code, stdout.String())
	}
}

// TestNotASegment: which files verify and dump refuse as no segment at
// all (exit 2) and which they leave to the reader, which reports damage
// (exit 1): a header whose magic is mostly in place, or zeroed, is a
// damaged segment.
func TestNotASegment(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name, data string
		refused    bool
	}{
		{"json", `{"tsMs":1,"reason":"one"}` + "\n", true},
		{"text", "README: nothing to see here\n", true},
		{"bundle", export.Magic + strings.Repeat("x", 40), true},
		{"segment", wal.Magic + strings.Repeat("x", 40), false},
		{"one byte off", "RONAWAL\n" + strings.Repeat("x", 40), false},
		{"half off", "RONAxxxx" + strings.Repeat("x", 40), false},
		{"zeroed", strings.Repeat("\x00", 48), false},
		{"short", "{}", false},
		{"empty", "", false},
	} {
		path := filepath.Join(dir, c.name)
		if err := os.WriteFile(path, []byte(c.data), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := notASegment("verify", path); (err != nil) != c.refused {
			t.Errorf("%s: %v, want refused %v", c.name, err, c.refused)
		}
	}
}
