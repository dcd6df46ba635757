package main

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// errFull is what a write to a full disk or a closed pipe returns.
var errFull = errors.New("no space left on device")

// fullWriter fails every write, as stdout does on a full disk
// (ronaudit checkpoint ... > cp.note) or a reader that went away.
type fullWriter struct{}

func (fullWriter) Write([]byte) (int, error) { return 0, errFull }

// cliLog makes, in the current directory, keys/k.{key,pub} and a log
// "log" of three records of w/s; it returns nothing, failing t if a step
// fails.
func cliLog(t *testing.T) {
	t.Helper()
	recs := `{"tsMs":1,"reason":"one"}` + "\n" + `{"tsMs":2,"reason":"two"}` + "\n" + `{"tsMs":3,"reason":"three"}` + "\n"
	for _, step := range []struct {
		args []string
		in   string
	}{
		{[]string{"keygen", "-dir", "keys", "-name", "k"}, ""},
		{[]string{"append", "--wal", "log", "--key", "keys/k.key", "--writer", "w", "--stream", "s"}, recs},
	} {
		var stderr strings.Builder
		if code := run(step.args, strings.NewReader(step.in), io.Discard, &stderr); code != 0 {
			t.Fatalf("%q: exit %d: %s", step.args, code, stderr.String())
		}
	}
}

// cliCheckpoint makes cliLog's log and writes its checkpoint to cp.note.
func cliCheckpoint(t *testing.T) {
	t.Helper()
	cliLog(t)
	cp, err := os.Create("cp.note")
	if err != nil {
		t.Fatal(err)
	}
	code := run([]string{"checkpoint", "--wal", "log", "--key", "keys/k.key", "--writer", "w", "--stream", "s"}, nil, cp, io.Discard)
	if err := cp.Close(); code != 0 || err != nil {
		t.Fatalf("checkpoint: exit %d, %v", code, err)
	}
}

// TestOutputWriteFails: a command whose output cannot be written has not
// done its job, and must not exit 0 ("ronaudit checkpoint ... > cp.note"
// on a full disk would leave an empty cp.note; so would dump, append,
// whose acknowledgments are its output, and verify). It is an
// operational error, exit 3 (not 1, which says the data does not
// verify); a verification failure stays 1 (the evidence wins).
func TestOutputWriteFails(t *testing.T) {
	t.Chdir(t.TempDir())
	cliLog(t)
	for _, c := range []struct {
		args []string
		in   string
	}{
		{[]string{"checkpoint", "--wal", "log", "--key", "keys/k.key", "--writer", "w", "--stream", "s"}, ""},
		{[]string{"dump", "log"}, ""},
		{[]string{"verify", "log", "--pub", "keys/k.pub"}, ""},
		{[]string{"append", "--wal", "log", "--key", "keys/k.key", "--writer", "w", "--stream", "s"}, `{"tsMs":4,"reason":"four"}` + "\n"},
		{[]string{"keygen", "-dir", "keys", "-name", "k2"}, ""},
		{[]string{"help"}, ""},
	} {
		var stderr strings.Builder
		code := run(c.args, strings.NewReader(c.in), fullWriter{}, &stderr)
		if code != exitError || !strings.Contains(stderr.String(), "writing to stdout") || !strings.Contains(stderr.String(), errFull.Error()) {
			t.Errorf("%q with stdout failing: exit %d, stderr %q; want exit 3 and the write error on stderr", c.args, code, stderr.String())
		}
	}
	// A failed verification stays exit 1, whatever the output does.
	if err := os.Remove(filepath.Join("log", "0000000000000001.seg")); err != nil {
		t.Fatal(err)
	}
	if code := run([]string{"verify", "log", "--pub", "keys/k.pub"}, nil, fullWriter{}, io.Discard); code != 1 {
		t.Errorf("verify of a log with no segments, stdout failing: exit %d, want 1", code)
	}
}
