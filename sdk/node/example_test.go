package node_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/checkpoint"
	"github.com/rustyonions/ron-audit-go/sdk/export"
	"github.com/rustyonions/ron-audit-go/sdk/metrics"
	"github.com/rustyonions/ron-audit-go/sdk/node"
)

// A Macronode: a durable log, its Keeper's checkpoints in
// DIR/checkpoints, a bundle of each chain's new records after every
// checkpoint, the metrics fed, and an Emitter whose Ready sees all of it;
// closed emitter first, then the Node. Offline, the public key alone
// verifies the log, its checkpoints and the bundles up to the newest
// checkpoint (TestOfflineAuditCatchesTamper is the auditor for every
// chain, and the tampers it catches).
func ExampleOpen() {
	tmp, err := os.MkdirTemp("", "ron-audit-node")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(tmp)
	dir, exports := filepath.Join(tmp, "wal"), filepath.Join(tmp, "exports")
	seed := make([]byte, ed25519.SeedSize)
	copy(seed, "example key: never use a fixed seed")
	signer, err := sdk.NewEd25519Signer(ed25519.NewKeyFromSeed(seed)) // sdk.LoadSigner("audit.key") in a host
	if err != nil {
		panic(err)
	}
	m, err := metrics.New(prometheus.NewRegistry()) // the host's registry
	if err != nil {
		panic(err)
	}

	n, rec, err := node.Open(dir, signer, node.Options{
		Every:     1000,    // a checkpoint of a chain every 1,000 records (and every 15 minutes, and at Close)
		ExportDir: exports, // and a bundle after each
		Metrics:   m,
		OnFailure: func(err error) { fmt.Println("audit:", err) }, // print or log it; quickly
	})
	if err != nil {
		panic(err) // a *sdk.DurableError (damage), a *checkpoint.Error (records cut or rewritten), ...
	}
	fmt.Println("replayed", rec.Records, "records")
	em, err := sdk.NewEmitter(n.Log(), sdk.EmitterOptions{Metrics: m})
	if err != nil {
		panic(errors.Join(err, n.Close()))
	}
	for i := range 3 {
		err := em.Emit(context.Background(), &canonical.AuditRecord{Kind: canonical.KindCapIssued,
			TsMs: 1764201600000 + uint64(i), WriterID: "svc-gateway@inst-1", Stream: "caps", Reason: "issued"})
		if err != nil {
			panic(err)
		}
	}
	// nil; a failed checkpoint or a stopped export makes it a *sdk.DegradedError
	fmt.Println("ready:", em.Ready())
	if err := em.Close(context.Background()); err != nil { // first the emitter: it appends to the log
		panic(err)
	}
	if err := n.Close(); err != nil { // then the log, the Keeper, the exports
		panic(err)
	}

	pub := signer.Public()
	sum, err := checkpoint.VerifyDir(dir, []ed25519.PublicKey{pub}, checkpoint.DirOptions{})
	fmt.Println("verified", sum.Records, "records,", sum.Used, "checkpoint:", err)
	// The bundles must reach the chain's newest kept checkpoint: without
	// a trusted checkpoint a sequence whose last bundles were deleted
	// still verifies (as a shorter one).
	notes, err := checkpoint.LoadHistory(filepath.Join(dir, "checkpoints"), "svc-gateway@inst-1", "caps")
	if err != nil || len(notes) == 0 {
		panic(fmt.Sprint(len(notes), " checkpoints kept: ", err))
	}
	bundles, err := export.VerifyDirTrusted(filepath.Join(exports, "svc-gateway@inst-1", "caps"),
		export.KeyVerifiers(pub), sdk.NewKeySet(pub), notes[len(notes)-1])
	fmt.Println("bundles hold", bundles.Records, "records:", err)
	// Output:
	// replayed 0 records
	// ready: <nil>
	// verified 3 records, 1 checkpoint: <nil>
	// bundles hold 3 records: <nil>
}
