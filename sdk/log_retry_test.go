package sdk_test

import (
	"errors"
	"testing"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/sdk"
)

// TestAppendRetryOfDurableRecordAfterLogFailure: once the log has failed
// (a record's Wait failed), Append and AppendPending of a retry of a
// record that is durable are still the idempotent no-op dedupe promises:
// they return the original with Duplicate set, as the Emitter acknowledges
// such a retry. A retry of the record whose Wait failed, or of one no Wait
// covered yet, and a new record still get the failure.
func TestAppendRetryOfDurableRecordAfterLogFailure(t *testing.T) {
	store := &failFromStore{MemStore: sdk.NewMemStore(0), failFrom: 3}
	l := coreLog(t, sdk.Config{Store: store})
	rec := func(n int) canonical.AuditRecord { return emitRecord(0, n, "s") }
	r1 := rec(1)
	orig, err := l.Append(&r1) // ticket 1: durable
	if err != nil {
		t.Fatal(err)
	}
	r2 := rec(2)
	p2, err := l.AppendPending(&r2) // ticket 2: durable, but not waited for yet
	if err != nil {
		t.Fatal(err)
	}
	r3 := rec(3)
	if _, err := l.Append(&r3); !errors.Is(err, sdk.ErrStore) { // ticket 3: its Wait fails
		t.Fatalf("Append of record 3 whose Wait fails: %v, want ErrStore", err)
	}

	checkDup := func(what string, a sdk.Appended, err error, r *canonical.AuditRecord, want sdk.Appended) {
		t.Helper()
		if err != nil || !a.Duplicate || a.Seq != want.Seq || a.Record.Hash != want.Head.Hash ||
			string(a.Record.Bytes) != string(want.Record.Bytes) {
			t.Errorf("%s after the log failed: %+v, %v; want the original seq %d %s with Duplicate set",
				what, a, err, want.Seq, want.Head.Hash)
		}
		if r.Seq != 0 || r.Prev != nil || r.TsMs == 0 {
			t.Errorf("%s changed the caller's record: seq %d, prev %x, tsMs %d", what, r.Seq, r.Prev, r.TsMs)
		}
	}
	refused := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, sdk.ErrStore) {
			t.Errorf("%s after the log failed: %v, want refused with ErrStore", what, err)
		}
	}

	retry := rec(1)
	a, err := l.Append(&retry)
	checkDup("Append of a retry of durable seq 1", a, err, &retry, orig)
	p, err := l.AppendPending(&retry)
	if err == nil {
		err = p.Wait()
	}
	checkDup("AppendPending of a retry of durable seq 1", p.Appended, err, &retry, orig)

	// Record 2 is on disk, but nothing said so yet: refused, until its
	// Wait does.
	retry2 := rec(2)
	_, err = l.Append(&retry2)
	refused("Append of a retry of seq 2 before its Wait", err)
	if err := p2.Wait(); err != nil {
		t.Fatalf("Wait of seq 2: %v", err)
	}
	a, err = l.Append(&retry2)
	checkDup("Append of a retry of seq 2 after its Wait", a, err, &retry2, p2.Appended)

	retry3 := rec(3)
	_, err = l.Append(&retry3)
	refused("Append of a retry of seq 3, which is not durable", err)
	_, err = l.AppendPending(&retry3)
	refused("AppendPending of a retry of seq 3, which is not durable", err)
	r4 := rec(4)
	_, err = l.Append(&r4)
	refused("Append of a new record", err)
	other := emitRecord(0, 1, "other")
	_, err = l.Append(&other)
	refused("Append to a new chain", err)
	// A seq the chain would refuse on a healthy log makes no retry.
	pinned := rec(1)
	pinned.Seq = 1
	_, err = l.Append(&pinned)
	refused("Append of a retry of seq 1 that names seq 1", err)
	if h, _ := l.Head("svc-gateway@inst-1", "s"); h.Seq != 3 {
		t.Errorf("head after the retries: seq %d, want 3 (nothing appended)", h.Seq)
	}
}

// TestAppendRetryAfterClose: Close is no failure that a retry of a
// durable record outlives: every append after it fails, with ErrClosed
// on a healthy log, and with the failure on a failed one.
func TestAppendRetryAfterClose(t *testing.T) {
	for _, failed := range []bool{false, true} {
		store := &failFromStore{MemStore: sdk.NewMemStore(0), failFrom: 2}
		l := coreLog(t, sdk.Config{Store: store})
		r1 := emitRecord(0, 1, "s")
		if _, err := l.Append(&r1); err != nil {
			t.Fatal(err)
		}
		want := sdk.ErrClosed
		if failed {
			r2 := emitRecord(0, 2, "s")
			if _, err := l.Append(&r2); !errors.Is(err, sdk.ErrStore) {
				t.Fatalf("Append of record 2 whose Wait fails: %v", err)
			}
			want = sdk.ErrStore
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		if a, err := l.Append(&r1); !errors.Is(err, want) {
			t.Errorf("failed %v: Append of a retry of durable seq 1 after Close: %+v, %v; want %v", failed, a, err, want)
		}
	}
}
