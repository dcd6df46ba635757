package node_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/node"
)

// lyingSigner is a Signer whose KeyID is not the id of its Public key.
type lyingSigner struct {
	sdk.Signer
	id sdk.KeyID
}

func (s lyingSigner) KeyID() sdk.KeyID { return s.id }

// TestOpenRefusesKeyIDMismatch: a Signer whose KeyID is not its Public
// key's is ErrConfig, and dir is left as it was (not made).
func TestOpenRefusesKeyIDMismatch(t *testing.T) {
	liar := lyingSigner{Signer: testSigner(t), id: sdk.KeyID{1, 2, 3}}
	dir := filepath.Join(t.TempDir(), "node")
	n, _, err := node.Open(dir, liar, node.Options{})
	if n != nil {
		n.Close()
	}
	if !errors.Is(err, sdk.ErrConfig) {
		t.Fatalf("Open with a Signer whose KeyID is not its Public key's: %v, want ErrConfig", err)
	}
	if _, err := os.Lstat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open with that Signer made %s: %v", dir, err)
	}
}
