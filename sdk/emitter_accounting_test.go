package sdk_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/sdk"
)

// The emitter's books: every record offered (TryEmit, Emit) ends as
// exactly one of appended (OnDurable), a duplicate (OnDurable, Duplicate),
// a drop its caller was told of (the call's error), or a drop OnDrop was
// told of (the call returned nil). The Stats, the metrics and Close's
// ErrRecordsLost count each once, with the same reason. The tests here
// keep a ledger of what callers and callbacks saw and check all of them
// against it, for every way a record can end.

// ledger is what the callers and the callbacks of one emitter saw.
type ledger struct {
	mu         sync.Mutex
	offered    int
	accepted   int
	refused    map[string]int // by the drop reason the caller's error stands for
	acks, dups int            // OnDurable: appended, duplicates
	drops      map[string]int // OnDrop, by reason
	retryDrops int            // OnDrop of a retry lost with its original
	m          countMetrics
}

func newLedger() *ledger {
	return &ledger{refused: map[string]int{}, drops: map[string]int{}, m: countMetrics{dropped: map[string]int{}}}
}

// opts adds the ledger's hooks and metrics to o.
func (g *ledger) opts(o sdk.EmitterOptions) sdk.EmitterOptions {
	o.Metrics = &g.m
	o.OnDurable = func(a sdk.EmitAck) {
		g.mu.Lock()
		if a.Duplicate {
			g.dups++
		} else {
			g.acks++
		}
		g.mu.Unlock()
	}
	o.OnDrop = func(_, _, reason string, err error) {
		g.mu.Lock()
		g.drops[reason]++
		if strings.Contains(err.Error(), "a retry of ") {
			g.retryDrops++
		}
		g.mu.Unlock()
	}
	return o
}

// refusalReason is the drop reason a caller's error stands for, by the
// errors TryEmit documents.
func refusalReason(err error) string {
	var se *canonical.SizeError
	var fe *canonical.FieldError
	switch {
	case errors.Is(err, sdk.ErrBusy):
		return sdk.DropBackpressure
	case errors.As(err, &se):
		return sdk.DropBounds
	case errors.As(err, &fe):
		return sdk.DropInvalid
	case err == sdk.ErrEmitterClosed:
		return sdk.DropClosed
	case errors.Is(err, sdk.ErrEmitterClosed): // Close's deadline broke the chain
		return sdk.DropShutdown
	}
	return sdk.DropSinkError
}

// note records a TryEmit or Emit result.
func (g *ledger) note(err error) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.offered++
	if err == nil {
		g.accepted++
	} else {
		g.refused[refusalReason(err)]++
	}
	return err
}

func (g *ledger) try(e *sdk.Emitter, rec canonical.AuditRecord) error { return g.note(e.TryEmit(&rec)) }

func (g *ledger) emit(ctx context.Context, e *sdk.Emitter, rec canonical.AuditRecord) error {
	return g.note(e.Emit(ctx, &rec))
}

// countMetrics is an EmitterMetrics that counts.
type countMetrics struct {
	mu                                   sync.Mutex
	appended, busy, dedupe, queued, fail int
	dropped                              map[string]int
}

func (m *countMetrics) Appended(canonical.Kind, string, int) {
	m.mu.Lock()
	m.appended++
	m.mu.Unlock()
}
func (m *countMetrics) Busy(string)        { m.mu.Lock(); m.busy++; m.mu.Unlock() }
func (m *countMetrics) DedupeHit()         { m.mu.Lock(); m.dedupe++; m.mu.Unlock() }
func (m *countMetrics) Queued(d int)       { m.mu.Lock(); m.queued += d; m.mu.Unlock() }
func (m *countMetrics) VerifyFailed(error) { m.mu.Lock(); m.fail++; m.mu.Unlock() }
func (m *countMetrics) Dropped(r string)   { m.mu.Lock(); m.dropped[r]++; m.mu.Unlock() }

// books is what a scenario expects at the end; the ledger, the stats, the
// metrics and Close's error must all say it.
type books struct {
	appended, dedupe int
	refused          map[string]int // told to the caller
	lost             map[string]int // OnDrop, retries included
	retries          int            // of lost: retries lost with their original
}

