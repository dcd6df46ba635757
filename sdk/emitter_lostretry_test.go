package sdk_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/rustyonions/ron-audit-go/sdk"
)

// TestRetryLostWithOriginalCountedOnce: a retry of a record still in
// flight is linked behind its original (a duplicate, no record of its
// own); when the original is lost, so is the retry, and OnDrop hears of
// both (each caller was told nil). But one record was lost, not two:
// Close's ErrRecordsLost counted the retry as a second lost record. Both
// ways of losing the original are covered: its signature fails
// (sink_error), and Close's deadline drops it unsigned (shutdown).
func TestRetryLostWithOriginalCountedOnce(t *testing.T) {
	check := func(t *testing.T, e *sdk.Emitter, o *outcomes, m *dropMetrics, cerr error, reason string) {
		t.Helper()
		<-e.Done()
		st := finishedStats(t, e)
		if !errors.Is(cerr, sdk.ErrRecordsLost) || !strings.Contains(cerr.Error(), ": 1 accepted record not appended") {
			t.Errorf("Close: %v; want ErrRecordsLost naming 1 accepted record (the retry is the same record)", cerr)
		}
		if cerr != nil && !strings.Contains(cerr.Error(), "1 retry") {
			t.Errorf("Close: %v; want it to name the retry lost with its original, so that it adds up with OnDrop's 2 calls", cerr)
		}
		o.mu.Lock()
		defer o.mu.Unlock()
		m.mu.Lock()
		defer m.mu.Unlock()
		// OnDrop and the counters see both: each was offered and accepted.
		if st.Dropped[reason] != 2 || m.dropped[reason] != 2 || len(o.drops) != 2 || st.Dedupe != 0 || m.dedupe != 0 {
			t.Errorf("stats %+v; metrics drops %v dedupe %d; OnDrop %q; want the original and its retry dropped (%s), no dedupe hit",
				st, m.dropped, m.dedupe, o.drops, reason)
		}
		retries := 0
		for _, d := range o.drops {
			if strings.Contains(d, "retry") {
				retries++
			}
		}
		if retries != 1 {
			t.Errorf("OnDrop %q: want the retry's error to say it is a retry lost with its original", o.drops)
		}
	}

	t.Run("signer fails", func(t *testing.T) {
		s := &scriptSigner{Signer: coreSigner(t), gateAt: 2, failAt: 2, gate: make(chan struct{}), entered: make(chan struct{})}
		l := coreLog(t, sdk.Config{Signer: s})
		var o outcomes
		var m dropMetrics
		opts := o.opts(1)
		opts.Metrics, opts.Shed = &m, sdk.ShedBlock
		e := newEmitter(t, l, opts)
		var once sync.Once
		release := func() { once.Do(func() { close(s.gate) }) }
		t.Cleanup(release) // before the emitter's Close, if the test fails half way
		emitSettled(t, e, 1)
		orig := emitRecord(0, 2, "s")
		if err := e.TryEmit(&orig); err != nil {
			t.Fatal(err)
		}
		<-s.entered // record 2 is being signed, and will fail
		retry := emitRecord(0, 2, "s")
		if err := e.TryEmit(&retry); err != nil {
			t.Fatalf("retry of record 2 in flight: %v, want accepted", err)
		}
		release()
		check(t, e, &o, &m, e.Close(context.Background()), sdk.DropSinkError)
	})

	t.Run("Close deadline", func(t *testing.T) {
		// Record 2's signature hangs; record 3 and its retry wait in the
		// queue behind it. Close's ctx has ended: once record 2 is signed
		// (and appended), the worker drops record 3 unsigned, and its
		// retry with it.
		s := &scriptSigner{Signer: coreSigner(t), gateAt: 2, gate: make(chan struct{}), entered: make(chan struct{})}
		l := coreLog(t, sdk.Config{Signer: s})
		var o outcomes
		var m dropMetrics
		opts := o.opts(1)
		opts.Metrics, opts.Shed = &m, sdk.ShedBlock
		e := newEmitter(t, l, opts)
		var once sync.Once
		release := func() { once.Do(func() { close(s.gate) }) }
		t.Cleanup(release)
		emitSettled(t, e, 1)
		for _, n := range []int{2, 3, 3} {
			r := emitRecord(0, n, "s")
			if err := e.TryEmit(&r); err != nil {
				t.Fatal(err)
			}
		}
		<-s.entered
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := e.Close(ctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("Close with an ended ctx: %v", err)
		}
		release()
		<-e.Done()
		check(t, e, &o, &m, e.Close(context.Background()), sdk.DropShutdown)
		if st := e.Stats(); st.Appended != 2 {
			t.Errorf("stats %+v: want records 1 and 2 appended", st)
		}
	})
}
