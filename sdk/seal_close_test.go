package sdk_test

import (
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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

// failSealStore is a MemStore whose Seal fails while fail is set, with
// an error that does not say which record.
type failSealStore struct {
	*sdk.MemStore
	fail bool
}

func (s *failSealStore) Seal(w, st string, seq uint64, id sdk.KeyID, sig sdk.Signature) error {
	if s.fail {
		return errors.New("disk full")
	}
	return s.MemStore.Seal(w, st, seq, id, sig)
}

// TestSealStoreFailure: a seal the store fails to keep leaves the head
// unsealed, fails with ErrStore naming the chain and seq it was for, and a
// later Seal of the same head succeeds.
func TestSealStoreFailure(t *testing.T) {
	store := &failSealStore{MemStore: sdk.NewMemStore(0), fail: true}
	l := coreLog(t, sdk.Config{SealEvery: 100, Store: store})
	coreAppend(t, l, 3)
	h, err := l.Seal("svc-gateway@inst-1", "reads")
	if !errors.Is(err, sdk.ErrStore) || !strings.Contains(err.Error(), "svc-gateway@inst-1/reads seq 3") {
		t.Errorf("Seal with a failing store: %v, want ErrStore naming svc-gateway@inst-1/reads seq 3", err)
	}
	if h.SealedSeq != 0 {
		t.Errorf("head sealed at %d after a failed seal", h.SealedSeq)
	}
	if err := l.SealAll(); !errors.Is(err, sdk.ErrStore) {
		t.Errorf("SealAll with a failing store: %v", err)
	}
	store.fail = false
	if h, err = l.Seal("svc-gateway@inst-1", "reads"); err != nil || h.SealedSeq != 3 {
		t.Fatalf("Seal once the store works: %+v %v", h, err)
	}
	if _, err := sdk.VerifyChain(store.Iter("svc-gateway@inst-1", "reads"), l.Keys(), sdk.VerifyOptions{}); err != nil {
		t.Error(err)
	}
}

// TestSealRacesAppend: Seal and SealAll beside appends to the same and
// other chains, then Close: every chain verifies with no unsealed tail
// (run with -race). A Seal or SealAll once Close has begun fails with
// ErrClosed, as appends do. Close comes once chain s0 has 2,000 records,
// not after a fixed time: a fast machine would append past the MemStore's
// bound in that time, and what it evicted would not verify from seq 1.
func TestSealRacesAppend(t *testing.T) {
	l := coreLog(t, sdk.Config{SealEvery: 16})
	var wg sync.WaitGroup
	stop := make(chan struct{})
	busy := make(chan struct{}) // closed when s0 has 2,000 records and every chain one
	var started atomic.Int32    // chains with a record: on a loaded machine s2 can start late
	for c := range 3 {
		wg.Go(func() {
			signalled := false
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if c == 0 && !signalled && i >= 2000 && started.Load() == 3 {
					close(busy)
					signalled = true
				}
				r := emitRecord(c, i, "s"+strconv.Itoa(c))
				if _, err := l.Append(&r); err != nil {
					if !errors.Is(err, sdk.ErrClosed) {
						t.Error(err)
					}
					return
				}
				if i == 0 {
					started.Add(1)
				}
			}
		})
	}
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			var err error
			if i%2 == 0 {
				_, err = l.Seal("svc-gateway@inst-1", "s0")
			} else {
				err = l.SealAll()
			}
			if err != nil {
				if !errors.Is(err, sdk.ErrClosed) { // once Close has begun
					t.Error(err)
				}
				return
			}
		}
	})
	select {
	case <-busy:
	case <-time.After(time.Minute):
		t.Fatal("2,000 appends took a minute")
	}
	if err := l.Close(); err != nil { // appends and seals may still run: they fail with ErrClosed
		t.Fatal(err)
	}
	close(stop)
	wg.Wait()
	for c := range 3 {
		res, err := sdk.VerifyChain(l.Store().Iter("svc-gateway@inst-1", "s"+strconv.Itoa(c)), l.Keys(), sdk.VerifyOptions{})
		if err != nil || res.Records == 0 {
			t.Errorf("chain s%d: %d records, %v", c, res.Records, err)
		}
	}
}
