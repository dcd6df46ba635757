package node_test

import (
	"crypto/ed25519"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/checkpoint"
	"github.com/rustyonions/ron-audit-go/sdk/node"
)

// failsGated signs as its Signer, but once armed, its next Sign waits for
// release (after saying so on entered) and then fails: a rotation whose
// first transition is never written, held while a chain starts.
type failsGated struct {
	sdk.Signer
	mu      sync.Mutex
	armed   bool
	entered chan struct{}
	release chan struct{}
}

func (g *failsGated) Sign(msg []byte, sig *sdk.Signature) error {
	g.mu.Lock()
	armed := g.armed
	g.armed = false
	g.mu.Unlock()
	if armed {
		close(g.entered)
		<-g.release
		return errors.New("the transition's signature fails")
	}
	return g.Signer.Sign(msg, sig)
}

// TestNodeUntracedRotationReopenedFinishes: a checkpoint-sealed Node's
// rotation that wrote no transition, with a chain started while it ran
// (its first record signed by the new key). Reopened with the old key,
// that chain is the new key's and takes no record of the old one; the
// old key's RotateKey to the new one must finish the rotation (it was
// refused, and so was every chain of the old key reopened with the new
// one: no way on). After it, every chain takes records, and the log and
// its kept checkpoints verify with the two keys.
func TestNodeUntracedRotationReopenedFinishes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "wal")
	old, next := nodeCrashKey(t, 0), nodeCrashKey(t, 1)
	opts := node.Options{SealEvery: 100, Every: 100, Interval: -1}
	g := &failsGated{Signer: old, entered: make(chan struct{}), release: make(chan struct{})}
	n, _, err := node.Open(dir, g, opts)
	if err != nil {
		t.Fatal(err)
	}
	if r := appendAll(t, n.Log(), []string{"a", "b"}, 0); r != nil {
		t.Fatal(r)
	}
	g.mu.Lock()
	g.armed = true
	g.mu.Unlock()
	done := make(chan error, 1)
	go func() { _, err := n.Log().RotateKey(next); done <- err }()
	select {
	case <-g.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the rotation never signed a transition")
	}
	if r := appendAll(t, n.Log(), []string{"z"}, 5); r != nil {
		t.Fatalf("a chain started during the rotation refused a record: %v", r)
	}
	close(g.release)
	if err := <-done; !errors.Is(err, sdk.ErrSign) {
		t.Fatalf("the rotation: %v, want ErrSign", err)
	}
	_ = n.Close() // z's records wait for next's checkpoint: Close may say so

	opts.Durable.Keys = sdk.NewKeySet(old.Public(), next.Public())
	n, _, err = node.Open(dir, old, opts)
	if err != nil {
		t.Fatalf("reopen with the old key: %v", err)
	}
	if r := appendAll(t, n.Log(), []string{"a", "b", "z"}, 10); len(r) != 1 || r[0] != "z" {
		t.Errorf("reopened with the old key, refused %v; want z alone", r)
	}
	if _, err := n.Log().RotateKey(next); err != nil {
		t.Fatalf("finishing the rotation with RotateKey to the new key: %v", err)
	}
	if r := appendAll(t, n.Log(), []string{"a", "b", "z"}, 20); r != nil {
		t.Errorf("after the rotation, refused %v", r)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := checkpoint.VerifyDir(dir, []ed25519.PublicKey{old.Public(), next.Public()}, checkpoint.DirOptions{}); err != nil {
		t.Fatalf("the log and its checkpoints: %v", err)
	}
	n, _, err = node.Open(dir, next, opts)
	if err != nil {
		t.Fatalf("reopen with the new key: %v", err)
	}
	r := appendAll(t, n.Log(), []string{"a", "b", "z"}, 30)
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if r != nil {
		t.Errorf("reopened with the new key after the rotation, refused %v", r)
	}
}
