package sdk

import (
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/internal/keyrule"
)

// TestMaySignWithoutCheckpointPackage: MaySign's sealed-chain half reads
// the checkpoints kept with the log through package checkpoint
// (keyrule.KeptHolder). In a program that does not link that package it
// must not answer nil as if it had looked: with dir/checkpoints present
// it refuses (ErrConfig), without it there is nothing kept to read.
// This test binary links package checkpoint (the external tests import
// it), so the test unsets the hook while it runs; it is not parallel, and
// parallel tests start only after every sequential one is done.
func TestMaySignWithoutCheckpointPackage(t *testing.T) {
	kept := keyrule.KeptHolder
	keyrule.KeptHolder = nil
	defer func() { keyrule.KeptHolder = kept }()
	s := newTestSigner(t)
	dir := filepath.Join(t.TempDir(), "wal")
	l, _, err := OpenDurable(dir, Config{Signer: s}, DurableOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := canonical.AuditRecord{Kind: canonical.KindCapIssued, WriterID: "w", Stream: "s"}
	if _, err := l.Append(&r); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	pubs := []ed25519.PublicKey{s.Public()}
	if err := MaySign(dir, s.Public(), pubs, "w", "s"); err != nil {
		t.Errorf("MaySign with the log's key and nothing kept: %v", err)
	}
	if err := os.Mkdir(filepath.Join(dir, "checkpoints"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := MaySign(dir, s.Public(), pubs, "w", "s"); !errors.Is(err, ErrConfig) {
		t.Errorf("MaySign with checkpoints kept and no package to read them: %v, want ErrConfig", err)
	}
}
