package sdk_test

import (
	"testing"

	"github.com/rustyonions/ron-audit-go/sdk"
)

// TestRotateKeyPanicUndoesRotation: RotateKey signs each chain's key
// transition with the chain's Signer under the chain's lock, and holds the
// log's rotation lock throughout; a Signer that panics (recovered by the
// caller, see Log.Append) left both held: the chain's appends, Head,
// NewEmitter, Close and every later RotateKey waited forever. And with no
// transition written, the rotation must be undone, as a failed signature
// undoes it: new chains begin with the old key again, and RotateKey to
// the new key later does the whole rotation.
func TestRotateKeyPanicUndoesRotation(t *testing.T) {
	old, next := rotateSigner(t, "panic old"), rotateSigner(t, "panic next")
	streams := []string{"a", "b"}
	p := &panicAt{at: int64(len(streams)) + 1} // a record per chain, then the first transition
	l := coreLog(t, sdk.Config{Signer: panicSigner{old, p}})
	for i, s := range streams {
		r := coreRecord(i)
		r.Stream = s
		if _, err := l.Append(&r); err != nil {
			t.Fatal(err)
		}
	}
	before := l.Heads()
	if v := recovered(func() { _, _ = l.RotateKey(next) }); v == nil {
		t.Fatal("RotateKey with a panicking Signer did not panic")
	}
	noHang(t, "Heads after RotateKey panicked", func() {
		if after := l.Heads(); len(after) != len(before) {
			t.Errorf("heads after the panic %+v, before %+v", after, before)
		} else {
			for _, h := range before {
				if got, _ := l.Head(h.WriterID, h.Stream); got != h {
					t.Errorf("head after the panic %+v, before %+v", got, h)
				}
			}
		}
	})
	noHang(t, "Append after RotateKey panicked", func() {
		r := coreRecord(10)
		r.Stream = "new"
		a, err := l.Append(&r)
		if err != nil {
			t.Error(err)
			return
		}
		if a.Record.KeyID != old.KeyID() {
			t.Errorf("a chain started after the panicked rotation is signed by %s, want the old key %s: the rotation was not undone", a.Record.KeyID, old.KeyID())
		}
		if _, ok := l.Keys().Lookup(next.KeyID()); ok {
			t.Error("Keys holds the new key, with which nothing was signed")
		}
	})
	noHang(t, "RotateKey after RotateKey panicked", func() {
		heads, err := l.RotateKey(next)
		if err != nil || len(heads) != len(streams)+1 {
			t.Errorf("RotateKey again: %d heads, %v; want %d", len(heads), err, len(streams)+1)
		}
	})
	for _, s := range append(streams, "new") {
		if _, err := coreVerify(t, l, "svc-gateway@inst-1", s, sdk.VerifyOptions{}); err != nil {
			t.Errorf("chain %s: %v", s, err)
		}
	}
}
