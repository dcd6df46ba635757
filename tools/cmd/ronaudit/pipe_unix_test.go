//go:build unix

package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// runClosedStdout runs the CLI (this test binary, as a child) in dir with
// a stdout pipe whose reader has gone away before the CLI writes (as
// "ronaudit verify LOG | head -0" or a pager quit early), and returns its
// exit status (-1: killed by a signal) and stderr.
func runClosedStdout(t *testing.T, dir string, stdin io.Reader, args ...string) (int, string) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	r.Close() // the reader is gone: every write to w is EPIPE (or SIGPIPE)
	cmd := exec.Command(os.Args[0], args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "RONAUDIT_TEST_MAIN=1")
	cmd.Stdin = stdin
	cmd.Stdout = w
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("%q with stdout closed did not stop; stderr: %s", args, stderr.String())
	}
	code := 0
	if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%q: %v", args, err)
	}
	return code, stderr.String()
}

// TestClosedStdout: stdout whose reader went away is output that could
// not be written, exit 3 as the exit status contract says (not 141,
// killed by SIGPIPE, which no caller of the contract expects), without a
// word on stderr (the reader went away on purpose: "dump LOG | head -3",
// the help's example, would end in an error message each time); and a
// verification failure found before it stays 1 (so that "verify LOG |
// head" on a tampered log exits 1).
func TestClosedStdout(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	cliLog(t)
	var many strings.Builder // more than one buffer of dump's output
	for i := 0; i < 200; i++ {
		fmt.Fprintf(&many, `{"reason":"more %d"}`+"\n", i)
	}
	if code := run([]string{"append", "--wal", "log", "--key", "keys/k.key", "--writer", "w", "--stream", "s"}, strings.NewReader(many.String()), io.Discard, io.Discard); code != 0 {
		t.Fatalf("append: exit %d", code)
	}
	for _, c := range []struct {
		args []string
		in   string
	}{
		{[]string{"verify", "log", "--pub", "keys/k.pub"}, ""},
		{[]string{"dump", "log"}, ""},
		{[]string{"help"}, ""},
	} {
		args := c.args
		code, stderr := runClosedStdout(t, dir, nil, args...)
		if code != exitError || stderr != "" {
			t.Errorf("%q with stdout closed: exit %d, stderr %q; want exit 3 and nothing on stderr (the reader went away: \"dump LOG | head\")", args, code, stderr)
		}
	}
	seg := filepath.Join("log", "0000000000000001.seg")
	data, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	data[100] ^= 1
	if err := os.WriteFile(seg, data, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"verify", "log", "--pub", "keys/k.pub"},
		{"dump", "log"},
	} {
		if code, stderr := runClosedStdout(t, dir, nil, args...); code != exitFailed {
			t.Errorf("%q on a tampered log with stdout closed: exit %d, stderr %q; want 1 (the evidence wins)", args, code, stderr)
		}
	}
}

// TestAppendClosedStdout: append whose acknowledgments cannot be printed
// (stdout closed) stops reading at once, as on SIGINT, and says how far
// it got: going on would append every line of its input, records nobody
// is told are durable, and, on an input that stays open (a pipe from a
// service), never stop.
func TestAppendClosedStdout(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	cliLog(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close() // held open: append must stop without the end of its input
	for i := 0; i < 20; i++ {
		fmt.Fprintf(w, `{"reason":"more %d"}`+"\n", i)
	}
	code, stderr := runClosedStdout(t, dir, r, "append", "--wal", "log", "--key", "keys/k.key", "--writer", "w", "--stream", "s")
	if code != exitError || !strings.Contains(stderr, "stdout could not be written: stopped reading after line") {
		t.Errorf("append with stdout closed: exit %d, stderr %q; want 3 and where it stopped", code, stderr)
	}
	var out strings.Builder
	if code := run([]string{"verify", "log", "--pub", "keys/k.pub"}, nil, &out, &out); code != 0 {
		t.Errorf("verify after append with stdout closed: exit %d: %s", code, out.String())
	}
}
