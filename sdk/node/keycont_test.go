package node_test

import (
	"crypto/ed25519"
	"os"
	"path/filepath"
	"testing"

	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/checkpoint"
	"github.com/rustyonions/ron-audit-go/sdk/export"
	"github.com/rustyonions/ron-audit-go/sdk/node"
)

// TestNodeSignsOnlyChainsItsKeyHolds: the Keeper and the export.Auto of a
// Node sign checkpoints and bundles with the Node's key; a chain that key
// may not sign (Log.Append refuses it: one a rotation to the key cut
// short has not reached, or, opened with a key no transition names, any
// chain of the log) must get neither, at a checkpoint's due time or at
// Close, or a verifier following the chain's keys from its first would
// meet a checkpoint it cannot trust. The chains the key holds are
// checkpointed and exported as ever.
func TestNodeSignsOnlyChainsItsKeyHolds(t *testing.T) {
	old, next, another := nodeCrashKey(t, 0), nodeCrashKey(t, 1), nodeCrashKey(t, 2)
	dir := filepath.Join(t.TempDir(), "wal")
	cut := &goneAfter{Signer: old, n: 5} // two records per chain, then one transition
	l, _, err := sdk.OpenDurable(dir, sdk.Config{Signer: cut}, sdk.DurableOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range []string{"a", "a", "b", "b"} {
		if _, err := l.Append(record("w", s, i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.RotateKey(next); err == nil {
		t.Fatal("the cut-short rotation succeeded")
	}
	l.Close()
	sum, err := sdk.VerifyDir(dir, sdk.NewKeySet(old.Public()), false, nil)
	if err != nil || len(sum.Retired) != 1 {
		t.Fatalf("the rotation was not cut after one transition: %+v %v", sum.Retired, err)
	}
	handed, unreached := "a", "b" // RotateKey takes the chains in no set order
	if sum.Retired[0].Stream == "b" {
		handed, unreached = "b", "a"
	}
	keys := sdk.NewKeySet(old.Public(), next.Public())
	for _, c := range []struct {
		signer  *sdk.Ed25519Signer
		refused []string // the chains it may not sign
		signs   string   // a chain it may: appended to, checkpointed and exported
	}{{next, []string{unreached}, handed}, {another, []string{"a", "b"}, "own"}} {
		exports := filepath.Join(t.TempDir(), "exports")
		n, _, err := node.Open(dir, c.signer, node.Options{Every: 1, Interval: -1, ExportDir: exports, Durable: sdk.DurableOptions{Keys: keys}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := n.Log().Append(record("w", c.signs, 10)); err != nil {
			t.Fatalf("key %s, chain w/%s: %v", c.signer.KeyID(), c.signs, err)
		}
		if err := n.Close(); err != nil {
			t.Fatalf("key %s: Close: %v", c.signer.KeyID(), err)
		}
		for _, s := range c.refused {
			if ents, _ := os.ReadDir(export.ChainDir(exports, "w", s)); len(ents) > 0 {
				t.Errorf("key %s exported w/%s, which it may not sign: %d files", c.signer.KeyID(), s, len(ents))
			}
		}
		if ents, _ := os.ReadDir(export.ChainDir(exports, "w", c.signs)); len(ents) == 0 {
			t.Errorf("key %s exported nothing of w/%s, which it signs", c.signer.KeyID(), c.signs)
		}
		// Every checkpoint kept verifies with the keys of the chains it
		// is of: none was signed by a key that may not sign its chain.
		cs, err := checkpoint.VerifyDir(dir, []ed25519.PublicKey{old.Public(), next.Public(), another.Public()}, checkpoint.DirOptions{AllowUnsealedTail: true})
		if err != nil || len(cs.Unused) > 0 {
			t.Fatalf("key %s: kept checkpoints: unused %v, %v", c.signer.KeyID(), cs.Unused, err)
		}
	}
}
