package export

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/checkpoint"
)

// signsThen signs n times, then fails: a crash in the middle of a
// rotation, as the log sees it.
type signsThen struct {
	sdk.Signer
	n int
}

func (s *signsThen) Sign(msg []byte, sig *sdk.Signature) error {
	if s.n == 0 {
		return errors.New("signer gone")
	}
	s.n--
	return s.Signer.Sign(msg, sig)
}

// TestExportRefusesWhatItsKeyMayNotSign: Export signs a chain's
// checkpoint with its Signer, and refused only a key the chain itself
// retired. A rotation cut short (w/s handed to next at seq 3, w/t not
// reached, or the other way round) left w/t the old key's: its checkpoint by next is unknown_key
// once the rotation is finished (the transition names next at a seq
// above its size), even for a verifier given both keys. A key no
// transition names (another) signed w/s beside the log's key. Export
// refuses both before it writes anything, with the error Log.Append
// gives for the same key and chain.
func TestExportRefusesWhatItsKeyMayNotSign(t *testing.T) {
	old, next, another := rotateKey(t, "keycont old"), rotateKey(t, "keycont next"), rotateKey(t, "keycont another")
	walDir := filepath.Join(t.TempDir(), "wal")
	cut := &signsThen{Signer: old, n: 5} // two records per chain, then one transition
	log, _, err := sdk.OpenDurable(walDir, sdk.Config{Signer: cut}, sdk.DurableOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range []string{"s", "s", "t", "t"} {
		if _, err := log.Append(&canonical.AuditRecord{WriterID: "w", Stream: s, TsMs: uint64(i + 1)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := log.RotateKey(next); err == nil {
		t.Fatal("the cut-short rotation succeeded")
	}
	log.Close()
	sum, err := sdk.VerifyDir(walDir, sdk.NewKeySet(old.Public()), false, nil)
	if err != nil || len(sum.Retired) != 1 {
		t.Fatalf("the rotation was not cut after one transition: %+v %v", sum.Retired, err)
	}
	handed, unreached := "s", "t" // RotateKey takes the chains in no set order
	if sum.Retired[0].Stream == "t" {
		handed, unreached = "t", "s"
	}
	appendErr := func(signer sdk.Signer, stream string) error {
		l, _, err := sdk.OpenDurable(walDir, sdk.Config{Signer: signer}, sdk.DurableOptions{Keys: sdk.NewKeySet(old.Public(), next.Public())})
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		_, err = l.Append(&canonical.AuditRecord{WriterID: "w", Stream: stream, TsMs: 9})
		return err
	}
	for _, c := range []struct {
		signer *sdk.Ed25519Signer
		stream string
	}{{next, unreached}, {another, unreached}, {another, handed}} {
		sink := &memSink{}
		_, err := (&Exporter{Sink: sink, Signer: c.signer}).Export(walDir, "w", c.stream, nil)
		want := appendErr(c.signer, c.stream)
		if !errors.Is(err, sdk.ErrConfig) || want == nil || !errors.Is(want, sdk.ErrConfig) || err.Error() != "export: "+want.Error() {
			t.Errorf("Export of w/%s signed by key %s: %v\nwant the error of Append: export: %v", c.stream, c.signer.KeyID(), err, want)
		}
		if len(sink.names) > 0 {
			t.Errorf("Export of w/%s signed by key %s wrote %v", c.stream, c.signer.KeyID(), sink.names)
		}
	}
	// What each key may sign it still exports: next the chain handed to
	// it, old the chain it still holds.
	for _, c := range []struct {
		signer *sdk.Ed25519Signer
		stream string
	}{{next, handed}, {old, unreached}} {
		if _, err := (&Exporter{Sink: &memSink{}, Signer: c.signer}).Export(walDir, "w", c.stream, nil); err != nil {
			t.Errorf("Export of w/%s signed by key %s: %v", c.stream, c.signer.KeyID(), err)
		}
	}
}

// TestExportRefusesUnrelatedKeySealed: a checkpoint-sealed chain
// (SealEvery with a checkpoint.Keeper kept with the log, in
// dir/checkpoints) has no record signature in the log: only its kept
// checkpoints say which key holds it. Log.Append, opened with a Keeper,
// refuses a key no transition names; Export read only the log, and
// signed a bundle of the chain with that key, which a verifier following
// the chain from its key cannot follow. It refuses with Append's error,
// writing nothing; the chain's own key still exports it.
func TestExportRefusesUnrelatedKeySealed(t *testing.T) {
	ops, another := rotateKey(t, "sealed export ops"), rotateKey(t, "sealed export another")
	walDir := filepath.Join(t.TempDir(), "wal")
	open := func(s sdk.Signer) (*sdk.Log, *checkpoint.Keeper) {
		t.Helper()
		k, err := checkpoint.NewKeeper(filepath.Join(walDir, "checkpoints"), s, checkpoint.KeeperOptions{Every: 1000, Interval: -1})
		if err != nil {
			t.Fatal(err)
		}
		l, _, err := sdk.OpenDurable(walDir, sdk.Config{Signer: s, Observer: k, SealEvery: 1000}, sdk.DurableOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return l, k
	}
	l, k := open(ops)
	for i := range 2 {
		if _, err := l.Append(&canonical.AuditRecord{WriterID: "w", Stream: "s", TsMs: uint64(i + 1)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := k.Close(); err != nil {
		t.Fatal(err)
	}
	l, k = open(another)
	_, want := l.Append(&canonical.AuditRecord{WriterID: "w", Stream: "s", TsMs: 9})
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := k.Close(); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(want, sdk.ErrConfig) {
		t.Fatalf("Append with a key no transition names, to a sealed chain: %v; want ErrConfig", want)
	}
	sink := &memSink{}
	_, err := (&Exporter{Sink: sink, Signer: another}).Export(walDir, "w", "s", nil)
	if !errors.Is(err, sdk.ErrConfig) || err.Error() != "export: "+want.Error() {
		t.Errorf("Export of sealed w/s signed by key %s: %v\nwant the error of Append: export: %v", another.KeyID(), err, want)
	}
	if len(sink.names) > 0 {
		t.Errorf("Export of sealed w/s signed by key %s wrote %v", another.KeyID(), sink.names)
	}
	if _, err := (&Exporter{Sink: &memSink{}, Signer: ops}).Export(walDir, "w", "s", nil); err != nil {
		t.Errorf("Export of w/s signed by its own key: %v", err)
	}
}
