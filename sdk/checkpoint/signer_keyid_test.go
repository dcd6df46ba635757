package checkpoint

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rustyonions/ron-audit-go/sdk"
)

// lyingSigner is a Signer whose KeyID is not the id of its Public key.
type lyingSigner struct {
	sdk.Signer
	id sdk.KeyID
}

func (s lyingSigner) KeyID() sdk.KeyID { return s.id }

// TestNewKeeperRefusesKeyIDMismatch: the Keeper picks the key of a
// checkpoint by KeyID among those it holds (SignerAt) and signs with
// Public: a Signer whose two disagree is refused, ErrConfig naming both
// ids, before the checkpoint directory is made.
func TestNewKeeperRefusesKeyIDMismatch(t *testing.T) {
	liar := lyingSigner{Signer: testSigner(t, "keeper liar"), id: testSigner(t, "keeper other").KeyID()}
	dir := filepath.Join(t.TempDir(), "checkpoints")
	k, err := NewKeeper(dir, liar, KeeperOptions{})
	if k != nil {
		k.Close()
	}
	if !errors.Is(err, sdk.ErrConfig) {
		t.Fatalf("NewKeeper with a Signer whose KeyID is not its Public key's: %v, want ErrConfig", err)
	}
	for _, id := range []sdk.KeyID{liar.KeyID(), sdk.KeyIDOf(liar.Public())} {
		if !strings.Contains(err.Error(), id.String()) {
			t.Errorf("%q does not name key id %s", err, id)
		}
	}
	if _, err := os.Lstat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("NewKeeper with that Signer made %s: %v", dir, err)
	}
}
