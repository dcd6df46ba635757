package main

import (
	"crypto/ed25519"
	"errors"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/sdk"
)

// heldStore is a MemStore whose Wait for the record of seq hold blocks
// until release closes: a record whose fsync has not come yet.
type heldStore struct {
	*sdk.MemStore
	hold    uint64
	release chan struct{}
}

func (s *heldStore) Put(writer, stream string, seq uint64, rec sdk.Sealed) (sdk.Sealed, sdk.Ticket, error) {
	out, _, err := s.MemStore.Put(writer, stream, seq, rec)
	return out, sdk.Ticket(seq), err
}

func (s *heldStore) Wait(t sdk.Ticket) error {
	if uint64(t) == s.hold {
		<-s.release
	}
	return nil
}

// failingOut fails every write, as stdout closed under a pipe does.
type failingOut struct{ writes atomic.Int32 }

func (w *failingOut) Write([]byte) (int, error) {
	w.writes.Add(1)
	return 0, errors.New("broken pipe")
}

// TestPrintAcksStopsWhileBusy: once an acknowledgment cannot be written,
// printAcks says so (outFailed) at once, so that append stops reading,
// even while records keep waiting behind it. Looking only when it
// flushes, which it does only once no record waits (len(pending) == 0),
// it would miss the write failure, lost in the bufio.Writer, under a
// steady input or a record whose fsync is slow, and append would go on
// appending records nobody would be told of. Here the last record's
// fsync never comes while the test waits: the failure must be seen
// before it.
func TestPrintAcksStopsWhileBusy(t *testing.T) {
	const n = 500 // far more than a bufio.Writer's 4 KiB of acknowledgments
	_, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := sdk.NewEd25519Signer(priv)
	if err != nil {
		t.Fatal(err)
	}
	store := &heldStore{MemStore: sdk.NewMemStore(0), hold: n, release: make(chan struct{})}
	log, err := sdk.New(sdk.Config{Signer: signer, Store: store})
	if err != nil {
		t.Fatal(err)
	}
	pending := make(chan sdk.Pending, n)
	for i := 0; i < n; i++ {
		r := canonical.AuditRecord{Kind: canonical.KindIndexWrite, WriterID: "w", Stream: "s", Reason: "ack " + strconv.Itoa(i)}
		p, err := log.AppendPending(&r)
		if err != nil || p.Duplicate || p.Seq != uint64(i+1) {
			t.Fatalf("append %d: seq %d, duplicate %v, %v", i+1, p.Seq, p.Duplicate, err)
		}
		pending <- p
	}
	close(pending)
	outFailed := make(chan struct{})
	out := &failingOut{}
	done := make(chan error, 1)
	go func() { done <- printAcks(pending, out, outFailed) }()
	select {
	case <-outFailed:
	case <-time.After(20 * time.Second): // a hang, not a speed: the fix sees it within 4 KiB
		t.Errorf("stdout failed (%d writes) but outFailed is not closed while record %d waits for its fsync", out.writes.Load(), n)
	}
	close(store.release)
	if err := <-done; err != nil {
		t.Errorf("printAcks: %v", err)
	}
}
