package node_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/internal/leakcheck"
	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/checkpoint"
	"github.com/rustyonions/ron-audit-go/sdk/export"
	"github.com/rustyonions/ron-audit-go/sdk/node"
)

func testSigner(t testing.TB) *sdk.Ed25519Signer {
	t.Helper()
	seed := make([]byte, ed25519.SeedSize)
	copy(seed, "node test key")
	s, err := sdk.NewEd25519Signer(ed25519.NewKeyFromSeed(seed))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func record(writer, stream string, i int) *canonical.AuditRecord {
	return &canonical.AuditRecord{Kind: canonical.KindIndexWrite, TsMs: 1764201600000 + uint64(i),
		WriterID: writer, Stream: stream, Reason: "written",
		Attrs: []canonical.Attr{{Key: "n", Value: strconv.Itoa(i)}}}
}

// appendN appends n records to each of the chains w/a and w/b, numbered
// from first.
func appendN(t *testing.T, log *sdk.Log, first, n int) {
	t.Helper()
	for i := first; i < first+n; i++ {
		for _, s := range []string{"a", "b"} {
			if _, err := log.Append(record("w", s, i)); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// verifyAll checks what a Node left in dir and exports offline, with the
// public key alone: the log and its kept checkpoints verify
// (checkpoint.VerifyDir), each chain's newest checkpoint is at its last
// record, and its bundles verify as a sequence up to it.
func verifyAll(t *testing.T, dir, exports string, pub ed25519.PublicKey, want map[string]uint64) {
	t.Helper()
	sum, err := checkpoint.VerifyDir(dir, []ed25519.PublicKey{pub}, checkpoint.DirOptions{})
	if err != nil {
		t.Fatalf("checkpoint.VerifyDir: %v", err)
	}
	if sum.Used == 0 || len(sum.Unused) != 0 || len(sum.Heads) != len(want) {
		t.Fatalf("%d checkpoints used, unused %q, %d chains, want %d", sum.Used, sum.Unused, len(sum.Heads), len(want))
	}
	sink := &export.FileSink{Dir: exports}
	for _, h := range sum.Heads {
		if h.Seq != want[h.Stream] {
			t.Errorf("%s/%s: %d records, want %d", h.WriterID, h.Stream, h.Seq, want[h.Stream])
		}
		notes, err := checkpoint.LoadHistory(filepath.Join(dir, "checkpoints"), h.WriterID, h.Stream)
		if err != nil || len(notes) == 0 {
			t.Fatalf("%s/%s: %d checkpoints kept, %v", h.WriterID, h.Stream, len(notes), err)
		}
		last, err := checkpoint.Open(notes[len(notes)-1], checkpoint.KeyVerifiers(pub))
		if err != nil || last.Size != int64(h.Seq) {
			t.Errorf("%s/%s: %d records, the newest checkpoint is of %d: %v", h.WriterID, h.Stream, h.Seq, last.Size, err)
		}
		bundles, err := sink.Bundles(checkpoint.Origin(h.WriterID, h.Stream))
		if err != nil || len(bundles) == 0 {
			t.Fatalf("%s/%s: bundles %q, %v", h.WriterID, h.Stream, bundles, err)
		}
		bsum, err := export.VerifyDir(filepath.Dir(bundles[0]), export.KeyVerifiers(pub), sdk.NewKeySet(pub), nil)
		if err != nil || bsum.Records != int64(h.Seq) {
			t.Errorf("%s/%s: the bundles verify %d records of %d: %v", h.WriterID, h.Stream, bsum.Records, h.Seq, err)
		}
	}
}

// TestOpenAppendClose: what a Node writes verifies offline, and Close
// closes in the order that loses nothing. With Every far above the
// records appended, the only checkpoints are Close's: each chain's is at
// its last record only if the Log was closed (all durable) before the
// Keeper, and the bundles reach it only if the exporter was closed after
// the Keeper (it waits for the bundles of the Keeper's last checkpoints).
func TestOpenAppendClose(t *testing.T) {
	dir, exports := filepath.Join(t.TempDir(), "wal"), filepath.Join(t.TempDir(), "exports")
	signer := testSigner(t)
	n, rec, err := node.Open(dir, signer, node.Options{Every: 1 << 20, ExportDir: exports})
	if err != nil {
		t.Fatal(err)
	}
	if !rec.WAL.Created || rec.Records != 0 {
		t.Fatalf("a new log: %+v", rec)
	}
	appendN(t, n.Log(), 0, 7)
	if cps := n.Keeper().Newest(); len(cps) != 0 {
		t.Fatalf("checkpoints before Close: %+v", cps)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Fatalf("a second Close: %v", err)
	}
	if _, err := n.Log().Append(record("w", "a", 99)); !errors.Is(err, sdk.ErrClosed) {
		t.Errorf("Append after Close: %v, want ErrClosed", err)
	}
	verifyAll(t, dir, exports, signer.Public(), map[string]uint64{"a": 7, "b": 7})
}

// TestReopenContinues: a Node opened again on the same directories
// replays the log through its Keeper and goes on: the chains continue,
// the checkpoints and the bundles too (the exporter starts after the
// newest bundle), and the whole verifies.
func TestReopenContinues(t *testing.T) {
	dir, exports := filepath.Join(t.TempDir(), "wal"), filepath.Join(t.TempDir(), "exports")
	signer := testSigner(t)
	total := 0
	for run, k := range []int{5, 3, 4} {
		n, rec, err := node.Open(dir, signer, node.Options{Every: 4, ExportDir: exports})
		if err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		if rec.Records != uint64(2*total) || rec.WAL.Created != (run == 0) {
			t.Fatalf("run %d: replayed %d records (created %v), want %d", run, rec.Records, rec.WAL.Created, 2*total)
		}
		appendN(t, n.Log(), total, k)
		total += k
		if h, _ := n.Log().Head("w", "a"); h.Seq != uint64(total) {
			t.Fatalf("run %d: head %d, want %d", run, h.Seq, total)
		}
		if err := n.Close(); err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
	}
	verifyAll(t, dir, exports, signer.Public(), map[string]uint64{"a": uint64(total), "b": uint64(total)})
	bundles, err := (&export.FileSink{Dir: exports}).Bundles(checkpoint.Origin("w", "a"))
	if err != nil || len(bundles) < 3 {
		t.Errorf("bundles of w/a over three runs: %q, %v", bundles, err)
	}
}

// waitErr polls n.Err for up to 10 s.
func waitErr(t *testing.T, n *node.Node) error {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for n.Err() == nil && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	return n.Err()
}

// emitN emits k records of chain w/a through em and waits until they are
// durable.
func emitN(t *testing.T, em *sdk.Emitter, k int) {
	t.Helper()
	for i := range k {
		if err := em.Emit(context.Background(), record("w", "a", i)); err != nil {
			t.Fatal(err)
		}
	}
}

// TestFailuresReachReady: a failure of either part of the Node is its
// Err, goes to OnFailure, makes the Emitter's Ready report the audit
// plane degraded (the Node is the FailureReporter the Log's Observer
// answers for: a bare Keeper as Observer never sees the exporter's
// failure), and Close returns it, naming the part.
func TestFailuresReachReady(t *testing.T) {
	for _, tc := range []struct {
		part     string
		sentinel error
		block    func(dir, exports string) error // makes the part fail, once the Node is open
		closed   string                          // what Close's error says
	}{
		{"export", node.ErrExport, func(_, exports string) error {
			return os.WriteFile(filepath.Join(exports, "w"), nil, 0o600) // where w's bundles go
		}, "audit export: "},
		{"checkpoint", node.ErrCheckpoint, func(dir, _ string) error {
			return os.WriteFile(filepath.Join(dir, "checkpoints", "w"), nil, 0o600) // where w's checkpoints go
		}, "audit checkpoints: "},
	} {
		t.Run(tc.part, func(t *testing.T) {
			dir, exports := filepath.Join(t.TempDir(), "wal"), t.TempDir()
			var mu sync.Mutex
			var reported []error
			n, _, err := node.Open(dir, testSigner(t), node.Options{Every: 2, ExportDir: exports,
				OnFailure: func(err error) { mu.Lock(); reported = append(reported, err); mu.Unlock() }})
			if err != nil {
				t.Fatal(err)
			}
			em, err := sdk.NewEmitter(n.Log(), sdk.EmitterOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if err := em.Ready(); err != nil {
				t.Fatalf("Ready before any failure: %v", err)
			}
			if err := os.MkdirAll(filepath.Join(dir, "checkpoints"), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := tc.block(dir, exports); err != nil {
				t.Fatal(err)
			}
			emitN(t, em, 6)
			err = waitErr(t, n)
			if !errors.Is(err, tc.sentinel) {
				t.Fatalf("Err: %v, want %v", err, tc.sentinel)
			}
			var d *sdk.DegradedError
			rerr := em.Ready()
			if !errors.As(rerr, &d) || !errors.Is(d.ObserverFailed, tc.sentinel) {
				t.Fatalf("Ready after the %s failed: %v", tc.part, rerr)
			}
			// The cause is reachable through Ready's error itself, not only
			// through the field: a probe can test errors.Is(em.Ready(), ...).
			if !errors.Is(rerr, tc.sentinel) || !errors.Is(rerr, sdk.ErrDegraded) {
				t.Errorf("errors.Is(Ready(), %v) = %v, errors.Is(Ready(), ErrDegraded) = %v; want both true (%v)",
					tc.sentinel, errors.Is(rerr, tc.sentinel), errors.Is(rerr, sdk.ErrDegraded), rerr)
			}
			mu.Lock()
			if len(reported) == 0 || !errors.Is(reported[0], tc.sentinel) {
				t.Errorf("OnFailure got %v", reported)
			}
			mu.Unlock()
			if err := em.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			cerr := n.Close()
			if !errors.Is(cerr, tc.sentinel) || !strings.Contains(cerr.Error(), tc.closed) {
				t.Errorf("Close: %v, want %v saying %q", cerr, tc.sentinel, tc.closed)
			}
		})
	}
}

// TestTickerStopsOnClose: the Node's ticker checkpoints a chain that went
// quiet once Interval has passed (no record comes to trigger it), and
// Close stops it: no goroutine of the Node outlives Close.
func TestTickerStopsOnClose(t *testing.T) {
	check := leakcheck.Check(t)
	dir := filepath.Join(t.TempDir(), "wal")
	n, _, err := node.Open(dir, testSigner(t), node.Options{Every: 1 << 20, Interval: 80 * time.Millisecond,
		ExportDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, n.Log(), 0, 3) // the first of a chain starts its interval (a new chain: no checkpoint yet)
	deadline := time.Now().Add(10 * time.Second)
	// Wait for both chains at their last record: on a slow run (-race) an
	// interval can end between two appends and checkpoint a chain at 2
	// first; the next interval must still reach 3.
	atLast := func(cps []checkpoint.Checkpoint) bool {
		return len(cps) == 2 && cps[0].Size == 3 && cps[1].Size == 3
	}
	for !atLast(n.Keeper().Newest()) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if cps := n.Keeper().Newest(); !atLast(cps) {
		t.Fatalf("checkpoints of quiet chains after their interval: %+v", cps)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	check()
}

// TestOpenRefuses: Open refuses a checkpoints directory it cannot read
// (a Keeper finding no history would sign a log cut since) and a nil
// signer, and leaves nothing running.
func TestOpenRefuses(t *testing.T) {
	check := leakcheck.Check(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "checkpoints"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	var de *checkpoint.DirError
	if _, _, err := node.Open(dir, testSigner(t), node.Options{}); !errors.As(err, &de) {
		t.Errorf("Open with a file for its checkpoints: %v, want a *checkpoint.DirError", err)
	}
	if _, _, err := node.Open(t.TempDir(), nil, node.Options{}); !errors.Is(err, sdk.ErrConfig) {
		t.Errorf("Open without a signer: %v, want ErrConfig", err)
	}
	check()
}

// TestTinyInterval: an Interval under 8 ns still makes a ticker (its
// period, Interval/8, is at least 1 ns), not a panic.
func TestTinyInterval(t *testing.T) {
	n, _, err := node.Open(filepath.Join(t.TempDir(), "wal"), testSigner(t), node.Options{Interval: 7})
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, n.Log(), 0, 2)
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
}
