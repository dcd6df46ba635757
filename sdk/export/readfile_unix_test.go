//go:build unix

package export

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestReadFileHostile: a named pipe, a link to a device and a huge sparse
// file named like bundles are refused at once, by VerifyDir and by
// FileSink.Latest, without blocking or reading them.
func TestReadFileHostile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "00000000000000000001-00000000000000000002.bundle")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skip("mkfifo:", err)
	}
	done := make(chan error, 1)
	go func() { _, err := VerifyDir(dir, KeyVerifiers(), nil, nil); done <- err }()
	select {
	case err := <-done:
		if !errors.Is(err, ErrFormat) {
			t.Fatalf("a FIFO bundle: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("VerifyDir hangs on a FIFO bundle")
	}
	os.Remove(fifo)

	if err := os.Symlink("/dev/zero", fifo); err == nil {
		if _, err := ReadFile(fifo); !errors.Is(err, ErrFormat) {
			t.Fatalf("a link to /dev/zero: %v", err)
		}
		os.Remove(fifo)
	}
	f, err := os.Create(fifo)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(MaxFileSize + 1); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := ReadFile(fifo); !errors.Is(err, ErrFormat) {
		t.Fatalf("a sparse file over the limit: %v", err)
	}
}
