package checkpoint

import (
	"crypto/ed25519"
	"errors"
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/rustyonions/ron-audit-go/sdk"
)

// ChainVerifiers and KeyVerifiers: the keys that open a chain's
// checkpoints, as VerifyDir and ronaudit open them.

// TestChainVerifiers: a chain's checkpoints open with the keys given, and
// with the keys the chain's verified transitions named, under any key
// name; not with a key another chain's transition named, nor one named
// by a transition whose signature was not checked (Pub nil).
func TestChainVerifiers(t *testing.T) {
	k1, k2 := rotationKey(t, "chain verifiers first"), rotationKey(t, "chain verifiers second")
	msg, err := Sign(Origin(vdWriter, vdStream), 1, tlog.Hash{7}, NewNoteSigner(k2, "any-name"))
	if err != nil {
		t.Fatal(err)
	}
	transition := sdk.Retirement{WriterID: vdWriter, Stream: vdStream, KeyID: k1.KeyID(), Pub: k1.Public(), Seq: 3, Next: k2.Public()}
	other, unchecked := transition, transition
	other.Stream = "other"
	unchecked.Pub = nil
	for _, c := range []struct {
		name    string
		pubs    []ed25519.PublicKey
		retired []sdk.Retirement
		opens   bool
	}{
		{"the key given", keysOf(k2), nil, true},
		{"a key the chain's transition named", keysOf(k1), []sdk.Retirement{transition}, true},
		{"no key given, a transition", nil, []sdk.Retirement{transition}, true},
		{"only the first key", keysOf(k1), nil, false},
		{"another chain's transition", keysOf(k1), []sdk.Retirement{other}, false},
		{"an unchecked transition", keysOf(k1), []sdk.Retirement{unchecked}, false},
	} {
		_, err := Open(msg, ChainVerifiers(c.pubs, c.retired, vdWriter, vdStream))
		if c.opens && err != nil || !c.opens && !errors.Is(err, ErrUnknownKey) {
			t.Errorf("%s: Open: %v, want opened %v (else unknown_key)", c.name, err, c.opens)
		}
	}
	if _, err := Open(msg, KeyVerifiers(k1.Public(), k2.Public())); err != nil {
		t.Errorf("KeyVerifiers of both keys: %v", err)
	}
	if _, err := Open(msg, KeyVerifiers(k1.Public(), k2.Public()[:31])); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("KeyVerifiers of a short key: %v, want unknown_key", err)
	}
}
