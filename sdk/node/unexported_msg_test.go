package node_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/node"
)

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
