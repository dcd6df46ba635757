package export

import (
	"crypto/ed25519"
	"errors"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/internal/leakcheck"
	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/checkpoint"
)

// TestAutoNoLeak: Auto's export goroutine ends once its queue is empty,
// after a failed export too, and Close waits for it; with the durable
// log and the Keeper closed, no goroutine of the module is left.
func TestAutoNoLeak(t *testing.T) {
	for _, failing := range []bool{false, true} {
		t.Run("failing="+strconv.FormatBool(failing), func(t *testing.T) {
			check := leakcheck.Check(t)
			seed := make([]byte, ed25519.SeedSize)
			copy(seed, "auto leak key")
			signer, err := sdk.NewEd25519Signer(ed25519.NewKeyFromSeed(seed))
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			sink := &FileSink{Dir: filepath.Join(dir, "exports")}
			auto := &Auto{Exporter: &Exporter{Sink: sink, Signer: signer}, Prev: sink.Prev}
			prevErr := errors.New("prev refused by the test")
			if failing {
				auto.Prev = func(string, string) (*State, error) { return nil, prevErr }
			}
			keeper, err := checkpoint.NewKeeper(filepath.Join(dir, "checkpoints"), signer, checkpoint.KeeperOptions{Every: 5, Interval: -1, OnCheckpoint: auto.Checkpointed})
			if err != nil {
				t.Fatal(err)
			}
			auto.Keeper = keeper
			log, _, err := sdk.OpenDurable(filepath.Join(dir, "wal"), sdk.Config{Signer: signer, Observer: keeper, SealEvery: 5}, sdk.DurableOptions{})
			if err != nil {
				t.Fatal(err)
			}
			auto.Log = log
			auto.Start()
			for i := range 12 {
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
			if err := auto.Close(); failing != errors.Is(err, prevErr) {
				t.Fatalf("auto.Close: %v", err)
			}
			check()
		})
	}
}
