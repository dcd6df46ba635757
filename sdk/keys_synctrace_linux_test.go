//go:build linux

package sdk

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/rustyonions/ron-audit-go/internal/synctrace"
)

// keygenChildDir, set in the environment, makes
// TestGenerateKeyFilesRemovalSynced the traced child: it runs
// GenerateKeyFiles in that directory, where name.pub already exists.
const keygenChildDir = "SDK_TEST_KEYGEN_DIR"

// TestGenerateKeyFilesRemovalSynced traces (strace; skipped without it)
// GenerateKeyFiles failing on the public key after writing the private
// one: the private key file it removes must have its removal fsynced in
// the directory. Otherwise a power loss can bring the private key back,
// without its public key, and the next keygen of that name refuses with
// "already exists".
func TestGenerateKeyFilesRemovalSynced(t *testing.T) {
	if dir := os.Getenv(keygenChildDir); dir != "" {
		if _, _, _, err := GenerateKeyFiles(dir, "k"); err == nil {
			t.Fatal("GenerateKeyFiles wrote over an existing k.pub")
		}
		return
	}
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "k.pub"), []byte("not ours\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tr := synctrace.Run(t, root, []string{keygenChildDir + "=" + root}, os.Args[0],
		"-test.run=^TestGenerateKeyFilesRemovalSynced$", "-test.count=1")
	priv := filepath.Join(root, "k.key")
	link, ok := tr.First(func(e synctrace.Event) bool { return e.Call == "linkat" && e.Path2 == priv })
	if !ok {
		t.Fatalf("the trace shows no link of %s: the failure came before the private key was written", priv)
	}
	rm, ok := tr.First(func(e synctrace.Event) bool {
		return (e.Call == "unlinkat" || e.Call == "unlink") && e.Path == priv && e.Line > link.Line
	})
	if !ok {
		t.Fatalf("the trace shows no removal of %s after its link (line %d)", priv, link.Line)
	}
	if _, ok := tr.SyncedAfter(root, rm.Line, 0); !ok {
		t.Errorf("%s removed (trace line %d: %s) but %s never fsynced after: a power loss can bring the private key back", priv, rm.Line, rm.Text, root)
	}
	if _, err := os.Lstat(priv); err == nil {
		t.Errorf("%s left behind", priv)
	}
}
