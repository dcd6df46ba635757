package sdk_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/checkpoint"
)

// TestSealerSealNeverVouchesForLostHead: a Sealer's seal makes the
// chain's head durable (Store.Wait) before it tells the Sealer so. Here
// the store loses record 2 (its Wait fails) and no Pending.Wait has
// asked about it yet: Seal must fail with ErrStore, naming the chain,
// stop the log, and leave the Keeper with no checkpoint covering record
// 2. Without the Wait, the seal told the Keeper that record 2 was
// durable and the Keeper signed a checkpoint of 2 records, one of them
// lost: after a crash the log is short of its own checkpoint, and
// OpenDurable refuses it as a rollback. (TestCloseSealsAppendAwaitingFsync
// does not see this: the WAL's close makes the record durable anyway.)
func TestSealerSealNeverVouchesForLostHead(t *testing.T) {
	store := &loseStore{MemStore: sdk.NewMemStore(0), failFrom: 2}
	signer := coreSigner(t)
	keeper, err := checkpoint.NewKeeper(filepath.Join(t.TempDir(), "checkpoints"), signer, checkpoint.KeeperOptions{Every: 1000})
	if err != nil {
		t.Fatal(err)
	}
	l, err := sdk.New(sdk.Config{Signer: signer, SealEvery: 1000, Store: store, Observer: keeper})
	if err != nil {
		t.Fatal(err)
	}
	coreAppend(t, l, 1) // durable
	r := coreRecord(1)
	if _, err := l.AppendPending(&r); err != nil { // committed, not waited for
		t.Fatal(err)
	}
	head, err := l.Seal(r.WriterID, r.Stream)
	if !errors.Is(err, sdk.ErrStore) || !strings.Contains(err.Error(), r.WriterID+"/"+r.Stream) {
		t.Errorf("Seal of a head the store lost: %v, want ErrStore naming the chain", err)
	}
	if head.SealedSeq >= 2 {
		t.Errorf("Seal of a head the store lost: head %+v sealed", head)
	}
	for _, cp := range keeper.Newest() {
		if cp.Size >= 2 {
			t.Errorf("the Keeper signed a checkpoint of %d records; record 2 was lost", cp.Size)
		}
	}
	r3 := coreRecord(2)
	if _, err := l.Append(&r3); !errors.Is(err, sdk.ErrStore) {
		t.Errorf("Append after the seal found the head lost: %v, want the log failed (ErrStore)", err)
	}
}
