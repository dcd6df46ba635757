package sdk_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rustyonions/ron-audit-go/sdk"
)

// TestEmitterCloseReportsLostRecords: a record the emitter accepted
// (TryEmit returned nil) whose fsync then failed is lost; OnDrop saw it
// (sink_error) and Ready says so, but Close returned nil, which its doc
// read as "nothing dropped", so a host that checks only Close's result
// (defer em.Close) saw a clean shutdown. Close now returns
// ErrRecordsLost, saying how many and wrapping the last failure. A
// record refused at TryEmit (the caller got the error) is no such loss.
func TestEmitterCloseReportsLostRecords(t *testing.T) {
	t.Run("accepted then lost", func(t *testing.T) {
		store := &failFromStore{MemStore: sdk.NewMemStore(0), failFrom: 2}
		l := coreLog(t, sdk.Config{Store: store})
		var o outcomes
		e := newEmitter(t, l, o.opts(1))
		emitSettled(t, e, 1) // durable and acknowledged
		lost := emitRecord(0, 2, "s")
		if err := e.TryEmit(&lost); err != nil {
			t.Fatalf("TryEmit of the record whose fsync fails: %v, want accepted", err)
		}
		err := e.Close(context.Background())
		if !errors.Is(err, sdk.ErrRecordsLost) || !errors.Is(err, sdk.ErrStore) || !strings.Contains(err.Error(), "1 accepted record") {
			t.Fatalf("Close after an accepted record was lost: %v; want ErrRecordsLost naming 1 record, wrapping the store's failure", err)
		}
		if st := e.Stats(); st.Appended != 1 || st.Dropped[sdk.DropSinkError] != 1 {
			t.Errorf("stats %+v; want 1 appended, 1 sink_error", st)
		}
		// Later calls wait for the same end, and say the same.
		if err2 := e.Close(context.Background()); !errors.Is(err2, sdk.ErrRecordsLost) {
			t.Errorf("second Close: %v, want ErrRecordsLost again", err2)
		}
	})
	t.Run("refused at emit", func(t *testing.T) {
		store := &failFromStore{MemStore: sdk.NewMemStore(0), failFrom: 2}
		l := coreLog(t, sdk.Config{Store: store})
		var o outcomes
		e := newEmitter(t, l, o.opts(1))
		emitSettled(t, e, 1)
		emitSettled(t, e, 2) // its fsync fails: lost, and the log stops
		late := emitRecord(0, 3, "s")
		if err := e.TryEmit(&late); err == nil {
			t.Fatal("TryEmit on a failed log: accepted")
		}
		err := e.Close(context.Background())
		// Record 2 was accepted and lost; record 3 was refused to its
		// caller: one lost, not two.
		if !errors.Is(err, sdk.ErrRecordsLost) || !strings.Contains(err.Error(), "1 accepted record") {
			t.Fatalf("Close: %v; want ErrRecordsLost naming 1 record (the refused one is not lost: its caller was told)", err)
		}
	})
}

// TestCloseAfterDeadlineReportsShutdownDrops: the Close whose deadline
// passed returns its ctx's error, and the records not yet committed are
// dropped (DropShutdown). A later Close, or one that waited beside it
// (a signal handler's and a deferred one), finds the emitter finished:
// its doc says it returns nil only if every record it accepted was
// appended, but it returned nil though records it accepted were dropped
// for the deadline, so a host checking that Close took a lossy shutdown
// for a clean one.
func TestCloseAfterDeadlineReportsShutdownDrops(t *testing.T) {
	g := newGateSigner(t)
	l := coreLog(t, sdk.Config{Signer: g})
	e := newEmitter(t, l, sdk.EmitterOptions{Depth: 8, Workers: 1})
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
	if err := e.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close past its deadline: %v, want its ctx's error", err)
	}
	close(g.gate)
	<-e.Done()
	st := e.Stats()
	dropped := st.Dropped[sdk.DropShutdown]
	if dropped == 0 || st.Appended+dropped != 8 {
		t.Fatalf("stats %+v: want the records not appended dropped for the deadline", st)
	}
	err := e.Close(context.Background())
	if !errors.Is(err, sdk.ErrRecordsLost) || !errors.Is(err, sdk.ErrEmitterClosed) ||
		!strings.Contains(err.Error(), fmt.Sprintf(": %d accepted record", dropped)) {
		t.Fatalf("Close after an earlier Close's deadline dropped %d accepted records: %v; want ErrRecordsLost naming them", dropped, err)
	}
}
