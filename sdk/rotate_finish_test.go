package sdk_test

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/rustyonions/ron-audit-go/sdk"
)

// failOnce is a Signer whose signature number after+1 fails, once: a
// signer (an HSM, a remote key) that is briefly unavailable.
type failOnce struct {
	sdk.Signer
	after int
	done  bool
}

func (f *failOnce) Sign(msg []byte, sig *sdk.Signature) error {
	if !f.done {
		if f.after == 0 {
			f.done = true
			return errors.New("signer briefly unavailable")
		}
		f.after--
	}
	return f.Signer.Sign(msg, sig)
}

// TestRotateKeyFinishesAfterSignFailure: a rotation cut short in process
// by a failing signature (the log stays healthy: ErrSign fails no log)
// leaves some chains handed to next and the others on the old key. The
// documented remedy, RotateKey to next again, was refused with ErrConfig
// ("key already signs this log": the log's key for new chains was next
// already), so the others stayed on the old key and the KeyFollower
// never got next. It now finishes the rotation.
func TestRotateKeyFinishesAfterSignFailure(t *testing.T) {
	old, next := rotateSigner(t, "finish old"), rotateSigner(t, "finish next")
	streams := []string{"a", "b", "c"}
	flaky := &failOnce{Signer: old, after: len(streams) + 1} // a record per chain, one transition
	f := &followRecorder{}
	l := coreLog(t, sdk.Config{Signer: flaky, Observer: f})
	for i, s := range streams {
		r := coreRecord(i)
		r.Stream = s
		if _, err := l.Append(&r); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.RotateKey(next); !errors.Is(err, sdk.ErrSign) {
		t.Fatalf("the rotation the signer cuts short: %v, want ErrSign", err)
	}
	if heads, err := l.RotateKey(next); err != nil || len(heads) != len(streams) {
		t.Fatalf("finishing the rotation: %d heads, %v; want %d, nil", len(heads), err, len(streams))
	}
	if len(f.followed) != 1 || f.followed[0] != next.KeyID() {
		t.Fatalf("FollowKey calls: %v, want [%s]", f.followed, next.KeyID())
	}
	if _, err := l.RotateKey(next); !errors.Is(err, sdk.ErrConfig) {
		t.Fatalf("rotating again to the key that signs every chain: %v, want ErrConfig", err)
	}
	oldOnly := sdk.NewKeySet(old.Public())
	for i, s := range streams {
		r := coreRecord(10 + i)
		r.Stream = s
		a, err := l.Append(&r)
		if err != nil || a.Record.KeyID != next.KeyID() {
			t.Errorf("%s after the rotation: %v, signed by %s, want %s", s, err, a.Record.KeyID, next.KeyID())
		}
		if n := transitions(t, l, s); n != 1 {
			t.Errorf("%s: %d transitions, want 1", s, n)
		}
		if _, err := sdk.VerifyChain(sdk.NewSliceIterator(chainRecs(l, "svc-gateway@inst-1", s)), oldOnly, sdk.VerifyOptions{}); err != nil {
			t.Errorf("%s with the old key alone: %v", s, err)
		}
	}
}

// TestReopenedWithOldKeyLeavesLaterChains: a chain started after (or
// while) a rotation from key A to key B began is B's from its first
// record: B signs it, and it has no transition. Reopened with A (to
// finish a rotation cut short, as OpenDurable's docs say), the log gave
// it A as its key: A then signed records after B's (and, finishing, a
// transition from A to B), so the chain verified neither with B alone,
// the key it started with, nor with A alone; and after a whole rotation,
// the retired key A went on signing in a chain B started. The log now
// refuses records for such a chain until RotateKey to B moves it on,
// without a transition.
func TestReopenedWithOldKeyLeavesLaterChains(t *testing.T) {
	old, next := rotateSigner(t, "later old"), rotateSigner(t, "later next")
	both := sdk.NewKeySet(old.Public(), next.Public())
	streams := []string{"a", "b", "c"}
	dir := filepath.Join(t.TempDir(), "wal")
	flaky := &failOnce{Signer: old, after: len(streams) + 1} // a record per chain, one transition
	l, _, err := sdk.OpenDurable(dir, sdk.Config{Signer: flaky}, sdk.DurableOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range streams {
		r := coreRecord(i)
		r.Stream = s
		if _, err := l.Append(&r); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.RotateKey(next); !errors.Is(err, sdk.ErrSign) {
		t.Fatalf("the rotation the signer cuts short: %v, want ErrSign", err)
	}
	r := coreRecord(10)
	r.Stream = "later"
	if a, err := l.Append(&r); err != nil || a.Record.KeyID != next.KeyID() {
		t.Fatalf("a chain started after the cut: %v, signed by %s, want %s", err, a.Record.KeyID, next.KeyID())
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	// Finishing with the old key, as OpenDurable's docs say.
	l, _, err = sdk.OpenDurable(dir, sdk.Config{Signer: old}, sdk.DurableOptions{Keys: both})
	if err != nil {
		t.Fatal(err)
	}
	r = coreRecord(11)
	r.Stream = "later"
	if a, err := l.Append(&r); !errors.Is(err, sdk.ErrConfig) {
		t.Errorf("the old key appending to a chain the new key started: %v, signed by %s; want ErrConfig", err, a.Record.KeyID)
	}
	if heads, err := l.RotateKey(next); err != nil || len(heads) != len(streams)+1 {
		t.Fatalf("finishing the rotation: %d heads, %v", len(heads), err)
	}
	r = coreRecord(12)
	r.Stream = "later"
	if a, err := l.Append(&r); err != nil || a.Record.KeyID != next.KeyID() {
		t.Errorf("after the rotation: %v, signed by %s", err, a.Record.KeyID)
	}
	r = coreRecord(13)
	r.Stream = "after-whole"
	if _, err := l.Append(&r); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := sdk.VerifyDirChain(dir, "svc-gateway@inst-1", "later", sdk.NewKeySet(next.Public()), false, nil); err != nil {
		t.Errorf("the chain the new key started, with the new key alone: %v", err)
	}
	for _, s := range streams {
		if _, err := sdk.VerifyDirChain(dir, "svc-gateway@inst-1", s, sdk.NewKeySet(old.Public()), false, nil); err != nil {
			t.Errorf("%s with the old key alone: %v", s, err)
		}
	}

	// The rotation is whole: reopened with the retired key, the log
	// takes no record anywhere, the chain the new key started included.
	l, _, err = sdk.OpenDurable(dir, sdk.Config{Signer: old}, sdk.DurableOptions{Keys: both})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for _, s := range append(streams, "later", "after-whole") {
		r := coreRecord(20)
		r.Stream = s
		if a, err := l.Append(&r); !errors.Is(err, sdk.ErrConfig) {
			t.Errorf("%s: the retired key appends: %v, signed by %s; want ErrConfig", s, err, a.Record.KeyID)
		}
	}
}

// TestRotateKeyFailedBeforeAnyTransition: a rotation whose first
// transition's signature fails writes nothing to the log, but it had
// made next the key of new chains already, and left it so: a chain
// started after it began with next, with no transition anywhere in the
// log naming next. Reopened with the old key (the rotation failed), the
// log took that chain for the old key's, which then signed after next
// there. A rotation that wrote no transition now leaves the log's key
// as it was.
func TestRotateKeyFailedBeforeAnyTransition(t *testing.T) {
	old, next := rotateSigner(t, "untraced old"), rotateSigner(t, "untraced next")
	dir := filepath.Join(t.TempDir(), "wal")
	flaky := &failOnce{Signer: old, after: 1} // a record, then the first transition fails
	l, _, err := sdk.OpenDurable(dir, sdk.Config{Signer: flaky}, sdk.DurableOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := coreRecord(1)
	if _, err := l.Append(&r); err != nil {
		t.Fatal(err)
	}
	if _, err := l.RotateKey(next); !errors.Is(err, sdk.ErrSign) {
		t.Fatalf("the rotation whose first transition fails: %v, want ErrSign", err)
	}
	r = coreRecord(2)
	r.Stream = "after-failure"
	if a, err := l.Append(&r); err != nil || a.Record.KeyID != old.KeyID() {
		t.Errorf("a chain started after the failed rotation: %v, signed by %s, want the old key %s", err, a.Record.KeyID, old.KeyID())
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l, _, err = sdk.OpenDurable(dir, sdk.Config{Signer: old}, sdk.DurableOptions{Keys: sdk.NewKeySet(next.Public())})
	if err != nil {
		t.Fatal(err)
	}
	r = coreRecord(3)
	r.Stream = "after-failure"
	if _, err := l.Append(&r); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := sdk.VerifyDirChain(dir, "svc-gateway@inst-1", "after-failure", sdk.NewKeySet(old.Public()), false, nil); err != nil {
		t.Errorf("the chain with the old key alone: %v", err)
	}
}
