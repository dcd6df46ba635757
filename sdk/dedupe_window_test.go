package sdk_test

import (
	"context"
	"testing"
	"time"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/sdk"
)

// TestEmitterFailedRecordKeepsDedupeWindow: a record the Emitter linked
// and then lost (its signature failed) is no record of the chain, so it
// must not take a place in the chain's dedupe window. It did: link added
// its fingerprint, nothing took it back, and the window of 4 then held
// only the last 3 committed records: a retry of seq 1, one of the chain's
// last 4 records, was appended again as seq 5 (the same event twice in
// the trail). Append, after the emitter, saw the same short window.
func TestEmitterFailedRecordKeepsDedupeWindow(t *testing.T) {
	s := &scriptSigner{Signer: coreSigner(t), failAt: 4}
	l := coreLog(t, sdk.Config{Signer: s, DedupeWindow: 4})
	acks := make(chan sdk.EmitAck, 16)
	drops := make(chan string, 16)
	e := newEmitter(t, l, sdk.EmitterOptions{Workers: 1, Shed: sdk.ShedBlock,
		OnDurable: func(a sdk.EmitAck) { acks <- a },
		OnDrop:    func(_, _, reason string, _ error) { drops <- reason }})
	emit := func(r canonical.AuditRecord) {
		t.Helper()
		if err := e.Emit(context.Background(), &r); err != nil {
			t.Fatal(err)
		}
	}
	wait := func() sdk.EmitAck {
		t.Helper()
		select {
		case a := <-acks:
			return a
		case d := <-drops:
			t.Fatalf("dropped: %s", d)
		case <-time.After(30 * time.Second):
			t.Fatal("no acknowledgement")
		}
		return sdk.EmitAck{}
	}
	for i := range 3 {
		emit(coreRecord(i))
		wait()
	}
	emit(coreRecord(100)) // the 4th signature fails
	select {
	case d := <-drops:
		if d != sdk.DropSinkError {
			t.Fatalf("dropped as %s", d)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the failed record was not dropped")
	}
	emit(coreRecord(3))
	if a := wait(); a.Seq != 4 || a.Duplicate {
		t.Fatalf("after the failure: %+v, want seq 4", a)
	}
	emit(coreRecord(0)) // seq 1: one of the last 4 records
	if a := wait(); !a.Duplicate || a.Seq != 1 {
		t.Fatalf("retry of seq 1 with seqs 1..4 in the chain and a window of 4: %+v, want the original", a)
	}
	closeEmitterLost(t, e, 1) // the record whose signature failed
	r := coreRecord(0)
	if a, err := l.Append(&r); err != nil || !a.Duplicate || a.Seq != 1 {
		t.Fatalf("Append's retry of seq 1 after the emitter: %+v, %v; want the original", a, err)
	}
}
