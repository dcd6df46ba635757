package node_test

import (
	"crypto/ed25519"
	"path/filepath"
	"testing"

	"github.com/rustyonions/ron-audit-go/internal/leakcheck"
	"github.com/rustyonions/ron-audit-go/sdk/checkpoint"
	"github.com/rustyonions/ron-audit-go/sdk/node"
)

// TestCloseBesideRotateKeySealed is TestCloseBesideRotateKey on a
// checkpoint-sealed log: the Log's Close seals each chain with the
// Keeper's key as it is. Between the end of the transitions and the
// rotation's FollowKey, the Keeper sealed a chain with records past its
// transition only up to the transition, and the Log's Close returned
// sdk.ErrSealIncomplete, which the Node's Close returned, though the
// Keeper, closed once FollowKey had come, checkpointed and exported every
// record (node.VerifyDir passed): an alarm for nothing. The transitions
// are signed (by the old key) even checkpoint-sealed; once all are, Close
// runs beside the rest of the rotation. Rounds, as there.
func TestCloseBesideRotateKeySealed(t *testing.T) {
	check := leakcheck.Check(t)
	const chains, rounds = 16, 8
	for round := range rounds {
		old := &countingSigner{Signer: nodeCrashKey(t, 0)}
		next := nodeCrashKey(t, 1)
		dir, exports := filepath.Join(t.TempDir(), "wal"), t.TempDir()
		n, _, err := node.Open(dir, old, node.Options{SealEvery: 4, Every: 4, Interval: -1, ExportDir: exports})
		if err != nil {
			t.Fatal(err)
		}
		rerr, cerr := closeBesideRotateKey(t, n, next, chains, func() bool { return old.records.Load() >= chains }) // the transitions are signed
		pubs := []ed25519.PublicKey{old.Public(), next.Public()}
		_, verr := node.VerifyDir(dir, exports, pubs, checkpoint.DirOptions{})
		if rerr != nil || cerr != nil || verr != nil {
			t.Fatalf("round %d: RotateKey: %v; Close: %v; node.VerifyDir: %v; want all nil", round, rerr, cerr, verr)
		}
	}
	check()
}
