//go:build unix

package fsutil

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/rustyonions/ron-audit-go/internal/fsutil/fifotest"
)

// TestOpenRegularFIFO: a named pipe is refused at once by the open itself
// (not by a stat before it, which a swap after the stat would get past):
// a plain open would wait for a writer forever.
func TestOpenRegularFIFO(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "key")
	fifotest.Make(t, fifo)
	err := fifotest.Returns(t, "OpenRegular", func() error { _, _, err := OpenRegular(fifo); return err })
	var nr *NotRegularError
	if !errors.As(err, &nr) || nr.Mode&os.ModeNamedPipe == 0 {
		t.Fatalf("OpenRegular(FIFO): %v", err)
	}
	reg := filepath.Join(dir, "file")
	if err := os.WriteFile(reg, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, fi, err := OpenRegular(reg)
	if err != nil || fi.Size() != 1 {
		t.Fatalf("a regular file: %v", err)
	}
	b := make([]byte, 2)
	if n, _ := f.Read(b); n != 1 || b[0] != 'x' {
		t.Fatal("read")
	}
	f.Close()
	if _, _, err := OpenRegular(dir); err == nil {
		t.Fatal("a directory opened")
	}
}

// TestOwner: Owner reads the uid from the file's stat: ours for a file we
// made.
func TestOwner(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if uid, ok := Owner(fi); !ok || uid != os.Geteuid() {
		t.Fatalf("Owner = %d, %v; want %d, true", uid, ok, os.Geteuid())
	}
}
