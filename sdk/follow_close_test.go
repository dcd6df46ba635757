package sdk_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/internal/leakcheck"
	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/checkpoint"
)

// within runs f in a goroutine and fails the test if it has not returned
// after d: a deadlock is a failure, not a hung test binary. The goroutine
// of a deadlocked f stays behind (the test has failed by then).
func within(t *testing.T, d time.Duration, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
		t.Fatalf("%s did not return within %v (deadlock)", what, d)
	}
}

// closingFollower is a KeyFollower that, handed the new key, fails to
// keep it and shuts the log down: it calls Close from inside FollowKey,
// then (if inner is set) hands the key on, as a wrapper of the Keeper
// that could not persist it might.
type closingFollower struct {
	sdk.Observer            // the Keeper, or nil for a bare follower
	log          *sdk.Log   // set once the log is made
	closeErr     chan error // Close's result
	followed     atomic.Int32
}

func (f *closingFollower) Committed(w, s string, seq uint64, h canonical.Hash, replay bool) {
	if f.Observer != nil {
		f.Observer.Committed(w, s, seq, h, replay)
	}
}

func (f *closingFollower) Durable(w, s string, seq uint64, replay bool) {
	if f.Observer != nil {
		f.Observer.Durable(w, s, seq, replay)
	}
}

func (f *closingFollower) FollowKey(next sdk.Signer) {
	f.followed.Add(1)
	f.closeErr <- f.log.Close()
	if kf, ok := f.Observer.(sdk.KeyFollower); ok {
		kf.FollowKey(next)
	}
}

// closingSealer adds the Keeper's Sealer and RetireObserver to a
// closingFollower, so that the log is sealed by the Keeper's checkpoints.
type closingSealer struct {
	*closingFollower
	keeper *checkpoint.Keeper
}

func (s closingSealer) SealChain(w, st string) (uint64, error) { return s.keeper.SealChain(w, st) }
func (s closingSealer) Retired(w, st string, id sdk.KeyID, seq uint64) {
	s.keeper.Retired(w, st, id, seq)
}

