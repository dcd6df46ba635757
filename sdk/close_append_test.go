package sdk_test

import (
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/checkpoint"
	"github.com/rustyonions/ron-audit-go/sdk/wal"
)

// holdSigner is an Ed25519 signer whose first Sign after arm waits for
// release, telling signing when it starts.
type holdSigner struct {
	*sdk.Ed25519Signer
	armed   atomic.Bool
	signing chan struct{}
	release chan struct{}
}

func (s *holdSigner) Sign(msg []byte, sig *sdk.Signature) error {
	if s.armed.CompareAndSwap(true, false) {
		close(s.signing)
		<-s.release
	}
	return s.Ed25519Signer.Sign(msg, sig)
}

// TestCloseWaitsForAppendUnderWay (found by TestLogChaos): under the
// every-record-signed policy, an Append that had passed Close's check
// (it was signing its record) when Close began used to find the WAL
// closed under it: it failed with ErrStore ("wal: log is closed"), a
// store failure that never happened, reported for a log closed cleanly.
// Close now waits for an append under way on each chain before it closes
// the WAL, as it already did under the checkpoint-sealed policy (its seal
// takes each chain's lock): the append ends as on an open log.
func TestCloseWaitsForAppendUnderWay(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "wal")
	s := &holdSigner{Ed25519Signer: exampleKey(), signing: make(chan struct{}), release: make(chan struct{})}
	l, _, err := sdk.OpenDurable(dir, sdk.Config{Signer: s}, sdk.DurableOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s.armed.Store(true)
	appended := make(chan error, 1)
	var a sdk.Appended
	go func() {
		r := coreRecord(0)
		var err error
		a, err = l.Append(&r)
		appended <- err
	}()
	<-s.signing // the append is under way, past Close's check
	closed := make(chan error, 1)
	go func() { closed <- l.Close() }()
	select {
	case err := <-closed: // Close did not wait for it
		closed <- err
	case <-time.After(300 * time.Millisecond): // Close waits (or is slow)
	}
	close(s.release)
	aerr := <-appended
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
	if errors.Is(aerr, sdk.ErrStore) {
		t.Fatalf("an Append under way when Close began failed with a store failure: %v", aerr)
	}
	if aerr != nil && !errors.Is(aerr, sdk.ErrClosed) {
		t.Fatalf("Append beside Close: %v", aerr)
	}
	// Acknowledged, it is in the log; refused, it is not.
	sum, err := sdk.VerifyDir(dir, sdk.NewKeySet(s.Public()), false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[bool]uint64{true: 1, false: 0}[aerr == nil]; sum.Records != want {
		t.Errorf("Append returned %v (seq %d); the log holds %d records", aerr, a.Seq, sum.Records)
	}
}

// TestCloseSealsAppendAwaitingFsync (found by TestLogChaos): under the
// checkpoint-sealed policy with a Keeper as Sealer, Close asks the Keeper
// to seal each chain, and the Keeper vouches only for the records it
// heard are durable. An Append committed before Close but still waiting
// for its group fsync was left out of Close's checkpoint, and then
// acknowledged: a record after the last seal once Close returned nil,
// which Close promises never to leave. Seals now make the chain's head
// durable first.
func TestCloseSealsAppendAwaitingFsync(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "wal")
	cpDir := filepath.Join(dir, "checkpoints")
	signer := exampleKey()
	keeper, err := checkpoint.NewKeeper(cpDir, signer, checkpoint.KeeperOptions{Every: 10})
	if err != nil {
		t.Fatal(err)
	}
	// A group fsync that comes late: the append waits for it.
	l, _, err := sdk.OpenDurable(dir, sdk.Config{Signer: signer, SealEvery: 10, Observer: keeper},
		sdk.DurableOptions{WAL: wal.Options{Fsync: wal.FsyncBatch, MaxBatch: wal.MaxMaxBatch, MaxDelay: 500 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	appended := make(chan error, 1)
	go func() {
		r := coreRecord(0)
		_, err := l.Append(&r)
		appended <- err
	}()
	for h, _ := l.Head("svc-gateway@inst-1", "reads"); h.Seq == 0; h, _ = l.Head("svc-gateway@inst-1", "reads") {
		time.Sleep(time.Millisecond) // until the record is committed
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-appended; err != nil {
		t.Fatalf("Append committed before Close: %v", err)
	}
	h, _ := l.Head("svc-gateway@inst-1", "reads")
	paths, err := keeper.History("svc-gateway@inst-1", "reads")
	if err != nil {
		t.Fatal(err)
	}
	if h.SealedSeq != h.Seq || len(paths) == 0 {
		t.Errorf("after Close returned nil: head %d sealed to %d, %d checkpoints: the acknowledged record is after the last seal", h.Seq, h.SealedSeq, len(paths))
	}
	if err := keeper.Close(); err != nil {
		t.Fatal(err)
	}
}

// holdDurable is a Keeper (a Sealer) whose first Durable call waits for
// release, telling held when it starts.
type holdDurable struct {
	*checkpoint.Keeper
	armed   atomic.Bool
	held    chan struct{}
	release chan struct{}
}

func (h *holdDurable) Durable(w, s string, seq uint64, replay bool) {
	if h.armed.CompareAndSwap(true, false) {
		close(h.held)
		<-h.release
	}
	h.Keeper.Durable(w, s, seq, replay)
}

// TestCloseSealsAppendBeingAcknowledged (found by TestLogChaos, after
// TestCloseSealsAppendAwaitingFsync's fix): a Pending.Wait marks its
// record durable and then tells the Observer. A Close between the two
// saw the head durable and asked the Keeper to seal without telling it:
// the Keeper had not heard of the record, its seal left it out, and the
// Append was acknowledged after Close returned nil. A Sealer's seal now
// always tells the Observer the head is durable first.
func TestCloseSealsAppendBeingAcknowledged(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "wal")
	signer := exampleKey()
	keeper, err := checkpoint.NewKeeper(filepath.Join(dir, "checkpoints"), signer, checkpoint.KeeperOptions{Every: 10})
	if err != nil {
		t.Fatal(err)
	}
	obs := &holdDurable{Keeper: keeper, held: make(chan struct{}), release: make(chan struct{})}
	l, _, err := sdk.OpenDurable(dir, sdk.Config{Signer: signer, SealEvery: 10, Observer: obs}, sdk.DurableOptions{})
	if err != nil {
		t.Fatal(err)
	}
	obs.armed.Store(true)
	appended := make(chan error, 1)
	go func() {
		r := coreRecord(0)
		_, err := l.Append(&r)
		appended <- err
	}()
	<-obs.held // the record is durable; its Append is telling the Keeper
	closeErr := l.Close()
	h, _ := l.Head("svc-gateway@inst-1", "reads")
	paths, err := keeper.History("svc-gateway@inst-1", "reads")
	close(obs.release)
	if err := <-appended; err != nil {
		t.Fatalf("Append: %v", err)
	}
	if closeErr != nil || err != nil {
		t.Fatal(closeErr, err)
	}
	if h.SealedSeq != h.Seq || len(paths) == 0 {
		t.Errorf("after Close returned nil: head %d sealed to %d, %d checkpoints: the acknowledged record is after the last seal", h.Seq, h.SealedSeq, len(paths))
	}
	if err := keeper.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestCloseTellsObserverAppendAwaitingFsync: under the every-record-signed
// policy, the Observer hears that a record is durable from the Wait of
// its append. An append committed before Close whose Wait had not yet
// returned (waiting for its group fsync, or not called yet: AppendPending)
// was durable once Close returned, but the Keeper had not heard so: its
// Close, which a host calls next, checkpointed the chain short of the
// record (a Node's Close left it in no checkpoint and no bundle, which
// node.VerifyDir refuses as ErrUnexported). Close now makes each chain's
// head durable and tells the Observer, as its seals do under the
// checkpoint-sealed policy (TestCloseSealsAppendAwaitingFsync).
func TestCloseTellsObserverAppendAwaitingFsync(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "wal")
	signer := exampleKey()
	keeper, err := checkpoint.NewKeeper(filepath.Join(dir, "checkpoints"), signer, checkpoint.KeeperOptions{Every: 10, Interval: -1})
	if err != nil {
		t.Fatal(err)
	}
	l, _, err := sdk.OpenDurable(dir, sdk.Config{Signer: signer, Observer: keeper}, sdk.DurableOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := coreRecord(0)
	if _, err := l.Append(&r); err != nil {
		t.Fatal(err)
	}
	r = coreRecord(1)
	p, err := l.AppendPending(&r) // committed; its Wait comes after Close
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := keeper.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Wait(); err != nil {
		t.Fatalf("the append committed before Close: %v", err)
	}
	w, s := p.Head.WriterID, p.Head.Stream
	paths, err := keeper.History(w, s)
	if err != nil || len(paths) == 0 {
		t.Fatalf("after the Log's and the Keeper's Close: checkpoints %v, %v; want one of both records", paths, err)
	}
	cp, err := checkpoint.Open(readNote(t, paths[len(paths)-1]), checkpoint.KeyVerifiers(signer.Public()))
	if err != nil || cp.Size != 2 {
		t.Fatalf("after the Log's and the Keeper's Close, the newest checkpoint is of %d records (%v); the log holds 2", cp.Size, err)
	}
}

func readNote(t *testing.T, path string) []byte {
	t.Helper()
	b, err := checkpoint.ReadNote(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCloseTellsObserverAppendBeingAcknowledged: the every-record-signed
// twin of TestCloseSealsAppendBeingAcknowledged. An Append whose record is
// durable is telling the Observer (its Durable call held) when Close
// runs: Close must not take the record for one the Observer has heard
// of, or a Keeper closed next would checkpoint the chain short of it.
// Pending.Wait tells the Observer before it marks the record durable, so
// Close tells the Observer too.
func TestCloseTellsObserverAppendBeingAcknowledged(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "wal")
	signer := exampleKey()
	keeper, err := checkpoint.NewKeeper(filepath.Join(dir, "checkpoints"), signer, checkpoint.KeeperOptions{Every: 10, Interval: -1})
	if err != nil {
		t.Fatal(err)
	}
	obs := &holdDurable{Keeper: keeper, held: make(chan struct{}), release: make(chan struct{})}
	l, _, err := sdk.OpenDurable(dir, sdk.Config{Signer: signer, Observer: obs}, sdk.DurableOptions{})
	if err != nil {
		t.Fatal(err)
	}
	obs.armed.Store(true)
	appended := make(chan error, 1)
	go func() {
		r := coreRecord(0)
		_, err := l.Append(&r)
		appended <- err
	}()
	<-obs.held // the record is durable; its Append is telling the Keeper
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	kerr := keeper.Close()
	paths, herr := keeper.History("svc-gateway@inst-1", "reads")
	close(obs.release)
	if err := <-appended; err != nil {
		t.Fatalf("Append: %v", err)
	}
	if kerr != nil || herr != nil {
		t.Fatal(kerr, herr)
	}
	if len(paths) == 0 {
		t.Errorf("after the Log's and the Keeper's Close: no checkpoint of the record the Append was acknowledging")
	}
}