// checkBooks checks e, finished, against g and want; closeErr is the
// result of a Close that found it finished.
func checkBooks(t *testing.T, e *sdk.Emitter, g *ledger, closeErr error, want books) {
	t.Helper()
	select {
	case <-e.Done():
	default:
		t.Fatal("checkBooks: the emitter has not finished")
	}
	st := e.Stats()
	g.mu.Lock()
	defer g.mu.Unlock()
	g.m.mu.Lock()
	defer g.m.mu.Unlock()
	show := func() string {
		return fmt.Sprintf("\n stats %+v\n ledger: offered %d accepted %d refused %v acks %d dups %d OnDrop %v (retries %d)\n metrics: appended %d busy %d dedupe %d queued %d dropped %v\n Close: %v",
			st, g.offered, g.accepted, g.refused, g.acks, g.dups, g.drops, g.retryDrops, g.m.appended, g.m.busy, g.m.dedupe, g.m.queued, g.m.dropped, closeErr)
	}
	sum := func(m map[string]int) (n int) {
		for _, v := range m {
			n += v
		}
		return n
	}
	// What the scenario expects.
	if g.acks != want.appended || g.dups != want.dedupe || g.retryDrops != want.retries {
		t.Errorf("acks %d dups %d retries lost %d; want %d, %d, %d%s", g.acks, g.dups, g.retryDrops, want.appended, want.dedupe, want.retries, show())
	}
	for _, r := range []string{sdk.DropBackpressure, sdk.DropBounds, sdk.DropInvalid, sdk.DropSinkError, sdk.DropShutdown, sdk.DropClosed} {
		if g.refused[r] != want.refused[r] || g.drops[r] != want.lost[r] {
			t.Errorf("reason %s: %d refused, %d OnDrop; want %d, %d%s", r, g.refused[r], g.drops[r], want.refused[r], want.lost[r], show())
		}
	}
	// The ledger balances: every call ended one way, once.
	if g.accepted+sum(g.refused) != g.offered || g.acks+g.dups+sum(g.drops) != g.accepted {
		t.Errorf("ledger does not balance: accepted + refused != offered, or acks + dups + OnDrop != accepted%s", show())
	}
	// The stats say what the callers and callbacks saw.
	var dropped uint64
	for r, n := range st.Dropped {
		dropped += n
		if n != uint64(g.refused[r]+g.drops[r]) {
			t.Errorf("Stats.Dropped[%s] %d != %d refused + %d OnDrop%s", r, n, g.refused[r], g.drops[r], show())
		}
	}
	if st.Offered != uint64(g.offered) || st.Appended != uint64(g.acks) || st.Dedupe != uint64(g.dups) ||
		st.Offered != st.Appended+st.Dedupe+dropped || st.Busy != st.Dropped[sdk.DropBackpressure] ||
		st.InFlight != 0 || st.QueueDepth != 0 {
		t.Errorf("stats disagree with the ledger%s", show())
	}
	// The metrics say what the stats say.
	for r, n := range st.Dropped {
		if g.m.dropped[r] != int(n) {
			t.Errorf("audit_drop_total{reason=%q} %d, Stats %d%s", r, g.m.dropped[r], n, show())
		}
	}
	if g.m.appended != int(st.Appended) || g.m.dedupe != int(st.Dedupe) || g.m.busy != int(st.Busy) || g.m.queued != 0 {
		t.Errorf("metrics disagree with the stats%s", show())
	}
	// Close names the records accepted and lost, and apart the retries
	// lost with them: together, what OnDrop saw.
	lost := sum(g.drops) - g.retryDrops
	switch {
	case lost+g.retryDrops == 0:
		if closeErr != nil {
			t.Errorf("Close: want nil, nothing accepted was lost%s", show())
		}
	case !errors.Is(closeErr, sdk.ErrRecordsLost) || !strings.Contains(closeErr.Error(), fmt.Sprintf(": %d accepted record", lost)):
		t.Errorf("Close: want ErrRecordsLost naming %d accepted records%s", lost, show())
	case g.retryDrops == 0 && strings.Contains(closeErr.Error(), "retr"),
		g.retryDrops > 0 && !strings.Contains(closeErr.Error(), fmt.Sprintf(", and %d retr", g.retryDrops)):
		t.Errorf("Close: want it to name the %d retries lost with their original%s", g.retryDrops, show())
	}
	// Ready counts the records dropped for a sink error.
	var d *sdk.DegradedError
	if errors.As(e.Ready(), &d) && d.SinkErrors != st.Dropped[sdk.DropSinkError] {
		t.Errorf("Ready: %d sink errors, Stats.Dropped[sink_error] %d%s", d.SinkErrors, st.Dropped[sdk.DropSinkError], show())
	}
}

