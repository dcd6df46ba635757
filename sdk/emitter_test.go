package sdk_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/internal/leakcheck"
	"github.com/rustyonions/ron-audit-go/sdk"
)

// newEmitter starts an emitter on l that Close ends at cleanup.
//
// A test that needs every record accepted and does not test shedding uses
// ShedBlock: under ShedDrop, TryEmit also sheds a record whose chain's
// lock a worker has held for 10 ms, and a loaded host's OS stops a worker
// holding it that long (11-48 ms measured on the 2-vCPU CI machine, under
// -race with other packages' tests running), so such a test failed now
// and then with ErrBusy.
func newEmitter(t testing.TB, l *sdk.Log, opts sdk.EmitterOptions) *sdk.Emitter {
	t.Helper()
	e, err := sdk.NewEmitter(l, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close(context.Background()) })
	return e
}

func closeEmitter(t testing.TB, e *sdk.Emitter) sdk.EmitterStats {
	t.Helper()
	return closeEmitterLost(t, e, 0)
}

// closeEmitterLost closes e, which lost n of the records it accepted (n <
// 0: some, how many the caller checks): Close returns nil for n == 0, and
// otherwise ErrRecordsLost naming n; the stats balance.
func closeEmitterLost(t testing.TB, e *sdk.Emitter, n int) sdk.EmitterStats {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := e.Close(ctx)
	switch {
	case n == 0 && err != nil:
		t.Fatal(err)
	case n != 0 && !errors.Is(err, sdk.ErrRecordsLost):
		t.Fatalf("Close: %v, want ErrRecordsLost", err)
	case n > 0 && !strings.Contains(err.Error(), fmt.Sprintf(": %d accepted record", n)):
		t.Fatalf("Close: %v, want it to name %d accepted records lost", err, n)
	}
	return finishedStats(t, e)
}

// finishedStats returns the stats of an emitter whose work is done, and
// checks that they balance: every record offered is appended, a duplicate
// or a counted drop, and nothing is left in flight or queued.
func finishedStats(t testing.TB, e *sdk.Emitter) sdk.EmitterStats {
	t.Helper()
	st := e.Stats()
	var dropped uint64
	for _, n := range st.Dropped {
		dropped += n
	}
	if st.Offered != st.Appended+st.Dedupe+dropped {
		t.Fatalf("offered %d != appended %d + dedupe %d + dropped %d (%v)", st.Offered, st.Appended, st.Dedupe, dropped, st.Dropped)
	}
	if st.InFlight != 0 || st.QueueDepth != 0 {
		t.Fatalf("after Close: %d in flight, %d queued", st.InFlight, st.QueueDepth)
	}
	return st
}

