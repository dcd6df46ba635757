package sdk_test

import (
	"errors"
	"sync"
	"testing"

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