// cmdSigner signs with Signer, but call n (1-based) waits for gate[n] if
// set (after closing entered[n]) and fails if fail[n]. The maps are set
// before the emitter starts.
type cmdSigner struct {
	sdk.Signer
	calls   atomic.Int64
	gate    map[int64]chan struct{}
	entered map[int64]chan struct{}
	fail    map[int64]bool
	release []func()
}

func newCmdSigner(t testing.TB) *cmdSigner {
	return &cmdSigner{Signer: coreSigner(t), gate: map[int64]chan struct{}{}, entered: map[int64]chan struct{}{}, fail: map[int64]bool{}}
}

// gateAt makes call n wait until release is called, and returns the
// channel that closes once it is waiting.
func (s *cmdSigner) gateAt(n int64) (release func(), entered chan struct{}) {
	s.gate[n], s.entered[n] = make(chan struct{}), make(chan struct{})
	var once sync.Once
	release = func() { once.Do(func() { close(s.gate[n]) }) }
	s.release = append(s.release, release)
	return release, s.entered[n]
}

// releaseAll lets every call gateAt holds go on: a test that failed half
// way must not leave its emitter's Close (cleanup) waiting for it.
func (s *cmdSigner) releaseAll() {
	for _, r := range s.release {
		r()
	}
}

func (s *cmdSigner) Sign(msg []byte, sig *sdk.Signature) error {
	n := s.calls.Add(1)
	if g, ok := s.gate[n]; ok {
		close(s.entered[n])
		<-g
	}
	if s.fail[n] {
		return fmt.Errorf("HSM unavailable (call %d)", n)
	}
	return s.Signer.Sign(msg, sig)
}

// cmdStore is a MemStore behind the emitter's durability goroutine whose
// Put fails while failPut is set and whose Wait fails from ticket
// waitFailFrom on (0: never), as a WAL's does once an fsync failed.
type cmdStore struct {
	*sdk.MemStore
	failPut      atomic.Bool
	puts         atomic.Uint64
	waitFailFrom uint64
	// waitGate, if set, holds every Wait until it is closed; waiting is
	// closed by the first.
	waitGate, waiting chan struct{}
	waitOnce, relOnce sync.Once
}

// releaseWait lets every Wait go on.
func (s *cmdStore) releaseWait() {
	if s.waitGate != nil {
		s.relOnce.Do(func() { close(s.waitGate) })
	}
}

func (s *cmdStore) Put(w, st string, seq uint64, r sdk.Sealed) (sdk.Sealed, sdk.Ticket, error) {
	if s.failPut.Load() {
		return sdk.Sealed{}, 0, errors.New("disk full")
	}
	kept, _, err := s.MemStore.Put(w, st, seq, r)
	return kept, sdk.Ticket(s.puts.Add(1)), err
}

func (s *cmdStore) Wait(t sdk.Ticket) error {
	if s.waitGate != nil {
		s.waitOnce.Do(func() { close(s.waiting) })
		<-s.waitGate
	}
	if s.waitFailFrom != 0 && uint64(t) >= s.waitFailFrom {
		return errors.New("fsync: input/output error")
	}
	return nil
}

// settle waits until e holds no record: the next step sees the last one
// appended or lost.
func settle(e *sdk.Emitter) {
	for e.Stats().InFlight > 0 {
		runtime.Gosched()
	}
}

// booksEmitter is newEmitter whose cleanup first runs unstick (releasing
// what the test holds), so that a test that failed half way does not hang
// in the emitter's Close.
func booksEmitter(t *testing.T, l *sdk.Log, opts sdk.EmitterOptions, unstick ...func()) *sdk.Emitter {
	t.Helper()
	e := newEmitter(t, l, opts)
	t.Cleanup(func() {
		for _, u := range unstick {
			u()
		}
	})
	return e
}

