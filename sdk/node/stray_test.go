package node_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rustyonions/ron-audit-go/sdk/export"
)

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
