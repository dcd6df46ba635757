//go:build unix

package sdk

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// TestWriteSecretThroughLinkedDir: a key or salt written through a
// symbolic link to a directory is checked where it really goes, as
// loading checks it: under a directory others may write (here a
// subdirectory of one), GenerateSalt and GenerateKeyFiles refuse, rather
// than write a file LoadSalt and LoadSigner would then refuse.
func TestWriteSecretThroughLinkedDir(t *testing.T) {
	open := filepath.Join(t.TempDir(), "open")
	sub := filepath.Join(open, "sub")
	if err := os.MkdirAll(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(open, 0o700)
	link := filepath.Join(t.TempDir(), "keys")
	if err := os.Symlink(sub, link); err != nil {
		t.Fatal(err)
	}
	if err := GenerateSalt(filepath.Join(link, "salt")); !errors.Is(err, ErrSaltPermissions) {
		t.Errorf("GenerateSalt through a link into a directory under an open one: %v, want ErrSaltPermissions", err)
	}
	if _, _, _, err := GenerateKeyFiles(link, "k"); !errors.Is(err, ErrKeyPermissions) {
		t.Errorf("GenerateKeyFiles through a link into a directory under an open one: %v, want ErrKeyPermissions", err)
	}
	for _, name := range []string{"salt", "k.key", "k.pub"} {
		if _, err := os.Lstat(filepath.Join(sub, name)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s written under the open directory: %v", name, err)
		}
	}
	// With the directory safe, both go through the link.
	os.Chmod(open, 0o700)
	if err := GenerateSalt(filepath.Join(link, "salt")); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadSalt(filepath.Join(link, "salt")); err != nil {
		t.Fatal(err)
	}
}
