package node_test

import (
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rustyonions/ron-audit-go/sdk/node"
)

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
