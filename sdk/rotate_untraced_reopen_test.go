package sdk_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/wal"
)

// TestRotateKeyUntracedChainReopenedFinishes: a rotation that wrote no
// transition (its first failed, or a crash came before one was durable)
// leaves a chain started while it ran on next, its first record signed
// by next, with no transition in the log naming next. Reopened with the
// old key, that chain is next's (no transition hands it on to the old
// key), so it takes no record of the old key's: right. But RotateKey to
// next, the documented way to finish a rotation cut short, refused it as
// well, and so did the log reopened with next (its other chains are the
// old key's): the rotation could never be finished. RotateKey to next
// must move that chain on to next with no transition, as it does a chain
// next started in a rotation that did write some.
func TestRotateKeyUntracedChainReopenedFinishes(t *testing.T) {
	old, next := rotateSigner(t, "untraced reopen old"), rotateSigner(t, "untraced reopen next")
	dir := filepath.Join(t.TempDir(), "wal")
	s := &startsEmpty{Signer: old}
	l, _, err := sdk.OpenDurable(dir, sdk.Config{Signer: s}, sdk.DurableOptions{})
	if err != nil {
		t.Fatal(err)
	}
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
	if a := s.first.Load(); a == nil || a.Record.KeyID != next.KeyID() {
		t.Fatalf("the chain started during the rotation: %+v, want its first record signed by next", a)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	l, _, err = sdk.OpenDurable(dir, sdk.Config{Signer: old}, sdk.DurableOptions{Keys: sdk.NewKeySet(next.Public())})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	r = coreRecord(2)
	r.Stream = "empty"
	if _, err := l.Append(&r); !errors.Is(err, sdk.ErrConfig) {
		t.Errorf("the old key appending after next, with no transition: %v, want ErrConfig", err)
	}
	heads, err := l.RotateKey(next)
	if err != nil {
		t.Fatalf("finishing the rotation with RotateKey to next: %v", err)
	}
	if len(heads) != 2 {
		t.Errorf("RotateKey returned %d heads, want 2", len(heads))
	}
	a, err := l.Append(&r)
	if err != nil || a.Record.KeyID != next.KeyID() {
		t.Fatalf("the chain next started, after the rotation: signed by %s, %v; want next %s", a.Record.KeyID, err, next.KeyID())
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	// The old key's chain follows its transition with the old key alone;
	// the chain next started needs next, as any chain started with it.
	if _, err := sdk.VerifyDirChain(dir, r.WriterID, "reads", sdk.NewKeySet(old.Public()), false, nil); err != nil {
		t.Errorf("the old key's chain with the old key alone: %v", err)
	}
	if _, err := sdk.VerifyDir(dir, sdk.NewKeySet(old.Public(), next.Public()), false, nil); err != nil {
		t.Errorf("the log with both keys: %v", err)
	}
}

// forgeSigned appends to the durable log in dir (closed) the next record
// of chain (writer, stream), signed by s, as a writer bypassing the SDK's
// refusals would: a frame of sdk/wal/FORMAT.md ("SDK payloads").
func forgeSigned(t *testing.T, dir string, s sdk.Signer, writer, stream string) {
	t.Helper()
	var seq uint64
	prev := make([]byte, 32)
	if _, err := sdk.ReadDir(dir, func(rec sdk.Sealed, _ wal.Position) error {
		v, err := canonical.OpenAuditRecord(rec.Bytes)
		if err == nil && string(v.WriterID()) == writer && string(v.Stream()) == stream {
			seq, prev = v.Seq(), rec.Hash[:]
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	r := canonical.AuditRecord{V: 1, Kind: canonical.KindPolicyChanged, Seq: seq + 1, TsMs: 100 + seq, WriterID: writer, Stream: stream, Prev: prev}
	b, err := canonical.AppendRecord(nil, &r, canonical.DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	hash := canonical.RecordHash(b)
	var sig sdk.Signature
	m := canonical.SignedMessage(hash)
	if err := s.Sign(m[:], &sig); err != nil {
		t.Fatal(err)
	}
	id := s.KeyID()
	frame := append([]byte{1, 1}, id[:]...)
	frame = append(append(append(frame, sig[:]...), hash[:]...), b...)
	w, _, err := wal.Open(dir, wal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = w.Append(frame)
	if err := errors.Join(err, w.Close()); err != nil {
		t.Fatal(err)
	}
}

// TestRotateKeyTakesOnlyChainsItsKeySignedAlone: RotateKey to a key that
// no transition names takes a chain on with no transition only when that
// key signed it alone from its first record (a chain it started). A
// chain the log's key signed first and that key signed after with no
// transition (a writer bypassing Append's refusal), or one whose first
// records no one signed (checkpoint-sealed: its kept checkpoints, not the
// log, say whose they were), would change hands with no transition, which
// a verifier following the chain from its first key cannot follow: still
// refused, as the old key's appends to it are.
func TestRotateKeyTakesOnlyChainsItsKeySignedAlone(t *testing.T) {
	old, next := rotateSigner(t, "sole old"), rotateSigner(t, "sole next")
	for _, c := range []struct {
		name   string
		sealed bool // the old key's records unsigned (SealEvery)
	}{{"mixed", false}, {"unsigned first", true}} {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "wal")
			cfg := sdk.Config{Signer: old}
			if c.sealed {
				cfg.SealEvery = 100
			}
			l, _, err := sdk.OpenDurable(dir, cfg, sdk.DurableOptions{})
			if err != nil {
				t.Fatal(err)
			}
			coreAppend(t, l, 2)
			// A crash: what is on disk now, without Close's seals (the
			// sealed log's records stay unsigned).
			dir = copySegments(t, dir)
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			forgeSigned(t, dir, next, "svc-gateway@inst-1", "reads")
			l, _, err = sdk.OpenDurable(dir, sdk.Config{Signer: old}, sdk.DurableOptions{Keys: sdk.NewKeySet(next.Public())})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			if _, err := l.RotateKey(next); !errors.Is(err, sdk.ErrConfig) {
				t.Errorf("RotateKey to the key that signed after the old one with no transition: %v, want ErrConfig", err)
			}
		})
	}
}

// copySegments copies the segment files of the log in dir to a new
// directory and returns it: the log as a crash would leave it.
func copySegments(t *testing.T, dir string) string {
	t.Helper()
	crashed := filepath.Join(t.TempDir(), "crashed")
	if err := os.MkdirAll(crashed, 0o700); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.IsDir() || filepath.Ext(e.Name()) != ".seg" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(crashed, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return crashed
}

// TestRotateKeyCutShortTakesNoForgedChain: as
// TestRotateKeyTakesOnlyChainsItsKeySignedAlone, for the key of a
// rotation cut short. Reopened with the old key, a chain the new key
// started is the new key's, and RotateKey to it takes the chain on with
// no transition. A chain the rotation had not reached, the old key's,
// that the new key then signed with no transition (a writer bypassing
// Append's refusal), was taken for one it started: RotateKey moved it on
// to the new key with no transition, which a verifier following the
// chain from the old key cannot follow. Refused, as the old key's
// appends to it are.
func TestRotateKeyCutShortTakesNoForgedChain(t *testing.T) {
	old, next := rotateSigner(t, "cut forged old"), rotateSigner(t, "cut forged next")
	dir, streams := cutShortRotation(t, old, next, nil)
	sum, err := sdk.VerifyDir(dir, sdk.NewKeySet(old.Public()), true, nil)
	if err != nil || len(sum.Retired) != 1 {
		t.Fatalf("the cut-short rotation: %+v, %v", sum.Retired, err)
	}
	var unreached string
	for _, s := range streams {
		if s != sum.Retired[0].Stream {
			unreached = s
		}
	}
	forgeSigned(t, dir, next, "svc-gateway@inst-1", unreached)
	l, _, err := sdk.OpenDurable(dir, sdk.Config{Signer: old}, sdk.DurableOptions{Keys: sdk.NewKeySet(next.Public())})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	r := coreRecord(9)
	r.Stream = unreached
	if _, err := l.Append(&r); !errors.Is(err, sdk.ErrConfig) {
		t.Errorf("the old key appending after the new one: %v, want ErrConfig", err)
	}
	if _, err := l.RotateKey(next); !errors.Is(err, sdk.ErrConfig) {
		t.Errorf("RotateKey to the key that signed the unreached chain with no transition: %v, want ErrConfig", err)
	}
}

// TestRotateKeyTakesLaterChainSignedAfterUnsignedStart: a chain the new
// key started after a rotation, under SealEvery, has unsigned records
// first and the new key's signatures after (every SealEvery-th record).
// It is the new key's: reopened with the old key, it takes no record of
// the old key's, and RotateKey to the new key takes it on with no
// transition, though its first record bears no signature: it comes after
// the rotation's transition, which the unreached chain of
// TestRotateKeyCutShortTakesNoForgedChain does not.
func TestRotateKeyTakesLaterChainSignedAfterUnsignedStart(t *testing.T) {
	old, next := rotateSigner(t, "later signed old"), rotateSigner(t, "later signed next")
	dir := filepath.Join(t.TempDir(), "wal")
	l, _, err := sdk.OpenDurable(dir, sdk.Config{Signer: old, SealEvery: 2}, sdk.DurableOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := coreRecord(1)
	if _, err := l.Append(&r); err != nil {
		t.Fatal(err)
	}
	if _, err := l.RotateKey(next); err != nil {
		t.Fatal(err)
	}
	var signed bool
	for i := range 3 {
		r := coreRecord(10 + i)
		r.Stream = "later"
		a, err := l.Append(&r)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 && a.Record.Signed {
			t.Fatal("the later chain's first record is signed: the test needs it unsigned")
		}
		if a.Record.Signed && a.Record.KeyID == next.KeyID() {
			signed = true
		}
	}
	if !signed {
		t.Fatal("the new key signed none of the later chain's records")
	}
	dir = copySegments(t, dir) // a crash: no seal of the rest
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l, _, err = sdk.OpenDurable(dir, sdk.Config{Signer: old, SealEvery: 2}, sdk.DurableOptions{Keys: sdk.NewKeySet(next.Public())})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	r = coreRecord(20)
	r.Stream = "later"
	if _, err := l.Append(&r); !errors.Is(err, sdk.ErrConfig) {
		t.Errorf("the old key appending to the new key's chain: %v, want ErrConfig", err)
	}
	if _, err := l.RotateKey(next); err != nil {
		t.Fatalf("RotateKey to the key that started the later chain: %v", err)
	}
	if a, err := l.Append(&r); err != nil || (a.Record.Signed && a.Record.KeyID != next.KeyID()) {
		t.Errorf("after RotateKey, the later chain: %v, signed by %s", err, a.Record.KeyID)
	}
}
