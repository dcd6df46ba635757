//go:build unix

package export

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/rustyonions/ron-audit-go/internal/fsutil"
	"github.com/rustyonions/ron-audit-go/internal/fsutil/fifotest"
)

// TestReadFileHostile: a named pipe, a link to a device and a huge sparse
// file named like bundles are refused at once, by VerifyDir and by
// FileSink.Latest, without blocking or reading them; ReadFile's refusal
// wraps its cause (errors.As), not only ErrFormat.
func TestReadFileHostile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "00000000000000000001-00000000000000000002.bundle")
	fifotest.Make(t, fifo)
	err := fifotest.Returns(t, "VerifyDir", func() error { _, err := VerifyDir(dir, KeyVerifiers(), nil, nil); return err })
	if !errors.Is(err, ErrFormat) {
		t.Fatalf("a FIFO bundle: %v", err)
	}
	os.Remove(fifo)

	if err := os.Symlink("/dev/zero", fifo); err == nil {
		_, err := ReadFile(fifo)
		if nr := (*fsutil.NotRegularError)(nil); !errors.Is(err, ErrFormat) || !errors.As(err, &nr) {
			t.Fatalf("a link to /dev/zero: %v (want ErrFormat wrapping the cause, *fsutil.NotRegularError)", err)
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
	_, err = ReadFile(fifo)
	if tl := (*fsutil.TooLargeError)(nil); !errors.Is(err, ErrFormat) || !errors.As(err, &tl) || tl.Limit != MaxFileSize {
		t.Fatalf("a sparse file over the limit: %v (want ErrFormat wrapping the cause, *fsutil.TooLargeError)", err)
	}
}
