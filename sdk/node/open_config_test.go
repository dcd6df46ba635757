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

// TestOpenNilSignerPointer: a nil *sdk.Ed25519Signer (sdk.LoadSigner's
// result with its error dropped) is no nil interface: Open took it for
// a signer and panicked in the Keeper's KeyID. It is sdk.ErrConfig, as
// a nil signer is, before dir is touched.
func TestOpenNilSignerPointer(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "log")
	var err error
	func() {
		defer func() {
			if r := recover(); r != nil {
				err = errors.New("panic")
				t.Errorf("Open: panic %v", r)
			}
		}()
		_, _, err = node.Open(dir, (*sdk.Ed25519Signer)(nil), node.Options{})
	}()
	if !errors.Is(err, sdk.ErrConfig) || !strings.Contains(err.Error(), "nil *sdk.Ed25519Signer") {
		t.Fatalf("Open: %v, want sdk.ErrConfig naming the nil *sdk.Ed25519Signer", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open refused, and left %s (stat: %v)", dir, err)
	}
}
