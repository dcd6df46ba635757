package checkpoint_test

import (
	"crypto/ed25519"
	"fmt"
	"os"
	"path/filepath"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/checkpoint"
)

func exampleKey(s string) *sdk.Ed25519Signer {
	seed := make([]byte, ed25519.SeedSize)
	copy(seed, s) // stands in for sdk.LoadSigner("audit.key")
	k, err := sdk.NewEd25519Signer(ed25519.NewKeyFromSeed(seed))
	if err != nil {
		panic(err)
	}
	return k
}

// An offline auditor holding only the first public key verifies a
// durable log whose seals are a Keeper's checkpoints, across a key
// rotation: sdk.VerifyDir reads no checkpoint (the chain would be an
// unsealed tail there), so each chain is verified with its kept
// checkpoints.
func ExampleVerifyChain() {
	dir, err := os.MkdirTemp("", "ron-audit-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	walDir := filepath.Join(dir, "wal")
	cpDir := filepath.Join(walDir, "checkpoints")
	k1, k2 := exampleKey("example key: never use a fixed seed"), exampleKey("the next key")

	// The writer: checkpoint-sealed, a checkpoint every 3 records.
	keeper, err := checkpoint.NewKeeper(cpDir, k1, checkpoint.KeeperOptions{Every: 3})
	if err != nil {
		panic(err)
	}
	log, _, err := sdk.OpenDurable(walDir, sdk.Config{Signer: k1, Observer: keeper, SealEvery: 3}, sdk.DurableOptions{})
	if err != nil {
		panic(err)
	}
	for i := range 6 {
		if i == 3 {
			if _, err := log.RotateKey(k2); err != nil { // k2 signs from here on, the Keeper's checkpoints too
				panic(err)
			}
		}
		rec := canonical.AuditRecord{TsMs: 1764201600000 + uint64(i), WriterID: "svc@inst-1", Stream: "caps", Reason: "issued"}
		if _, err := log.Append(&rec); err != nil {
			panic(err)
		}
	}
	if err := log.Close(); err != nil {
		panic(err)
	}
	if err := keeper.Close(); err != nil {
		panic(err)
	}

	// The auditor, with k1's public key only.
	pub := k1.Public()
	keys := sdk.NewKeySet(pub)
	_, err = sdk.VerifyDir(walDir, keys, false, nil)
	fmt.Println("VerifyDir alone:", err != nil)
	var recs []sdk.Sealed
	if _, err := sdk.VerifyDirChain(walDir, "svc@inst-1", "caps", keys, true, func(r sdk.Sealed) {
		r.Bytes = append([]byte(nil), r.Bytes...) // valid only during the call
		recs = append(recs, r)
	}); err != nil {
		panic(err)
	}
	cps, err := checkpoint.LoadHistory(cpDir, "svc@inst-1", "caps")
	if err != nil {
		panic(err)
	}
	res, err := checkpoint.VerifyChain(sdk.NewSliceIterator(recs), keys, checkpoint.KeyVerifiers(pub), cps, sdk.VerifyOptions{})
	fmt.Println(len(cps), "checkpoints;", res.Records, "records sealed up to", res.Head.SealedSeq, "; key transitions:", len(res.Retired), err)
	// Output:
	// VerifyDir alone: true
	// 3 checkpoints; 7 records sealed up to 7 ; key transitions: 1 <nil>
}

// An offline auditor holding only the first public key verifies a
// Keeper-sealed durable log across a key rotation in one call: the log's
// records, and the checkpoints kept with it (DIR/checkpoints), the
// second key's trusted through the transition the first key signed.
func ExampleVerifyDir() {
	dir, err := os.MkdirTemp("", "ron-audit-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	walDir := filepath.Join(dir, "wal")
	k1, k2 := exampleKey("example key: never use a fixed seed"), exampleKey("the next key")

	// The writer: checkpoint-sealed, a checkpoint every 3 records.
	keeper, err := checkpoint.NewKeeper(filepath.Join(walDir, "checkpoints"), k1, checkpoint.KeeperOptions{Every: 3})
	if err != nil {
		panic(err)
	}
	log, _, err := sdk.OpenDurable(walDir, sdk.Config{Signer: k1, Observer: keeper, SealEvery: 3}, sdk.DurableOptions{})
	if err != nil {
		panic(err)
	}
	for i := range 6 {
		if i == 3 {
			if _, err := log.RotateKey(k2); err != nil {
				panic(err)
			}
		}
		rec := canonical.AuditRecord{TsMs: 1764201600000 + uint64(i), WriterID: "svc@inst-1", Stream: "caps", Reason: "issued"}
		if _, err := log.Append(&rec); err != nil {
			panic(err)
		}
	}
	if err := log.Close(); err != nil {
		panic(err)
	}
	if err := keeper.Close(); err != nil {
		panic(err)
	}

	// The auditor, with k1's public key only (sdk.LoadPublicKey).
	sum, err := checkpoint.VerifyDir(walDir, []ed25519.PublicKey{k1.Public()}, checkpoint.DirOptions{})
	if err != nil {
		fmt.Println("FAIL:", err) // a *sdk.DurableError (the records), a *checkpoint.DirError (the checkpoints)
		return
	}
	for _, h := range sum.Heads {
		fmt.Printf("%s/%s: %d records, sealed up to %d\n", h.WriterID, h.Stream, h.Seq, h.SealedSeq)
	}
	fmt.Println(sum.Used, "checkpoints used,", len(sum.Unused), "unused; key transitions:", len(sum.Retired))
	// Output:
	// svc@inst-1/caps: 7 records, sealed up to 7
	// 3 checkpoints used, 0 unused; key transitions: 1
}
