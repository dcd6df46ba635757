package export

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/checkpoint"
)

// TestAutoRefusesBundleBeyondLog: a bundle in a chain's directory that
// ends past every record of the chain (another chain's bundle copied
// there, a directory restored from another log) is the previous export
// Auto continues from (Prev). It vouches for records the log does not
// hold, so every later checkpoint of the chain came before it: Auto used
// to take each for "nothing to export" and stop exporting the chain
// silently (Err and Close nil, the chain's new records in no bundle).
// It must fail instead, naming the chain.
func TestAutoRefusesBundleBeyondLog(t *testing.T) {
	dir := t.TempDir()
	signer := restartSigner(t)
	l, k, auto, sink := openWithAuto(t, dir, signer, 5, 0)
	appendN(t, l, 0, 5, 0) // w/s: checkpoint and bundle 1-5
	for i := range 20 {    // w/other: bundles 1-5 ... 16-20
		r := canonical.AuditRecord{WriterID: "w", Stream: "other", TsMs: uint64(i + 1), Reason: "o"}
		if _, err := l.Append(&r); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	k.Close()
	if err := auto.Close(); err != nil {
		t.Fatal(err)
	}
	other, err := sink.Bundles(checkpoint.Origin("w", "other"))
	if err != nil || len(other) != 4 {
		t.Fatalf("w/other bundles %v, %v", other, err)
	}
	b, err := os.ReadFile(other[3]) // records 16-20 of w/other
	if err != nil {
		t.Fatal(err)
	}
	stray := filepath.Join(sink.Dir, "w", "s", filepath.Base(other[3]))
	if err := os.WriteFile(stray, b, 0o600); err != nil {
		t.Fatal(err)
	}

	l, k, auto, _ = openWithAuto(t, dir, signer, 5, 0)
	appendN(t, l, 5, 5, 0) // w/s records 6-10: checkpoint at 10
	l.Close()
	k.Close()
	err = auto.Close()
	if err == nil {
		t.Fatalf("Auto.Close nil with a bundle of records 16-20 in w/s's directory, which has 10 records; w/s bundles: %v", mustBundles(t, sink, "w", "s"))
	}
	var e *Error
	if !errors.As(err, &e) || e.Origin != checkpoint.Origin("w", "s") {
		t.Fatalf("Auto.Close: %v (%T); want an *export.Error naming w/s", err, err)
	}
}

func mustBundles(t *testing.T, s *FileSink, w, st string) []string {
	t.Helper()
	p, err := s.Bundles(checkpoint.Origin(w, st))
	if err != nil {
		t.Fatal(err)
	}
	for i := range p {
		p[i] = filepath.Base(p[i])
	}
	return p
}

// TestAutoRefusesPrevWithBadSignature: the newest bundle of a chain,
// whose checkpoint Auto's next bundle carries as its previous one, has
// a signature that fails (a byte of it damaged on disk). Its text is the
// log's, so an Auto that read only the text would continue from it and
// write a bundle that no verifier accepts (its previous checkpoint's
// signature fails), with Close nil (FuzzAutoRestart's corpus has the
// case). Auto holds the key that signed it: it must fail instead, naming
// the chain.
func TestAutoRefusesPrevWithBadSignature(t *testing.T) {
	dir := t.TempDir()
	signer := restartSigner(t)
	l, k, auto, sink := openWithAuto(t, dir, signer, 5, 0)
	appendN(t, l, 0, 5, 0) // checkpoint and bundle 1-5
	l.Close()
	k.Close()
	if err := auto.Close(); err != nil {
		t.Fatal(err)
	}
	paths, err := sink.Bundles(checkpoint.Origin("w", "s"))
	if err != nil || len(paths) != 1 {
		t.Fatalf("bundles %v, %v", paths, err)
	}
	data := mutate(t, mustRead(t, paths[0]), func(b *Bundle) {
		// The signature line ends "<base64 of key hash and signature>=\n":
		// a character well inside the signature changed.
		i := len(b.Note) - 10
		b.Note = bytes.Clone(b.Note)
		if b.Note[i] == 'A' {
			b.Note[i] = 'B'
		} else {
			b.Note[i] = 'A'
		}
	})
	if err := os.WriteFile(paths[0], data, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyBundle(data, KeyVerifiers(signer.Public()), sdk.NewKeySet(signer.Public())); !errors.Is(err, ErrBadCheckpoint) {
		t.Fatalf("the damaged bundle: %v; want its checkpoint's signature to fail", err)
	}

	l, k, auto, _ = openWithAuto(t, dir, signer, 5, 0)
	appendN(t, l, 5, 5, 0) // checkpoint at 10: a bundle 6-10 would carry the damaged checkpoint
	l.Close()
	k.Close()
	err = auto.Close()
	var e *Error
	if !errors.As(err, &e) || e.Origin != checkpoint.Origin("w", "s") || e.Reason != ReasonBadCheckpoint {
		t.Fatalf("Auto.Close: %v (%T); want an *export.Error of reason bad_checkpoint naming w/s; w/s bundles: %v", err, err, mustBundles(t, sink, "w", "s"))
	}
}
