//go:build unix

package main

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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
