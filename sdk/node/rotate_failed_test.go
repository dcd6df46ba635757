package node_test

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/checkpoint"
	"github.com/rustyonions/ron-audit-go/sdk/node"
)

// failNthRecordSig refuses the left-th record signature from when left
// is set (a key transition, here); checkpoints it signs.
type failNthRecordSig struct {
	sdk.Signer
	left atomic.Int64
}

func (s *failNthRecordSig) Sign(msg []byte, sig *sdk.Signature) error {
	if bytes.HasPrefix(msg, []byte("RONAUDIT-SIG-V1")) && s.left.Load() > 0 && s.left.Add(-1) == 0 {
		return errors.New("test: signature refused")
	}
	return s.Signer.Sign(msg, sig)
}

// TestCloseAfterFailedRotationCovers: a RotateKey that failed part way
// (the second chain's transition could not be signed) leaves the first
// chain on the new key, and new chains begin with it; the records
// appended to them since are signed by the new key. The Keeper was
// handed that key only by a whole rotation (FollowKey), so it
// checkpointed the first chain only up to its transition and a new
// chain not at all: Close returned nil though those records were under
// no checkpoint and in no bundle (node.VerifyDir: ErrUnexported, as for
// a Node that stopped without Close). The Keeper must follow the chains
// the rotation reached: Close checkpoints and exports every record, the
// unreached chain's with the old key, the others' with the new one.
func TestCloseAfterFailedRotationCovers(t *testing.T) {
	old, next := nodeCrashKey(t, 0), nodeCrashKey(t, 1)
	dir, exports := filepath.Join(t.TempDir(), "wal"), t.TempDir()
	signer := &failNthRecordSig{Signer: old}
	opts := node.Options{Every: 1 << 20, Interval: -1, ExportDir: exports}
	n, _, err := node.Open(dir, signer, opts)
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, n.Log(), 0, 3)
	signer.left.Store(2) // the second chain's transition
	if _, err := n.Log().RotateKey(next); !errors.Is(err, sdk.ErrSign) {
		t.Fatalf("RotateKey with the second transition's signature refused: %v; want sdk.ErrSign", err)
	}
	appendN(t, n.Log(), 10, 1) // one chain's is signed by next, the other's by old
	if _, err := n.Log().Append(record("w", "c", 20)); err != nil {
		t.Fatal(err) // a new chain: next's
	}
	if err := n.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	pubs := []ed25519.PublicKey{old.Public(), next.Public()}
	if _, err := node.VerifyDir(dir, exports, pubs, checkpoint.DirOptions{}); err != nil {
		t.Fatalf("node.VerifyDir after a rotation failed part way and Close returned nil: %v", err)
	}

	// Finished (RotateKey again, from the old key), the rotation moves the
	// last chain on, and the Keeper with it.
	opts.Durable.Keys = sdk.NewKeySet(old.Public(), next.Public())
	n, _, err = node.Open(dir, old, opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.Log().RotateKey(next); err != nil {
		t.Fatalf("RotateKey finishing the rotation: %v", err)
	}
	appendN(t, n.Log(), 30, 1)
	if err := n.Close(); err != nil {
		t.Fatalf("Close after the rotation was finished: %v", err)
	}
	if _, err := node.VerifyDir(dir, exports, pubs, checkpoint.DirOptions{}); err != nil {
		t.Fatalf("node.VerifyDir after the rotation was finished: %v", err)
	}
}

// startThenFail, armed, runs do at the next record signature (the first
// transition of a rotation, here), then refuses that signature.
type startThenFail struct {
	sdk.Signer
	armed bool
	do    func()
}

func (s *startThenFail) Sign(msg []byte, sig *sdk.Signature) error {
	if s.armed && bytes.HasPrefix(msg, []byte("RONAUDIT-SIG-V1")) {
		s.armed = false
		s.do()
		return errors.New("test: signature refused")
	}
	return s.Signer.Sign(msg, sig)
}

// TestCloseAfterUndoneRotationCoversChainStarted: a chain started while a
// RotateKey writes its transitions begins with the new key, and keeps it
// when the rotation fails before any transition is written (undone: the
// log's key for new chains goes back to the old one; OpenDurable,
// reopened with the old key, refuses that chain as the new key's). The
// Keeper, handed the new key only by a whole rotation, never
// checkpointed it: Close returned nil with its records in no checkpoint
// and no bundle (node.VerifyDir: ErrUnexported, seq 1..2). It is
// checkpointed and exported with the key that signs it.
func TestCloseAfterUndoneRotationCoversChainStarted(t *testing.T) {
	old, next := nodeCrashKey(t, 0), nodeCrashKey(t, 1)
	dir, exports := filepath.Join(t.TempDir(), "wal"), t.TempDir()
	s := &startThenFail{Signer: old}
	n, _, err := node.Open(dir, s, node.Options{Every: 1 << 20, Interval: -1, ExportDir: exports})
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, n.Log(), 0, 2)
	s.do = func() { // the first transition is being signed: a chain starts
		if a, err := n.Log().Append(record("w", "x", 50)); err != nil || a.Record.KeyID != next.KeyID() {
			t.Errorf("a chain started during the rotation: signed by %s, %v; want %s", a.Record.KeyID, err, next.KeyID())
		}
	}
	s.armed = true
	if _, err := n.Log().RotateKey(next); !errors.Is(err, sdk.ErrSign) {
		t.Fatalf("RotateKey with its first transition's signature refused: %v; want sdk.ErrSign", err)
	}
	if a, err := n.Log().Append(record("w", "x", 51)); err != nil || a.Record.KeyID != next.KeyID() {
		t.Fatalf("the chain after the rotation was undone: signed by %s, %v; want %s", a.Record.KeyID, err, next.KeyID())
	}
	appendN(t, n.Log(), 10, 1) // the old key's still
	if err := n.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	pubs := []ed25519.PublicKey{old.Public(), next.Public()}
	if _, err := node.VerifyDir(dir, exports, pubs, checkpoint.DirOptions{}); err != nil {
		t.Fatalf("node.VerifyDir after Close returned nil: %v", err)
	}
}
