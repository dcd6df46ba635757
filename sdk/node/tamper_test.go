package node_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/checkpoint"
	"github.com/rustyonions/ron-audit-go/sdk/export"
	"github.com/rustyonions/ron-audit-go/sdk/node"
	"github.com/rustyonions/ron-audit-go/sdk/wal"
)

// audit is the offline auditor of what a Node left, written from the
// docs alone with only the public key: the log and its kept checkpoints
// (checkpoint.VerifyDir), then each chain's bundles as a sequence that
// must reach the chain's newest kept checkpoint (export.VerifyDirTrusted)
// and hold every record the log does.
func audit(dir, exports string, pub ed25519.PublicKey) error {
	pubs := []ed25519.PublicKey{pub}
	sum, err := checkpoint.VerifyDir(dir, pubs, checkpoint.DirOptions{})
	if err != nil {
		return err
	}
	kept, err := checkpoint.KeptDir(dir)
	if err != nil || kept == "" {
		return fmt.Errorf("no checkpoints kept with %s: %v", dir, err)
	}
	for _, h := range sum.Heads {
		notes, err := checkpoint.LoadHistory(kept, h.WriterID, h.Stream)
		if err != nil || len(notes) == 0 {
			return fmt.Errorf("%s/%s: %d checkpoints kept: %v", h.WriterID, h.Stream, len(notes), err)
		}
		// A FileSink keeps a chain's bundles in e(writerId)/e(stream):
		// the origin without its prefix.
		rel := strings.TrimPrefix(checkpoint.Origin(h.WriterID, h.Stream), checkpoint.OriginPrefix)
		seq, err := export.VerifyDirTrusted(filepath.Join(exports, filepath.FromSlash(rel)),
			export.KeyVerifiers(pubs...), sdk.NewKeySet(pubs...), notes[len(notes)-1])
		if err != nil {
			return err
		}
		if uint64(seq.Records) != h.Seq {
			return fmt.Errorf("%s/%s: the bundles hold %d records, the log %d", h.WriterID, h.Stream, seq.Records, h.Seq)
		}
	}
	return nil
}

// TestOfflineAuditCatchesTamper: what a host running node.Open with an
// Emitter leaves verifies offline with the public key alone, and each
// tamper an adopter tries on a copy is caught, with the error the docs
// name: a flipped byte in a segment (*sdk.DurableError), the log cut by
// whole records (a kept checkpoint's rollback), the last bundle of a chain
// deleted (the sequence stops short of the newest checkpoint: truncated),
// and that bundle deleted with the newest checkpoint (the bundles no
// longer hold every record of the log).
func TestOfflineAuditCatchesTamper(t *testing.T) {
	root := t.TempDir()
	dir, exports := filepath.Join(root, "wal"), filepath.Join(root, "exports")
	signer := testSigner(t)
	n, _, err := node.Open(dir, signer, node.Options{Every: 7, ExportDir: exports})
	if err != nil {
		t.Fatal(err)
	}
	em, err := sdk.NewEmitter(n.Log(), sdk.EmitterOptions{Shed: sdk.ShedBlock})
	if err != nil {
		t.Fatal(errors.Join(err, n.Close()))
	}
	for i := range 40 {
		for _, s := range []string{"a", "b/c"} {
			if err := em.TryEmit(record("w", s, i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := errors.Join(em.Close(context.Background()), n.Close()); err != nil {
		t.Fatal(err)
	}
	pub := signer.Public()
	if err := audit(dir, exports, pub); err != nil {
		t.Fatalf("untouched: %v", err)
	}
	lastBundle := func(t *testing.T, exports string) string {
		names, err := export.ListDir(filepath.Join(exports, "w", "b%2Fc"))
		if err != nil || len(names) < 2 {
			t.Fatalf("bundles of w/b/c: %q, %v", names, err)
		}
		return names[len(names)-1]
	}
	lastBundle(t, exports) // there are bundles to delete

	for _, tc := range []struct {
		name   string
		tamper func(t *testing.T, dir, exports string)
		check  func(error) bool
	}{
		{"flip a byte in a segment", func(t *testing.T, dir, _ string) {
			seg := filepath.Join(dir, "0000000000000001.seg")
			b, err := os.ReadFile(seg)
			if err != nil {
				t.Fatal(err)
			}
			b[len(b)/2] ^= 1
			if err := os.WriteFile(seg, b, 0o600); err != nil {
				t.Fatal(err)
			}
		}, func(err error) bool { var de *sdk.DurableError; return errors.As(err, &de) }},
		{"cut the log by whole records", func(t *testing.T, dir, _ string) {
			var at []wal.Position
			if _, err := sdk.ReadDir(dir, func(_ sdk.Sealed, p wal.Position) error { at = append(at, p); return nil }); err != nil {
				t.Fatal(err)
			}
			cut := at[len(at)-3]
			if err := os.Truncate(cut.File, cut.Offset); err != nil {
				t.Fatal(err)
			}
		}, func(err error) bool { return errors.Is(err, checkpoint.ErrRollback) }},
		{"delete the last bundle", func(t *testing.T, _, exports string) {
			if err := os.Remove(lastBundle(t, exports)); err != nil {
				t.Fatal(err)
			}
		}, func(err error) bool { return errors.Is(err, export.ErrTruncated) }},
		{"delete the last bundle and the newest checkpoint", func(t *testing.T, dir, exports string) {
			if err := os.Remove(lastBundle(t, exports)); err != nil {
				t.Fatal(err)
			}
			notes, err := checkpoint.HistoryPaths(filepath.Join(dir, "checkpoints"), "w", "b/c")
			if err != nil || len(notes) < 2 {
				t.Fatalf("checkpoints of w/b/c: %q, %v", notes, err)
			}
			if err := os.Remove(notes[len(notes)-1]); err != nil {
				t.Fatal(err)
			}
		}, func(err error) bool { return err != nil && strings.Contains(err.Error(), "the bundles hold") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			copyRoot := t.TempDir()
			if err := os.CopyFS(copyRoot, os.DirFS(root)); err != nil {
				t.Fatal(err)
			}
			d, e := filepath.Join(copyRoot, "wal"), filepath.Join(copyRoot, "exports")
			tc.tamper(t, d, e)
			err := audit(d, e, pub)
			if !tc.check(err) {
				t.Fatalf("audit after the tamper: %v", err)
			}
			t.Log(err)
		})
	}
}
