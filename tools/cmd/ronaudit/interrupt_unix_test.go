//go:build unix

package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestAppendInterrupted: SIGINT while append waits for input ends the run
// as the end of the input would: every record read is acknowledged on
// stdout, the log closes cleanly and the final checkpoint is written; the
// exit status says it was interrupted.
func TestAppendInterrupted(t *testing.T) {
	dir := t.TempDir()
	keys, wal := filepath.Join(dir, "keys"), filepath.Join(dir, "wal")
	if code := run([]string{"keygen", "-dir", keys, "-name", "k"}, nil, io.Discard, io.Discard); code != 0 {
		t.Fatal("keygen failed")
	}
	cmd := exec.Command(os.Args[0], "append", "--wal", wal, "--key", filepath.Join(keys, "k.key"), "--writer", "w", "--stream", "s")
	cmd.Env = append(os.Environ(), "RONAUDIT_TEST_MAIN=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	io.WriteString(stdin, `{"tsMs":1,"reason":"one"}`+"\n"+`{"tsMs":2,"reason":"two"}`+"\n"+`{"tsMs":3,"reason":"three"}`+"\n")
	acks := make(chan string, 3)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			acks <- sc.Text()
		}
		close(acks)
	}()
	for i := 0; i < 3; i++ {
		select {
		case a := <-acks:
			if !strings.HasSuffix(a, " w/s") {
				t.Fatalf("ack %q", a)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("no acknowledgement %d; stderr: %s", i+1, stderr.String())
		}
	}
	// stdin stays open: append is waiting for a fourth line.
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("append did not stop on SIGINT; stderr: %s", stderr.String())
	}
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != exitError { // interrupted: an operational error
		t.Fatalf("exit: %v; stderr: %s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "interrupted after line 3") {
		t.Fatalf("stderr: %s", stderr.String())
	}
	if _, err := os.Stat(filepath.Join(wal, "checkpoints", "w", "s", "00000000000000000003.note")); err != nil {
		t.Fatalf("no final checkpoint: %v", err)
	}
	var out bytes.Buffer
	if code := run([]string{"verify", wal, "--pub", filepath.Join(keys, "k.pub")}, nil, &out, &out); code != 0 || !strings.Contains(out.String(), "ok: 3 records") {
		t.Fatalf("verify after the interrupt: %s", out.String())
	}
}

// holdUntilInterrupted is readHook in the children TestInterrupted runs:
// after the first record it says so on stderr, then holds the reading
// until the command's interrupt context is done.
func holdUntilInterrupted(ctx context.Context) {
	holdOnce.Do(func() { fmt.Fprintln(os.Stderr, holding) })
	<-ctx.Done()
}

var holdOnce sync.Once

const holding = "test: holding the reading after a record"

// TestInterrupted: SIGINT or SIGTERM while verify, dump, checkpoint or
// export read the log stops them cleanly, as append: exit 3, one line on
// stderr saying how far they got and what was not done, and no output
// file, whole or partial. Each child is held in its reading after the
// first record (readHook) until the signal, whatever the machine's speed.
func TestInterrupted(t *testing.T) {
	dir := t.TempDir()
	keys, log := filepath.Join(dir, "keys"), filepath.Join(dir, "log")
	if code := run([]string{"keygen", "-dir", keys, "-name", "k"}, nil, io.Discard, io.Discard); code != 0 {
		t.Fatal("keygen failed")
	}
	var errs strings.Builder
	in := strings.NewReader(`{"tsMs":1,"reason":"one"}` + "\n" + `{"tsMs":2,"reason":"two"}` + "\n" + `{"tsMs":3,"reason":"three"}` + "\n")
	if code := run([]string{"append", "--wal", log, "--key", filepath.Join(keys, "k.key"), "--writer", "w", "--stream", "s"}, in, io.Discard, &errs); code != 0 {
		t.Fatalf("append: %s", errs.String())
	}
	chain := []string{"--wal", log, "--key", filepath.Join(keys, "k.key"), "--writer", "w", "--stream", "s"}
	cp, exports := filepath.Join(dir, "cp.note"), filepath.Join(dir, "exports")
	for _, c := range []struct {
		name   string
		sig    syscall.Signal
		args   []string
		stderr string
		lines  int // of stdout
	}{
		{"verify", syscall.SIGINT, []string{"verify", log, "--pub", filepath.Join(keys, "k.pub")},
			`ronaudit verify: interrupted after 1 record, the last at .*0000000000000001\.seg:[0-9]+: nothing after it was verified, and the log has no verdict`, 0},
		{"verify segment", syscall.SIGTERM, []string{"verify", filepath.Join(log, "0000000000000001.seg")},
			`ronaudit verify: interrupted after 1 record, the last at .*0000000000000001\.seg:[0-9]+: nothing after it was verified, and the log has no verdict`, 1},
		{"dump", syscall.SIGINT, []string{"dump", log},
			`ronaudit dump: interrupted after 1 record, the last at .*0000000000000001\.seg:[0-9]+: each line printed is a whole record; none after it was printed`, 1},
		{"checkpoint", syscall.SIGTERM, append(append([]string{"checkpoint"}, chain...), "--out", cp),
			`ronaudit checkpoint: interrupted after verifying 1 record of w/s: no checkpoint was signed or written`, 0},
		{"export", syscall.SIGINT, append(append([]string{"export"}, chain...), "--out", exports),
			`ronaudit export: interrupted after verifying 1 record of w/s: no bundle was written`, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], c.args...)
			cmd.Env = append(os.Environ(), "RONAUDIT_TEST_MAIN=1", "RONAUDIT_TEST_HOLD=1")
			var stdout bytes.Buffer
			cmd.Stdout = &stdout
			errPipe, err := cmd.StderrPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Process.Kill()
			held := make(chan struct{})
			var stderr []string
			read := make(chan struct{})
			go func() {
				defer close(read)
				sc := bufio.NewScanner(errPipe)
				for sc.Scan() {
					if sc.Text() == holding {
						close(held)
						continue
					}
					stderr = append(stderr, sc.Text())
				}
			}()
			select {
			case <-held:
			case <-read:
				cmd.Wait()
				t.Fatalf("never held in its reading; stdout: %s stderr: %q", stdout.String(), stderr)
			case <-time.After(30 * time.Second):
				t.Fatal("not held in its reading after 30s")
			}
			if err := cmd.Process.Signal(c.sig); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { <-read; done <- cmd.Wait() }()
			select {
			case err = <-done:
			case <-time.After(30 * time.Second):
				t.Fatalf("did not stop on %v", c.sig)
			}
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != exitError {
				t.Fatalf("exit: %v, want %d; stderr: %q", err, exitError, stderr)
			}
			if len(stderr) != 1 || !regexp.MustCompile(`^`+c.stderr+`$`).MatchString(stderr[0]) {
				t.Fatalf("stderr: %q\nwant one line: %s", stderr, c.stderr)
			}
			if n := strings.Count(stdout.String(), "\n"); n != c.lines || !strings.HasSuffix(stdout.String(), "\n") && c.lines > 0 {
				t.Fatalf("stdout: %d lines, want %d:\n%s", n, c.lines, stdout.String())
			}
			if _, err := os.Stat(cp); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("%s: %v, want none", cp, err)
			}
			filepath.WalkDir(exports, func(p string, d fs.DirEntry, err error) error {
				if err == nil && !d.IsDir() {
					t.Errorf("left under --out: %s", p)
				}
				return nil
			})
		})
	}
}
