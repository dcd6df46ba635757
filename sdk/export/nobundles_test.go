package export

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestVerifyDirNoBundles: a directory without bundles (only a leftover
// temporary file, or nothing) is ErrNoBundles naming the directory, from
// both VerifyDir and VerifyDirTrusted: nothing was verified.
func TestVerifyDirNoBundles(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, ".tmp-1.bundle"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err1 := VerifyDir(dir, nil, nil, nil)
	_, err2 := VerifyDirTrusted(dir, nil, nil, nil)
	for i, err := range []error{err1, err2} {
		if !errors.Is(err, ErrNoBundles) || !strings.Contains(err.Error(), dir) {
			t.Errorf("call %d: %v; want ErrNoBundles naming %s", i+1, err, dir)
		}
	}
}
