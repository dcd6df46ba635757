package export

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/sdk"
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
