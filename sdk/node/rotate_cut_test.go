package node_test

import (
	"crypto/ed25519"
	"errors"
	"path/filepath"
	"sync"
	"testing"

	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/checkpoint"
	"github.com/rustyonions/ron-audit-go/sdk/node"
)

// goneAfter signs n times, then fails every signature: a key lost in the
// middle of a rotation, as a crash cuts it short.
type goneAfter struct {
	sdk.Signer
	mu sync.Mutex
	n  int
}

func (g *goneAfter) Sign(msg []byte, sig *sdk.Signature) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.n == 0 {
		return errors.New("signer gone")
	}
	g.n--
	return g.Signer.Sign(msg, sig)
}

// TestNodeCutShortRotationReopenedWithNext (what TestNodeCrash meets when
// it opens a cut-short rotation with the new key): a checkpoint-sealed log whose
// rotation stopped after one chain's transition, its other chains' records
// unsealed, is reopened with the new key, against sdk/rotate.go's advice.
// The new key cannot seal the chains the rotation did not reach (only the
// old key may vouch for them); Close must then not return nil with them
// unsealed.
func TestNodeCutShortRotationReopenedWithNext(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "wal")
	old, next := nodeCrashKey(t, 0), nodeCrashKey(t, 1)
	opts := node.Options{SealEvery: 100, Every: 100, Interval: -1}
	cut := &goneAfter{Signer: old, n: 1} // the first transition, then nothing
	n, _, err := node.Open(dir, cut, opts)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range []string{"a", "b", "c"} {
		r := record(nodeCrashWriter, s, i)
		if _, err := n.Log().Append(r); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := n.Log().RotateKey(next); err == nil {
		t.Fatal("the cut-short rotation succeeded")
	}
	_ = n.Close() // the old key is gone: nothing more is sealed

	opts.Durable.Keys = sdk.NewKeySet(old.Public(), next.Public())
	cutSum, err := sdk.VerifyDir(dir, sdk.NewKeySet(old.Public()), true, nil)
	if err != nil || len(cutSum.Retired) != 1 {
		t.Fatalf("the rotation was not cut after one transition: %+v %v", cutSum.Retired, err)
	}
	var unreached []string // the chains the rotation did not reach
	for _, h := range cutSum.Heads {
		if h.Stream != cutSum.Retired[0].Stream {
			unreached = append(unreached, h.Stream)
		}
	}
	n, _, err = node.Open(dir, next, opts)
	if err != nil {
		t.Fatalf("reopen with the new key: %v", err)
	}
	// sdk/rotate.go: reopened with next, the log refuses records for the
	// chains the rotation had not reached, and the old key must finish it.
	_, appendErr := n.Log().Append(record(nodeCrashWriter, unreached[0], 10))
	closeErr := n.Close()
	sum, verr := checkpoint.VerifyDir(dir, []ed25519.PublicKey{old.Public()}, checkpoint.DirOptions{AllowUnsealedTail: true})
	t.Logf("Append to %s: %v; Close: %v; VerifyDir with the old key: %v, unused %v", unreached[0], appendErr, closeErr, verr, sum.Unused)
	if !errors.Is(appendErr, sdk.ErrConfig) {
		t.Errorf("reopened with the new key, chain %s (no transition) took a record: %v", unreached[0], appendErr)
	}
	if len(sum.Unused) > 0 && closeErr == nil {
		t.Errorf("Close returned nil, and the new key signed checkpoints of chains it was never handed: %v", sum.Unused)
	}

	// Finished as the error says: every chain verifies with the old key.
	n, _, err = node.Open(dir, old, opts)
	if err != nil {
		t.Fatalf("reopen with the old key: %v", err)
	}
	if _, err := n.Log().RotateKey(next); err != nil {
		t.Fatalf("finishing the rotation: %v", err)
	}
	if err := n.Close(); err != nil {
		t.Fatalf("closing after the rotation: %v", err)
	}
	sum, err = checkpoint.VerifyDir(dir, []ed25519.PublicKey{old.Public()}, checkpoint.DirOptions{})
	if err != nil || len(sum.Retired) != 3 {
		t.Fatalf("finished: %d transitions, %v", len(sum.Retired), err)
	}
	t.Logf("finished: %d records, %d checkpoints used, unused %v", sum.Records, sum.Used, sum.Unused)
}
