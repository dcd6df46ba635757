//go:build unix

package main

import (
	"io"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestVerifyProofNotRegular: verify-proof reads PROOF.json as the other
// readers read their files: a named pipe, a device or a directory is
// refused at once, naming it, rather than blocking on the pipe for ever
// (or reading a device without bound).
func TestVerifyProofNotRegular(t *testing.T) {
	t.Chdir(t.TempDir())
	cliCheckpoint(t)
	if err := syscall.Mkfifo("proof.json", 0o600); err != nil {
		t.Skip("mkfifo:", err)
	}
	for _, path := range []string{"proof.json", "/dev/zero", "log"} {
		var stdout strings.Builder
		done := make(chan int, 1)
		go func() {
			done <- run([]string{"verify-proof", "--checkpoint", "cp.note", "--pub", "keys/k.pub", path}, nil, &stdout, io.Discard)
		}()
		select {
		case code := <-done:
			if code != 1 || !strings.Contains(stdout.String(), "FAIL: ") || !strings.Contains(stdout.String(), path+" is not a regular file") {
				t.Errorf("verify-proof %s: exit %d, stdout %q; want exit 1 and FAIL naming it", path, code, stdout.String())
			}
		case <-time.After(5 * time.Second):
			// Unblock the reader so the test binary can exit.
			if f, err := os.OpenFile("proof.json", os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
				f.Close()
			}
			t.Fatalf("verify-proof %s: still reading after 5s", path)
		}
	}
}