// TestFollowKeyMayClose: a KeyFollower that calls Log.Close from inside
// FollowKey (it cannot keep the new key, and shuts the log down) used to
// deadlock: Close waited for the rotation under way, and the rotation
// for FollowKey to return. RotateKey now finishes the rotation (every
// transition written and durable, every chain's signer moved on) before
// it calls FollowKey, so Close goes ahead: RotateKey and Close return,
// every chain has its transition, the records verify with the old key
// alone (the transitions name the new one), and the log is closed.
func TestFollowKeyMayClose(t *testing.T) {
	streams := []string{"a", "b", "c"}
	t.Run("signed", func(t *testing.T) {
		defer leakcheck.Check(t)()
		old, next := rotateSigner(t, "follow close old"), rotateSigner(t, "follow close next")
		f := &closingFollower{closeErr: make(chan error, 1)}
		l := coreLog(t, sdk.Config{Signer: old, Observer: f})
		f.log = l
		for i, s := range streams {
			r := emitRecord(0, i, s)
			if _, err := l.Append(&r); err != nil {
				t.Fatal(err)
			}
		}
		var heads []sdk.Head
		var rerr error
		within(t, 5*time.Second, "RotateKey with a FollowKey that calls Close", func() { heads, rerr = l.RotateKey(next) })
		if rerr != nil || len(heads) != len(streams) {
			t.Fatalf("RotateKey: %d heads, %v; want %d, nil", len(heads), rerr, len(streams))
		}
		if err := <-f.closeErr; err != nil {
			t.Fatalf("Close from FollowKey: %v", err)
		}
		if n := f.followed.Load(); n != 1 {
			t.Fatalf("FollowKey called %d times, want 1", n)
		}
		oldOnly := sdk.NewKeySet(old.Public())
		for _, s := range streams {
			if n := transitions(t, l, s); n != 1 {
				t.Errorf("chain %s: %d transitions, want 1", s, n)
			}
			recs := chainRecs(l, "svc-gateway@inst-1", s)
			res, err := sdk.VerifyChain(sdk.NewSliceIterator(recs), oldOnly, sdk.VerifyOptions{})
			if err != nil || res.Records != 2 || len(res.Retired) != 1 {
				t.Errorf("chain %s: %+v, %v; want 2 records, one retirement", s, res, err)
			}
		}
		r := emitRecord(0, 9, "a")
		if _, err := l.Append(&r); !errors.Is(err, sdk.ErrClosed) {
			t.Errorf("Append after Close: %v, want ErrClosed", err)
		}
		if _, err := l.RotateKey(rotateSigner(t, "follow close third")); !errors.Is(err, sdk.ErrClosed) {
			t.Errorf("RotateKey after Close: %v, want ErrClosed", err)
		}
	})
	t.Run("keeper-sealed", func(t *testing.T) {
		defer leakcheck.Check(t)()
		old, next := rotateSigner(t, "follow close old"), rotateSigner(t, "follow close next")
		dir := t.TempDir()
		walDir := filepath.Join(dir, "wal")
		keeper, err := checkpoint.NewKeeper(filepath.Join(walDir, "checkpoints"), old, checkpoint.KeeperOptions{Every: 100})
		if err != nil {
			t.Fatal(err)
		}
		f := &closingFollower{Observer: keeper, closeErr: make(chan error, 1)}
		l, _, err := sdk.OpenDurable(walDir, sdk.Config{Signer: old, SealEvery: 8, Observer: closingSealer{f, keeper}}, sdk.DurableOptions{})
		if err != nil {
			t.Fatal(err)
		}
		f.log = l
		for i := range 5 {
			for j, s := range streams {
				r := emitRecord(i, j, s)
				if _, err := l.Append(&r); err != nil {
					t.Fatal(err)
				}
			}
		}
		var rerr error
		within(t, 5*time.Second, "RotateKey with a FollowKey that calls Close", func() { _, rerr = l.RotateKey(next) })
		if rerr != nil {
			t.Fatalf("RotateKey: %v", rerr)
		}
		if err := <-f.closeErr; err != nil {
			t.Fatalf("Close from FollowKey: %v", err)
		}
		if err := keeper.Close(); err != nil {
			t.Fatal(err)
		}
		for _, h := range l.Heads() {
			if h.Seq != 6 || h.SealedSeq != 6 {
				t.Errorf("chain %s: head %d sealed to %d; want the transition, 6, sealed", h.Stream, h.Seq, h.SealedSeq)
			}
		}
		// Every record verifies with the old key, every chain is sealed
		// (no unsealed tail), and the Keeper's checkpoints hold.
		sum, err := checkpoint.VerifyDir(walDir, []ed25519.PublicKey{old.Public()}, checkpoint.DirOptions{})
		if err != nil || sum.Records != uint64(6*len(streams)) || len(sum.Unused) != 0 {
			t.Fatalf("checkpoint.VerifyDir: %+v, %v", sum, err)
		}
	})
}

// closingDurable is an Observer whose Durable calls Close once armed.
// Disarmed before it calls Close, not with a sync.Once: that Close
// tells it of the heads it has not heard of yet (RotateKey's other
// transitions among them), calling Durable again from inside the Once.
type closingDurable struct {
	log      *sdk.Log
	armed    atomic.Bool
	closeErr chan error
}

func (o *closingDurable) Committed(string, string, uint64, canonical.Hash, bool) {}
func (o *closingDurable) Durable(string, string, uint64, bool) {
	if o.armed.CompareAndSwap(true, false) {
		o.closeErr <- o.log.Close()
	}
}

