package export

import (
	"crypto/ed25519"
	"path/filepath"
	"testing"

	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/checkpoint"
)

// TestAutoExport: bundles follow the Keeper's checkpoints (every 10
// records and at close), over a durable log with a key rotation in it,
// and verify as a sequence with the first key.
func TestAutoExport(t *testing.T) {
	seed := make([]byte, ed25519.SeedSize)
	copy(seed, "auto export key")
	signer, err := sdk.NewEd25519Signer(ed25519.NewKeyFromSeed(seed))
	if err != nil {
		t.Fatal(err)
	}
	log, keeper, auto, sink := openWithAuto(t, t.TempDir(), signer, 10, 0)
	appendN(t, log, 0, 15, 0)
	// A rotation mid-run: the Keeper and the exports follow it.
	copy(seed, "auto export next key")
	next, _ := sdk.NewEd25519Signer(ed25519.NewKeyFromSeed(seed))
	if _, err := log.RotateKey(next); err != nil {
		t.Fatal(err)
	}
	appendN(t, log, 15, 20, 0)
	if err := log.Close(); err != nil {
		t.Fatal(err)
	}
	if err := keeper.Close(); err != nil {
		t.Fatal(err)
	}
	if err := auto.Close(); err != nil {
		t.Fatal(err)
	}
	paths, err := sink.Bundles(checkpoint.Origin("w", "s"))
	if err != nil || len(paths) != 4 {
		t.Fatalf("%d bundles (%v), want 4: 1-10, 11-20, 21-30, 31-36", len(paths), err)
	}
	// The first key alone verifies it all: it follows the transition.
	sum, err := VerifyDir(filepath.Dir(paths[0]), KeyVerifiers(signer.Public()), sdk.NewKeySet(signer.Public()), nil)
	if err != nil || sum.Records != 36 {
		t.Fatalf("sequence: %+v %v", sum, err)
	}
}
