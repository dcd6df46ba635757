package sdk_test

import (
	"crypto/ed25519"
	"errors"
	"path/filepath"
	"sync"
	"testing"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/checkpoint"
)

// A Close whose seal panicked (the host's Signer, recovered by the
// caller) had already spent its one-time close: a later Close returned
// nil at once, the WAL never closed. Its lock and fds stayed held (the
// next OpenDurable of the directory failed with wal.ErrLocked), and the
// caller was told everything closed cleanly. A later Close must finish
// the close: seal with the Signer as it now is, close the WAL, release
// the lock, losing nothing acknowledged.
func TestClosePanicRetryFinishesClose(t *testing.T) {
	const writer, stream = "svc-gateway@inst-1", "reads"
	dir := filepath.Join(t.TempDir(), "wal")
	p := &panicAt{at: 1 << 62} // armed after the appends
	signer := coreSigner(t)
	l, _ := durableOpen(t, dir, sdk.Config{Signer: panicSigner{signer, p}, SealEvery: 16}, sdk.DurableOptions{})
	coreAppend(t, l, 5)
	p.at = p.calls.Load() + 1 // the seal of Close
	if v := recovered(func() { _ = l.Close() }); v == nil {
		t.Fatal("Close with a Signer panicking at its seal did not panic: the panic must reach the caller")
	}
	r := coreRecord(5)
	if _, err := l.Append(&r); !errors.Is(err, sdk.ErrClosed) {
		t.Errorf("Append after the Close that panicked: %v, want ErrClosed", err)
	}
	noHang(t, "Close after the Close that panicked", func() {
		if err := l.Close(); err != nil {
			t.Errorf("Close again, the Signer working: %v, want the close finished (nil)", err)
		}
	})
	l2, rec, err := sdk.OpenDurable(dir, sdk.Config{Signer: signer, SealEvery: 16}, sdk.DurableOptions{})
	if err != nil {
		t.Fatalf("OpenDurable after the second Close returned: %v (the WAL was never closed)", err)
	}
	defer l2.Close()
	if rec.Records != 5 || len(rec.Heads) != 1 || rec.Heads[0].Seq != 5 || rec.Heads[0].SealedSeq != 5 {
		t.Errorf("reopened: %+v; want 5 records, sealed to seq 5", rec)
	}
	if res, err := coreVerify(t, l2, writer, stream, sdk.VerifyOptions{}); err != nil || res.Records != 5 {
		t.Errorf("VerifyChain after reopening: %+v, %v; want 5 records", res, err)
	}
}

// panicSealer is a Keeper whose SealChain panics at the call p names.
type panicSealer struct {
	*checkpoint.Keeper
	p *panicAt
}

func (s panicSealer) SealChain(writer, stream string) (uint64, error) {
	s.p.hit("Sealer.SealChain")
	return s.Keeper.SealChain(writer, stream)
}

// The same with a Sealer (a Keeper, wrapped) whose SealChain panics at
// Close's seal: the next Close seals through it, closes the WAL, and
// the Keeper closed after it vouches for every record.
func TestCloseSealerPanicRetryFinishesClose(t *testing.T) {
	const writer, stream = "svc-gateway@inst-1", "reads"
	dir := filepath.Join(t.TempDir(), "wal")
	cpDir := filepath.Join(dir, "checkpoints")
	signer := coreSigner(t)
	keeper, err := checkpoint.NewKeeper(cpDir, signer, checkpoint.KeeperOptions{Every: 1000})
	if err != nil {
		t.Fatal(err)
	}
	p := &panicAt{at: 1} // the first SealChain: Close's
	l, _ := durableOpen(t, dir, sdk.Config{Signer: signer, SealEvery: 1000, Observer: panicSealer{keeper, p}}, sdk.DurableOptions{})
	coreAppend(t, l, 3)
	if v := recovered(func() { _ = l.Close() }); v == nil {
		t.Fatal("Close with a Sealer panicking at its seal did not panic")
	}
	noHang(t, "Close after the Close that panicked", func() {
		if err := l.Close(); err != nil {
			t.Errorf("Close again, the Sealer working: %v, want nil", err)
		}
	})
	if err := keeper.Close(); err != nil {
		t.Fatal(err)
	}
	if cps := keeper.Newest(); len(cps) != 1 || cps[0].Size != 3 {
		t.Errorf("the Keeper's newest checkpoints %+v; want one of 3 records", cps)
	}
	keeper2, err := checkpoint.NewKeeper(cpDir, signer, checkpoint.KeeperOptions{Every: 1000})
	if err != nil {
		t.Fatal(err)
	}
	defer keeper2.Close()
	l2, rec, err := sdk.OpenDurable(dir, sdk.Config{Signer: signer, SealEvery: 1000, Observer: keeper2}, sdk.DurableOptions{})
	if err != nil {
		t.Fatalf("OpenDurable after the second Close returned: %v", err)
	}
	defer l2.Close()
	if rec.Records != 3 {
		t.Errorf("reopened: %+v; want 3 records", rec)
	}
	if h, _ := l2.Head(writer, stream); h.Seq != 3 {
		t.Errorf("reopened head %+v; want seq 3", h)
	}
	// Every record verifies and is sealed by the Keeper's checkpoint.
	sum, err := checkpoint.VerifyDir(dir, []ed25519.PublicKey{signer.Public()}, checkpoint.DirOptions{})
	if err != nil || sum.Records != 3 || len(sum.Unused) != 0 {
		t.Errorf("checkpoint.VerifyDir: %+v, %v; want 3 records, sealed", sum, err)
	}
}