// emitRecord is record n of producer p on stream: distinct events.
// emitFromFour has four producers emit each records at once, producers 0
// and 2 to stream s0, 1 and 3 to s1, and waits for them.
func emitFromFour(t *testing.T, e *sdk.Emitter, each int) {
	t.Helper()
	var wg sync.WaitGroup
	for p := range 4 {
		wg.Go(func() {
			for n := range each {
				rec := emitRecord(p, n, "s"+strconv.Itoa(p%2))
				if err := e.TryEmit(&rec); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
}

func emitRecord(p, n int, stream string) canonical.AuditRecord {
	return canonical.AuditRecord{
		Kind: canonical.KindGetServed, TsMs: 1764201600000 + uint64(n),
		WriterID: "svc-gateway@inst-1", Stream: stream, Reason: "served",
		Attrs: []canonical.Attr{{Key: "n", Value: strconv.Itoa(n)}, {Key: "p", Value: strconv.Itoa(p)}},
	}
}

// emitSettled emits record n of chain s and waits until the emitter has
// nothing in flight: the next step of a test sees it appended (or lost).
func emitSettled(t testing.TB, e *sdk.Emitter, n int) {
	t.Helper()
	r := emitRecord(0, n, "s")
	if err := e.TryEmit(&r); err != nil {
		t.Fatal(err)
	}
	for e.Stats().InFlight > 0 {
		time.Sleep(time.Millisecond)
	}
}

// chainAttrs verifies chain (writer, stream) of l and returns its records'
// (p, n) attrs in seq order.
func chainAttrs(t *testing.T, l *sdk.Log, stream string, opts sdk.VerifyOptions) [][2]int {
	t.Helper()
	res, err := coreVerify(t, l, "svc-gateway@inst-1", stream, opts)
	if err != nil {
		t.Fatalf("stream %s: %v", stream, err)
	}
	var out [][2]int
	it := l.Store().Iter("svc-gateway@inst-1", stream)
	for it.Next() {
		v, err := canonical.Open(it.Entry().Bytes)
		if err != nil {
			t.Fatal(err)
		}
		r := v.Decode()
		var pn [2]int
		for _, a := range r.Attrs {
			switch a.Key {
			case "p":
				pn[0], _ = strconv.Atoi(a.Value)
			case "n":
				pn[1], _ = strconv.Atoi(a.Value)
			}
		}
		out = append(out, pn)
	}
	if len(out) != res.Records {
		t.Fatalf("stream %s: iterated %d, verified %d", stream, len(out), res.Records)
	}
	return out
}

// TestEmitterOrder: with signatures computed by several workers, every
// chain holds its records in emit order, gapless, and verifies; producers
// sharing a chain keep their own order in it.
func TestEmitterOrder(t *testing.T) {
	for _, sealEvery := range []int{0, 7} {
		t.Run(fmt.Sprintf("sealEvery=%d", sealEvery), func(t *testing.T) {
			l := coreLog(t, sdk.Config{SealEvery: sealEvery})
			e := newEmitter(t, l, sdk.EmitterOptions{Depth: 64, Workers: 4, Shed: sdk.ShedBlock})
			const producers, per = 6, 300
			var wg sync.WaitGroup
			for p := range producers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					own := "own-" + strconv.Itoa(p)
					for n := range per {
						for _, stream := range []string{own, "shared"} {
							rec := emitRecord(p, n, stream)
							if err := e.TryEmit(&rec); err != nil {
								t.Error(err)
								return
							}
						}
					}
				}()
			}
			wg.Wait()
			st := closeEmitter(t, e)
			if st.Appended != 2*producers*per {
				t.Fatalf("appended %d, want %d (%+v)", st.Appended, 2*producers*per, st)
			}
			if err := l.SealAll(); err != nil {
				t.Fatal(err)
			}
			for p := range producers {
				got := chainAttrs(t, l, "own-"+strconv.Itoa(p), sdk.VerifyOptions{})
				for i, pn := range got {
					if pn != [2]int{p, i} {
						t.Fatalf("own-%d seq %d holds %v, want %v", p, i+1, pn, [2]int{p, i})
					}
				}
			}
			next := make([]int, producers)
			shared := chainAttrs(t, l, "shared", sdk.VerifyOptions{})
			for i, pn := range shared {
				if pn[1] != next[pn[0]] {
					t.Fatalf("shared seq %d: producer %d's record %d, want its %d", i+1, pn[0], pn[1], next[pn[0]])
				}
				next[pn[0]]++
			}
			if len(shared) != producers*per {
				t.Fatalf("shared has %d records", len(shared))
			}
		})
	}
}

// gateSigner blocks every Sign until the gate opens; fail makes the nth
// Sign (1-based) fail.
type gateSigner struct {
	sdk.Signer
	gate  chan struct{}
	calls atomic.Int64
	fail  int64
}

func (s *gateSigner) Sign(msg []byte, sig *sdk.Signature) error {
	n := s.calls.Add(1)
	<-s.gate
	if n == s.fail {
		return errors.New("HSM unavailable")
	}
	return s.Signer.Sign(msg, sig)
}

func newGateSigner(t testing.TB) *gateSigner {
	return &gateSigner{Signer: coreSigner(t), gate: make(chan struct{})}
}

// TestEmitterSheds: a full emitter rejects at once with ErrBusy and counts
// it; everything accepted is appended once signing resumes.
func TestEmitterSheds(t *testing.T) {
	g := newGateSigner(t)
	l := coreLog(t, sdk.Config{Signer: g})
	e := newEmitter(t, l, sdk.EmitterOptions{Depth: 16, Workers: 2})
	var accepted, busy int
	for n := range 40 {
		rec := emitRecord(0, n, "s")
		start := time.Now()
		err := e.TryEmit(&rec)
		if d := time.Since(start); d > time.Second {
			t.Fatalf("TryEmit blocked %v", d)
		}
		switch {
		case err == nil:
			accepted++
		case errors.Is(err, sdk.ErrBusy):
			busy++
		default:
			t.Fatal(err)
		}
	}
	if accepted != 16 || busy != 24 {
		t.Fatalf("accepted %d, busy %d; want 16 and 24", accepted, busy)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	rec := emitRecord(0, 99, "s")
	if err := e.Emit(ctx, &rec); !errors.Is(err, sdk.ErrBusy) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Emit on a full emitter past its deadline: %v", err)
	}
	cancel()
	close(g.gate)
	st := closeEmitter(t, e)
	if st.Appended != 16 || st.Busy != 25 || st.Dropped[sdk.DropBackpressure] != 25 || st.Offered != 41 {
		t.Fatalf("stats %+v", st)
	}
	if got := chainAttrs(t, l, "s", sdk.VerifyOptions{}); len(got) != 16 || got[15][1] != 15 {
		t.Fatalf("chain %v", got)
	}
}

// TestEmitterEmitWaits: Emit waits for a slot instead of shedding.
func TestEmitterEmitWaits(t *testing.T) {
	g := newGateSigner(t)
	l := coreLog(t, sdk.Config{Signer: g})
	e := newEmitter(t, l, sdk.EmitterOptions{Depth: 2, Workers: 1})
	for n := range 2 {
		rec := emitRecord(0, n, "s")
		if err := e.TryEmit(&rec); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan error)
	go func() {
		rec := emitRecord(0, 2, "s")
		done <- e.Emit(context.Background(), &rec)
	}()
	select {
	case err := <-done:
		t.Fatalf("Emit returned %v on a full emitter", err)
	case <-time.After(20 * time.Millisecond):
	}
	close(g.gate)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if st := closeEmitter(t, e); st.Appended != 3 {
		t.Fatalf("%+v", st)
	}
}

// TestEmitterClose: Close drains what was accepted; later emits fail with
// ErrEmitterClosed and count as closed; Close's deadline drops the records
// not yet linked as shutdown, and the in-flight ones still land.
func TestEmitterClose(t *testing.T) {
	t.Run("drains", func(t *testing.T) {
		l := coreLog(t, sdk.Config{})
		e := newEmitter(t, l, sdk.EmitterOptions{Shed: sdk.ShedBlock})
		for n := range 500 {
			rec := emitRecord(0, n, "s")
			if err := e.TryEmit(&rec); err != nil {
				t.Fatal(err)
			}
		}
		closeEmitter(t, e)
		if got := chainAttrs(t, l, "s", sdk.VerifyOptions{}); len(got) != 500 {
			t.Fatalf("%d records after Close", len(got))
		}
		rec := emitRecord(0, 500, "s")
		if err := e.TryEmit(&rec); !errors.Is(err, sdk.ErrEmitterClosed) {
			t.Fatal(err)
		}
		if err := e.Emit(context.Background(), &rec); !errors.Is(err, sdk.ErrEmitterClosed) {
			t.Fatal(err)
		}
		if st := closeEmitter(t, e); st.Dropped[sdk.DropClosed] != 2 || st.Appended != 500 {
			t.Fatalf("%+v", st)
		}
		if err := e.Ready(); !errors.Is(err, sdk.ErrDegraded) || !err.(*sdk.DegradedError).Closed {
			t.Fatalf("Ready after Close: %v", err)
		}
		// The log is the host's again.
		if _, err := l.Append(&rec); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("deadline", func(t *testing.T) {
		g := newGateSigner(t)
		l := coreLog(t, sdk.Config{Signer: g})
		var drops atomic.Int64
		e := newEmitter(t, l, sdk.EmitterOptions{Depth: 32, Workers: 2,
			OnDrop: func(w, s, reason string, err error) {
				if reason == sdk.DropShutdown {
					drops.Add(1)
				}
			}})
		for n := range 32 {
			rec := emitRecord(0, n, "s")
			if err := e.TryEmit(&rec); err != nil {
				t.Fatal(err)
			}
		}
		for g.calls.Load() < 2 { // both workers hold a record
			runtime.Gosched()
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
		defer cancel()
		if err := e.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Close past its deadline: %v", err)
		}
		close(g.gate)
		<-e.Done()
		st := closeEmitterLost(t, e, -1) // a later Close says the dropped were lost
		// The two records being signed at the deadline may land; the 30
		// waiting for a signer are dropped.
		if shut := st.Dropped[sdk.DropShutdown]; shut < 30 || st.Appended+shut != 32 || drops.Load() != int64(shut) {
			t.Fatalf("%+v (OnDrop shutdown %d)", st, drops.Load())
		}
		if got := chainAttrs(t, l, "s", sdk.VerifyOptions{}); uint64(len(got)) != st.Appended {
			t.Fatalf("chain %v, %d appended", got, st.Appended)
		}
		// The chain is whole and usable.
		rec := emitRecord(0, 99, "s")
		if a, err := l.Append(&rec); err != nil || a.Seq != st.Appended+1 {
			t.Fatalf("append after the aborted close: seq %d, %v", a.Seq, err)
		}
	})
}

// TestEmitterRejects: bad records are the caller's error at once, counted,
// and never reach a chain.
func TestEmitterRejects(t *testing.T) {
	l := coreLog(t, sdk.Config{})
	e := newEmitter(t, l, sdk.EmitterOptions{})
	big := emitRecord(0, 1, "s")
	big.Attrs = []canonical.Attr{{Key: "k", Value: strings.Repeat("v", 2000)}}
	var se *canonical.SizeError
	if err := e.TryEmit(&big); !errors.As(err, &se) {
		t.Fatalf("over 1 KiB of attrs: %v", err)
	}
	cases := map[string]func(r *canonical.AuditRecord){
		"seq":      func(r *canonical.AuditRecord) { r.Seq = 3 },
		"prev":     func(r *canonical.AuditRecord) { r.Prev = make([]byte, 32) },
		"writerId": func(r *canonical.AuditRecord) { r.WriterID = "" },
		"stream":   func(r *canonical.AuditRecord) { r.Stream = "" },
		"reason":   func(r *canonical.AuditRecord) { r.Reason = "\xff" },
		"attrs":    func(r *canonical.AuditRecord) { r.Attrs = []canonical.Attr{{Key: sdk.KeyTransitionAttr, Value: "x"}} },
	}
	for field, mutate := range cases {
		rec := emitRecord(0, 2, "s")
		mutate(&rec)
		var fe *canonical.FieldError
		if err := e.TryEmit(&rec); !errors.As(err, &fe) || !strings.HasPrefix(fe.Field, field) {
			t.Errorf("%s: %v", field, err)
		}
	}
	st := closeEmitter(t, e)
	if st.Dropped[sdk.DropBounds] != 1 || st.Dropped[sdk.DropInvalid] != uint64(len(cases)) || st.Appended != 0 {
		t.Fatalf("%+v", st)
	}
	if h, ok := l.Head("svc-gateway@inst-1", "s"); ok {
		t.Fatalf("a rejected record reached the chain: %+v", h)
	}
}

// TestEmitterReusesRecord: TryEmit copies, so the caller's record is free
// at once, and the fields the emitter fills are zero again.
func TestEmitterReusesRecord(t *testing.T) {
	l := coreLog(t, sdk.Config{})
	e := newEmitter(t, l, sdk.EmitterOptions{Shed: sdk.ShedBlock})
	rec := emitRecord(0, 0, "s")
	rec.TsMs = 0
	for n := range 100 {
		rec.Attrs[0].Value = strconv.Itoa(n)
		if err := e.TryEmit(&rec); err != nil {
			t.Fatal(err)
		}
		if rec.Seq != 0 || rec.Prev != nil || rec.TsMs != 0 {
			t.Fatalf("TryEmit left seq %d prev %x ts %d", rec.Seq, rec.Prev, rec.TsMs)
		}
	}
	closeEmitter(t, e)
	for i, pn := range chainAttrs(t, l, "s", sdk.VerifyOptions{}) {
		if pn[1] != i {
			t.Fatalf("seq %d holds n=%d", i+1, pn[1])
		}
	}
}

// TestEmitterDedupe: a retry is answered by the original, whether that is
// committed or still being signed.
func TestEmitterDedupe(t *testing.T) {
	g := newGateSigner(t)
	l := coreLog(t, sdk.Config{Signer: g})
	var mu sync.Mutex
	var acks []sdk.EmitAck
	e := newEmitter(t, l, sdk.EmitterOptions{Shed: sdk.ShedBlock, OnDurable: func(a sdk.EmitAck) {
		mu.Lock()
		acks = append(acks, a)
		mu.Unlock()
	}})
	a, b := emitRecord(0, 1, "s"), emitRecord(0, 2, "s")
	for _, r := range []canonical.AuditRecord{a, b, a} { // the retry of a while a is in flight
		if err := e.TryEmit(&r); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(10 * time.Millisecond)
	close(g.gate)
	if err := e.TryEmit(&b); err != nil { // the retry of b once committed (or in flight)
		t.Fatal(err)
	}
	st := closeEmitter(t, e)
	if st.Appended != 2 || st.Dedupe != 2 {
		t.Fatalf("%+v", st)
	}
	// Each original is acknowledged once appended, each retry after it:
	// with the original's seq and hash.
	bySeq := map[uint64][]sdk.EmitAck{}
	for _, a := range acks {
		bySeq[a.Seq] = append(bySeq[a.Seq], a)
	}
	for seq, as := range bySeq {
		if len(as) != 2 || as[0].Duplicate == as[1].Duplicate || as[0].Hash != as[1].Hash {
			t.Fatalf("seq %d: acks %+v", seq, as)
		}
	}
	if len(acks) != 4 || len(bySeq) != 2 {
		t.Fatalf("acks %+v", acks)
	}
}

// TestEmitterSinkFailure: a signer failure loses that record and any
// linked behind it in its chain while it was in flight (their prev is its
// hash), each counted as sink_error; the chain goes on from its last
// committed record, with no gap, and Ready reports the loss.
func TestEmitterSinkFailure(t *testing.T) {
	for _, workers := range []int{1, 4} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			g := newGateSigner(t)
			g.fail = 3
			l := coreLog(t, sdk.Config{Signer: g})
			var mu sync.Mutex
			var lost []string
			e := newEmitter(t, l, sdk.EmitterOptions{Depth: 8, Workers: workers, OnDrop: func(w, s, reason string, err error) {
				mu.Lock()
				lost = append(lost, reason+": "+err.Error())
				mu.Unlock()
			}})
			for n := range 6 {
				rec := emitRecord(0, n, "s")
				if err := e.TryEmit(&rec); err != nil {
					t.Fatal(err)
				}
			}
			if err := e.Ready(); err != nil {
				t.Fatalf("Ready before any failure: %v", err)
			}
			close(g.gate)
			for e.Stats().InFlight > 0 {
				time.Sleep(time.Millisecond)
			}
			rec := emitRecord(0, 6, "s")
			if err := e.TryEmit(&rec); err != nil {
				t.Fatal(err)
			}
			st := closeEmitterLost(t, e, -1)
			n := uint64(len(lost))
			if n == 0 || st.Dropped[sdk.DropSinkError] != n || st.Appended+n != 7 || !strings.Contains(lost[0], "HSM unavailable") {
				t.Fatalf("%+v, lost %q", st, lost)
			}
			got := chainAttrs(t, l, "s", sdk.VerifyOptions{}) // verifies: no gap
			for i := 1; i < len(got); i++ {
				if got[i][1] <= got[i-1][1] {
					t.Fatalf("chain out of emit order: %v", got)
				}
			}
			if uint64(len(got)) != st.Appended || got[len(got)-1][1] != 6 {
				t.Fatalf("chain %v, appended %d", got, st.Appended)
			}
			if workers == 1 && fmt.Sprint(got) != "[[0 0] [0 1] [0 6]]" {
				t.Fatalf("one worker: record 2, the third signed, and 3-5 linked behind it are lost; chain %v", got)
			}
			var d *sdk.DegradedError
			if err := e.Ready(); !errors.As(err, &d) || d.SinkErrors != n || !errors.Is(d.LastSinkError, sdk.ErrSign) {
				t.Fatalf("Ready: %v", err)
			} else if !errors.Is(err, sdk.ErrSign) {
				t.Fatalf("errors.Is(Ready(), ErrSign) = false; the last sink error should be reachable: %v", err)
			}
		})
	}
}

// TestEmitterNotDurable: a store that cannot make records durable stops the
// log; the emitter counts the losses and reports the log failed.
func TestEmitterNotDurable(t *testing.T) {
	store := &coreUndurableStore{MemStore: sdk.NewMemStore(0), fail: true}
	l := coreLog(t, sdk.Config{Store: store})
	e := newEmitter(t, l, sdk.EmitterOptions{Shed: sdk.ShedBlock})
	accepted := 0 // the rest were refused to their caller once the log had failed
	for n := range 5 {
		rec := emitRecord(0, n, "s")
		switch err := e.TryEmit(&rec); {
		case err == nil:
			accepted++
		case !errors.Is(err, sdk.ErrStore):
			t.Fatal(err)
		}
	}
	st := closeEmitterLost(t, e, accepted)
	if st.Appended != 0 || st.Dropped[sdk.DropSinkError] != 5 {
		t.Fatalf("%+v", st)
	}
	var d *sdk.DegradedError
	if err := e.Ready(); !errors.As(err, &d) || !errors.Is(d.LogFailed, sdk.ErrStore) {
		t.Fatalf("Ready: %v", err)
	} else if !errors.Is(err, sdk.ErrStore) {
		t.Fatalf("errors.Is(Ready(), ErrStore) = false; the log's failure should be reachable: %v", err)
	}
}

// TestEmitterReady: shedding above budget over the window, and reported
// verification failures, make the audit plane degraded.
func TestEmitterReady(t *testing.T) {
	g := newGateSigner(t)
	l := coreLog(t, sdk.Config{Signer: g})
	e := newEmitter(t, l, sdk.EmitterOptions{Depth: 300, ShedBudget: 0.01, ReadyWindow: time.Hour})
	if err := e.Ready(); err != nil {
		t.Fatal(err)
	}
	emit := func(n int) {
		for i := range n {
			rec := emitRecord(0, i, strconv.Itoa(n))
			e.TryEmit(&rec)
		}
	}
	emit(300) // fills the emitter, nothing shed
	if err := e.Ready(); err != nil {
		t.Fatalf("no shedding: %v", err)
	}
	emit(2) // 2 of 302 shed: 0.66%, under 1%
	if err := e.Ready(); err != nil {
		t.Fatalf("under budget: %v", err)
	}
	emit(4) // 6 of 306: 1.96%
	var d *sdk.DegradedError
	if err := e.Ready(); !errors.As(err, &d) || d.ShedRate < 0.019 || d.ShedRate > 0.02 || !strings.Contains(err.Error(), "shed 1.96%") {
		t.Fatalf("over budget: %v", err)
	}
	close(g.gate)
	closeEmitter(t, e)

	l2 := coreLog(t, sdk.Config{})
	e2 := newEmitter(t, l2, sdk.EmitterOptions{})
	e2.ReportVerifyFailure(nil)
	if err := e2.Ready(); err != nil {
		t.Fatal(err)
	}
	e2.ReportVerifyFailure(&sdk.VerifyError{Reason: sdk.ReasonHashMismatch})
	if err := e2.Ready(); !errors.As(err, &d) || d.VerifyFailures != 1 {
		t.Fatalf("after a verify failure: %v", err)
	}
}

// failingObserver is an Observer that reports a failure of its own, as a
// checkpoint.Keeper does (sdk.FailureReporter).
type failingObserver struct{ err atomic.Pointer[error] }

func (o *failingObserver) Committed(string, string, uint64, canonical.Hash, bool) {}
func (o *failingObserver) Durable(string, string, uint64, bool)                   {}
func (o *failingObserver) Err() error {
	if p := o.err.Load(); p != nil {
		return *p
	}
	return nil
}

// TestEmitterReadyObserverFailed: Ready reports the audit plane degraded,
// naming the failure, for as long as the Log's Observer reports one (a
// Keeper that can no longer write checkpoints), though the log itself
// still takes records.
func TestEmitterReadyObserverFailed(t *testing.T) {
	o := &failingObserver{}
	l := coreLog(t, sdk.Config{Observer: o})
	e := newEmitter(t, l, sdk.EmitterOptions{Shed: sdk.ShedBlock})
	if err := e.Ready(); err != nil {
		t.Fatalf("healthy observer: %v", err)
	}
	errFull := errors.New("checkpoint: sign: writing checkpoint /cp/w/s/00000000000000000010.note: no space left on device")
	o.err.Store(&errFull)
	err := e.Ready()
	var d *sdk.DegradedError
	if !errors.As(err, &d) || !errors.Is(err, sdk.ErrDegraded) || d.ObserverFailed != errFull || d.LogFailed != nil {
		t.Fatalf("observer failed: Ready = %v (%+v), want ObserverFailed %v alone", err, d, errFull)
	}
	if !errors.Is(err, errFull) {
		t.Errorf("errors.Is(Ready(), the observer's error) = false; Ready's error should unwrap to it")
	}
	if want := "sdk: audit plane degraded: log observer failed (checkpoints or exports stopped): " + errFull.Error(); err.Error() != want {
		t.Errorf("Ready's message:\n%s\nwant\n%s", err, want)
	}
	rec := emitRecord(0, 0, "s")
	if err := e.TryEmit(&rec); err != nil {
		t.Fatalf("the log still takes records: %v", err)
	}
	o.err.Store(nil)
	if err := e.Ready(); err != nil {
		t.Fatalf("the observer reports no failure any more: %v", err)
	}
}

// TestEmitterOwnsLog: while an emitter runs, direct appends would race its
// chain order, so they are refused; one emitter per log.
func TestEmitterOwnsLog(t *testing.T) {
	l := coreLog(t, sdk.Config{})
	e := newEmitter(t, l, sdk.EmitterOptions{})
	rec := emitRecord(0, 0, "s")
	if _, err := l.Append(&rec); !errors.Is(err, sdk.ErrEmitting) {
		t.Fatalf("Append under an emitter: %v", err)
	}
	if _, err := l.RotateKey(coreSigner(t)); !errors.Is(err, sdk.ErrEmitting) {
		t.Fatalf("RotateKey under an emitter: %v", err)
	}
	if _, err := sdk.NewEmitter(l, sdk.EmitterOptions{}); !errors.Is(err, sdk.ErrConfig) {
		t.Fatalf("second emitter: %v", err)
	}
	closeEmitter(t, e)
	if _, err := l.Append(&rec); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []sdk.EmitterOptions{{Depth: -1}, {Workers: 9}, {Workers: -1}, {Shed: 7}, {ShedBudget: 2}} {
		if _, err := sdk.NewEmitter(l, bad); !errors.Is(err, sdk.ErrConfig) {
			t.Errorf("%+v: %v", bad, err)
		}
	}
}

// TestEmitterDurable: on a WAL, every record the emitter acknowledged is
// in the log after a reopen, and the directory verifies.
func TestEmitterDurable(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "wal")
	l, _ := durableOpen(t, dir, sdk.Config{}, sdk.DurableOptions{})
	var acked atomic.Int64
	e := newEmitter(t, l, sdk.EmitterOptions{Workers: 2, Shed: sdk.ShedBlock, OnDurable: func(sdk.EmitAck) { acked.Add(1) }})
	emitFromFour(t, e, 200)
	closeEmitter(t, e)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	sum, err := sdk.VerifyDir(dir, l.Keys(), false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if acked.Load() != 800 || sum.Records != 800 {
		t.Fatalf("acked %d, %d records in the log", acked.Load(), sum.Records)
	}
}

// TestEmitterNoLeak: Close ends every goroutine the emitter started.
func TestEmitterNoLeak(t *testing.T) {
	check := leakcheck.Check(t)
	for range 3 {
		l := coreLog(t, sdk.Config{})
		e, err := sdk.NewEmitter(l, sdk.EmitterOptions{Workers: 8})
		if err != nil {
			t.Fatal(err)
		}
		for n := range 100 {
			rec := emitRecord(0, n, "s")
			e.TryEmit(&rec)
		}
		closeEmitter(t, e)
	}
	check()
}

// TestAllocsEmit: TryEmit, and the whole pipeline behind it, allocate
// nothing per record in steady state.
func TestAllocsEmit(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under -race")
	}
	l := coreLog(t, sdk.Config{Store: sdk.NewMemStore(256 << 10)})
	acked := make(chan struct{}, 1)
	e := newEmitter(t, l, sdk.EmitterOptions{Workers: 2, OnDurable: func(sdk.EmitAck) { acked <- struct{}{} }})
	rec := emitRecord(0, 0, "s")
	one := func() {
		rec.TsMs++
		if err := e.TryEmit(&rec); err != nil {
			t.Fatal(err)
		}
		<-acked
	}
	for range 3000 { // past the store bound, the dedupe window, and every slot's first use
		one()
	}
	if a := testing.AllocsPerRun(500, one); a != 0 {
		t.Fatalf("TryEmit through to durable: %v allocs/op", a)
	}
}

// TestEmitterAcksInOrder: OnDurable sees each chain's records in seq
// order, though several workers commit runs of the same chain, in RAM and
// on a WAL.
func TestEmitterAcksInOrder(t *testing.T) {
	for _, durable := range []bool{false, true} {
		t.Run(fmt.Sprint("durable=", durable), func(t *testing.T) {
			var l *sdk.Log
			if durable {
				l, _ = durableOpen(t, filepath.Join(t.TempDir(), "wal"), sdk.Config{}, sdk.DurableOptions{})
				t.Cleanup(func() { l.Close() })
			} else {
				l = coreLog(t, sdk.Config{})
			}
			var mu sync.Mutex
			last := map[string]uint64{}
			var bad []string
			e := newEmitter(t, l, sdk.EmitterOptions{Workers: 4, Shed: sdk.ShedBlock, OnDurable: func(a sdk.EmitAck) {
				mu.Lock()
				defer mu.Unlock()
				if a.Seq != last[a.Stream]+1 && len(bad) < 5 {
					bad = append(bad, fmt.Sprintf("%s: seq %d after %d", a.Stream, a.Seq, last[a.Stream]))
				}
				last[a.Stream] = a.Seq
			}})
			emitFromFour(t, e, 500)
			closeEmitter(t, e)
			if len(bad) > 0 || last["s0"] != 1000 || last["s1"] != 1000 {
				t.Fatalf("acknowledged out of order: %v (last %v)", bad, last)
			}
		})
	}
}

// TestEmitterSlowOnDurable: an OnDurable that does not return holds up
// the acknowledgements of its chain, not TryEmit on that chain. (Before
// hand-offs were queued, the second worker to commit waited for the
// first's OnDurable while holding the chain's lock, and TryEmit with it.)
func TestEmitterSlowOnDurable(t *testing.T) {
	const n = 20
	gate := make(chan struct{})
	entered := make(chan struct{})
	var mu sync.Mutex
	var acked []uint64
	l := coreLog(t, sdk.Config{})
	// ShedBlock: TryEmit waits for the chain's lock, so a lock held while
	// OnDurable runs shows as TryEmit blocked.
	e := newEmitter(t, l, sdk.EmitterOptions{Workers: 2, Shed: sdk.ShedBlock, OnDurable: func(a sdk.EmitAck) {
		if a.Seq == 1 {
			close(entered)
			<-gate
		}
		mu.Lock()
		acked = append(acked, a.Seq)
		mu.Unlock()
	}})
	first := emitRecord(0, 0, "s")
	if err := e.TryEmit(&first); err != nil {
		t.Fatal(err)
	}
	<-entered
	emitted := make(chan error, 1)
	go func() {
		for i := 1; i < n; i++ {
			rec := emitRecord(0, i, "s")
			if err := e.TryEmit(&rec); err != nil {
				emitted <- err
				return
			}
			time.Sleep(2 * time.Millisecond) // let the other worker commit it
		}
		emitted <- nil
	}()
	select {
	case err := <-emitted:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		close(gate)
		t.Fatal("TryEmit blocked while OnDurable of the same chain did not return")
	}
	mu.Lock()
	early := len(acked)
	mu.Unlock()
	close(gate)
	closeEmitter(t, e)
	if early != 0 {
		t.Fatalf("%d records acknowledged before seq 1's OnDurable returned", early)
	}
	for i, seq := range acked {
		if seq != uint64(i+1) {
			t.Fatalf("acknowledged out of order: %v", acked)
		}
	}
	if len(acked) != n {
		t.Fatalf("%d records acknowledged, want %d", len(acked), n)
	}
	if got := chainAttrs(t, l, "s", sdk.VerifyOptions{}); len(got) != n {
		t.Fatalf("chain holds %d records, want %d", len(got), n)
	}
}

// TestEmitterDuplicateWaitsForOriginal: a retry of a record still being
// signed is acknowledged only after its original, and when the original
// is lost (its signature fails) the retry is dropped with it: it used to
// be acknowledged from TryEmit at once, with a seq and hash that a
// different record then took.
func TestEmitterDuplicateWaitsForOriginal(t *testing.T) {
	for _, fail := range []bool{false, true} {
		g := newGateSigner(t)
		if fail {
			g.fail = 1 // the original's signature
		}
		l := coreLog(t, sdk.Config{Signer: g})
		var mu sync.Mutex
		var acks []sdk.EmitAck
		var drops []string
		e := newEmitter(t, l, sdk.EmitterOptions{Workers: 1,
			OnDurable: func(a sdk.EmitAck) { mu.Lock(); acks = append(acks, a); mu.Unlock() },
			OnDrop:    func(_, _, reason string, _ error) { mu.Lock(); drops = append(drops, reason); mu.Unlock() }})
		orig, retry := emitRecord(0, 1, "s"), emitRecord(0, 1, "s")
		for _, r := range []*canonical.AuditRecord{&orig, &retry} {
			if err := e.TryEmit(r); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(10 * time.Millisecond)
		mu.Lock()
		early := len(acks)
		mu.Unlock()
		close(g.gate)
		lost := 0
		if fail {
			// One record lost: the retry, accepted too and dropped with
			// it (OnDrop, stats), is the same record, named apart.
			lost = 1
		}
		st := closeEmitterLost(t, e, lost)
		if early != 0 {
			t.Errorf("fail=%v: %d acknowledgements before the original was signed", fail, early)
		}
		switch {
		case !fail && (st.Appended != 1 || st.Dedupe != 1 || len(acks) != 2 || acks[0].Duplicate || !acks[1].Duplicate || acks[0].Hash != acks[1].Hash):
			t.Errorf("original appended: stats %+v, acks %+v", st, acks)
		case fail && (st.Appended != 0 || st.Dedupe != 0 || len(acks) != 0 || len(drops) != 2 || st.Dropped[sdk.DropSinkError] != 2):
			t.Errorf("original lost: stats %+v, acks %+v, drops %v", st, acks, drops)
		}
	}
}

// TestEmitterSealInterval: under the checkpoint-sealed policy the
// emitter signs a record once the chain's last signature, or its first
// record, is SealInterval old, as Append does.
func TestEmitterSealInterval(t *testing.T) {
	clock := &coreClock{now: time.UnixMilli(1764201600000)}
	l := coreLog(t, sdk.Config{SealEvery: 1000, SealInterval: time.Minute, Clock: clock.Now})
	e := newEmitter(t, l, sdk.EmitterOptions{Workers: 1})
	emitSettled(t, e, 1)
	clock.now = clock.now.Add(59 * time.Second)
	emitSettled(t, e, 2)
	clock.now = clock.now.Add(time.Second)
	emitSettled(t, e, 3)
	closeEmitter(t, e)
	for seq, want := range map[uint64]bool{1: false, 2: false, 3: true} {
		if rec, ok := l.Store().Get("svc-gateway@inst-1", "s", seq); !ok || rec.Signed != want {
			t.Errorf("seq %d: signed %v, want %v", seq, rec.Signed, want)
		}
	}
}
