//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package wal

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rustyonions/ron-audit-go/internal/fsutil/fifotest"
)

// TestLockNotRegular: LOCK must be the regular file the writer creates.
// A symbolic link there was followed: Open truncated the file it pointed
// to and wrote its pid into it (a file of someone else's, or another
// log's LOCK, which two logs then shared), and a named pipe there was
// locked and written to. Each is refused, naming LOCK, and the file a
// link points to is left as it was.
func TestLockNotRegular(t *testing.T) {
	for _, kind := range []string{"link-to-file", "dangling-link", "fifo", "directory"} {
		t.Run(kind, func(t *testing.T) {
			dir := logDir(t)
			l, _ := mustOpen(t, dir, Options{})
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			lock := filepath.Join(dir, lockName)
			if err := os.Remove(lock); err != nil {
				t.Fatal(err)
			}
			victim := filepath.Join(t.TempDir(), "victim")
			const precious = "precious content\n"
			switch kind {
			case "link-to-file":
				writeFile(t, victim, []byte(precious))
				if err := os.Symlink(victim, lock); err != nil {
					t.Fatal(err)
				}
			case "dangling-link":
				if err := os.Symlink(victim, lock); err != nil {
					t.Fatal(err)
				}
			case "fifo":
				fifotest.Make(t, lock)
			case "directory":
				if err := os.Mkdir(lock, 0o700); err != nil {
					t.Fatal(err)
				}
			}
			err := fifotest.Returns(t, "Open", func() error {
				l, _, err := Open(dir, Options{})
				if err == nil {
					l.Close()
				}
				return err
			})
			var e *Error
			if !errors.As(err, &e) || e.Path != lock || e.Op != "lock" || !strings.Contains(err.Error(), "not a regular file") {
				t.Fatalf("Open with LOCK a %s: %v, want a lock *Error naming %s as not a regular file", kind, err, lock)
			}
			if kind == "link-to-file" {
				if b, _ := os.ReadFile(victim); string(b) != precious {
					t.Fatalf("the file LOCK links to now holds %q", b)
				}
			}
			if kind == "dangling-link" {
				if _, err := os.Lstat(victim); err == nil {
					t.Fatal("Open created the file a dangling LOCK link points to")
				}
			}
		})
	}
}

// TestLockReplacedWhileLocking: LOCK removed and created again between
// an Open's open of it and its flock (another process's Open, say) leaves
// that Open holding the lock of a file no one else will open. It used to
// go on, and a second writer opening the new LOCK got in too; now it
// locks the file at LOCK, which the second Open then finds held.
func TestLockReplacedWhileLocking(t *testing.T) {
	dir := logDir(t)
	replaced := 0
	lockTaken = func(path string) {
		if replaced > 0 {
			return
		}
		replaced++
		if err := os.Remove(path); err != nil {
			t.Error(err)
		}
		writeFile(t, path, nil)
	}
	t.Cleanup(func() { lockTaken = nil })
	l, _ := mustOpen(t, dir, Options{})
	defer l.Close()
	if replaced != 1 {
		t.Fatalf("the hook ran %d times", replaced)
	}
	l2, _, err := Open(dir, Options{})
	if err == nil {
		l2.Close()
	}
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("a second Open after LOCK was replaced under the first: %v, want ErrLocked", err)
	}
}
