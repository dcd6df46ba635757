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

// TestCloseWhileEmitsGoOn: callers that go on emitting after Close (a
// host whose handlers have not all stopped) get ErrEmitterClosed, and
// Close still drains and returns nil: the calls it must wait out are those
// that passed the closed check before it, not every call that comes after.
func TestCloseWhileEmitsGoOn(t *testing.T) {
	l := coreLog(t, sdk.Config{})
	e := newEmitter(t, l, sdk.EmitterOptions{Workers: 2, Depth: 64})
	var stop atomic.Bool
	var wg sync.WaitGroup
	var accepted atomic.Int64
	for p := range 8 {
		wg.Go(func() {
			for n := 0; !stop.Load(); n++ {
				rec := emitRecord(p, n, "s")
				var err error
				if n%2 == 0 {
					err = e.TryEmit(&rec)
				} else {
					err = e.Emit(context.Background(), &rec)
				}
				switch {
				case err == nil:
					accepted.Add(1)
				case errors.Is(err, sdk.ErrBusy), errors.Is(err, sdk.ErrEmitterClosed):
				default:
					t.Error(err)
				}
			}
		})
	}
	for accepted.Load() < 100 {
		time.Sleep(time.Millisecond)
	}
	// The deadline only tells a Close that never returns from a slow one:
	// under -race on a loaded 2-core machine the drain took 4.4 s once.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	err := e.Close(ctx)
	took := time.Since(start)
	stop.Store(true)
	wg.Wait()
	if err != nil {
		t.Fatalf("Close with callers still emitting: %v after %v", err, took)
	}
	st := finishedStats(t, e)
	if st.Dropped[sdk.DropShutdown] != 0 || st.Appended == 0 {
		t.Fatalf("%+v", st)
	}
}

// TestEmitKeepsCtxOnChainLock: Emit waits at most until its ctx ends,
// also for its chain's lock, held by a worker whose Store.Put hangs; the
// record is then shed as busy (wrapping ctx's error) and counted.
func TestEmitKeepsCtxOnChainLock(t *testing.T) {
	e, store := stuckInPut(t, sdk.EmitterOptions{Workers: 1, Depth: 8})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		rec := emitRecord(0, 1, "s")
		done <- e.Emit(ctx, &rec)
	}()
	select {
	case err := <-done:
		if !errors.Is(err, sdk.ErrBusy) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Emit past its ctx: %v, want ErrBusy wrapping DeadlineExceeded", err)
		}
	case <-time.After(5 * time.Second):
		store.release()
		<-done
		t.Fatal("Emit did not return when its ctx ended while it waited for its chain's lock")
	}
	store.release()
	closeEmitter(t, e)
	if st := finishedStats(t, e); st.Busy != 1 || st.Dropped[sdk.DropBackpressure] != 1 || st.Appended != 1 {
		t.Fatalf("stats %+v", st)
	}
}
