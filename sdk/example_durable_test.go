package sdk_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/checkpoint"
)

// A Macronode: records in a durable log, a Keeper signing checkpoints of
// every chain beside it, and the order to close them in.
func ExampleOpenDurable() {
	dir, err := os.MkdirTemp("", "ron-audit-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	walDir, cpDir := filepath.Join(dir, "wal"), filepath.Join(dir, "wal", "checkpoints")
	signer := exampleKey()

	open := func() (*sdk.Log, *checkpoint.Keeper) {
		// The Keeper is the Log's Observer: it keeps each chain's Merkle
		// tree and signs checkpoints (every 10,000 durable records, every
		// 15 minutes with Tick, and at Close); on open it refuses a log
		// that lost records it vouched for.
		keeper, err := checkpoint.NewKeeper(cpDir, signer, checkpoint.KeeperOptions{})
		if err != nil {
			panic(err)
		}
		log, rec, err := sdk.OpenDurable(walDir, sdk.Config{Signer: signer, Observer: keeper}, sdk.DurableOptions{})
		if err != nil {
			panic(err) // a *sdk.DurableError (damage), a *checkpoint.Error (rollback, fork), ...
		}
		fmt.Println("replayed", rec.Records, "records")
		return log, keeper
	}
	closeBoth := func(log *sdk.Log, keeper *checkpoint.Keeper) {
		if err := log.Close(); err != nil { // first the log: everything durable
			panic(err)
		}
		if err := keeper.Close(); err != nil { // then the Keeper checkpoints it
			panic(err)
		}
	}

	log, keeper := open()
	for i := range 3 {
		rec := canonical.AuditRecord{Kind: canonical.KindCapIssued, TsMs: 1764201600000 + uint64(i),
			WriterID: "svc-gateway@inst-1", Stream: "caps", Reason: "issued"}
		a, err := log.Append(&rec) // returns once the record is on disk (group commit)
		if err != nil {
			panic(err)
		}
		fmt.Println(a.Seq, a.Record.Hash.String()[:16])
	}
	closeBoth(log, keeper)

	log, keeper = open() // replays and verifies every record
	h, _ := log.Head("svc-gateway@inst-1", "caps")
	fmt.Println("head", h.Seq)
	closeBoth(log, keeper)

	sum, err := sdk.VerifyDir(walDir, sdk.NewKeySet(signer.Public()), false, nil)
	fmt.Println("verified", sum.Records, "records:", err)
	// Output:
	// replayed 0 records
	// 1 f6f43e1497b115d4
	// 2 12891f643f9e3c93
	// 3 759be9fecf4f146b
	// replayed 3 records
	// head 3
	// verified 3 records: <nil>
}
