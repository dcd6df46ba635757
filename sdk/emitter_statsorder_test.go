package sdk_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/rustyonions/ron-audit-go/sdk"
)

// TestStatsNeverShowMoreEndedThanOffered: Stats, read while callers emit,
// never counts a record's end (appended, a duplicate, dropped) without
// the offer it ends: a host that subtracts, Offered - Appended - Dedupe -
// Dropped (the records still in the emitter, or calls still running),
// must not wrap. Stats read Offered first, so a call that began after
// that read and was refused before the drop counts were read was ended
// but not offered. The calls here are refused at once (busy, closed), as
// they are in a shed storm and while a host shuts down.
func TestStatsNeverShowMoreEndedThanOffered(t *testing.T) {
	e, release, stop := shedStorm(t, sdk.EmitterOptions{Workers: 1, Depth: 1}, nil)
	check := func(when string) {
		for range 20000 {
			st := e.Stats()
			ended := st.Appended + st.Dedupe
			for _, n := range st.Dropped {
				ended += n
			}
			if ended > st.Offered {
				t.Fatalf("%s: Stats counts %d records ended of %d offered: %+v", when, ended, st.Offered, st)
			}
		}
	}
	check("shedding")
	release()
	closed := make(chan error, 1)
	go func() { closed <- e.Close(context.Background()) }()
	check("closed")
	stop()
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	finishedStats(t, e)
}

// shedStorm starts an emitter of opts (Workers 1, Depth 1) whose only
// slot is held, so that every TryEmit is shed, and two callers offering
// records to it until stop (also a cleanup), each calling offered, if
// not nil, after each TryEmit. release lets the held record go on.
func shedStorm(t *testing.T, opts sdk.EmitterOptions, offered func()) (e *sdk.Emitter, release func(), stop func()) {
	t.Helper()
	s := newCmdSigner(t)
	release, entered := s.gateAt(1)
	e = newEmitter(t, coreLog(t, sdk.Config{Signer: s}), opts)
	t.Cleanup(s.releaseAll) // before the emitter's Close (cleanups run last first)
	first := emitRecord(0, 0, "s")
	if err := e.TryEmit(&first); err != nil {
		t.Fatal(err)
	}
	<-entered // the only slot is held: every TryEmit now sheds
	var done atomic.Bool
	var wg sync.WaitGroup
	stop = func() { done.Store(true); wg.Wait() }
	t.Cleanup(stop)
	for p := range 2 {
		wg.Go(func() {
			for n := 1; !done.Load(); n++ {
				rec := emitRecord(p, n, "s")
				e.TryEmit(&rec)
				if offered != nil {
					offered()
				}
			}
		})
	}
	return e, release, stop
}
