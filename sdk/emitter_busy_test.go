package sdk_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rustyonions/ron-audit-go/sdk"
)

// TestChainBusyFreesSlot: a TryEmit shed because its chain's lock stays
// held (a slow Store.Put) gives its slot back: once the store returns,
// every slot serves again.
func TestChainBusyFreesSlot(t *testing.T) {
	e, store := stuckInPut(t, sdk.EmitterOptions{Workers: 2, Depth: 2})
	for i := range 5 {
		rec := emitRecord(0, 1+i, "s")
		if err := e.TryEmit(&rec); !errors.Is(err, sdk.ErrBusy) {
			t.Fatalf("TryEmit %d: %v", i, err)
		}
		// the retry of the record in Put too
		retry := emitRecord(0, 0, "s")
		if err := e.TryEmit(&retry); !errors.Is(err, sdk.ErrBusy) {
			t.Fatalf("retry %d: %v", i, err)
		}
		if st := e.Stats(); st.InFlight != 1 {
			t.Fatalf("in flight %d after chain-busy shed", st.InFlight)
		}
	}
	// another chain still works with the freed slot
	other := emitRecord(0, 0, "t")
	done := make(chan error, 1)
	go func() { done <- e.TryEmit(&other) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("blocked")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := e.Close(ctx); err == nil {
		t.Log("Close nil")
	}
	store.release()
	<-e.Done()
	t.Logf("%+v", finishedStats(t, e))
}
