package node_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/export"
	"github.com/rustyonions/ron-audit-go/sdk/node"
)

// node.VerifyDir: the offline audit of what a Node left, for the
// export directory's own cases (missing, empty, stray entries) and what
// its failures say; tamper_test.go has the tampers it catches.

// TestVerifyDirMissingExportDir: an export directory that is not there
// (a mistyped path), taken for one holding no bundles, would fail every
// chain as truncated ("no bundles of the chain"): a verdict on the log's
// exports, for a path that names nothing. It is an error wrapping
// fs.ErrNotExist that names the path, as ronaudit verify --exports says
// (exit 3), and never a pass.
func TestVerifyDirMissingExportDir(t *testing.T) {
	root := t.TempDir()
	dir, exports := filepath.Join(root, "wal"), filepath.Join(root, "exports")
	signer := testSigner(t)
	writeNode(t, dir, exports, signer, "w")
	if _, err := audit(dir, exports, signer.Public()); err != nil {
		t.Fatalf("the Node's own export directory: %v", err)
	}
	typo := filepath.Join(root, "exprots")
	_, err := audit(dir, typo, signer.Public())
	var ee *node.ExportError
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), typo) || errors.As(err, &ee) {
		t.Fatalf("node.VerifyDir with the export directory %s, which is not there: %v; want an error wrapping fs.ErrNotExist naming it, not a verdict on a chain's exports", typo, err)
	}
	t.Log(err)
}

// TestVerifyDirEmptyNode: a Node opened with an export directory and
// closed before its first record wrote no bundle; its exports verify
// (there is nothing to export), as the log does, and the export
// directory given to node.Open is there to say so.
func TestVerifyDirEmptyNode(t *testing.T) {
	root := t.TempDir()
	dir, exports := filepath.Join(root, "wal"), filepath.Join(root, "exports")
	signer := testSigner(t)
	n, _, err := node.Open(dir, signer, node.Options{ExportDir: exports})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := audit(dir, exports, signer.Public()); err != nil {
		t.Fatalf("the exports of a Node closed before its first record: %v", err)
	}
}

// TestUnexportedSaysWhatToDo: records a host appended after its last
// bundle and then crashed are ErrUnexported, as documented; the message
// (what ronaudit verify prints) said which records but not that opening
// and closing the Node again exports them.
func TestUnexportedSaysWhatToDo(t *testing.T) {
	root := t.TempDir()
	dir, exports := filepath.Join(root, "wal"), filepath.Join(root, "exports")
	signer := testSigner(t)
	writeNode(t, dir, exports, signer, "w")
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	l, _, err := sdk.OpenDurable(dir, sdk.Config{Signer: signer}, sdk.DurableOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(record("w", "a", 100)); err != nil {
		t.Fatal(err)
	}
	l.Close()
	_, err = audit(dir, exports, signer.Public())
	if !errors.Is(err, node.ErrUnexported) || !strings.Contains(err.Error(), "opened and closed again") {
		t.Fatalf("audit after a crash past the last bundle: %v; want ErrUnexported saying to open and close the Node again", err)
	}
	t.Log(err)
}

// TestVerifyDirStrayBundles: VerifyDir's doc says bundles under the
// export directory that are no chain's are export.ErrFormat; a valid
// bundle copied into the export directory itself, or into a writer's
// directory (where a FileSink writes none), was not looked at and the
// audit passed.
func TestVerifyDirStrayBundles(t *testing.T) {
	root := t.TempDir()
	signer := testSigner(t)
	writeNode(t, filepath.Join(root, "wal"), filepath.Join(root, "exports"), signer, "w")
	for _, where := range []string{".", "w"} {
		t.Run(where, func(t *testing.T) {
			c := t.TempDir()
			if err := os.CopyFS(c, os.DirFS(root)); err != nil {
				t.Fatal(err)
			}
			d, e := filepath.Join(c, "wal"), filepath.Join(c, "exports")
			bs, err := export.ListDir(export.ChainDir(e, "w", "a"))
			if err != nil || len(bs) == 0 {
				t.Fatalf("bundles of w/a: %v %v", bs, err)
			}
			b, err := os.ReadFile(bs[len(bs)-1])
			if err != nil {
				t.Fatal(err)
			}
			stray := filepath.Join(e, where, filepath.Base(bs[len(bs)-1]))
			if err := os.WriteFile(stray, b, 0o600); err != nil {
				t.Fatal(err)
			}
			_, err = audit(d, e, signer.Public())
			if !errors.Is(err, export.ErrFormat) || !strings.Contains(err.Error(), stray) {
				t.Fatalf("audit with a bundle at %s: %v; want export.ErrFormat naming it", stray, err)
			}
			t.Log(err)
		})
	}
}