// TestDurableOfTransitionMayClose: an Observer's Durable may call Close
// when it hears of an Append's record (Pending.Wait holds no lock of the
// log), and so when it hears of a key transition: RotateKey used to tell
// it while it held the lock Close waits for, and the two deadlocked. It
// now tells it once the rotation is written: Close goes ahead, and the
// rotation is whole.
func TestDurableOfTransitionMayClose(t *testing.T) {
	defer leakcheck.Check(t)()
	streams := []string{"a", "b", "c"}
	old, next := rotateSigner(t, "durable close old"), rotateSigner(t, "durable close next")
	o := &closingDurable{closeErr: make(chan error, 1)}
	l := coreLog(t, sdk.Config{Signer: old, Observer: o})
	o.log = l
	for i, s := range streams {
		r := emitRecord(0, i, s)
		if _, err := l.Append(&r); err != nil {
			t.Fatal(err)
		}
	}
	o.armed.Store(true)
	var rerr error
	within(t, 5*time.Second, "RotateKey with a Durable that calls Close", func() { _, rerr = l.RotateKey(next) })
	if rerr != nil {
		t.Fatalf("RotateKey: %v", rerr)
	}
	if err := <-o.closeErr; err != nil {
		t.Fatalf("Close from Durable: %v", err)
	}
	for _, s := range streams {
		if n := transitions(t, l, s); n != 1 {
			t.Errorf("chain %s: %d transitions, want 1", s, n)
		}
	}
}

// callingFollower is a KeyFollower whose FollowKey calls what
// KeyFollower's doc says it may: Heads, SealAll, NewEmitter (and the
// emitter's Close), then Close.
type callingFollower struct {
	log  *sdk.Log
	errs chan error
}

func (f *callingFollower) Committed(string, string, uint64, canonical.Hash, bool) {}
func (f *callingFollower) Durable(string, string, uint64, bool)                   {}
func (f *callingFollower) FollowKey(sdk.Signer) {
	_ = f.log.Heads()
	f.errs <- f.log.SealAll()
	e, err := sdk.NewEmitter(f.log, sdk.EmitterOptions{Depth: 2, Workers: 1})
	f.errs <- err
	if e != nil {
		f.errs <- e.Close(context.Background())
	}
	f.errs <- f.log.Close()
	close(f.errs)
}

// TestFollowKeyMayCallLog: FollowKey may call Heads, SealAll, NewEmitter
// and Close (KeyFollower): none waits for the rotation that calls it.
func TestFollowKeyMayCallLog(t *testing.T) {
	defer leakcheck.Check(t)()
	old, next := rotateSigner(t, "follow call old"), rotateSigner(t, "follow call next")
	f := &callingFollower{errs: make(chan error, 8)}
	l := coreLog(t, sdk.Config{Signer: old, SealEvery: 4, Observer: f})
	f.log = l
	coreAppend(t, l, 3)
	var rerr error
	within(t, 5*time.Second, "RotateKey with a FollowKey that calls the log", func() { _, rerr = l.RotateKey(next) })
	if rerr != nil {
		t.Fatal(rerr)
	}
	for err := range f.errs {
		if err != nil {
			t.Errorf("called from FollowKey: %v", err)
		}
	}
}

// TestOnDurableClosingItsEmitter: OnDurable must not wait for its own
// emitter's Close (EmitterOptions.OnDurable): a Close called from it
// returns only once its ctx ends, with the ctx's error; the emitter then
// finishes, and a later Close returns nil.
func TestOnDurableClosingItsEmitter(t *testing.T) {
	defer leakcheck.Check(t)()
	l := coreLog(t, sdk.Config{})
	var e *sdk.Emitter
	var once sync.Once
	inner := make(chan error, 1)
	started := make(chan struct{})
	e, err := sdk.NewEmitter(l, sdk.EmitterOptions{Depth: 4, Workers: 1, OnDurable: func(sdk.EmitAck) {
		once.Do(func() {
			<-started
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			inner <- e.Close(ctx)
		})
	}})
	if err != nil {
		t.Fatal(err)
	}
	close(started)
	r := emitRecord(3, 0, "self-close")
	if err := e.TryEmit(&r); err != nil {
		t.Fatal(err)
	}
	within(t, 5*time.Second, "a Close from OnDurable", func() {
		if err := <-inner; !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Close from OnDurable: %v, want its ctx's DeadlineExceeded", err)
		}
	})
	within(t, 5*time.Second, "the emitter's Close after", func() {
		if err := e.Close(context.Background()); err != nil {
			t.Errorf("Close after: %v", err)
		}
	})
	if st := e.Stats(); st.Appended != 1 {
		t.Errorf("%+v: want the record appended", st)
	}
}

