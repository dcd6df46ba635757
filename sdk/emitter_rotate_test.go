package sdk_test

import (
	"testing"

	"github.com/rustyonions/ron-audit-go/sdk"
)

// TestRotateAfterEmitterFailedFirst: a chain whose first record failed
// through the Emitter is no chain for RotateKey either (as for Append,
// TestFailedFirstAppendLeavesNoChain): its first record is signed by the
// new key and the log verifies.
func TestRotateAfterEmitterFailedFirst(t *testing.T) {
	store := &flakyPutStore{MemStore: sdk.NewMemStore(0)}
	l := coreLog(t, sdk.Config{Store: store})
	coreAppend(t, l, 2)
	e := newEmitter(t, l, sdk.EmitterOptions{Workers: 2})
	store.fail.Store(true)
	accepted := 0 // a record linked behind a failed one is refused to its caller, not lost
	for n := range 3 {
		r := emitRecord(0, n, "fresh")
		if e.TryEmit(&r) == nil {
			accepted++
		}
	}
	closeEmitterLost(t, e, accepted)
	store.fail.Store(false)
	if h := l.Heads(); len(h) != 1 {
		t.Fatalf("heads %+v", h)
	}
	next := rotateSigner(t, "next key")
	heads, err := l.RotateKey(next)
	if err != nil || len(heads) != 1 {
		t.Fatalf("%+v %v", heads, err)
	}
	e2 := newEmitter(t, l, sdk.EmitterOptions{Workers: 2, Shed: sdk.ShedBlock})
	for n := range 3 {
		r := emitRecord(0, n, "fresh")
		if err := e2.TryEmit(&r); err != nil {
			t.Fatal(err)
		}
	}
	closeEmitter(t, e2)
	rec, ok := l.Store().Get("svc-gateway@inst-1", "fresh", 1)
	if !ok || rec.KeyID != next.KeyID() {
		t.Fatalf("%v %v", ok, rec.KeyID)
	}
	keys := sdk.NewKeySet(next.Public())
	if _, err := sdk.VerifyChain(l.Store().Iter("svc-gateway@inst-1", "fresh"), keys, sdk.VerifyOptions{}); err != nil {
		t.Fatal(err)
	}
}
