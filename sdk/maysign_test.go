package sdk

import (
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"strings"
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

// TestOpenDurableWithoutCheckpointPackage: OpenDurable with no Keeper as
// Observer reads the checkpoints kept with the log through package
// checkpoint, as MaySign does, to refuse a chain they say another key
// holds. In a program that does not link that package it must not open
// the log as if it had looked: a dir/checkpoints holding a file is
// ErrConfig, before anything is written. An absent one, or one holding
// only directories (a Keeper makes dir/checkpoints when it is made,
// before any checkpoint is due), holds nothing to read, and the log
// opens as before.
// Not parallel: it unsets the hooks while it runs (see
// TestMaySignWithoutCheckpointPackage).
func TestOpenDurableWithoutCheckpointPackage(t *testing.T) {
	kept, keptBy := keyrule.KeptHolder, keyrule.KeptHolders
	keyrule.KeptHolder, keyrule.KeptHolders = nil, nil
	defer func() { keyrule.KeptHolder, keyrule.KeptHolders = kept, keptBy }()
	s := newTestSigner(t)
	dir := filepath.Join(t.TempDir(), "wal")
	seq := 0
	reopen := func() error {
		t.Helper()
		l, _, err := OpenDurable(dir, Config{Signer: s, SealEvery: 10}, DurableOptions{})
		if err != nil {
			return err
		}
		r := canonical.AuditRecord{Kind: canonical.KindCapIssued, WriterID: "w", Stream: "s"}
		if _, err := l.Append(&r); err != nil {
			t.Fatal(err)
		}
		seq++
		return l.Close()
	}
	if err := reopen(); err != nil {
		t.Fatalf("a new log: %v", err)
	}
	if err := reopen(); err != nil {
		t.Fatalf("no dir/checkpoints: %v", err)
	}
	chainDir := filepath.Join(dir, "checkpoints", "w", "s")
	if err := os.MkdirAll(chainDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := reopen(); err != nil {
		t.Fatalf("dir/checkpoints holding only directories: %v", err)
	}
	note := filepath.Join(chainDir, "00000000000000000002.note")
	if err := os.WriteFile(note, []byte("a checkpoint\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := reopen()
	if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), note) || !strings.Contains(err.Error(), "sdk/checkpoint") {
		t.Fatalf("OpenDurable with checkpoints kept and no package to read them: %v; want ErrConfig naming %s and the package", err, note)
	}
	res, verr := VerifyDirChain(dir, "w", "s", NewKeySet(s.Public()), false, nil)
	if verr != nil || res.Records != seq {
		t.Errorf("the log after the refused open: %d records, %v; want %d, as it was", res.Records, verr, seq)
	}
}
