package sdk

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rustyonions/ron-audit-go/canonical"
)

// stallSigner is an Ed25519Signer whose stallAt-th Sign (1-based) blocks
// until gate closes, as a signer thread the OS has stopped.
type stallSigner struct {
	*Ed25519Signer
	stallAt int64
	calls   atomic.Int64
	entered chan struct{}
	gate    chan struct{}
}

func newStallSigner(t *testing.T, at int64) *stallSigner {
	return &stallSigner{Ed25519Signer: newTestSigner(t), stallAt: at,
		entered: make(chan struct{}), gate: make(chan struct{})}
}

func (s *stallSigner) Sign(msg []byte, sig *Signature) error {
	if s.calls.Add(1) == s.stallAt {
		close(s.entered)
		<-s.gate
	}
	return s.Ed25519Signer.Sign(msg, sig)
}

// hedgeableStall is stallSigner, hedgeable like Ed25519Signer.
type hedgeableStall struct{ *stallSigner }

func (hedgeableStall) hedgeable() {}

// hedgeRun emits n records on one chain through 2 workers with signer s,
// whose third signature stalls, and returns the emitter and a channel of
// the seqs acknowledged durable.
func hedgeRun(t *testing.T, s Signer, st *stallSigner, n int) (*Log, *Emitter, chan uint64) {
	t.Helper()
	l, err := New(Config{Signer: s, Store: NewMemStore(1 << 20)})
	if err != nil {
		t.Fatal(err)
	}
	acked := make(chan uint64, n)
	e, err := NewEmitter(l, EmitterOptions{Workers: 2, Depth: 8, OnDurable: func(a EmitAck) { acked <- a.Seq }})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range n {
			rec := canonical.AuditRecord{Kind: canonical.KindGetServed, TsMs: 1764201600000 + uint64(i),
				WriterID: "svc-gateway@inst-1", Stream: "reads", Attrs: []canonical.Attr{{Key: "n", Value: strconv.Itoa(i)}}}
			if err := e.Emit(context.Background(), &rec); err != nil {
				t.Error(err)
				return
			}
		}
	})
	t.Cleanup(func() {
		select {
		case <-st.gate:
		default:
			close(st.gate)
		}
		wg.Wait()
		e.Close(context.Background())
	})
	<-st.entered
	return l, e, acked
}

// TestHedgeStalledSigner: while the worker making the third signature
// (seq 3 or 4) is stopped, the other worker signs that record as well and
// the chain goes on; the stopped
// worker's late signature is dropped, its slot is held until it returns,
// and the chain verifies.
func TestHedgeStalledSigner(t *testing.T) {
	const n = 40
	st := newStallSigner(t, 3)
	l, e, acked := hedgeRun(t, hedgeableStall{st}, st, n)
	for want := uint64(1); want <= n; want++ {
		select {
		case seq := <-acked:
			if seq != want {
				t.Fatalf("acknowledged seq %d, want %d", seq, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("seq %d not durable while a signer is stalled: not hedged (Stats %+v)", want, e.Stats())
		}
	}
	stats := e.Stats()
	if stats.Hedged < 1 {
		t.Fatalf("Hedged %d, want >= 1", stats.Hedged)
	}
	// A slot is freed just after its acknowledgement: wait for the others.
	for deadline := time.Now().Add(5 * time.Second); stats.InFlight > 1 && time.Now().Before(deadline); stats = e.Stats() {
		time.Sleep(time.Millisecond)
	}
	if stats.InFlight != 1 {
		t.Fatalf("InFlight %d while the stalled worker holds its slot, want 1", stats.InFlight)
	}
	close(st.gate)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if stats = e.Stats(); stats.Appended != n || stats.InFlight != 0 {
		t.Fatalf("after Close: %+v", stats)
	}
	res, err := VerifyChain(l.Store().Iter("svc-gateway@inst-1", "reads"), l.Keys(), VerifyOptions{})
	if err != nil || res.Records != n {
		t.Fatalf("verify: %+v, %v", res, err)
	}
}

// TestHedgeOnlyHedgeable: a Signer from another package is never called
// twice for a record: its chain waits for the stalled signature.
func TestHedgeOnlyHedgeable(t *testing.T) {
	const n = 12
	st := newStallSigner(t, 3)
	_, e, acked := hedgeRun(t, st, st, n)
	// The stalled call is the third: seq 3, or 4 if the other worker got
	// there first. Its chain stops before it until the signer returns.
	next := uint64(1)
	for quiet := false; !quiet; {
		select {
		case seq := <-acked:
			if seq != next {
				t.Fatalf("acknowledged seq %d, want %d", seq, next)
			}
			next++
		case <-time.After(100 * time.Millisecond):
			quiet = true
		}
	}
	if next > 4 {
		t.Fatalf("seqs up to %d acknowledged while the third signature is stalled", next-1)
	}
	close(st.gate)
	for ; next <= n; next++ {
		if seq := <-acked; seq != next {
			t.Fatalf("acknowledged seq %d, want %d", seq, next)
		}
	}
	if h := e.Stats().Hedged; h != 0 {
		t.Fatalf("Hedged %d for a signer that is not hedgeable", h)
	}
	if c := st.calls.Load(); c != n {
		t.Fatalf("%d Sign calls for %d records", c, n)
	}
}
