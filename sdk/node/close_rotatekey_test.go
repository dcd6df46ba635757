package node_test

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/rustyonions/ron-audit-go/internal/leakcheck"
	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/checkpoint"
	"github.com/rustyonions/ron-audit-go/sdk/node"
)

// countingSigner counts the record signatures it makes.
type countingSigner struct {
	sdk.Signer
	records atomic.Int64
}

func (s *countingSigner) Sign(msg []byte, sig *sdk.Signature) error {
	if bytes.HasPrefix(msg, []byte("RONAUDIT-SIG-V1")) {
		s.records.Add(1)
	}
	return s.Signer.Sign(msg, sig)
}

// TestCloseBesideRotateKey: a Close that begins once a RotateKey has
// written its transitions (records past them are being signed by the new
// key) but before the rotation has handed the Keeper the new key
// (FollowKey, which RotateKey calls after telling the Keeper of each
// transition): the Log's Close does not wait for FollowKey, and the
// Node's closed the Keeper next, which checkpointed each chain only up
// to its transition. Both calls returned nil, and the records signed by
// the new key were in no checkpoint and no bundle (node.VerifyDir:
// ErrUnexported). The Keeper's FollowKey only ever comes from the
// rotation, and never calls the Node: Close must wait for it before it
// closes the Keeper. No hook sits in that window, so the test runs
// rounds with a long one (16 chains, a checkpoint due at each
// transition): before the fix, one of the first two rounds failed in
// every run tried.
func TestCloseBesideRotateKey(t *testing.T) {
	check := leakcheck.Check(t)
	old := testSigner(t)
	const chains, rounds = 16, 5
	for round := range rounds {
		dir, exports := filepath.Join(t.TempDir(), "wal"), t.TempDir()
		next := &countingSigner{Signer: nodeCrashKey(t, 1)}
		// Every record due for a checkpoint: each transition's takes
		// RotateKey a checkpoint written before its FollowKey.
		n, _, err := node.Open(dir, old, node.Options{Every: 1, Interval: -1, ExportDir: exports})
		if err != nil {
			t.Fatal(err)
		}
		rerr, cerr := closeBesideRotateKey(t, n, next, chains, func() bool { return next.records.Load() > 0 }) // the transitions are written: the new key signs
		if rerr != nil || cerr != nil {
			t.Fatalf("round %d: RotateKey: %v; Close: %v; want both nil", round, rerr, cerr)
		}
		pubs := []ed25519.PublicKey{old.Public(), next.Public()}
		if _, err := node.VerifyDir(dir, exports, pubs, checkpoint.DirOptions{}); err != nil {
			t.Fatalf("round %d: RotateKey and Close returned nil, %d records signed by the new key; node.VerifyDir: %v", round, next.records.Load(), err)
		}
	}
	check()
}

// closeBesideRotateKey appends a record to each of chains chains of n,
// then, with a goroutine appending to them until the log closes, runs
// RotateKey(next) and closes n once signed reports true or the rotation
// has ended, and returns RotateKey's and Close's errors.
func closeBesideRotateKey(t *testing.T, n *node.Node, next sdk.Signer, chains int, signed func() bool) (rerr, cerr error) {
	t.Helper()
	for c := range chains {
		if _, err := n.Log().Append(record("w", fmt.Sprint(c), 0)); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 1; ; i++ {
			if _, err := n.Log().Append(record("w", fmt.Sprint(i%chains), i)); err != nil {
				if !errors.Is(err, sdk.ErrClosed) {
					t.Errorf("append beside Close: %v; want sdk.ErrClosed", err)
				}
				return
			}
		}
	})
	rotated := make(chan error, 1)
	go func() { _, err := n.Log().RotateKey(next); rotated <- err }()
wait:
	for !signed() {
		select {
		case rerr = <-rotated:
			rotated <- rerr
			break wait
		default:
		}
	}
	cerr = n.Close()
	wg.Wait()
	return <-rotated, cerr
}
