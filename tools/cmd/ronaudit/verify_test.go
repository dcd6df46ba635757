package main

import (
	"io"
	"path/filepath"
	"strings"
	"testing"
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
