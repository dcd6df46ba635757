// Package dirtest copies a directory tree through memory, for the tests
// and fuzz targets that damage a fresh copy of a closed log on every run.
package dirtest

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// Read returns every regular file under dir by its path relative to dir,
// but a log's lock files (LOCK, lock), which belong to a running writer.
func Read(tb testing.TB, dir string) map[string][]byte {
	tb.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() == "LOCK" || d.Name() == "lock" {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		files[rel] = b
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return files
}

// Write writes files (relative path -> bytes) under root, making the
// directories they need (0700); the files are 0600, as a log's are.
func Write(tb testing.TB, root string, files map[string][]byte) {
	tb.Helper()
	for p, b := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o700); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(full, b, 0o600); err != nil {
			tb.Fatal(err)
		}
	}
}
