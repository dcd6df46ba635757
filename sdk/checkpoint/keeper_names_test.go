package checkpoint

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rustyonions/ron-audit-go/internal/names"
)

// TestKeeperErrorQuotesChainNames: a Keeper that cannot read the newest
// checkpoint of a chain says so naming the chain as every message does
// (internal/names), so a writer id holding a newline, which a record may
// carry, cannot add a line of its own to the report that prints it.
func TestKeeperErrorQuotesChainNames(t *testing.T) {
	const hostile, stream = "w\nok: 1 record in 1 stream", "s"
	dir := t.TempDir()
	// A directory in place of the newest note: reading it fails.
	if err := os.MkdirAll(filepath.Join(dir, dirName(hostile), dirName(stream), noteFile(3)), 0o700); err != nil {
		t.Fatal(err)
	}
	k, err := NewKeeper(dir, keeperSigner(t), KeeperOptions{Interval: -1})
	if err != nil {
		t.Fatal(err)
	}
	err = k.CheckReplay()
	if err == nil || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "reading the newest checkpoint of "+names.Chain(hostile, stream)) {
		t.Fatalf("CheckReplay with the newest checkpoint unreadable: %q, want one line naming %s", err, names.Chain(hostile, stream))
	}
}
