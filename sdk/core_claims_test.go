package sdk_test

// Claims of the Log's godoc about dedupe and failed appends that no other
// test pinned.

import (
	"errors"
	"sync/atomic"
	"testing"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/sdk"
)

// countObserver counts Committed calls.
type countObserver struct{ committed atomic.Int64 }

func (o *countObserver) Committed(string, string, uint64, canonical.Hash, bool) { o.committed.Add(1) }
func (o *countObserver) Durable(string, string, uint64, bool)                   {}

// TestPutFailureLeavesChain: a record whose Store.Put fails, after it was
// hashed, linked and signed, leaves the chain exactly as it was: head,
// the checkpoint-sealed count (the record due to be signed is signed when
// it comes again), the dedupe window (the failed record is no original:
// it is appended when retried, under the seq it would have had; an older
// record still dedupes) and the Observer, which heard nothing.
func TestPutFailureLeavesChain(t *testing.T) {
	store := &coreFailPutStore{MemStore: sdk.NewMemStore(0)}
	obs := &countObserver{}
	l := coreLog(t, sdk.Config{Store: store, SealEvery: 3, Observer: obs, DedupeWindow: 4})
	before := coreAppend(t, l, 2)[1].Head
	store.fail = true
	r := coreRecord(2)
	if _, err := l.Append(&r); !errors.Is(err, sdk.ErrStore) {
		t.Fatalf("Append with Put failing: %v, want ErrStore", err)
	}
	if h, _ := l.Head(before.WriterID, before.Stream); h != before {
		t.Fatalf("head %+v after the failed Put, was %+v", h, before)
	}
	if n := obs.committed.Load(); n != 2 {
		t.Fatalf("Observer heard %d commits, want 2", n)
	}
	store.fail = false
	r = coreRecord(2)
	if a, err := l.Append(&r); err != nil || a.Duplicate || a.Seq != 3 || !a.Record.Signed || a.Head.SealedSeq != 3 {
		t.Fatalf("the record again: %+v, %v; want seq 3, appended and signed", a, err)
	}
	r = coreRecord(0)
	if a, err := l.Append(&r); err != nil || !a.Duplicate || a.Seq != 1 {
		t.Fatalf("retry of seq 1: %+v, %v; want the original", a, err)
	}
}

// TestDedupeWindowBound: the window is the chain's last DedupeWindow
// records exactly (1 included; 0 means DefaultDedupeWindow), and a
// chain's window holds only its own: the same event on another stream or
// writer is another chain's record.
func TestDedupeWindowBound(t *testing.T) {
	for _, set := range []int{1, 2, 8, 0} {
		w := set
		if set == 0 {
			w = sdk.DefaultDedupeWindow
		}
		l := coreLog(t, sdk.Config{DedupeWindow: set})
		coreAppend(t, l, w)
		r := coreRecord(0)
		if a, err := l.Append(&r); err != nil || !a.Duplicate || a.Seq != 1 {
			t.Fatalf("window %d, seq 1 of %d: %+v, %v; want the original", w, w, a, err)
		}
		coreAppendFrom(t, l, w, 1)
		r = coreRecord(0)
		if a, err := l.Append(&r); err != nil || a.Duplicate || a.Seq != uint64(w+2) {
			t.Fatalf("window %d, seq 1 of %d: %+v, %v; want appended", w, w+1, a, err)
		}
	}
	l := coreLog(t, sdk.Config{})
	coreAppend(t, l, 1)
	for _, mut := range []func(*canonical.AuditRecord){
		func(r *canonical.AuditRecord) { r.Stream = "other" },
		func(r *canonical.AuditRecord) { r.WriterID = "other@inst-1" },
	} {
		r := coreRecord(0)
		mut(&r)
		if a, err := l.Append(&r); err != nil || a.Duplicate || a.Seq != 1 {
			t.Fatalf("the event on %s/%s: %+v, %v; want appended as seq 1", r.WriterID, r.Stream, a, err)
		}
	}
}

// TestDedupeOfEvictedOriginal: "a record it no longer keeps there is not
// deduped against (a retry of it is appended again, as a new record)"
// (Append; README): a MemStore that evicted the original, though the
// window still holds it, appends the retry under the next seq.
func TestDedupeOfEvictedOriginal(t *testing.T) {
	store := sdk.NewMemStore(sdk.MemStoreMinBytes)
	l := coreLog(t, sdk.Config{Store: store}) // the default window: 1024
	coreAppend(t, l, 1000)
	if _, first := store.Evicted("svc-gateway@inst-1", "reads"); first <= 1 {
		t.Fatalf("seq 1 not evicted (first kept %d)", first)
	}
	r := coreRecord(999)
	if a, err := l.Append(&r); err != nil || !a.Duplicate || a.Seq != 1000 {
		t.Fatalf("retry of the newest: %+v, %v; want the original", a, err)
	}
	r = coreRecord(0)
	if a, err := l.Append(&r); err != nil || a.Duplicate || a.Seq != 1001 {
		t.Fatalf("retry of evicted seq 1: %+v, %v; want appended as seq 1001", a, err)
	}
}

// TestRecordsEmptyRange: "to = from-1 is the empty range (no records, no
// error)" (Log.Records), wherever it lies. Before a MemStore's oldest
// kept record it was ErrEvicted ("records 1..0: the oldest kept is seq
// N"), and anywhere else it copied and decoded the whole chain (Iter) to
// find none: an allocation of up to the store's bound per call.
func TestRecordsEmptyRange(t *testing.T) {
	store := sdk.NewMemStore(sdk.MemStoreMinBytes)
	l := coreLog(t, sdk.Config{Store: store})
	as := coreAppend(t, l, 500)
	w, s := as[0].Head.WriterID, as[0].Head.Stream
	if _, first := store.Evicted(w, s); first <= 5 {
		t.Fatalf("nothing evicted (first kept %d)", first)
	}
	for _, from := range []uint64{1, 5, 500, 501, 600} {
		if recs, err := l.Records(w, s, from, from-1); err != nil || len(recs) != 0 {
			t.Errorf("Records %d..%d: %d records, %v; want none, no error", from, from-1, len(recs), err)
		}
	}
	if n := testing.AllocsPerRun(10, func() { l.Records(w, s, 501, 500) }); n != 0 {
		t.Errorf("Records 501..500 allocates %v times", n)
	}
}
