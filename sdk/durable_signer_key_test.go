package sdk_test

import (
	"path/filepath"
	"testing"

	"github.com/rustyonions/ron-audit-go/sdk"
)

// TestOpenDurableTrustsItsSigner: DurableOptions.Keys says a writer
// reopened with a rotation's new key needs only the first key there, and
// OpenDurable's unknown_key error says it expects "a key of the Signer or
// DurableOptions.Keys". But with Keys set the Signer's own key was not
// trusted: a chain started after the rotation, whose first record (or
// seal) the new key signed, made OpenDurable refuse the log the SDK had
// written, under either signing policy.
func TestOpenDurableTrustsItsSigner(t *testing.T) {
	for _, every := range []int{0, 4} {
		first, next := rotateSigner(t, "reopen first"), rotateSigner(t, "reopen next")
		dir := filepath.Join(t.TempDir(), "wal")
		l, _, err := sdk.OpenDurable(dir, sdk.Config{Signer: first, SealEvery: every}, sdk.DurableOptions{})
		if err != nil {
			t.Fatal(err)
		}
		r := coreRecord(1)
		if _, err := l.Append(&r); err != nil {
			t.Fatal(err)
		}
		if _, err := l.RotateKey(next); err != nil {
			t.Fatal(err)
		}
		r = coreRecord(2)
		r.Stream = "started-after"
		if _, err := l.Append(&r); err != nil {
			t.Fatal(err)
		}
		if err := l.Close(); err != nil { // seals started-after with next (checkpoint-sealed)
			t.Fatal(err)
		}
		keys := sdk.NewKeySet(first.Public())
		l, rec, err := sdk.OpenDurable(dir, sdk.Config{Signer: next, SealEvery: every}, sdk.DurableOptions{Keys: keys})
		if err != nil {
			t.Fatalf("SealEvery %d: reopened with the new key, the first key in Keys: %v", every, err)
		}
		if rec.Records != 3 {
			t.Errorf("SealEvery %d: %d records replayed, want 3", every, rec.Records)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		if keys.Len() != 1 {
			t.Errorf("SealEvery %d: OpenDurable changed the caller's Keys: %d keys", every, keys.Len())
		}
	}
}

// TestKeysAfterReopen: Log.Keys is "every key the log has signed with,
// for verifiers", but a log reopened by OpenDurable held only its
// Signer's key: a verifier given Keys could not verify the records the
// log held, those signed before a rotation to that key (unknown_key at
// the first record).
func TestKeysAfterReopen(t *testing.T) {
	for _, every := range []int{0, 4} {
		first, next := rotateSigner(t, "keys first"), rotateSigner(t, "keys next")
		dir := filepath.Join(t.TempDir(), "wal")
		l, _, err := sdk.OpenDurable(dir, sdk.Config{Signer: first, SealEvery: every}, sdk.DurableOptions{})
		if err != nil {
			t.Fatal(err)
		}
		coreAppend(t, l, 3)
		if _, err := l.RotateKey(next); err != nil {
			t.Fatal(err)
		}
		coreAppendFrom(t, l, 3, 2)
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		l, _, err = sdk.OpenDurable(dir, sdk.Config{Signer: next, SealEvery: every}, sdk.DurableOptions{Keys: sdk.NewKeySet(first.Public())})
		if err != nil {
			t.Fatal(err)
		}
		coreAppendFrom(t, l, 5, 1)
		if _, err := sdk.VerifyChain(l.Store().Iter("svc-gateway@inst-1", "reads"), l.Keys(), sdk.VerifyOptions{AllowUnsealedTail: every > 1}); err != nil {
			t.Errorf("SealEvery %d: the reopened log's records with its Keys: %v", every, err)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
