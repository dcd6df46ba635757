package export

import (
	"crypto/ed25519"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/checkpoint"
)

// TestAutoOnExportTimesTheRead: under Auto (node.Open's exports), the
// time OnExport reports (export_batch_seconds) covers the export from
// its start: asking Prev for the previous bundle and reading the records
// (Log.Records) as well as signing and writing, as the Exporter's doc
// and the AuditExportSlow runbook say (a cache smaller than a bundle
// makes every export read from disk, which must show there). It was
// timed from ExportTree, after both: a slow read never showed.
// Deterministic: Prev sleeps, and a window that contains the sleep is
// at least as long.
func TestAutoOnExportTimesTheRead(t *testing.T) {
	seed := make([]byte, ed25519.SeedSize)
	copy(seed, "auto took key")
	signer, err := sdk.NewEd25519Signer(ed25519.NewKeyFromSeed(seed))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	const slow = 200 * time.Millisecond
	var mu sync.Mutex
	var took []time.Duration
	sink := &FileSink{Dir: filepath.Join(dir, "exports")}
	ex := &Exporter{Sink: sink, OnExport: func(d time.Duration, records int) {
		mu.Lock()
		took = append(took, d)
		mu.Unlock()
	}}
	auto := &Auto{Exporter: ex, Prev: func(writer, stream string) (*State, error) {
		time.Sleep(slow) // a slow export directory (or, the same, a slow read of the records)
		return sink.Prev(writer, stream)
	}}
	keeper, err := checkpoint.NewKeeper(filepath.Join(dir, "checkpoints"), signer, checkpoint.KeeperOptions{Every: 5, Interval: -1, OnCheckpoint: auto.Checkpointed})
	if err != nil {
		t.Fatal(err)
	}
	auto.Keeper = keeper
	log, _, err := sdk.OpenDurable(filepath.Join(dir, "wal"), sdk.Config{Signer: signer, Observer: keeper}, sdk.DurableOptions{})
	if err != nil {
		t.Fatal(err)
	}
	auto.Log = log
	auto.Start()
	for i := range 10 {
		r := canonical.AuditRecord{WriterID: "w", Stream: "s", TsMs: uint64(i + 1), Reason: "r" + strconv.Itoa(i)}
		if _, err := log.Append(&r); err != nil {
			t.Fatal(err)
		}
	}
	if err := log.Close(); err != nil {
		t.Fatal(err)
	}
	if err := keeper.Close(); err != nil {
		t.Fatal(err)
	}
	if err := auto.Close(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(took) != 2 {
		t.Fatalf("OnExport called %d times, want 2 (seqs 1-5, 6-10)", len(took))
	}
	for i, d := range took {
		if d < slow {
			t.Errorf("bundle %d: OnExport took %v, less than the %v Prev slept in it: the export's read is not timed", i+1, d, slow)
		}
	}
}
