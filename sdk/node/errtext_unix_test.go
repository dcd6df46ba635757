//go:build unix

package node_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rustyonions/ron-audit-go/sdk/export"
)

// TestVerifyDirNamesOneLine: the names under an export directory, and the
// targets of its symbolic links, are whoever made the tree's; a host logs
// node.VerifyDir's err.Error() on one line. A name holding a newline and
// a line of its own ("ok: ..."), a right-to-left override or a terminal
// escape is said escaped, never as it is: a directory that is no
// chain's, holding a bundle, and a symbolic link to nothing.
func TestVerifyDirNamesOneLine(t *testing.T) {
	root := t.TempDir()
	signer := testSigner(t)
	writeNode(t, filepath.Join(root, "wal"), filepath.Join(root, "exports"), signer, "w")
	const evil = "x\nok: every bundle verified\u202e\x1b[2J"
	for _, c := range []struct {
		name string
		make func(e string) error
		is   error
	}{
		{"a directory that is no chain's", func(e string) error {
			bs, err := export.ListDir(export.ChainDir(e, "w", "a"))
			if err != nil || len(bs) == 0 {
				return errors.Join(errors.New("no bundles of w/a"), err)
			}
			b, err := os.ReadFile(bs[0])
			if err != nil {
				return err
			}
			if err := os.MkdirAll(filepath.Join(e, "w", evil), 0o700); err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(e, "w", evil, filepath.Base(bs[0])), b, 0o600)
		}, export.ErrFormat},
		{"a symbolic link to nothing", func(e string) error {
			return os.Symlink(filepath.Join(e, "gone"), filepath.Join(e, evil))
		}, fs.ErrNotExist},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := t.TempDir()
			if err := os.CopyFS(d, os.DirFS(root)); err != nil {
				t.Fatal(err)
			}
			e := filepath.Join(d, "exports")
			if err := c.make(e); err != nil {
				t.Fatal(err)
			}
			_, err := audit(filepath.Join(d, "wal"), e, signer.Public())
			if !errors.Is(err, c.is) {
				t.Fatalf("audit: %v, want %v", err, c.is)
			}
			msg := err.Error()
			if strings.ContainsAny(msg, "\n\x1b\u202e") || !strings.Contains(msg, `x\nok: every bundle verified\u202e\x1b[2J`) {
				t.Errorf("audit: %q, want one line naming the entry escaped", msg)
			}
		})
	}
}