// TestEmitterBooks: each way a record can end, alone, with the counts
// every witness must agree on.
func TestEmitterBooks(t *testing.T) {
	bg := context.Background()
	rec := func(n int) canonical.AuditRecord { return emitRecord(0, n, "s") }
	cases := []struct {
		name string
		run  func(t *testing.T, g *ledger) (*sdk.Emitter, error)
		want books
	}{{
		name: "appended and duplicates",
		run: func(t *testing.T, g *ledger) (*sdk.Emitter, error) {
			s := newCmdSigner(t)
			release, entered := s.gateAt(2)
			e := booksEmitter(t, coreLog(t, sdk.Config{Signer: s}), g.opts(sdk.EmitterOptions{Workers: 1, Depth: 8, Shed: sdk.ShedBlock}), s.releaseAll)
			g.try(e, rec(1))
			settle(e)
			g.try(e, rec(1)) // a retry of a committed record
			g.try(e, rec(2))
			<-entered
			g.try(e, rec(2)) // a retry of one in flight, which is appended
			release()
			return e, e.Close(bg)
		},
		want: books{appended: 2, dedupe: 2},
	}, {
		name: "busy",
		run: func(t *testing.T, g *ledger) (*sdk.Emitter, error) {
			s := newCmdSigner(t)
			release, entered := s.gateAt(1)
			e := booksEmitter(t, coreLog(t, sdk.Config{Signer: s}), g.opts(sdk.EmitterOptions{Workers: 1, Depth: 2}), s.releaseAll)
			for n := range 5 {
				g.try(e, rec(n))
			}
			<-entered
			ctx, cancel := context.WithCancel(bg)
			cancel()
			g.emit(ctx, e, rec(9)) // Emit whose ctx ends while it waits for a slot
			release()
			return e, e.Close(bg)
		},
		want: books{appended: 2, refused: map[string]int{sdk.DropBackpressure: 4}},
	}, {
		name: "invalid and too big",
		run: func(t *testing.T, g *ledger) (*sdk.Emitter, error) {
			e := booksEmitter(t, coreLog(t, sdk.Config{}), g.opts(sdk.EmitterOptions{Workers: 1, Shed: sdk.ShedBlock}))
			r := rec(1)
			r.Seq = 3
			g.try(e, r)
			r = rec(2)
			r.WriterID = ""
			g.try(e, r)
			r = rec(3)
			r.Attrs = append(r.Attrs, canonical.Attr{Key: "x", Value: strings.Repeat("a", 2000)})
			g.try(e, r)
			g.try(e, rec(4))
			return e, e.Close(bg)
		},
		want: books{appended: 1, refused: map[string]int{sdk.DropInvalid: 2, sdk.DropBounds: 1}},
	}, {
		name: "closed",
		run: func(t *testing.T, g *ledger) (*sdk.Emitter, error) {
			e := booksEmitter(t, coreLog(t, sdk.Config{}), g.opts(sdk.EmitterOptions{Workers: 1, Shed: sdk.ShedBlock}))
			g.try(e, rec(1))
			if err := e.Close(bg); err != nil {
				t.Fatal(err)
			}
			g.try(e, rec(2))
			g.emit(bg, e, rec(3))
			g.try(e, rec(1)) // a retry too
			return e, e.Close(bg)
		},
		want: books{appended: 1, refused: map[string]int{sdk.DropClosed: 3}},
	}, {
		name: "Close wakes a blocked TryEmit",
		run: func(t *testing.T, g *ledger) (*sdk.Emitter, error) {
			s := newCmdSigner(t)
			release, entered := s.gateAt(1)
			e := booksEmitter(t, coreLog(t, sdk.Config{Signer: s}), g.opts(sdk.EmitterOptions{Workers: 1, Depth: 1, Shed: sdk.ShedBlock}), s.releaseAll)
			g.try(e, rec(1))
			<-entered
			blocked := make(chan error)
			go func() { blocked <- g.try(e, rec(2)) }() // no slot: waits
			closed := make(chan error)
			go func() { closed <- e.Close(bg) }()
			<-blocked // woken by Close, not by a slot: the only one is held until release
			release()
			return e, <-closed
		},
		want: books{appended: 1, refused: map[string]int{sdk.DropClosed: 1}},
	}, {
		name: "signer fails",
		run: func(t *testing.T, g *ledger) (*sdk.Emitter, error) {
			// Sign calls: 1 record 1, 2 record 2 (fails, held), 3 record
			// 3 (held), 4 record 5 after the chain is free again.
			s := newCmdSigner(t)
			r2, in2 := s.gateAt(2)
			r3, in3 := s.gateAt(3)
			s.fail[2] = true
			e := booksEmitter(t, coreLog(t, sdk.Config{Signer: s}), g.opts(sdk.EmitterOptions{Workers: 2, Depth: 8, Shed: sdk.ShedBlock}), s.releaseAll)
			g.try(e, rec(1))
			settle(e)
			g.try(e, rec(2))
			<-in2
			g.try(e, rec(3))
			<-in3
			g.try(e, rec(2)) // a retry of record 2, linked behind it
			r2()             // record 2 fails; record 3 and the retry are still in flight
			for e.Stats().Dropped[sdk.DropSinkError] == 0 {
				runtime.Gosched()
			}
			g.try(e, rec(4)) // refused: its prev would be a lost record
			r3()
			settle(e)
			g.try(e, rec(5)) // the chain goes on from record 1
			return e, e.Close(bg)
		},
		want: books{appended: 2, refused: map[string]int{sdk.DropSinkError: 1},
			lost: map[string]int{sdk.DropSinkError: 3}, retries: 1},
	}, {
		name: "store Put fails",
		run: func(t *testing.T, g *ledger) (*sdk.Emitter, error) {
			store := &cmdStore{MemStore: sdk.NewMemStore(0)}
			e := booksEmitter(t, coreLog(t, sdk.Config{Store: store}), g.opts(sdk.EmitterOptions{Workers: 1, Depth: 8, Shed: sdk.ShedBlock}))
			g.try(e, rec(1))
			settle(e)
			store.failPut.Store(true)
			g.try(e, rec(2))
			settle(e)
			store.failPut.Store(false)
			g.try(e, rec(2)) // a retry after the loss: a new record
			return e, e.Close(bg)
		},
		want: books{appended: 2, lost: map[string]int{sdk.DropSinkError: 1}},
	}, {
		name: "store Wait fails",
		run: func(t *testing.T, g *ledger) (*sdk.Emitter, error) {
			s := newCmdSigner(t)
			release, entered := s.gateAt(2)
			store := &cmdStore{MemStore: sdk.NewMemStore(0), waitFailFrom: 2}
			e := booksEmitter(t, coreLog(t, sdk.Config{Signer: s, Store: store}), g.opts(sdk.EmitterOptions{Workers: 1, Depth: 8, Shed: sdk.ShedBlock}), s.releaseAll, store.releaseWait)
			g.try(e, rec(1))
			settle(e)
			g.try(e, rec(2)) // its fsync fails: the log stops
			<-entered
			g.try(e, rec(1)) // a retry of durable record 1: holds
			g.try(e, rec(2)) // a retry of record 2: lost with it
			release()
			settle(e)
			g.try(e, rec(1)) // after the failure: a duplicate still
			g.try(e, rec(2)) // refused
			g.try(e, rec(3)) // refused
			return e, e.Close(bg)
		},
		want: books{appended: 1, dedupe: 2, refused: map[string]int{sdk.DropSinkError: 2},
			lost: map[string]int{sdk.DropSinkError: 2}, retries: 1},
	}, {
		name: "log closed under the emitter",
		run: func(t *testing.T, g *ledger) (*sdk.Emitter, error) {
			s := newCmdSigner(t)
			release, entered := s.gateAt(1)
			l := coreLog(t, sdk.Config{Signer: s})
			e := booksEmitter(t, l, g.opts(sdk.EmitterOptions{Workers: 1, Depth: 8, Shed: sdk.ShedBlock}), s.releaseAll)
			g.try(e, rec(1))
			<-entered
			lclosed := make(chan error)
			go func() { lclosed <- l.Close() }()
			// Log.Close waits for nothing the emitter holds: record 1
			// commits into a closed log, or fails.
			if err := <-lclosed; err != nil {
				t.Fatal(err)
			}
			release()
			g.try(e, rec(2))
			return e, e.Close(bg)
		},
		want: books{refused: map[string]int{sdk.DropSinkError: 1}, lost: map[string]int{sdk.DropSinkError: 1}},
	}, {
		name: "Close deadline",
		run: func(t *testing.T, g *ledger) (*sdk.Emitter, error) {
			s := newCmdSigner(t)
			release, entered := s.gateAt(2)
			e := booksEmitter(t, coreLog(t, sdk.Config{Signer: s}), g.opts(sdk.EmitterOptions{Workers: 1, Depth: 8, Shed: sdk.ShedBlock}), s.releaseAll)
			g.try(e, rec(1))
			settle(e)
			for _, n := range []int{2, 3, 4, 3, 1} { // record 2 held in its signer; 3, 4 queued; retries of 3 and of committed 1
				g.try(e, rec(n))
			}
			g.try(e, emitRecord(0, 1, "t")) // another chain
			<-entered
			ctx, cancel := context.WithCancel(bg)
			cancel()
			if err := e.Close(ctx); !errors.Is(err, context.Canceled) {
				t.Fatalf("Close with an ended ctx: %v", err)
			}
			g.try(e, rec(5)) // closed
			release()
			<-e.Done()
			return e, e.Close(bg)
		},
		want: books{appended: 2, dedupe: 1, refused: map[string]int{sdk.DropClosed: 1},
			lost: map[string]int{sdk.DropShutdown: 4}, retries: 1},
	}, {
		name: "chain busy",
		run: func(t *testing.T, g *ledger) (*sdk.Emitter, error) {
			// Record 0's Put hangs, holding its chain's lock.
			e, store := stuckInPut(t, g.opts(sdk.EmitterOptions{Workers: 2, Depth: 8}))
			g.mu.Lock()
			g.offered, g.accepted = 1, 1 // stuckInPut's TryEmit
			g.mu.Unlock()
			g.try(e, emitRecord(0, 1, "s")) // sheds after 10 ms
			g.try(e, emitRecord(0, 0, "s")) // a retry of record 0: sheds too
			ctx, cancel := context.WithCancel(bg)
			cancel()
			g.emit(ctx, e, emitRecord(0, 2, "s")) // gives up on the lock with its ctx
			g.try(e, emitRecord(0, 0, "t"))       // another chain
			store.release()
			return e, e.Close(bg)
		},
		want: books{appended: 2, refused: map[string]int{sdk.DropBackpressure: 3}},
	}, {
		name: "Close drains what is in flight",
		run: func(t *testing.T, g *ledger) (*sdk.Emitter, error) {
			s := newCmdSigner(t)
			release, entered := s.gateAt(1)
			e := booksEmitter(t, coreLog(t, sdk.Config{Signer: s}), g.opts(sdk.EmitterOptions{Workers: 2, Depth: 8, Shed: sdk.ShedBlock}), s.releaseAll)
			for n := range 4 {
				g.try(e, rec(n))
			}
			g.try(e, rec(3))
			<-entered
			closed := make(chan error)
			go func() { closed <- e.Close(bg) }()
			release()
			return e, <-closed
		},
		want: books{appended: 4, dedupe: 1},
	}, {
		name: "Close deadline while records wait for their fsync",
		run: func(t *testing.T, g *ledger) (*sdk.Emitter, error) {
			store := &cmdStore{MemStore: sdk.NewMemStore(0), waitGate: make(chan struct{}), waiting: make(chan struct{})}
			s := newCmdSigner(t)
			release, entered := s.gateAt(3)
			e := booksEmitter(t, coreLog(t, sdk.Config{Signer: s, Store: store}), g.opts(sdk.EmitterOptions{Workers: 1, Depth: 8, Shed: sdk.ShedBlock}), s.releaseAll, store.releaseWait)
			g.try(e, rec(1))
			g.try(e, rec(2))
			<-store.waiting // record 1 committed, its Wait held
			g.try(e, rec(3))
			<-entered // record 2 committed too, record 3 being signed
			g.try(e, rec(4))
			ctx, cancel := context.WithCancel(bg)
			cancel()
			if err := e.Close(ctx); !errors.Is(err, context.Canceled) {
				t.Fatalf("Close with an ended ctx: %v", err)
			}
			release()
			store.releaseWait()
			<-e.Done()
			return e, e.Close(bg)
		},
		// 1 and 2 were committed: acknowledged; 3 was being signed:
		// appended; 4 was not signed: dropped.
		want: books{appended: 3, lost: map[string]int{sdk.DropShutdown: 1}},
	}, {
		name: "two Closes",
		run: func(t *testing.T, g *ledger) (*sdk.Emitter, error) {
			s := newCmdSigner(t)
			release, entered := s.gateAt(1)
			s.fail[1] = true
			e := booksEmitter(t, coreLog(t, sdk.Config{Signer: s}), g.opts(sdk.EmitterOptions{Workers: 1, Depth: 8, Shed: sdk.ShedBlock}), s.releaseAll)
			g.try(e, rec(1))
			g.try(e, rec(2))
			<-entered
			errs := make(chan error, 2)
			for range 2 {
				go func() { errs <- e.Close(bg) }()
			}
			release()
			a, b := <-errs, <-errs
			if a == nil || b == nil || a.Error() != b.Error() {
				t.Errorf("two Closes: %v and %v, want the same ErrRecordsLost", a, b)
			}
			return e, a
		},
		want: books{lost: map[string]int{sdk.DropSinkError: 2}},
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := newLedger()
			e, err := c.run(t, g)
			checkBooks(t, e, g, err, c.want)
		})
	}
}

