package node_test

import (
	"context"
	"crypto/ed25519"
	"errors"
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

// audit is the offline auditor of what a Node left, with only the
// public key: node.VerifyDir over the log and its export directory.
func audit(dir, exports string, pub ed25519.PublicKey) (node.Summary, error) {
	return node.VerifyDir(dir, exports, []ed25519.PublicKey{pub}, checkpoint.DirOptions{})
}

// writeNode leaves what a host running node.Open with an Emitter and
// exports does: chains w/a and w/b/c of 40 records each, a checkpoint
// every 7 records and at Close, and a bundle after each.
func writeNode(t *testing.T, dir, exports string, signer sdk.Signer, writer string) {
	t.Helper()
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
			if err := em.TryEmit(record(writer, s, i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := errors.Join(em.Close(context.Background()), n.Close()); err != nil {
		t.Fatal(err)
	}
}

// TestOfflineAuditCatchesTamper: what a host running node.Open with an
// Emitter leaves verifies offline with the public key alone
// (node.VerifyDir), and each tamper an adopter tries on a copy is caught,
// with the error the docs name: a flipped byte in a segment
// (*sdk.DurableError), the log cut by whole records (a kept checkpoint's
// rollback), the last bundle of a chain deleted (the sequence stops short
// of the newest checkpoint: truncated), that bundle deleted with the
// newest checkpoint (records of the log in no bundle: unexported), the
// newest checkpoint alone deleted (the bundles end past it), a chain's
// bundle directory deleted (truncated, no bundles), and the log cut with
// the checkpoints that vouched for the records cut (the bundles vouch for
// them: rollback).
func TestOfflineAuditCatchesTamper(t *testing.T) {
	root := t.TempDir()
	dir, exports := filepath.Join(root, "wal"), filepath.Join(root, "exports")
	signer := testSigner(t)
	writeNode(t, dir, exports, signer, "w")
	pub := signer.Public()
	sum, err := audit(dir, exports, pub)
	if err != nil {
		t.Fatalf("untouched: %v", err)
	}
	if sum.Records != 80 || len(sum.Heads) != 2 || len(sum.Exports) != 2 {
		t.Fatalf("untouched: %d records, %d chains, %d exported; want 80, 2, 2", sum.Records, len(sum.Heads), len(sum.Exports))
	}
	for _, ce := range sum.Exports {
		// 40 records, a checkpoint at 7, 14, ..., 35 and at Close (40),
		// a bundle after each (or of several, when the exporter lags).
		names, err := export.ListDir(export.ChainDir(exports, "w", ce.Stream))
		if err != nil || ce.Records != 40 || ce.Checkpoint != 40 || ce.Bundles != len(names) || ce.Bundles < 2 || ce.Dir != export.ChainDir(exports, "w", ce.Stream) {
			t.Errorf("untouched: exports of w/%s: %+v (bundles there: %d, %v); want them all, records and checkpoint 40", ce.Stream, ce, len(names), err)
		}
	}
	if sum.Used != 12 {
		t.Errorf("untouched: %d kept checkpoints used; want 12", sum.Used)
	}
	lastBundle := func(t *testing.T, exports string) string {
		names, err := export.ListDir(export.ChainDir(exports, "w", "b/c"))
		if err != nil || len(names) < 2 {
			t.Fatalf("bundles of w/b/c: %q, %v", names, err)
		}
		return names[len(names)-1]
	}
	lastBundle(t, exports) // there are bundles to delete

	for _, tc := range []struct {
		name   string
		chain  string // the stream an *node.ExportError names
		tamper func(t *testing.T, dir, exports string)
		check  func(error) bool
	}{
		{"flip a byte in a segment", "b/c", func(t *testing.T, dir, _ string) {
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
		{"cut the log by whole records", "b/c", func(t *testing.T, dir, _ string) {
			var at []wal.Position
			if _, err := sdk.ReadDir(dir, func(_ sdk.Sealed, p wal.Position) error { at = append(at, p); return nil }); err != nil {
				t.Fatal(err)
			}
			cut := at[len(at)-3]
			if err := os.Truncate(cut.File, cut.Offset); err != nil {
				t.Fatal(err)
			}
		}, func(err error) bool { return errors.Is(err, checkpoint.ErrRollback) }},
		{"delete the last bundle", "b/c", func(t *testing.T, _, exports string) {
			if err := os.Remove(lastBundle(t, exports)); err != nil {
				t.Fatal(err)
			}
		}, func(err error) bool { return errors.Is(err, export.ErrTruncated) }},
		{"delete the last bundle and the newest checkpoint", "b/c", func(t *testing.T, dir, exports string) {
			if err := os.Remove(lastBundle(t, exports)); err != nil {
				t.Fatal(err)
			}
			removeNewestCheckpoint(t, dir, "b/c")
		}, func(err error) bool { return errors.Is(err, node.ErrUnexported) }},
		{"delete the newest checkpoint", "b/c", func(t *testing.T, dir, _ string) {
			removeNewestCheckpoint(t, dir, "b/c")
		}, func(err error) bool { return errors.Is(err, node.ErrCheckpointMissing) }},
		{"delete a chain's bundle directory", "b/c", func(t *testing.T, _, exports string) {
			if err := os.RemoveAll(export.ChainDir(exports, "w", "b/c")); err != nil {
				t.Fatal(err)
			}
		}, func(err error) bool {
			return errors.Is(err, export.ErrTruncated) && errors.Is(err, export.ErrNoBundles)
		}},
		{"cut the log by whole records and delete the newest checkpoints", "a", func(t *testing.T, dir, _ string) {
			// The last records of both chains gone, and with them the
			// checkpoints at 40 that vouched for them: the log and its
			// kept checkpoints agree; the last bundles do not.
			var at []wal.Position
			if _, err := sdk.ReadDir(dir, func(_ sdk.Sealed, p wal.Position) error { at = append(at, p); return nil }); err != nil {
				t.Fatal(err)
			}
			cut := at[len(at)-5]
			if err := os.Truncate(cut.File, cut.Offset); err != nil {
				t.Fatal(err)
			}
			for _, s := range []string{"a", "b/c"} {
				removeNewestCheckpoint(t, dir, s)
			}
		}, func(err error) bool { return errors.Is(err, checkpoint.ErrRollback) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			copyRoot := t.TempDir()
			if err := os.CopyFS(copyRoot, os.DirFS(root)); err != nil {
				t.Fatal(err)
			}
			d, e := filepath.Join(copyRoot, "wal"), filepath.Join(copyRoot, "exports")
			tc.tamper(t, d, e)
			_, err := audit(d, e, pub)
			var ee *node.ExportError
			if errors.As(err, &ee) && (ee.WriterID != "w" || ee.Stream != tc.chain || !strings.HasPrefix(ee.Path, e)) {
				t.Errorf("the failure names %s/%s %s; want w/%s and a path under %s", ee.WriterID, ee.Stream, ee.Path, tc.chain, e)
			}
			if !tc.check(err) {
				t.Fatalf("audit after the tamper: %v", err)
			}
			t.Log(err)
		})
	}
}

// removeNewestCheckpoint deletes the newest checkpoint kept of w/stream.
func removeNewestCheckpoint(t *testing.T, dir, stream string) {
	t.Helper()
	notes, err := checkpoint.HistoryPaths(filepath.Join(dir, "checkpoints"), "w", stream)
	if err != nil || len(notes) < 2 {
		t.Fatalf("checkpoints of w/%s: %q, %v", stream, notes, err)
	}
	if err := os.Remove(notes[len(notes)-1]); err != nil {
		t.Fatal(err)
	}
}

// TestVerifyDirBundlesOfAnotherLog: bundles of a chain the log has no
// record of (here another host's, in a shared export directory) are
// signed evidence of records the log does not hold: rollback, naming the
// chain and its last bundle.
func TestVerifyDirBundlesOfAnotherLog(t *testing.T) {
	root := t.TempDir()
	exports := filepath.Join(root, "exports")
	signer := testSigner(t)
	writeNode(t, filepath.Join(root, "wal1"), exports, signer, "w")
	writeNode(t, filepath.Join(root, "wal2"), exports, signer, "v")
	_, err := audit(filepath.Join(root, "wal1"), exports, signer.Public())
	var ee *node.ExportError
	if !errors.Is(err, checkpoint.ErrRollback) || !errors.As(err, &ee) || ee.WriterID != "v" ||
		filepath.Dir(ee.Path) != export.ChainDir(exports, ee.WriterID, ee.Stream) {
		t.Fatalf("audit with another log's bundles: %v; want a rollback of a chain of writer v naming its bundle", err)
	}
	t.Log(err)
}

// TestVerifyDirNeedsKeyForExports: the bundles cannot be verified without
// a key; VerifyDir says so rather than passing them unchecked.
func TestVerifyDirNeedsKeyForExports(t *testing.T) {
	if _, err := node.VerifyDir(t.TempDir(), t.TempDir(), nil, checkpoint.DirOptions{}); !errors.Is(err, sdk.ErrConfig) {
		t.Fatalf("no key, an export directory: %v; want sdk.ErrConfig", err)
	}
}
