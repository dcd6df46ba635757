package export_test

import (
	"crypto/ed25519"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/checkpoint"
	"github.com/rustyonions/ron-audit-go/sdk/export"
)

// A Macronode that exports as it writes: a durable log, a Keeper whose
// checkpoints seal it, and an Auto writing a bundle to a FileSink after
// every checkpoint; then an auditor holding only the public key verifies
// the bundles. The order matters: the Auto exists before the Keeper (its
// Checkpointed is the Keeper's OnCheckpoint), the Keeper before the Log,
// the Log before Start; Close the Log, then the Keeper, then the Auto.
func ExampleAuto() {
	dir, err := os.MkdirTemp("", "ron-audit-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	walDir, expDir := filepath.Join(dir, "wal"), filepath.Join(dir, "exports")
	seed := make([]byte, ed25519.SeedSize)
	copy(seed, "example key: never use a fixed seed")
	signer, err := sdk.NewEd25519Signer(ed25519.NewKeyFromSeed(seed)) // sdk.LoadSigner("audit.key")
	if err != nil {
		panic(err)
	}

	sink := &export.FileSink{Dir: expDir}
	auto := &export.Auto{
		Exporter: &export.Exporter{Sink: sink}, // no Signer: Auto signs with the Keeper's key
		Prev:     sink.Prev,                    // so a restart continues after the newest bundle
	}
	keeper, err := checkpoint.NewKeeper(filepath.Join(walDir, "checkpoints"), signer, checkpoint.KeeperOptions{
		Every: 4,
		OnCheckpoint: func(cp checkpoint.Checkpoint, took time.Duration) {
			// m.OnCheckpoint(cp, took) too, with sdk/metrics
			auto.Checkpointed(cp, took)
		},
	})
	if err != nil {
		panic(err)
	}
	log, _, err := sdk.OpenDurable(walDir, sdk.Config{Signer: signer, Observer: keeper, SealEvery: 4}, sdk.DurableOptions{})
	if err != nil {
		panic(err)
	}
	auto.Log, auto.Keeper = log, keeper
	if err := auto.Start(); err != nil { // sdk.ErrConfig: a field left nil
		panic(err)
	}

	for i := range 10 {
		rec := canonical.AuditRecord{Kind: canonical.KindIndexWrite, TsMs: 1764201600000 + uint64(i),
			WriterID: "svc-index@inst-2", Stream: "index", Reason: "write"}
		if _, err := log.Append(&rec); err != nil {
			panic(err)
		}
	}
	if err := log.Close(); err != nil {
		panic(err)
	}
	if err := keeper.Close(); err != nil { // checkpoints the last two records
		panic(err)
	}
	if err := auto.Close(); err != nil { // waits for their bundle
		panic(err)
	}

	// The auditor: the public key and the chain's bundle directory,
	// expDir/e(writerId)/e(stream), there or not (a chain without
	// bundles: VerifyDir fails with ErrNoBundles).
	chainDir := export.ChainDir(expDir, "svc-index@inst-2", "index")
	names, err := export.ListDir(chainDir)
	if err != nil {
		panic(err)
	}
	for _, n := range names {
		fmt.Println(filepath.Base(n))
	}
	pub := signer.Public()
	sum, err := export.VerifyDir(chainDir, export.KeyVerifiers(pub), sdk.NewKeySet(pub), nil)
	fmt.Println(sum.Origin, sum.Records, "records:", err)
	// Output:
	// 00000000000000000001-00000000000000000004.bundle
	// 00000000000000000005-00000000000000000008.bundle
	// 00000000000000000009-00000000000000000010.bundle
	// ron-audit/svc-index@inst-2/index 10 records: <nil>
}
