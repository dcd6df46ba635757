package node_test

import (
	"crypto/ed25519"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/rustyonions/ron-audit-go/internal/leakcheck"
	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/checkpoint"
	"github.com/rustyonions/ron-audit-go/sdk/node"
)

// panicNextSigner panics at its Sign while armed, once, then signs.
type panicNextSigner struct {
	sdk.Signer
	armed atomic.Bool
}

func (s *panicNextSigner) Sign(msg []byte, sig *sdk.Signature) error {
	if s.armed.CompareAndSwap(true, false) {
		panic("test: Signer.Sign panics")
	}
	return s.Signer.Sign(msg, sig)
}

// A Close whose Keeper panicked (the host's Signer, at the last
// checkpoint it signs) spent the Node's one-time close (a sync.Once
// counts a panic as returned): a later Close returned nil at once, the
// Keeper's last checkpoints and the exports' last bundles were never
// written, though the Log and the Keeper each finish their close when
// called again. The panic must reach the caller, and the next Close must
// finish the close: the checkpoints, the bundles, nothing left running,
// and a directory that passes node.VerifyDir. Checkpoint-sealed, the
// Signer panics in the Log's Close (its seal is the Keeper's
// checkpoint), and the Log's Close must be finished too (its WAL lock
// released: the directory opens again).
func TestClosePanicRetryFinishesClose(t *testing.T) {
	for _, sealEvery := range []int{0, 1 << 20} {
		t.Run(fmt.Sprintf("SealEvery=%d", sealEvery), func(t *testing.T) {
			check := leakcheck.Check(t)
			dir, exports := filepath.Join(t.TempDir(), "wal"), t.TempDir()
			base := testSigner(t)
			signer := &panicNextSigner{Signer: base}
			opts := node.Options{SealEvery: sealEvery, Every: 1 << 20, ExportDir: exports}
			n, _, err := node.Open(dir, signer, opts)
			if err != nil {
				t.Fatal(err)
			}
			appendN(t, n.Log(), 0, 3)
			signer.armed.Store(true) // the first signature of Close
			v := func() (v any) {
				defer func() { v = recover() }()
				_ = n.Close()
				return nil
			}()
			if v == nil {
				t.Fatal("Close with a Signer panicking at its first signature did not panic: the panic must reach the caller")
			}
			if err := n.Close(); err != nil {
				t.Errorf("Close again, the Signer working: %v, want nil", err)
			}
			check()
			if _, err := node.VerifyDir(dir, exports, []ed25519.PublicKey{base.Public()}, checkpoint.DirOptions{}); err != nil {
				t.Errorf("node.VerifyDir after the second Close: %v; want the close finished, every record checkpointed and exported", err)
			}
			if err := n.Close(); err != nil {
				t.Errorf("a third Close: %v; want what the second returned (nil)", err)
			}
			n, _, err = node.Open(dir, base, opts)
			if err != nil {
				t.Fatalf("Open after the second Close: %v", err)
			}
			if err := n.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// The same when the Signer panics as the Log's Close tells the Keeper of
// the heads it made durable (records whose AppendPending was not waited
// for), the Keeper signing the checkpoint they made due: the heads after
// the one told then were never told (the Log's Close was done), and the
// Keeper closed short of them. The next Close must tell them all.
func TestCloseObserverPanicRetryCheckpointsEveryHead(t *testing.T) {
	check := leakcheck.Check(t)
	dir, exports := filepath.Join(t.TempDir(), "wal"), t.TempDir()
	base := testSigner(t)
	signer := &panicNextSigner{Signer: base}
	n, _, err := node.Open(dir, signer, node.Options{Every: 2, Interval: -1, ExportDir: exports})
	if err != nil {
		t.Fatal(err)
	}
	streams := []string{"a", "b", "c"}
	for _, s := range streams {
		if _, err := n.Log().Append(record("w", s, 0)); err != nil {
			t.Fatal(err)
		}
		if _, err := n.Log().AppendPending(record("w", s, 1)); err != nil { // not waited for: Close tells the Keeper
			t.Fatal(err)
		}
	}
	signer.armed.Store(true) // the checkpoint the first head Close tells of makes due
	v := func() (v any) {
		defer func() { v = recover() }()
		_ = n.Close()
		return nil
	}()
	if v == nil {
		t.Fatal("Close with a Signer panicking at a checkpoint did not panic: the panic must reach the caller")
	}
	if err := n.Close(); err != nil {
		t.Errorf("Close again, the Signer working: %v, want nil", err)
	}
	check()
	sum, err := node.VerifyDir(dir, exports, []ed25519.PublicKey{base.Public()}, checkpoint.DirOptions{})
	if err != nil {
		t.Errorf("node.VerifyDir after the second Close: %v; want every head checkpointed and exported", err)
	}
	for _, ce := range sum.Exports {
		if ce.Checkpoint != 2 || ce.Records != 2 {
			t.Errorf("chain %s: checkpoint %d, bundles to seq %d; want both 2", ce.Stream, ce.Checkpoint, ce.Records)
		}
	}
}