// TestEmitterBooksRace: producers emit (TryEmit and Emit, new records and
// retries, some invalid) while signatures and Puts fail now and then and
// Close, with or without a deadline, races them; the books balance
// whatever the interleaving. The seed is logged.
func TestEmitterBooksRace(t *testing.T) {
	seed := uint64(rand.Int64())
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 2))
	for it := range 12 {
		workers, depth := 1+r.IntN(4), 1+r.IntN(8)
		signFail, putFail := r.IntN(2) == 0, r.IntN(2) == 0
		deadline := r.IntN(2) == 0
		closeAt := int64(1 + r.IntN(200))
		rs := r.Uint64()
		t.Run(fmt.Sprint(it), func(t *testing.T) {
			s := &randSigner{Signer: coreSigner(t), fail: signFail}
			store := &randStore{MemStore: sdk.NewMemStore(0), fail: putFail}
			g := newLedger()
			e := newEmitter(t, coreLog(t, sdk.Config{Signer: s, Store: store}), g.opts(sdk.EmitterOptions{Workers: workers, Depth: depth}))
			var wg sync.WaitGroup
			var offered atomic.Int64
			closeNow := make(chan struct{})
			var closeOnce sync.Once
			for p := range 3 {
				pr := rand.New(rand.NewPCG(rs, uint64(p)))
				wg.Go(func() {
					for n := range 100 {
						if offered.Add(1) == closeAt {
							closeOnce.Do(func() { close(closeNow) })
						}
						k := n
						if n > 0 && pr.IntN(4) == 0 {
							k = pr.IntN(n) // a retry
						}
						rec := emitRecord(p, k, fmt.Sprint("s", pr.IntN(2)))
						if pr.IntN(20) == 0 {
							rec.Seq = 1 // invalid
						}
						if pr.IntN(2) == 0 {
							g.try(e, rec)
						} else {
							ctx, cancel := context.WithCancel(context.Background())
							if pr.IntN(3) == 0 {
								cancel()
							}
							g.emit(ctx, e, rec)
							cancel()
						}
					}
				})
			}
			<-closeNow
			ctx, cancel := context.WithCancel(context.Background())
			if deadline {
				cancel()
			}
			first := e.Close(ctx)
			cancel()
			wg.Wait()
			<-e.Done()
			if !deadline && first != nil && !errors.Is(first, sdk.ErrRecordsLost) {
				t.Errorf("Close: %v", first)
			}
			g.mu.Lock()
			want := books{appended: g.acks, dedupe: g.dups, refused: maps(g.refused), lost: maps(g.drops), retries: g.retryDrops}
			g.mu.Unlock()
			checkBooks(t, e, g, e.Close(context.Background()), want)
		})
	}
}

func maps(m map[string]int) map[string]int {
	c := make(map[string]int, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// randSigner fails about one signature in 50 when fail is set.
type randSigner struct {
	sdk.Signer
	fail bool
}

func (s *randSigner) Sign(msg []byte, sig *sdk.Signature) error {
	if s.fail && rand.IntN(50) == 0 {
		return errors.New("HSM unavailable")
	}
	return s.Signer.Sign(msg, sig)
}

// randStore fails about one Put in 50 when fail is set.
type randStore struct {
	*sdk.MemStore
	fail bool
}

func (s *randStore) Put(w, st string, seq uint64, r sdk.Sealed) (sdk.Sealed, sdk.Ticket, error) {
	if s.fail && rand.IntN(50) == 0 {
		return sdk.Sealed{}, 0, errors.New("disk full")
	}
	return s.MemStore.Put(w, st, seq, r)
}
