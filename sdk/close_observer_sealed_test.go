package sdk_test

import (
	"path/filepath"
	"sync"
	"testing"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/sdk"
)

// durableSeen is an Observer that is not a Sealer: it only records the
// newest seq it was told is durable, per chain.
type durableSeen struct {
	mu  sync.Mutex
	seq map[string]uint64
}

func (o *durableSeen) Committed(string, string, uint64, canonical.Hash, bool) {}

func (o *durableSeen) Durable(writer, stream string, seq uint64, _ bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.seq[writer+"/"+stream] = max(o.seq[writer+"/"+stream], seq)
}

// TestCloseTellsObserverSealedPolicy: the checkpoint-sealed twin of
// TestCloseTellsObserverAppendAwaitingFsync, for an Observer that does not
// seal (no Sealer): Close signs the chain's tail itself, and must tell
// the Observer the head is durable as it does under the every-record
// policy, or an Observer closed next misses records the log holds.
func TestCloseTellsObserverSealedPolicy(t *testing.T) {
	obs := &durableSeen{seq: map[string]uint64{}}
	dir := filepath.Join(t.TempDir(), "wal")
	l, _, err := sdk.OpenDurable(dir, sdk.Config{Signer: exampleKey(), SealEvery: 4, Observer: obs}, sdk.DurableOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var last sdk.Pending
	for i := 0; i < 6; i++ { // seq 4 signed by its append, 5 and 6 by Close
		r := coreRecord(i)
		if last, err = l.AppendPending(&r); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	chain := last.Head.WriterID + "/" + last.Head.Stream
	obs.mu.Lock()
	got := obs.seq[chain]
	obs.mu.Unlock()
	if got != last.Seq {
		t.Errorf("after Close the Observer has heard %s is durable to seq %d; the log holds %d", chain, got, last.Seq)
	}
	if err := last.Wait(); err != nil {
		t.Fatalf("the append committed before Close: %v", err)
	}
}
