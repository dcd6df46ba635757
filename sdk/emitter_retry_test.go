package sdk_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/sdk"
)

// scriptSigner: Sign call n (1-based) waits for gates[n] if present and
// fails if failAt == n.
type scriptSigner struct {
	sdk.Signer
	calls   atomic.Int64
	gateAt  int64
	gate    chan struct{}
	entered chan struct{}
	failAt  int64
}

func (s *scriptSigner) Sign(msg []byte, sig *sdk.Signature) error {
	n := s.calls.Add(1)
	if n == s.gateAt {
		close(s.entered)
		<-s.gate
	}
	if n == s.failAt {
		return errors.New("HSM unavailable")
	}
	return s.Signer.Sign(msg, sig)
}

type outcomes struct {
	mu    sync.Mutex
	acks  []sdk.EmitAck
	drops []string
}

func (o *outcomes) opts(workers int) sdk.EmitterOptions {
	return sdk.EmitterOptions{Workers: workers, Depth: 8,
		OnDurable: func(a sdk.EmitAck) { o.mu.Lock(); o.acks = append(o.acks, a); o.mu.Unlock() },
		OnDrop: func(_, _, reason string, err error) {
			o.mu.Lock()
			o.drops = append(o.drops, reason+": "+err.Error())
			o.mu.Unlock()
		}}
}

