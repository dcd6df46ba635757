package checkpoint

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/rustyonions/ron-audit-go/sdk"
)

// The key a chain's transition at T names vouches for sizes T and up of
// that chain only; the key it retires for sizes up to T. A key given to
// the verifier directly is judged by the chain's history like any other:
// given or learned, the successor was not in force below T. A key that
// no transition of the chain names nor retires (a separate note key) is
// judged by the verifier's trust alone.

// TestInForceNamedKeyFromItsTransition: a checkpoint by the named key of
// a size below its transition is unknown_key, at the transition and past
// it is in force; the retired key is in force up to and at the
// transition, retired_key past it.
func TestInForceNamedKeyFromItsTransition(t *testing.T) {
	k1, k2 := rotationKey(t, "inforce first"), rotationKey(t, "inforce second")
	k3, sep := rotationKey(t, "inforce third"), rotationKey(t, "inforce separate note key")
	retired := []sdk.Retirement{
		{WriterID: vdWriter, Stream: vdStream, KeyID: k1.KeyID(), Pub: k1.Public(), Seq: 4, Next: k2.Public()},
		{WriterID: vdWriter, Stream: vdStream, KeyID: k2.KeyID(), Pub: k2.Public(), Seq: 8, Next: k3.Public()},
	}
	vs := KeyVerifiers(k1.Public(), k2.Public(), k3.Public(), sep.Public())
	open := func(size int64, by ...*sdk.Ed25519Signer) Checkpoint {
		t.Helper()
		var signers []note.Signer
		for _, k := range by {
			signers = append(signers, NewNoteSigner(k, "name-of-"+k.KeyID().String()))
		}
		msg, err := note.Sign(&note.Note{Text: Text(Origin(vdWriter, vdStream), size, tlog.Hash{byte(size)})}, signers...)
		if err != nil {
			t.Fatal(err)
		}
		cp, err := Open(msg, vs)
		if err != nil {
			t.Fatal(err)
		}
		return cp
	}
	for _, c := range []struct {
		name string
		size int64
		by   []*sdk.Ed25519Signer
		want error // nil: in force
	}{
		{"first key below its retirement", 3, []*sdk.Ed25519Signer{k1}, nil},
		{"first key at its retirement", 4, []*sdk.Ed25519Signer{k1}, nil},
		{"first key past its retirement", 5, []*sdk.Ed25519Signer{k1}, ErrRetiredKey},
		{"second key below its transition", 3, []*sdk.Ed25519Signer{k2}, ErrUnknownKey},
		{"second key of the empty tree", 0, []*sdk.Ed25519Signer{k2}, ErrUnknownKey},
		{"second key at its transition", 4, []*sdk.Ed25519Signer{k2}, nil},
		{"second key at its retirement", 8, []*sdk.Ed25519Signer{k2}, nil},
		{"second key past its retirement", 9, []*sdk.Ed25519Signer{k2}, ErrRetiredKey},
		{"third key below both transitions", 2, []*sdk.Ed25519Signer{k3}, ErrUnknownKey},
		{"third key between them", 6, []*sdk.Ed25519Signer{k3}, ErrUnknownKey},
		{"third key at its transition", 8, []*sdk.Ed25519Signer{k3}, nil},
		{"third key later", 100, []*sdk.Ed25519Signer{k3}, nil},
		{"a separate note key, early", 1, []*sdk.Ed25519Signer{sep}, nil},
		{"a separate note key, late", 100, []*sdk.Ed25519Signer{sep}, nil},
		{"second key early, first key in force beside it", 3, []*sdk.Ed25519Signer{k2, k1}, nil},
		{"second key early, third key early", 3, []*sdk.Ed25519Signer{k2, k3}, ErrUnknownKey},
		{"first key retired, third key early", 6, []*sdk.Ed25519Signer{k1, k3}, ErrRetiredKey},
	} {
		err := InForce(open(c.size, c.by...), retired)
		if c.want == nil && err != nil || c.want != nil && !errors.Is(err, c.want) {
			t.Errorf("%s (size %d): InForce = %v, want %v", c.name, c.size, err, c.want)
		}
	}
	// Another chain's transitions, and a transition whose signature was
	// not checked (Pub nil), say nothing of this chain's keys.
	other, unchecked := retired[0], retired[0]
	other.Stream, unchecked.Pub = "other", nil
	for _, r := range [][]sdk.Retirement{{other}, {unchecked}} {
		if err := InForce(open(3, k2), r); err != nil {
			t.Errorf("retirements %+v: InForce = %v, want nil", r, err)
		}
	}
}

// TestVerifyChainNamedKeyBelowItsTransition: VerifyChain refuses a
// checkpoint of a size below the transition that named its key, whether
// the verifier learned the key from the transition or was given it.
func TestVerifyChainNamedKeyBelowItsTransition(t *testing.T) {
	k1, k2 := rotationKey(t, "verifydir first key"), rotationKey(t, "verifydir second key")
	wdir := sealedLog(t, t.TempDir(), 0, 6, k2) // transition at 4
	recs := durableChain(t, wdir)
	tr := NewTree()
	for _, r := range recs[:3] {
		tr.Append(r.Hash)
	}
	early, err := Sign(Origin(vdWriter, vdStream), 3, tr.Root(), NewNoteSigner(k2, KeyName(vdWriter)))
	if err != nil {
		t.Fatal(err)
	}
	for _, given := range [][]*sdk.Ed25519Signer{{k1}, {k1, k2}} {
		pubs := keysOf(given...)
		_, err := VerifyChain(sdk.NewSliceIterator(recs), sdk.NewKeySet(pubs...), KeyVerifiers(pubs...), [][]byte{early}, sdk.VerifyOptions{AllowUnsealedTail: true})
		if !errors.Is(err, ErrUnknownKey) {
			t.Errorf("%d keys given: VerifyChain of a checkpoint at 3 by the key named at 4: %v, want unknown_key", len(given), err)
		}
	}
}

// TestVerifyDirNamedKeyBelowItsTransition: a kept checkpoint of a size
// below the transition that named its key is no evidence (Unused), as one
// by a key the verifier does not hold, with the key learned or given.
func TestVerifyDirNamedKeyBelowItsTransition(t *testing.T) {
	k1, k2 := rotationKey(t, "verifydir first key"), rotationKey(t, "verifydir second key")
	wdir := sealedLog(t, t.TempDir(), 0, 6, k2) // checkpoints at 3 (k1), 6 and 7 (k2); transition at 4
	tr := NewTree()
	for _, r := range durableChain(t, wdir)[:3] {
		tr.Append(r.Hash)
	}
	early, err := Sign(Origin(vdWriter, vdStream), 3, tr.Root(), NewNoteSigner(k2, KeyName(vdWriter)))
	if err != nil {
		t.Fatal(err)
	}
	p := notePath(wdir, 3)
	if err := os.WriteFile(p, early, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, given := range [][]*sdk.Ed25519Signer{{k1}, {k1, k2}} {
		res, err := VerifyDir(wdir, keysOf(given...), DirOptions{})
		if err != nil {
			t.Fatalf("%d keys given: VerifyDir: %v", len(given), err)
		}
		if res.Used != 2 || len(res.Unused) != 1 || filepath.Clean(res.Unused[0]) != p {
			t.Errorf("%d keys given: used %d unused %v, want 2 and %s", len(given), res.Used, res.Unused, p)
		}
		if len(res.Heads) != 1 || res.Heads[0].SealedSeq != 7 {
			t.Errorf("%d keys given: heads %+v, want sealed to 7", len(given), res.Heads)
		}
	}
}
