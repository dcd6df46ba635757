package node_test

import (
	"crypto/ed25519"
	"path/filepath"
	"testing"

	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/checkpoint"
	"github.com/rustyonions/ron-audit-go/sdk/node"
)

// TestNodeRotateOntoOtherHolder: a log with chains of two holders (the
// log's key a, and a key z no transition names, given a as a verifier
// key, that started a chain of its own: "a chain it starts is its own").
// Each key's appends to the other's chain are refused with "open the log
// with key K, or RotateKey from it to <this key> first". Following the
// second half, the other holder's RotateKey to this key must hand it the
// log: its own chains by a transition, the chain this key holds with none
// (it is this key's already). It was refused on that chain, a's, which
// a signed alone from its start. Signed chains only: a checkpoint-sealed
// chain has no signature in the log to say, after such a rotation, that
// it is a's and was never z's (OpenDurable would take it for one z's
// rotation had not reached), so there RotateKey refuses it still.
func TestNodeRotateOntoOtherHolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "wal")
	a, z := nodeCrashKey(t, 0), nodeCrashKey(t, 3)
	opts := node.Options{Every: 100, Interval: -1}
	open := func(s sdk.Signer) *node.Node {
		t.Helper()
		n, _, err := node.Open(dir, s, opts)
		if err != nil {
			t.Fatalf("open with %s: %v", s.KeyID(), err)
		}
		return n
	}
	n := open(a)
	if r := appendAll(t, n.Log(), []string{"p"}, 0); r != nil {
		t.Fatal(r)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	opts.Durable.Keys = sdk.NewKeySet(a.Public(), z.Public())
	n = open(z)
	if r := appendAll(t, n.Log(), []string{"p", "q"}, 10); len(r) != 1 || r[0] != "p" {
		t.Fatalf("z refused %v, want p alone", r)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	n = open(a)
	if r := appendAll(t, n.Log(), []string{"p", "q"}, 20); len(r) != 1 || r[0] != "q" {
		t.Fatalf("a refused %v, want q alone", r)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	// q's refusal says: open with z, or RotateKey from z to a.
	n = open(z)
	if _, err := n.Log().RotateKey(a); err != nil {
		_ = n.Close()
		t.Fatalf("z's RotateKey to a, which holds p: %v", err)
	}
	if r := appendAll(t, n.Log(), []string{"p", "q"}, 30); r != nil {
		t.Errorf("after the rotation to a, refused %v", r)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	n = open(a)
	r := appendAll(t, n.Log(), []string{"p", "q"}, 40)
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if r != nil {
		t.Errorf("reopened with a after the rotation, refused %v", r)
	}
	n = open(z)
	r = appendAll(t, n.Log(), []string{"p", "q"}, 50)
	_ = n.Close()
	if len(r) != 2 {
		t.Errorf("reopened with z, which retired in q and never held p, refused %v; want both", r)
	}
	sum, err := checkpoint.VerifyDir(dir, []ed25519.PublicKey{a.Public(), z.Public()}, checkpoint.DirOptions{})
	if err != nil || len(sum.Retired) != 1 {
		t.Fatalf("the log and its checkpoints: %d transitions, %v; want q's one", len(sum.Retired), err)
	}
	if _, err := sdk.VerifyDirChain(dir, nodeCrashWriter, "p", sdk.NewKeySet(a.Public()), true, nil); err != nil {
		t.Errorf("p with a alone: %v", err)
	}
}