// TestRetryOfCommittedRecordOutlivesLaterFailure: a retry of a record
// already committed and acknowledged, queued behind an unrelated record of
// its chain whose signature then fails, is still acknowledged as a
// duplicate: its original is in the store. (It was dropped as sink_error:
// only "if the original is lost, so is the retry".)
func TestRetryOfCommittedRecordOutlivesLaterFailure(t *testing.T) {
	s := &scriptSigner{Signer: coreSigner(t), gateAt: 2, failAt: 2, gate: make(chan struct{}), entered: make(chan struct{})}
	l := coreLog(t, sdk.Config{Signer: s})
	var o outcomes
	e := newEmitter(t, l, o.opts(1))
	emitSettled(t, e, 1) // the original: committed and acknowledged
	if st := e.Stats(); st.Appended != 1 {
		t.Fatalf("original not appended: %+v", st)
	}
	other := emitRecord(0, 2, "s")
	if err := e.TryEmit(&other); err != nil {
		t.Fatal(err)
	}
	<-s.entered // the other record is being signed (and will fail)
	retry := emitRecord(0, 1, "s")
	if err := e.TryEmit(&retry); err != nil {
		t.Fatal(err)
	}
	close(s.gate)
	st := closeEmitterLost(t, e, 1) // the other record
	if _, ok := l.Store().Get("svc-gateway@inst-1", "s", 1); !ok {
		t.Fatal("original not in the store")
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if st.Dedupe != 1 || len(o.drops) != 1 {
		t.Errorf("retry of a durable record (seq 1, acknowledged): stats %+v; acks %+v; drops %q; want the retry acknowledged as a duplicate and only the failed record dropped", st, o.acks, o.drops)
	}
}

// TestRetryOfCommittedRecordOutlivesCloseDeadline: Close's deadline
// passes while a record is being signed; a retry of an earlier, committed
// record queued behind it is acknowledged, not dropped as "shutdown":
// Close drops only records not yet committed, and a retry commits nothing.
func TestRetryOfCommittedRecordOutlivesCloseDeadline(t *testing.T) {
	s := &scriptSigner{Signer: coreSigner(t), gateAt: 2, gate: make(chan struct{}), entered: make(chan struct{})}
	l := coreLog(t, sdk.Config{Signer: s})
	var o outcomes
	e, err := sdk.NewEmitter(l, o.opts(1))
	if err != nil {
		t.Fatal(err)
	}
	emitSettled(t, e, 1) // the original: committed and acknowledged
	other := emitRecord(0, 2, "s")
	if err := e.TryEmit(&other); err != nil {
		t.Fatal(err)
	}
	<-s.entered
	retry := emitRecord(0, 1, "s")
	if err := e.TryEmit(&retry); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if err := e.Close(ctx); err == nil {
		t.Fatal("Close returned nil with a signature stuck")
	}
	close(s.gate)
	<-e.Done()
	st := e.Stats()
	o.mu.Lock()
	defer o.mu.Unlock()
	t.Logf("stats %+v; acks %+v; drops %q", st, o.acks, o.drops)
	if st.Dropped[sdk.DropShutdown] != 0 {
		t.Errorf("a retry of seq 1, committed and acknowledged, dropped as shutdown (%d); appended %d", st.Dropped[sdk.DropShutdown], st.Appended)
	}
}

// flakyPutStore fails Put while fail is set (not a MemStore: the emitter
// acknowledges through its durability goroutine).
type flakyPutStore struct {
	*sdk.MemStore
	fail atomic.Bool
}

func (s *flakyPutStore) Put(w, st string, seq uint64, r sdk.Sealed) (sdk.Sealed, sdk.Ticket, error) {
	if s.fail.Load() {
		return sdk.Sealed{}, 0, errors.New("disk full")
	}
	return s.MemStore.Put(w, st, seq, r)
}

// TestEmitterFailedFirstRecordStartsNoSealInterval is
// TestFailedAppendStartsNoSealInterval through the Emitter: a first record
// that was linked but failed does not start the seal interval (the commit
// does), so the chain's real first record, an interval later, is not
// signed, as with Append.
func TestEmitterFailedFirstRecordStartsNoSealInterval(t *testing.T) {
	signed := func(failFirst bool) bool {
		clock := &coreClock{now: time.UnixMilli(1764201600000)}
		store := &flakyPutStore{MemStore: sdk.NewMemStore(0)}
		store.fail.Store(failFirst)
		l := coreLog(t, sdk.Config{SealEvery: 1000, SealInterval: time.Minute, Clock: clock.Now, Store: store})
		e, err := sdk.NewEmitter(l, sdk.EmitterOptions{Workers: 1})
		if err != nil {
			t.Fatal(err)
		}
		wait := func() {
			for e.Stats().InFlight > 0 {
				time.Sleep(time.Millisecond)
			}
		}
		if failFirst {
			r := emitRecord(0, 0, "s")
			if err := e.TryEmit(&r); err != nil {
				t.Fatal(err)
			}
			wait()
			if st := e.Stats(); st.Dropped[sdk.DropSinkError] != 1 {
				t.Fatalf("first record not lost: %+v", st)
			}
			store.fail.Store(false)
		}
		clock.now = clock.now.Add(time.Minute)
		r := emitRecord(0, 1, "s")
		if err := e.TryEmit(&r); err != nil {
			t.Fatal(err)
		}
		if failFirst {
			closeEmitterLost(t, e, 1) // the first record
		} else {
			closeEmitter(t, e)
		}
		rec, ok := l.Store().Get("svc-gateway@inst-1", "s", 1)
		if !ok {
			t.Fatal("no record 1")
		}
		return rec.Signed
	}
	if clean, afterFail := signed(false), signed(true); clean || afterFail {
		t.Errorf("first record signed: %v on a clean log, %v after a failed first record; want neither (as Append)", clean, afterFail)
	}
}

// failFromStore is a MemStore (wrapped: the emitter acknowledges through
// its durability goroutine) whose Wait fails for the failFrom-th record
// put and every later one, as a WAL's WaitDurable does once an fsync has
// failed: the records an earlier fsync covered stay durable.
type failFromStore struct {
	*sdk.MemStore
	puts     atomic.Uint64
	failFrom uint64
}

func (s *failFromStore) Put(w, st string, seq uint64, r sdk.Sealed) (sdk.Sealed, sdk.Ticket, error) {
	kept, _, err := s.MemStore.Put(w, st, seq, r)
	return kept, sdk.Ticket(s.puts.Add(1)), err
}

func (s *failFromStore) Wait(t sdk.Ticket) error {
	if uint64(t) >= s.failFrom {
		return errors.New("fsync: input/output error")
	}
	return nil
}

// dropMetrics counts the drops and dedupe hits an emitter reports.
type dropMetrics struct {
	mu      sync.Mutex
	dropped map[string]int
	dedupe  int
}

func (m *dropMetrics) Appended(canonical.Kind, string, int) {}
func (m *dropMetrics) Busy(string)                          {}
func (m *dropMetrics) Queued(int)                           {}
func (m *dropMetrics) VerifyFailed(error)                   {}
func (m *dropMetrics) DedupeHit()                           { m.mu.Lock(); m.dedupe++; m.mu.Unlock() }
func (m *dropMetrics) Dropped(reason string) {
	m.mu.Lock()
	if m.dropped == nil {
		m.dropped = map[string]int{}
	}
	m.dropped[reason]++
	m.mu.Unlock()
}

// TestRetryOfDurableRecordAfterLogFailure: once the log has failed (a
// record's fsync failed), a retry of a record that is durable is still an
// idempotent no-op: acknowledged as a duplicate of its original, counted
// in Dedupe and audit_dedupe_hits_total, not dropped as sink_error (it
// was, twice). Both ways a retry meets the failure are covered: linked
// before it, behind the record whose fsync fails, and emitted after it. A
// retry of the record that was lost is still refused.
func TestRetryOfDurableRecordAfterLogFailure(t *testing.T) {
	s := &scriptSigner{Signer: coreSigner(t), gateAt: 2, gate: make(chan struct{}), entered: make(chan struct{})}
	store := &failFromStore{MemStore: sdk.NewMemStore(0), failFrom: 2}
	l := coreLog(t, sdk.Config{Signer: s, Store: store})
	var o outcomes
	var m dropMetrics
	opts := o.opts(1)
	opts.Shed, opts.Metrics = sdk.ShedBlock, &m
	e := newEmitter(t, l, opts)
	emitSettled(t, e, 1) // the original: durable and acknowledged
	lost := emitRecord(0, 2, "s")
	if err := e.TryEmit(&lost); err != nil {
		t.Fatal(err)
	}
	<-s.entered // record 2 is being signed; its fsync will fail
	retry := emitRecord(0, 1, "s")
	if err := e.TryEmit(&retry); err != nil { // linked before the failure
		t.Fatal(err)
	}
	close(s.gate)
	for e.Stats().InFlight > 0 {
		time.Sleep(time.Millisecond)
	}
	var d *sdk.DegradedError
	if err := e.Ready(); !errors.As(err, &d) || !errors.Is(d.LogFailed, sdk.ErrStore) {
		t.Fatalf("Ready after the failed fsync: %v, want the log failed with ErrStore", err)
	}
	if err := e.TryEmit(&retry); err != nil { // emitted after the failure
		t.Errorf("retry of durable seq 1 after the log failed: %v, want accepted", err)
	}
	if err := e.TryEmit(&lost); !errors.Is(err, sdk.ErrStore) {
		t.Errorf("retry of lost record 2 after the log failed: %v, want refused with ErrStore", err)
	}
	st := closeEmitterLost(t, e, 1) // record 2; checks Offered == Appended + Dedupe + dropped
	o.mu.Lock()
	defer o.mu.Unlock()
	m.mu.Lock()
	defer m.mu.Unlock()
	dups := 0
	for _, a := range o.acks {
		if a.Duplicate {
			dups++
			if a.Seq != 1 || a.Hash != o.acks[0].Hash {
				t.Errorf("duplicate acknowledged as seq %d %s, want the original's seq 1 %s", a.Seq, a.Hash, o.acks[0].Hash)
			}
		}
	}
	if st.Appended != 1 || st.Dedupe != 2 || st.Dropped[sdk.DropSinkError] != 2 || dups != 2 || len(o.drops) != 1 ||
		m.dedupe != 2 || m.dropped[sdk.DropSinkError] != 2 {
		t.Errorf("stats %+v; acks %+v; drops %q; metrics: %d dedupe hits, drops %v;\n"+
			"want record 1 appended, both retries of it acknowledged as duplicates (Dedupe 2), "+
			"record 2 and its retry dropped as sink_error (OnDrop for record 2 only)", st, o.acks, o.drops, m.dedupe, m.dropped)
	}
}
