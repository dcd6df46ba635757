package sdk_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/rustyonions/ron-audit-go/sdk"
)

// holdDropMetrics is countMetrics whose first Dropped call for each
// reason it holds waits for that reason's gate, once it has closed the
// reason's entered: a caller stopped inside TryEmit (the OS stopped its
// thread, or a slow metrics backend) at a known point.
type holdDropMetrics struct {
	countMetrics
	holds map[string]*dropHold // set before the emitter starts
}

type dropHold struct {
	entered, gate chan struct{}
	once, rel     sync.Once
}

func (h *dropHold) release() { h.rel.Do(func() { close(h.gate) }) }

func newHoldDropMetrics(t *testing.T, reasons ...string) *holdDropMetrics {
	m := &holdDropMetrics{countMetrics: countMetrics{dropped: map[string]int{}}, holds: map[string]*dropHold{}}
	for _, r := range reasons {
		h := &dropHold{entered: make(chan struct{}), gate: make(chan struct{})}
		m.holds[r] = h
		t.Cleanup(h.release) // a test that failed half way leaves no caller held
	}
	return m
}

func (m *holdDropMetrics) Dropped(r string) {
	if h := m.holds[r]; h != nil {
		h.once.Do(func() {
			close(h.entered)
			<-h.gate
		})
	}
	m.countMetrics.Dropped(r)
}

// isClosed reports whether e's Close has begun (Ready says so).
func isClosed(e *sdk.Emitter) bool {
	var d *sdk.DegradedError
	return errors.As(e.Ready(), &d) && d.Closed
}

// TestCloseNotHeldByCallsAfterIt: Close waits out the emit calls that
// passed its closed check before it, not one that began after Close and
// is on its way out with ErrEmitterClosed. Close waited until no call at
// all was running, so a host whose handlers go on emitting while it shuts
// down (TestCloseWhileEmitsGoOn, whose drain once took 4.4 s) kept the
// emitter's queue open for as long as the calls overlapped: here a call
// begun before Close ends while one begun after it is still counting its
// drop, and the emitter did not finish until that one returned.
func TestCloseNotHeldByCallsAfterIt(t *testing.T) {
	m := newHoldDropMetrics(t, sdk.DropInvalid, sdk.DropClosed)
	e := newEmitter(t, coreLog(t, sdk.Config{}), sdk.EmitterOptions{Workers: 1, Depth: 4, Metrics: m})
	first := emitRecord(0, 0, "s")
	if err := e.TryEmit(&first); err != nil {
		t.Fatal(err)
	}
	calls := make(chan error, 2)
	go func() { // begun before Close: held while it counts its drop
		rec := emitRecord(0, 1, "s")
		rec.Seq = 7
		calls <- e.TryEmit(&rec)
	}()
	<-m.holds[sdk.DropInvalid].entered
	closed := make(chan error, 1)
	go func() { closed <- e.Close(context.Background()) }()
	for !isClosed(e) {
		time.Sleep(time.Millisecond)
	}
	go func() { // begun after Close
		rec := emitRecord(0, 2, "s")
		calls <- e.TryEmit(&rec)
	}()
	<-m.holds[sdk.DropClosed].entered
	m.holds[sdk.DropInvalid].release()
	if err := <-calls; err == nil || errors.Is(err, sdk.ErrEmitterClosed) {
		t.Fatalf("TryEmit of a record with seq set: %v, want its FieldError", err)
	}
	// Every call begun before Close has returned: nothing is left to wait
	// out. The timeout only tells a Close that never finishes.
	select {
	case err := <-closed:
		if err != nil {
			t.Errorf("Close: %v", err)
		}
	case <-time.After(10 * time.Second):
		m.holds[sdk.DropClosed].release()
		<-closed
		t.Fatal("Close did not finish while a TryEmit begun after it was still returning ErrEmitterClosed")
	}
	m.holds[sdk.DropClosed].release()
	if err := <-calls; err != sdk.ErrEmitterClosed {
		t.Errorf("TryEmit after Close: %v, want ErrEmitterClosed", err)
	}
	st := finishedStats(t, e)
	if st.Offered != 3 || st.Appended != 1 || st.Dropped[sdk.DropInvalid] != 1 || st.Dropped[sdk.DropClosed] != 1 {
		t.Errorf("stats %+v", st)
	}
}
