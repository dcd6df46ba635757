package sdk_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/rustyonions/ron-audit-go/sdk"
)

// TestRetryOfUndurableOriginalNotAcknowledged: a retry of a record the
// log committed before the emitter started (AppendPending, its fsync not
// yet waited for) must not be acknowledged as durable before its
// original is: the original's fsync may fail, and then the retry is lost.
func TestRetryOfUndurableOriginalNotAcknowledged(t *testing.T) {
	store := &cmdStore{MemStore: sdk.NewMemStore(0), waitFailFrom: 1}
	l := coreLog(t, sdk.Config{Store: store})
	orig := emitRecord(0, 1, "s")
	p, err := l.AppendPending(&orig)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var acks []sdk.EmitAck
	var drops []string
	e := newEmitter(t, l, sdk.EmitterOptions{
		Shed: sdk.ShedBlock,
		OnDurable: func(a sdk.EmitAck) {
			mu.Lock()
			acks = append(acks, a)
			mu.Unlock()
		},
		OnDrop: func(w, s, reason string, err error) {
			mu.Lock()
			drops = append(drops, reason+": "+err.Error())
			mu.Unlock()
		},
	})
	retry := emitRecord(0, 1, "s")
	if err := e.TryEmit(&retry); err != nil {
		t.Fatalf("retry: %v", err)
	}
	settle(e)
	// The original's fsync fails: it is not durable, nor is its retry.
	if err := p.Wait(); err == nil {
		t.Fatal("the original's Wait: nil, want the fsync failure")
	}
	cerr := e.Close(context.Background())
	mu.Lock()
	defer mu.Unlock()
	if len(acks) != 0 {
		t.Errorf("OnDurable %+v for a retry whose original was never durable (its fsync failed); OnDrop %q; Close %v", acks, drops, cerr)
	}
	if !errors.Is(cerr, sdk.ErrRecordsLost) || !strings.Contains(cerr.Error(), "svc-gateway@inst-1/s seq 1 is not durable") {
		t.Errorf("Close: %v, want ErrRecordsLost naming the chain and seq of the record not durable", cerr)
	}
	// The original was not this emitter's: no lost record of its counts
	// it, so the retry is the one record the emitter lost, not a retry
	// lost with an original it counted.
	if cerr != nil && (!strings.Contains(cerr.Error(), ": 1 accepted record not appended (") || strings.Contains(cerr.Error(), "retr")) {
		t.Errorf("Close: %v; want 1 accepted record lost, no retry named apart", cerr)
	}
	if len(drops) != 1 || strings.Contains(drops[0], "retry") {
		t.Errorf("OnDrop %q; want the one record lost, not a retry lost with an original the emitter counted", drops)
	}
}

// TestRetryWaitsForItsOriginal: Append of a retry whose original another
// caller appended and is still waiting for (AppendPending, its Wait not
// returned) must not return before the original is durable: its Wait
// returned nil at once, so a retry was acknowledged though the
// original's fsync then failed and the record was lost.
func TestRetryWaitsForItsOriginal(t *testing.T) {
	store := &cmdStore{MemStore: sdk.NewMemStore(0), waitFailFrom: 1}
	l := coreLog(t, sdk.Config{Store: store})
	orig := emitRecord(0, 1, "s")
	p, err := l.AppendPending(&orig)
	if err != nil {
		t.Fatal(err)
	}
	retry := emitRecord(0, 1, "s")
	a, err := l.Append(&retry)
	if err == nil {
		t.Errorf("Append of a retry of a record whose fsync fails: %+v, nil; want the failure", a)
	}
	if !errors.Is(err, sdk.ErrStore) && err != nil {
		t.Errorf("Append of the retry: %v, want ErrStore", err)
	}
	if err := p.Wait(); err == nil {
		t.Error("the original's Wait: nil, want the fsync failure")
	}
}
