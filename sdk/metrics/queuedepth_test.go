package metrics

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/sdk"
)

// slowDiskStore is a MemStore whose records become durable only once
// hold is closed: a WAL whose fsync stalls.
type slowDiskStore struct {
	*sdk.MemStore
	hold chan struct{}
}

func (s *slowDiskStore) Wait(t sdk.Ticket) error {
	<-s.hold
	return s.MemStore.Wait(t)
}

// TestQueueDepthShowsWhatSheds: audit_queue_depth counts the records the
// emitter holds (its Depth slots taken: queued, signing, or waiting to be
// durable), so that it reaches Depth exactly when TryEmit sheds, as the
// Queue Health panel's threshold at the default Depth and the runbook
// ("under disk pressure fsync p95 rises and audit_queue_depth with it")
// read it. It counted only the records waiting for a worker: with the
// disk stalled, every slot waited for an fsync, the emitter shed all it
// was offered, and audit_queue_depth said 0.
func TestQueueDepthShowsWhatSheds(t *testing.T) {
	const depth = 16
	m, _ := newMetrics(t)
	st := &slowDiskStore{MemStore: sdk.NewMemStore(0), hold: make(chan struct{})}
	l, err := sdk.New(sdk.Config{Signer: testSigner(t), Store: st})
	if err != nil {
		t.Fatal(err)
	}
	e, err := sdk.NewEmitter(l, sdk.EmitterOptions{Metrics: m, Workers: 2, Depth: depth})
	if err != nil {
		t.Fatal(err)
	}
	for i := range depth {
		emitOK(t, e, testRecord(i, canonical.KindGetServed, fmt.Sprint("s", i%4)))
	}
	// The workers take every record off the queue; none becomes durable.
	for deadline := time.Now().Add(10 * time.Second); e.Stats().QueueDepth > 0; {
		if time.Now().After(deadline) {
			t.Fatalf("records still queued: %+v", e.Stats())
		}
		time.Sleep(time.Millisecond)
	}
	if err := e.TryEmit(new(testRecord(99, canonical.KindGetServed, "s0"))); !errors.Is(err, sdk.ErrBusy) {
		t.Fatalf("TryEmit with every slot waiting for the disk: %v, want ErrBusy", err)
	}
	if got, st := testutil.ToFloat64(m.queueDepth), e.Stats(); got != depth || st.InFlight != depth {
		t.Errorf("shedding with %d of %d slots held: %s = %v", st.InFlight, depth, NameQueueDepth, got)
	}
	close(st.hold)
	if err := e.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(m.queueDepth); got != 0 {
		t.Errorf("%s = %v after Close", NameQueueDepth, got)
	}
}
