package checkpoint

import (
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/sdk"
)

// panicOnceSigner panics at its first Sign, then signs.
type panicOnceSigner struct {
	sdk.Signer
	done atomic.Bool
}

func (s *panicOnceSigner) Sign(msg []byte, sig *sdk.Signature) error {
	if s.done.CompareAndSwap(false, true) {
		panic("test: Signer.Sign panics")
	}
	return s.Signer.Sign(msg, sig)
}

// TestKeeperTickPanicFreesChain: Tick and Close sign a chain's checkpoint
// under the chain's lock, which the Log's appends take next (Committed,
// Durable, under the Log's chain lock). A Signer that panicked there, the
// panic recovered by a host that calls Tick itself, left the lock held:
// the Keeper, and through its Observer calls every append of the chain,
// waited forever.
func TestKeeperTickPanicFreesChain(t *testing.T) {
	const w, s = "svc@inst-1", "caps"
	now := time.Unix(1_000_000_000, 0)
	k, err := NewKeeper(filepath.Join(t.TempDir(), "cp"), &panicOnceSigner{Signer: keeperSigner(t)},
		KeeperOptions{Every: 1000, Interval: time.Minute, Clock: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	h := func(b byte) (x canonical.Hash) { x[0] = b; return x }
	k.Committed(w, s, 1, h(1), false)
	k.Durable(w, s, 1, false)
	if err := k.Tick(); err != nil { // starts the interval
		t.Fatal(err)
	}
	now = now.Add(time.Hour)
	panicked := func() (v any) {
		defer func() { v = recover() }()
		_ = k.Tick()
		return nil
	}()
	if panicked == nil {
		t.Fatal("Tick with a panicking Signer did not panic")
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		k.Committed(w, s, 2, h(2), false)
		k.Durable(w, s, 2, false)
		if err := k.Close(); err != nil {
			t.Error(err)
		}
		if n := k.Newest(); len(n) != 1 || n[0].Size != 2 {
			t.Errorf("newest checkpoints after Close: %+v, want one of size 2", n)
		}
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the Keeper's chain stayed locked after Tick panicked")
	}
}