// gatedFollower hands the Keeper the new key only once gate is closed,
// as a follower that persists the key first might: entered is closed
// when FollowKey starts. It takes the key only from FollowKey, not chain
// by chain (FollowChain, which the Keeper it embeds would take it from
// before FollowKey, sealing the chains to their heads: see package
// node's TestCloseBesideRotateKeySealed).
type gatedFollower struct {
	*checkpoint.Keeper
	entered, gate chan struct{}
}

func (gatedFollower) FollowChain(string, string, sdk.Signer) {}

func (f gatedFollower) FollowKey(next sdk.Signer) {
	close(f.entered)
	<-f.gate
	f.Keeper.FollowKey(next)
}

// TestCloseDuringFollowKeySaysUnsealed: Close no longer waits for a
// rotation's FollowKey (which may be what calls it). A Close from another
// goroutine in that window, after a record was appended past a chain's
// transition, cannot seal that record: the Keeper does not hold the key
// that vouches for it yet. Close used to return nil all the same, with
// the chain sealed below its head, an acknowledged record unsealed. It
// now returns ErrSealIncomplete naming the chain and both seqs; the Keeper's Close,
// once it has the key, seals the rest.
func TestCloseDuringFollowKeySaysUnsealed(t *testing.T) {
	defer leakcheck.Check(t)()
	old, next := rotateSigner(t, "gated follow old"), rotateSigner(t, "gated follow next")
	walDir := filepath.Join(t.TempDir(), "wal")
	keeper, err := checkpoint.NewKeeper(filepath.Join(walDir, "checkpoints"), old, checkpoint.KeeperOptions{Every: 100})
	if err != nil {
		t.Fatal(err)
	}
	f := gatedFollower{keeper, make(chan struct{}), make(chan struct{})}
	l, _, err := sdk.OpenDurable(walDir, sdk.Config{Signer: old, SealEvery: 8, Observer: f}, sdk.DurableOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := emitRecord(0, 0, "a")
	if _, err := l.Append(&r); err != nil {
		t.Fatal(err)
	}
	rotated := make(chan error, 1)
	go func() { _, err := l.RotateKey(next); rotated <- err }()
	<-f.entered // seq 2 is the transition; the Keeper still holds old
	r = emitRecord(1, 0, "a")
	if _, err := l.Append(&r); err != nil {
		t.Fatal(err)
	}
	var cerr error
	within(t, 5*time.Second, "Close while FollowKey waits", func() { cerr = l.Close() })
	if !errors.Is(cerr, sdk.ErrSealIncomplete) || !strings.Contains(cerr.Error(), "seq 2") || !strings.Contains(cerr.Error(), "seq 3") {
		t.Errorf("Close with seq 3 past the transition unsealable: %v; want ErrSealIncomplete naming seq 2 and seq 3", cerr)
	}
	if h := l.Heads()[0]; h.Seq != 3 || h.SealedSeq != 2 {
		t.Errorf("head %d sealed to %d; want 3 sealed to 2", h.Seq, h.SealedSeq)
	}
	close(f.gate)
	if err := <-rotated; err != nil {
		t.Fatalf("RotateKey: %v", err)
	}
	if err := keeper.Close(); err != nil {
		t.Fatal(err)
	}
	sum, err := checkpoint.VerifyDir(walDir, []ed25519.PublicKey{old.Public()}, checkpoint.DirOptions{})
	if err != nil || sum.Records != 3 {
		t.Fatalf("checkpoint.VerifyDir after the Keeper's Close: %+v, %v", sum, err)
	}
}
