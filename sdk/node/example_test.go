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
// checkpoint (VerifyDir; TestOfflineAuditCatchesTamper has the tampers it
// catches).
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

	// Offline, with the public key alone: the log, its kept checkpoints
	// and the bundles up to the newest of them, in one call.
	sum, err := node.VerifyDir(dir, exports, []ed25519.PublicKey{signer.Public()}, checkpoint.DirOptions{})
	fmt.Println("verified", sum.Records, "records,", sum.Used, "checkpoint,", sum.Exports[0].Records, "records exported:", err)
	// Output:
	// replayed 0 records
	// ready: <nil>
	// verified 3 records, 1 checkpoint, 3 records exported: <nil>
}

// The offline audit of what a Node left, with only the public key: the
// log, the checkpoints kept with it, and every chain's bundles, which
// must reach the chain's newest kept checkpoint and hold every record of
// the log. A bundle deleted is caught: without the trusted checkpoint
// the shorter sequence would still verify.
func ExampleVerifyDir() {
	tmp, err := os.MkdirTemp("", "ron-audit-node")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(tmp)
	dir, exports := filepath.Join(tmp, "wal"), filepath.Join(tmp, "exports")
	seed := make([]byte, ed25519.SeedSize)
	copy(seed, "example key: never use a fixed seed")
	signer, err := sdk.NewEd25519Signer(ed25519.NewKeyFromSeed(seed))
	if err != nil {
		panic(err)
	}
	// The host: 10 records of a chain, a checkpoint every 4 and at Close,
	// and a bundle after each.
	n, _, err := node.Open(dir, signer, node.Options{Every: 4, ExportDir: exports})
	if err != nil {
		panic(err)
	}
	for i := range 10 {
		if _, err := n.Log().Append(&canonical.AuditRecord{Kind: canonical.KindCapIssued,
			TsMs: 1764201600000 + uint64(i), WriterID: "svc-gateway@inst-1", Stream: "caps", Reason: "issued"}); err != nil {
			panic(errors.Join(err, n.Close()))
		}
	}
	if err := n.Close(); err != nil {
		panic(err)
	}

	// The auditor.
	pubs := []ed25519.PublicKey{signer.Public()}
	sum, err := node.VerifyDir(dir, exports, pubs, checkpoint.DirOptions{})
	if err != nil {
		panic(err)
	}
	fmt.Println(sum.Records, "records,", len(sum.Heads), "chain,", sum.Used, "checkpoints")
	for _, ce := range sum.Exports {
		fmt.Printf("%s/%s: %d records in bundles, newest checkpoint %d\n", ce.WriterID, ce.Stream, ce.Records, ce.Checkpoint)
	}

	// The host deletes the chain's last bundle.
	bundles, err := export.ListDir(export.ChainDir(exports, "svc-gateway@inst-1", "caps"))
	if err != nil {
		panic(err)
	}
	if err := os.Remove(bundles[len(bundles)-1]); err != nil {
		panic(err)
	}
	_, err = node.VerifyDir(dir, exports, pubs, checkpoint.DirOptions{})
	var ee *node.ExportError
	fmt.Println("truncated:", errors.Is(err, export.ErrTruncated), errors.As(err, &ee) && ee.Stream == "caps")
	// Output:
	// 10 records, 1 chain, 3 checkpoints
	// svc-gateway@inst-1/caps: 10 records in bundles, newest checkpoint 10
	// truncated: true true
}
