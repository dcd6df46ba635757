package node_test

import (
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/rustyonions/ron-audit-go/internal/leakcheck"
	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/checkpoint"
	"github.com/rustyonions/ron-audit-go/sdk/node"
	"github.com/rustyonions/ron-audit-go/sdk/wal"
)

// TestOpenTwice: a second Open of a directory a Node holds is refused
// with the WAL's lock error (wal.ErrLocked), starts nothing, and leaves
// the first Node's checkpoints and bundles as they were: the first goes
// on and closes into a directory that verifies, and the directory opens
// again once it is closed.
func TestOpenTwice(t *testing.T) {
	check := leakcheck.Check(t)
	dir, exports := filepath.Join(t.TempDir(), "wal"), t.TempDir()
	signer := testSigner(t)
	opts := node.Options{Every: 3, ExportDir: exports}
	n, _, err := node.Open(dir, signer, opts)
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, n.Log(), 0, 4)
	n2, _, err := node.Open(dir, signer, opts)
	if !errors.Is(err, wal.ErrLocked) || n2 != nil {
		t.Fatalf("a second Open: %v, %v; want wal.ErrLocked and no Node", n2, err)
	}
	appendN(t, n.Log(), 4, 3)
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	verifyAll(t, dir, exports, signer.Public(), map[string]uint64{"a": 7, "b": 7})
	n, _, err = node.Open(dir, signer, opts)
	if err != nil {
		t.Fatalf("Open after the holder closed: %v", err)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	check()
}

