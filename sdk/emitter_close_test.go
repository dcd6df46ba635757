package sdk_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rustyonions/ron-audit-go/sdk"
)

// Shutdown, slow stores and misbehaving callbacks: the emitter's promises
// (TryEmit never blocks, Close keeps its deadline, every record is
// counted once, no slot is lost) where they are hardest to keep.

// slowPutStore is a MemStore whose Put waits for gate (a slow disk, a
// WAL segment rotation's fsync) once entered is closed.
type slowPutStore struct {
	*sdk.MemStore
	gate        chan struct{}
	entered     chan struct{}
	once        sync.Once
	releaseOnce sync.Once
}

// release lets Put go on (once; later calls do nothing).
func (s *slowPutStore) release() { s.releaseOnce.Do(func() { close(s.gate) }) }

// stuckInPut starts an emitter on a slowPutStore and emits one record of
// chain s, whose worker then hangs in Put, holding the chain's lock. The
// test lets it go with store.release(); cleanup does too, then closes the
// emitter.
func stuckInPut(t *testing.T, opts sdk.EmitterOptions) (*sdk.Emitter, *slowPutStore) {
	t.Helper()
	store := newSlowPutStore()
	l := coreLog(t, sdk.Config{Store: store})
	e, err := sdk.NewEmitter(l, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.release(); e.Close(context.Background()) })
	first := emitRecord(0, 0, "s")
	if err := e.TryEmit(&first); err != nil {
		t.Fatal(err)
	}
	<-store.entered
	return e, store
}

func newSlowPutStore() *slowPutStore {
	return &slowPutStore{MemStore: sdk.NewMemStore(0), gate: make(chan struct{}), entered: make(chan struct{})}
}

func (s *slowPutStore) Put(w, st string, seq uint64, rec sdk.Sealed) (sdk.Sealed, sdk.Ticket, error) {
	s.once.Do(func() { close(s.entered) })
	<-s.gate
	return s.MemStore.Put(w, st, seq, rec)
}

