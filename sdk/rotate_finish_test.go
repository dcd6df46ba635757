package sdk_test

import (
	"errors"
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
