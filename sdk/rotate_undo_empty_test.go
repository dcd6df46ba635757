package sdk_test

import (
	"errors"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/rustyonions/ron-audit-go/sdk"
)

// emptyChain leaves chain (writer of coreRecord, stream) with no record:
// its first append fails (too large), after the Log made the chain.
func emptyChain(t *testing.T, l *sdk.Log, stream string) {
	t.Helper()
	r := coreRecord(99)
	r.Stream, r.Reason = stream, strings.Repeat("x", 5000)
	if _, err := l.Append(&r); err == nil {
		t.Fatal("a record past the limits was appended")
	}
	if _, ok := l.Head(r.WriterID, stream); ok {
		t.Fatal("the failed append left a head")
	}
}

// TestRotateKeyUndoneWithEmptyChain: RotateKey moves the chains with no
// record to next under l.mu, before any transition (c614860); a rotation
// that then writes no transition is undone (1353467). The chain with no
// record must end on the old key, Keys must not hold next, and the chain's
// first record after that is the old key's, which a reopen with the old
// key agrees with.
func TestRotateKeyUndoneWithEmptyChain(t *testing.T) {
	old, next := rotateSigner(t, "undo empty old"), rotateSigner(t, "undo empty next")
	dir := filepath.Join(t.TempDir(), "wal")
	flaky := &failOnce{Signer: old, after: 1} // a record, then the first transition fails
	l, _, err := sdk.OpenDurable(dir, sdk.Config{Signer: flaky}, sdk.DurableOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := coreRecord(1)
	if _, err := l.Append(&r); err != nil {
		t.Fatal(err)
	}
	emptyChain(t, l, "empty")
	if _, err := l.RotateKey(next); !errors.Is(err, sdk.ErrSign) {
		t.Fatalf("the rotation whose first transition fails: %v, want ErrSign", err)
	}
	if _, ok := l.Keys().Lookup(next.KeyID()); ok {
		t.Errorf("Keys holds %s, which signed nothing", next.KeyID())
	}
	r = coreRecord(2)
	r.Stream = "empty"
	a, err := l.Append(&r)
	if err != nil {
		t.Fatal(err)
	}
	if a.Record.KeyID != old.KeyID() {
		t.Errorf("the chain with no record, after the undone rotation, starts with key %s, want the old key %s", a.Record.KeyID, old.KeyID())
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l2, _, err := sdk.OpenDurable(dir, sdk.Config{Signer: old}, sdk.DurableOptions{})
	if err != nil {
		t.Fatalf("reopened with the old key: %v", err)
	}
	defer l2.Close()
	r = coreRecord(3)
	r.Stream = "empty"
	if _, err := l2.Append(&r); err != nil {
		t.Errorf("reopened with the old key, appending to the chain: %v", err)
	}
}

// startsEmpty is a signer whose armed signature (the rotation's first
// transition) first has another goroutine append the first record of the
// chain with no record, then fails: the chain starts while the rotation
// runs, after c614860 moved it to next.
type startsEmpty struct {
	sdk.Signer
	l     atomic.Pointer[sdk.Log]
	armed atomic.Bool
	first atomic.Pointer[sdk.Appended]
}

func (s *startsEmpty) Sign(msg []byte, sig *sdk.Signature) error {
	if s.armed.CompareAndSwap(true, false) {
		done := make(chan struct{})
		go func() {
			defer close(done)
			r := coreRecord(7)
			r.Stream = "empty"
			if a, err := s.l.Load().Append(&r); err == nil {
				s.first.Store(&a)
			}
		}()
		<-done
		return errors.New("the transition's signature fails")
	}
	return s.Signer.Sign(msg, sig)
}

// TestRotateKeyUndoneEmptyChainStartedMeanwhile: as above, but the chain
// with no record gets its first record while the rotation runs (signed
// by next, as RotateKey's docs say). The undo leaves it on next, and Keys
// must then hold next (it signed a record of the log).
func TestRotateKeyUndoneEmptyChainStartedMeanwhile(t *testing.T) {
	old, next := rotateSigner(t, "meanwhile old"), rotateSigner(t, "meanwhile next")
	s := &startsEmpty{Signer: old}
	l := coreLog(t, sdk.Config{Signer: s})
	s.l.Store(l)
	r := coreRecord(1)
	if _, err := l.Append(&r); err != nil {
		t.Fatal(err)
	}
	emptyChain(t, l, "empty")
	s.armed.Store(true)
	if _, err := l.RotateKey(next); !errors.Is(err, sdk.ErrSign) {
		t.Fatalf("RotateKey: %v, want ErrSign", err)
	}
	a := s.first.Load()
	if a == nil {
		t.Fatal("the chain's first record was not appended during the rotation")
	}
	if a.Record.KeyID != next.KeyID() {
		t.Errorf("first record during the rotation signed by %s, want next %s", a.Record.KeyID, next.KeyID())
	}
	if _, ok := l.Keys().Lookup(next.KeyID()); !ok {
		t.Errorf("Keys lacks %s, which signed the chain's first record", next.KeyID())
	}
	r = coreRecord(8)
	r.Stream = "empty"
	b, err := l.Append(&r)
	if err != nil {
		t.Fatal(err)
	}
	if b.Record.Signed && b.Record.KeyID != next.KeyID() {
		t.Errorf("the chain next started signs on with %s, with no transition (want next %s)", b.Record.KeyID, next.KeyID())
	}
	if _, err := sdk.VerifyChain(l.Store().Iter(r.WriterID, "empty"), l.Keys(), sdk.VerifyOptions{}); err != nil {
		t.Errorf("the chain with Keys: %v", err)
	}
}