// durableObserver records the highest seq each chain was told durable.
type durableObserver struct {
	mu   sync.Mutex
	seqs map[string]uint64
}

func (o *durableObserver) Committed(string, string, uint64, canonical.Hash, bool) {}
func (o *durableObserver) Durable(writer, stream string, seq uint64, _ bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.seqs == nil {
		o.seqs = map[string]uint64{}
	}
	o.seqs[writer+"/"+stream] = max(o.seqs[writer+"/"+stream], seq)
}

// The same for a Store whose Wait panics as Close makes a head durable
// (an append whose Wait has not come yet): a later Close must finish,
// making the head durable and telling the Observer so, as a Close that
// returned would have.
func TestCloseStoreWaitPanicRetryFinishesClose(t *testing.T) {
	const writer, stream = "svc-gateway@inst-1", "reads"
	p := &panicAt{at: 1 << 62}
	obs := &durableObserver{}
	l := coreLog(t, sdk.Config{Store: panicWaitStore{sdk.NewMemStore(0), p}, Observer: obs})
	coreAppend(t, l, 1)
	rec := coreRecord(1)
	if _, err := l.AppendPending(&rec); err != nil { // not waited for: Close waits
		t.Fatal(err)
	}
	p.at = p.calls.Load() + 1
	if v := recovered(func() { _ = l.Close() }); v == nil {
		t.Fatal("Close with a panicking Store.Wait did not panic")
	}
	noHang(t, "Close after the Close that panicked", func() {
		if err := l.Close(); err != nil {
			t.Errorf("Close again, the Store working: %v, want nil", err)
		}
	})
	obs.mu.Lock()
	got := obs.seqs[writer+"/"+stream]
	obs.mu.Unlock()
	if got != 2 {
		t.Errorf("the Observer heard seq %d durable after the second Close; want 2, the head (the first Close panicked before telling it)", got)
	}
}

// panicDurableObserver is a durableObserver whose Durable panics at the
// call p names, before it records the head.
type panicDurableObserver struct {
	*durableObserver
	p *panicAt
}

func (o panicDurableObserver) Durable(writer, stream string, seq uint64, replay bool) {
	o.p.hit("Observer.Durable")
	o.durableObserver.Durable(writer, stream, seq, replay)
}

// An Observer whose Durable panics as Close tells it of the heads it
// made durable (its last step, once the WAL is closed): the heads after
// the one that panicked were never told, and the next Close returned nil
// at once, so a Keeper closed next checkpointed those chains short of
// records the log holds. The next Close must tell the Observer of every
// head not told of yet, the one whose Durable panicked included.
func TestCloseObserverDurablePanicRetryTellsEveryHead(t *testing.T) {
	p := &panicAt{at: 1 << 62}
	obs := &durableObserver{}
	l := coreLog(t, sdk.Config{Observer: panicDurableObserver{obs, p}})
	streams := []string{"reads", "writes", "deletes"}
	for i, s := range streams {
		rec := coreRecord(i)
		rec.Stream = s
		if _, err := l.AppendPending(&rec); err != nil { // not waited for: Close tells the Observer
			t.Fatal(err)
		}
	}
	p.at = p.calls.Load() + 1 // the first head Close tells of
	if v := recovered(func() { _ = l.Close() }); v == nil {
		t.Fatal("Close with an Observer whose Durable panics did not panic: the panic must reach the caller")
	}
	noHang(t, "Close after the Close that panicked", func() {
		if err := l.Close(); err != nil {
			t.Errorf("Close again, the Observer working: %v, want nil", err)
		}
	})
	obs.mu.Lock()
	defer obs.mu.Unlock()
	for _, s := range streams {
		if got := obs.seqs["svc-gateway@inst-1/"+s]; got != 1 {
			t.Errorf("the Observer heard seq %d of stream %s durable after the second Close; want 1, its head", got, s)
		}
	}
}
