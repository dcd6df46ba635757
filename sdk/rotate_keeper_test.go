package sdk_test

import (
	"errors"
	"sync/atomic"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/checkpoint"
)

// failSecond is a signer whose second signature fails: with two chains,
// a rotation from it writes one transition and fails on the other.
type failSecond struct {
	*sdk.Ed25519Signer
	calls atomic.Int32
}

func (f *failSecond) Sign(msg []byte, sig *sdk.Signature) error {
	if f.calls.Add(1) == 2 {
		return errors.New("the second signature fails")
	}
	return f.Ed25519Signer.Sign(msg, sig)
}

// TestKeeperEmittedChainAfterFailedRotation: after a rotation that
// failed part way (ErrSign, a transition written), the log's new chains
// begin with the new key, the Keeper still holds the old one (no
// FollowKey). A chain an Emitter starts then must get no checkpoint by
// the old key: a verifier holding the key it began with refuses it. The
// Emitter's commit did not tell the Keeper so (Append's did).
func TestKeeperEmittedChainAfterFailedRotation(t *testing.T) {
	k1, k2 := rotateSigner(t, "old key"), rotateSigner(t, "next key")
	cdir := t.TempDir()
	k, err := checkpoint.NewKeeper(cdir, k1, checkpoint.KeeperOptions{Every: 1, Interval: -1})
	if err != nil {
		t.Fatal(err)
	}
	l := coreLog(t, sdk.Config{Signer: &failSecond{Ed25519Signer: k1}, Observer: k, SealEvery: 3})
	for _, s := range []string{"a", "b"} {
		r := emitRecord(0, 0, s)
		if _, err := l.Append(&r); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.RotateKey(k2); !errors.Is(err, sdk.ErrSign) {
		t.Fatalf("RotateKey, its second transition failing: %v, want ErrSign", err)
	}
	e := newEmitter(t, l, sdk.EmitterOptions{Workers: 2, Shed: sdk.ShedBlock})
	for n := range 3 {
		r := emitRecord(0, n, "fresh")
		if err := e.TryEmit(&r); err != nil {
			t.Fatal(err)
		}
	}
	closeEmitter(t, e)
	if _, err := l.RotateKey(k2); err != nil { // finishes it: FollowKey
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := k.Close(); err != nil {
		t.Fatal(err)
	}
	const writer = "svc-gateway@inst-1"
	hist, err := checkpoint.LoadHistory(cdir, writer, "fresh")
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) == 0 {
		t.Fatal("the emitted chain has no checkpoint")
	}
	v2, err := checkpoint.NoteVerifier(checkpoint.KeyName(writer), k2.Public())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := checkpoint.VerifyChain(l.Store().Iter(writer, "fresh"), sdk.NewKeySet(k2.Public()), note.VerifierList(v2), hist, sdk.VerifyOptions{}); err != nil {
		t.Errorf("the emitted chain with the key it began with: %v", err)
	}
}