// TestOpenFailureReleases: an Open refused for the log's damage (a
// *sdk.DurableError) or for a checkpoint vouching for records the log
// does not hold (a *checkpoint.Error) leaves no goroutine and no lock:
// the directory, repaired, opens.
func TestOpenFailureReleases(t *testing.T) {
	check := leakcheck.Check(t)
	dir, exports, signer, opts := closedNode(t)
	segs, err := filepath.Glob(filepath.Join(dir, "*.seg"))
	if err != nil || len(segs) == 0 {
		t.Fatalf("segments %v, %v", segs, err)
	}
	orig, err := os.ReadFile(segs[0])
	if err != nil {
		t.Fatal(err)
	}

	// A byte of a record flipped mid-segment: damage, not a torn tail.
	bad := append([]byte(nil), orig...)
	bad[len(bad)/2] ^= 0x40
	if err := os.WriteFile(segs[0], bad, 0o600); err != nil {
		t.Fatal(err)
	}
	var de *sdk.DurableError
	if n, _, err := node.Open(dir, signer, opts); !errors.As(err, &de) || n != nil {
		t.Fatalf("Open of a damaged log: %v, %v; want a *sdk.DurableError", n, err)
	}

	// The log cut to its first chain's first records: the checkpoints
	// vouch for more.
	if err := os.WriteFile(segs[0], orig, 0o600); err != nil {
		t.Fatal(err)
	}
	keep := filepath.Join(t.TempDir(), "checkpoints")
	if err := os.Rename(filepath.Join(dir, "checkpoints"), keep); err != nil {
		t.Fatal(err)
	}
	n, _, err := node.Open(dir, signer, opts) // no checkpoints: a log with no history
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	fresh := filepath.Join(t.TempDir(), "wal")
	n, _, err = node.Open(fresh, signer, node.Options{Every: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, n.Log(), 0, 1)
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(fresh, "checkpoints")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(keep, filepath.Join(fresh, "checkpoints")); err != nil {
		t.Fatal(err)
	}
	var ce *checkpoint.Error
	if n, _, err := node.Open(fresh, signer, opts); !errors.As(err, &ce) || n != nil {
		t.Fatalf("Open of a log with fewer records than its checkpoints: %v, %v; want a *checkpoint.Error", n, err)
	}
	check()
	n, _, err = node.Open(dir, signer, opts)
	if err != nil {
		t.Fatalf("Open after the refused ones: %v", err)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	verifyAll(t, dir, exports, signer.Public(), map[string]uint64{"a": 5, "b": 5})
}

// TestCloseWhileAppending: appends racing Close either succeed or fail
// with sdk.ErrClosed; every one that succeeded is in the log, under its
// chain's last checkpoint, and in a bundle; a second Close returns what
// the first did; after Close the Log refuses appends and the Keeper
// writes nothing new.
func TestCloseWhileAppending(t *testing.T) {
	check := leakcheck.Check(t)
	dir, exports := filepath.Join(t.TempDir(), "wal"), t.TempDir()
	signer := testSigner(t)
	n, _, err := node.Open(dir, signer, node.Options{Every: 7, ExportDir: exports})
	if err != nil {
		t.Fatal(err)
	}
	var ok [2]atomic.Uint64
	var wg sync.WaitGroup
	started := make(chan struct{}, 2)
	for c, s := range []string{"a", "b"} {
		wg.Go(func() {
			started <- struct{}{}
			for i := 0; ; i++ {
				_, err := n.Log().Append(record("w", s, i))
				if err != nil {
					if !errors.Is(err, sdk.ErrClosed) {
						t.Errorf("append racing Close: %v; want sdk.ErrClosed", err)
					}
					return
				}
				ok[c].Add(1)
			}
		})
	}
	<-started
	<-started
	for ok[0].Load() < 20 || ok[1].Load() < 20 {
		// let both chains get records, some under checkpoints
		if t.Failed() {
			break
		}
	}
	cerr := n.Close()
	wg.Wait()
	if cerr != nil {
		t.Fatal(cerr)
	}
	if again := n.Close(); again != cerr {
		t.Fatalf("second Close: %v; the first returned %v", again, cerr)
	}
	if _, err := n.Log().Append(record("w", "a", 1<<20)); !errors.Is(err, sdk.ErrClosed) {
		t.Fatalf("Append after Close: %v", err)
	}
	verifyAll(t, dir, exports, signer.Public(), map[string]uint64{"a": ok[0].Load(), "b": ok[1].Load()})
	before, _ := checkpoint.HistoryPaths(filepath.Join(dir, "checkpoints"), "w", "a")
	if _, err := n.Keeper().Checkpoint("w", "a"); !errors.Is(err, checkpoint.ErrSign) || !strings.Contains(err.Error(), "Keeper is closed") {
		t.Fatalf("Keeper.Checkpoint after Close: %v; want checkpoint.ErrSign saying the Keeper is closed", err)
	}
	if after, _ := checkpoint.HistoryPaths(filepath.Join(dir, "checkpoints"), "w", "a"); len(after) != len(before) {
		t.Fatalf("a checkpoint written after Close: %v, before %v", after, before)
	}
	if err := n.Err(); err != nil {
		t.Fatal(err)
	}
	check()
}

// TestCloseCheckpointsAppendAwaitingFsync: a record committed before
// Close whose append had not yet returned from its Wait (a slow group
// fsync; here AppendPending, waited for after Close) is durable once
// Close returns, and Close must leave it under its chain's last
// checkpoint and in a bundle, as it does every record, though the Keeper
// hears of it only from that Wait: left out of both, VerifyDir fails
// with ErrUnexported. TestCloseWhileAppending meets the case about one
// run in three under -race; this test meets it every run.
func TestCloseCheckpointsAppendAwaitingFsync(t *testing.T) {
	dir, exports := filepath.Join(t.TempDir(), "wal"), t.TempDir()
	signer := testSigner(t)
	n, _, err := node.Open(dir, signer, node.Options{Every: 1 << 20, ExportDir: exports})
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, n.Log(), 0, 3)
	p, err := n.Log().AppendPending(record("w", "a", 3))
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Wait(); err != nil {
		t.Fatalf("the append committed before Close: %v", err)
	}
	verifyAll(t, dir, exports, signer.Public(), map[string]uint64{"a": 4, "b": 3})
	if _, err := node.VerifyDir(dir, exports, []ed25519.PublicKey{signer.Public()}, checkpoint.DirOptions{}); err != nil {
		t.Fatalf("node.VerifyDir of a Node closed cleanly: %v", err)
	}
}

// closedNode opens a Node that checkpoints and exports every 3 records,
// appends records 0-4 to its chains a and b, and closes it: a log with
// checkpoints and bundles for a test to damage and open again with opts.
func closedNode(t *testing.T) (dir, exports string, signer *sdk.Ed25519Signer, opts node.Options) {
	t.Helper()
	dir, exports = filepath.Join(t.TempDir(), "wal"), t.TempDir()
	signer = testSigner(t)
	opts = node.Options{Every: 3, ExportDir: exports}
	n, _, err := node.Open(dir, signer, opts)
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, n.Log(), 0, 5)
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, exports, signer, opts
}