// TestTryEmitDoesNotWaitForSlowStore: a worker commits under its chain's
// lock; while its Put hangs, TryEmit on that chain sheds (ErrBusy) instead
// of sleeping on the lock until Put returns.
func TestTryEmitDoesNotWaitForSlowStore(t *testing.T) {
	e, _ := stuckInPut(t, sdk.EmitterOptions{Workers: 2, Depth: 64})
	done := make(chan error, 1)
	go func() {
		rec := emitRecord(0, 1, "s")
		done <- e.TryEmit(&rec)
	}()
	select {
	case err := <-done:
		if !errors.Is(err, sdk.ErrBusy) {
			t.Fatalf("TryEmit: %v, want ErrBusy", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("TryEmit blocked while another record's Store.Put hung")
	}
	if st := e.Stats(); st.Busy != 1 || st.Dropped[sdk.DropBackpressure] != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// TestCloseKeepsDeadlineWhileEmitWaits: Emit may wait for its chain's
// lock behind a slow store; Close still returns when its ctx ends, and the
// emitter finishes once the store does.
func TestCloseKeepsDeadlineWhileEmitWaits(t *testing.T) {
	e, store := stuckInPut(t, sdk.EmitterOptions{Workers: 1, Depth: 8})
	emitted := make(chan error, 1)
	go func() {
		rec := emitRecord(0, 1, "s")
		emitted <- e.Emit(context.Background(), &rec) // waits for the chain's lock
	}()
	time.Sleep(20 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	closed := make(chan error, 1)
	go func() { closed <- e.Close(ctx) }()
	select {
	case err := <-closed:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Close: %v, want its ctx's error", err)
		}
	case <-time.After(5 * time.Second):
		store.release()
		t.Fatal("Close did not keep its 50 ms deadline while an Emit waited")
	}
	store.release()
	<-emitted
	select {
	case <-e.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the emitter did not finish once the store returned")
	}
	finishedStats(t, e)
}

// TestCloseAgainAfterClose: once Close has finished, every later Close
// returns nil, whatever its ctx (a select between done and an ended ctx
// used to pick either, and said records were dropped).
func TestCloseAgainAfterClose(t *testing.T) {
	l := coreLog(t, sdk.Config{})
	e := newEmitter(t, l, sdk.EmitterOptions{})
	rec := emitRecord(0, 1, "s")
	if err := e.TryEmit(&rec); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for i := range 100 {
		if err := e.Close(ctx); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
}

// TestOnDropNotForTryEmitErrors: a record the emitter refuses at once (the
// log is closed) is the caller's error, not also an OnDrop.
func TestOnDropNotForTryEmitErrors(t *testing.T) {
	l := coreLog(t, sdk.Config{})
	var onDrop atomic.Int64
	e := newEmitter(t, l, sdk.EmitterOptions{OnDrop: func(_, _, _ string, _ error) { onDrop.Add(1) }})
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	rec := emitRecord(0, 1, "s")
	if err := e.TryEmit(&rec); !errors.Is(err, sdk.ErrClosed) {
		t.Fatalf("TryEmit on a closed log: %v, want ErrClosed", err)
	}
	e.Close(context.Background())
	if n := onDrop.Load(); n != 0 {
		t.Errorf("OnDrop called %d times for a record TryEmit refused", n)
	}
	if st := e.Stats(); st.Dropped[sdk.DropSinkError] != 1 {
		t.Errorf("stats %+v: the refusal is still counted", st)
	}
}

// TestShutdownDropIsEmitterClosed: the error OnDrop gets for a record
// Close's deadline cut matches ErrEmitterClosed.
func TestShutdownDropIsEmitterClosed(t *testing.T) {
	g := newGateSigner(t)
	l := coreLog(t, sdk.Config{Signer: g})
	var mu sync.Mutex
	var errs []error
	e := newEmitter(t, l, sdk.EmitterOptions{Depth: 8, Workers: 1, OnDrop: func(_, _, reason string, err error) {
		if reason == sdk.DropShutdown {
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		}
	}})
	for n := range 8 {
		rec := emitRecord(0, n, "s")
		if err := e.TryEmit(&rec); err != nil {
			t.Fatal(err)
		}
	}
	for g.calls.Load() < 1 {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	e.Close(ctx)
	close(g.gate)
	<-e.Done()
	mu.Lock()
	defer mu.Unlock()
	if len(errs) == 0 {
		t.Fatal("no shutdown drops")
	}
	for _, err := range errs {
		if !errors.Is(err, sdk.ErrEmitterClosed) {
			t.Fatalf("OnDrop(shutdown) error %v does not match ErrEmitterClosed", err)
		}
	}
}

// TestLinkRefusedAfterDeadlineIsShutdown: Close's deadline passes while a
// TryEmit that got in before Close is encoding its record; by the time it
// links, the records before it in its chain were dropped for the
// deadline. It is refused as they were (ErrEmitterClosed) and counted as
// they were, a shutdown drop: not as a sink error, which would tell the
// operator a signer or store failed (audit_drop_total{reason="sink_error"},
// Ready's SinkErrors) on an orderly shutdown. The stress test of the
// Emitter on a Keeper-sealed log found it counted as a sink error.
func TestLinkRefusedAfterDeadlineIsShutdown(t *testing.T) {
	g := newGateSigner(t)
	clockIn, clockOut := make(chan struct{}), make(chan struct{})
	clock := func() time.Time { // only the late record leaves tsMs to fill
		close(clockIn)
		<-clockOut
		return time.UnixMilli(1764201600000)
	}
	l := coreLog(t, sdk.Config{Signer: g, Clock: clock})
	dropIn, dropOut := make(chan struct{}), make(chan struct{})
	var drops atomic.Int64
	e := newEmitter(t, l, sdk.EmitterOptions{Depth: 8, Workers: 1, OnDrop: func(_, _, reason string, _ error) {
		if drops.Add(1) == 1 {
			close(dropIn) // the first record dropped for the deadline: the one after it is still in flight
			<-dropOut
		}
	}})
	for n := range 3 { // the worker signs the first; the two after it wait
		rec := emitRecord(0, n, "s")
		if err := e.TryEmit(&rec); err != nil {
			t.Fatal(err)
		}
	}
	for g.calls.Load() < 1 {
		time.Sleep(time.Millisecond)
	}
	late := make(chan error)
	go func() {
		rec := emitRecord(0, 3, "s")
		rec.TsMs = 0
		late <- e.TryEmit(&rec)
	}()
	<-clockIn // past Close's check, encoding
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := e.Close(ctx); err == nil {
		t.Fatal("Close with an ended ctx and records in flight returned nil")
	}
	close(g.gate) // the first is appended, the second and third dropped: the chain is broken
	<-dropIn      // the second's OnDrop; the third is still in flight
	close(clockOut)
	err := <-late
	close(dropOut)
	<-e.Done()
	if !errors.Is(err, sdk.ErrEmitterClosed) {
		t.Errorf("TryEmit linked after the deadline: %v, want ErrEmitterClosed", err)
	}
	st := finishedStats(t, e)
	if st.Appended != 1 || st.Dropped[sdk.DropShutdown] != 3 || st.Dropped[sdk.DropSinkError] != 0 {
		t.Errorf("appended %d, drops %v: want 1 appended and 3 shutdown drops, no sink error", st.Appended, st.Dropped)
	}
	var d *sdk.DegradedError
	if errors.As(e.Ready(), &d) && d.SinkErrors != 0 {
		t.Errorf("Ready: %d sink errors (last %v) after an orderly shutdown", d.SinkErrors, d.LastSinkError)
	}
}
