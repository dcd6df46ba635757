package sdk_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/rustyonions/ron-audit-go/sdk"
)

// sealHookStore is a MemStore that calls onSeal before each Seal, with
// the chain being sealed (whose lock the Log holds).
type sealHookStore struct {
	*sdk.MemStore
	mu     sync.Mutex
	seals  int
	onSeal func(n int, writer, stream string)
}

func (s *sealHookStore) Seal(w, st string, seq uint64, id sdk.KeyID, sig sdk.Signature) error {
	s.mu.Lock()
	s.seals++
	n, hook := s.seals, s.onSeal
	s.mu.Unlock()
	if hook != nil {
		hook(n, w, st)
	}
	return s.MemStore.Seal(w, st, seq, id, sig)
}

// TestCloseLeavesNoUnsealedTail: Close promises that a clean shutdown
// leaves no unsealed tail. An Append that runs while Close seals the
// chains, to a chain Close sealed already, must not be acknowledged into
// a tail nothing will seal: before the fix it was (Close sealed every
// chain, and only then refused appends), so the chain failed
// verification with unsealed_tail after a clean Close.
func TestCloseLeavesNoUnsealedTail(t *testing.T) {
	store := &sealHookStore{MemStore: sdk.NewMemStore(0)}
	l := coreLog(t, sdk.Config{SealEvery: 1000, Store: store})
	for _, stream := range []string{"a", "b"} {
		r := coreRecord(0)
		r.Stream = stream
		if _, err := l.Append(&r); err != nil {
			t.Fatal(err)
		}
	}
	var first string
	var late error
	acked := false
	store.onSeal = func(n int, _, stream string) {
		if n == 1 {
			first = stream
			return
		}
		// Close is sealing its second chain: append to the first, which
		// it sealed already and whose lock is free.
		r := coreRecord(1)
		r.Stream = first
		_, late = l.Append(&r)
		acked = late == nil
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if first == "" {
		t.Fatal("Close sealed no chain")
	}
	if acked {
		t.Errorf("an Append during Close was acknowledged")
	} else if !errors.Is(late, sdk.ErrClosed) {
		t.Errorf("an Append during Close failed with %v, want ErrClosed", late)
	}
	for _, stream := range []string{"a", "b"} {
		if _, err := sdk.VerifyChain(store.Iter("svc-gateway@inst-1", stream), l.Keys(), sdk.VerifyOptions{}); err != nil {
			t.Errorf("chain %s after a clean Close: %v", stream, err)
		}
	}
}

// TestSealIntervalAfterFailedSign: a record the interval chose to sign
// whose signature fails is not appended, and the interval still holds:
// the next record is signed, as the last signature of the chain is still
// older than SealInterval. Through Append it was; through the Emitter the
// failed record had restarted the interval when it was linked, so the
// chain went a further SealInterval without a signature.
func TestSealIntervalAfterFailedSign(t *testing.T) {
	for _, via := range []string{"append", "emitter"} {
		t.Run(via, func(t *testing.T) {
			clock := &coreClock{now: time.UnixMilli(1764201600000)}
			s := &scriptSigner{Signer: coreSigner(t), failAt: 1}
			l := coreLog(t, sdk.Config{Signer: s, SealEvery: 1000, SealInterval: time.Minute, Clock: clock.Now})
			var put func(n int) error
			if via == "append" {
				put = func(n int) error {
					r := emitRecord(0, n, "s")
					_, err := l.Append(&r)
					return err
				}
			} else {
				var o outcomes
				e := newEmitter(t, l, o.opts(1))
				put = func(n int) error {
					before := len(o.drops)
					emitSettled(t, e, n)
					o.mu.Lock()
					defer o.mu.Unlock()
					if len(o.drops) > before {
						return errors.New(o.drops[len(o.drops)-1])
					}
					return nil
				}
			}
			if err := put(1); err != nil {
				t.Fatal(err)
			}
			clock.now = clock.now.Add(2 * time.Minute)
			if err := put(2); err == nil {
				t.Fatal("the record whose signature failed was appended")
			}
			if err := put(3); err != nil {
				t.Fatal(err)
			}
			h, _ := l.Head("svc-gateway@inst-1", "s")
			if h.Seq != 2 || h.SealedSeq != 2 {
				t.Errorf("head %d sealed at %d: the record after the failed signature, 2 minutes after the chain's first, is not signed (SealInterval 1m)", h.Seq, h.SealedSeq)
			}
		})
	}
}
