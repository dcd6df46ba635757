package node_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rustyonions/ron-audit-go/sdk/export"
	"github.com/rustyonions/ron-audit-go/sdk/node"
)

// TestExportTempStats: a stale temporary file a crash left in a chain's
// export directory is removed when the Node's exporter first writes
// there, and ExportTempStats counts it, as Keeper().TempStats counts the
// checkpoints' (a host says what its sweeps removed: ronaudit append
// does). A fresh one is kept. Without ExportDir it is zero.
func TestExportTempStats(t *testing.T) {
	dir, exports := filepath.Join(t.TempDir(), "wal"), filepath.Join(t.TempDir(), "exports")
	chain := export.ChainDir(exports, "w", "a")
	if err := os.MkdirAll(chain, 0o700); err != nil {
		t.Fatal(err)
	}
	stale, fresh := filepath.Join(chain, ".tmp-1"), filepath.Join(chain, ".tmp-2")
	for _, p := range []string{stale, fresh} {
		if err := os.WriteFile(p, []byte("cut"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}
	n, _, err := node.Open(dir, testSigner(t), node.Options{ExportDir: exports})
	if err != nil {
		t.Fatal(err)
	}
	if st := n.ExportTempStats(); st != (export.TempStats{}) {
		t.Errorf("before any bundle: %+v", st)
	}
	appendN(t, n.Log(), 0, 3)
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if st := n.ExportTempStats(); st.Removed != 1 || st.Failed != 0 || st.Err != nil {
		t.Errorf("ExportTempStats after the bundles: %+v, want 1 removed", st)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("the stale temporary file: %v, want removed", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("the fresh temporary file: %v, want kept", err)
	}

	n2, _, err := node.Open(filepath.Join(t.TempDir(), "wal"), testSigner(t), node.Options{})
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, n2.Log(), 0, 1)
	if err := n2.Close(); err != nil {
		t.Fatal(err)
	}
	if st := n2.ExportTempStats(); st != (export.TempStats{}) {
		t.Errorf("without ExportDir: %+v", st)
	}
}
