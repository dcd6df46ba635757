//go:build unix

// Package fifotest helps tests check that a reader refuses a named pipe
// at once: opened the usual way, a FIFO blocks until a writer comes.
package fifotest

import (
	"syscall"
	"testing"
	"time"
)

// Make creates a named pipe at path, or skips the test where it cannot.
func Make(t testing.TB, path string) {
	t.Helper()
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Skip("mkfifo:", err)
	}
}

// Returns runs read and returns its error; the test fails if read has
// not returned after 10 seconds (it is left blocked).
func Returns(t testing.TB, what string, read func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- read() }()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatalf("%s blocks on a named pipe", what)
		return nil
	}
}
