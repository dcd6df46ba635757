package sdk_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/internal/leakcheck"
	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/wal"
)

// The goroutine audit of sdk: every constructor that starts goroutines or
// timers (NewEmitter; OpenDurable, through wal.Open's syncer under
// FsyncBatch; VerifyChainParallel's and the replayer's workers) ends them
// on Close, or before it returns, and starts none, or ends them, when it
// fails. leakcheck finds the goroutines this module's code started that
// are still running.

// TestLeakCheckSeesSDKGoroutines: the check is not blind to the
// goroutines it is meant to find (an emitter's, until Close).
func TestLeakCheckSeesSDKGoroutines(t *testing.T) {
	before := map[string]bool{}
	for _, g := range leakcheck.Running() {
		before[g.ID] = true
	}
	e, err := sdk.NewEmitter(coreLog(t, sdk.Config{}), sdk.EmitterOptions{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	if left := leakcheck.Wait(before, 20*time.Millisecond); len(left) != 4 { // 2 workers, the acks closer, the acker
		t.Errorf("%d goroutines of a running emitter found, want 4", len(left))
	}
	closeEmitter(t, e)
	if left := leakcheck.Wait(before, leakcheck.Settle); len(left) != 0 {
		t.Errorf("%d goroutines left after Close", len(left))
	}
}

// TestNoLeakSealedLog: the checkpoint-sealed policy runs no timer or
// goroutine, SealInterval included (an idle chain is sealed by Seal,
// SealAll or Close, not by a timer: see Config.SealInterval).
func TestNoLeakSealedLog(t *testing.T) {
	check := leakcheck.Check(t)
	clock := &coreClock{now: time.UnixMilli(1764201600000)}
	l := coreLog(t, sdk.Config{SealEvery: 10, SealInterval: time.Millisecond, Clock: clock.Now})
	coreAppend(t, l, 3)
	if left := leakcheck.Running(); len(left) != 0 {
		t.Errorf("a sealed log runs %d goroutines", len(left))
	}
	time.Sleep(5 * time.Millisecond)
	if h, _ := l.Head("svc-gateway@inst-1", "reads"); h.SealedSeq != 0 {
		t.Errorf("an idle chain was sealed without an append or Seal: %+v", h)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	check()
}

// refuseReplay is an Observer that refuses every replayed log.
type refuseReplay struct{}

func (refuseReplay) Committed(string, string, uint64, canonical.Hash, bool) {}
func (refuseReplay) Durable(string, string, uint64, bool)                   {}
func (refuseReplay) CheckReplay() error                                     { return errors.New("refused by the test") }

func TestNoLeakDurable(t *testing.T) {
	for _, fsync := range []wal.FsyncPolicy{wal.FsyncBatch, wal.FsyncAlways} {
		t.Run("open-close-"+fsync.String(), func(t *testing.T) {
			check := leakcheck.Check(t)
			dir := filepath.Join(t.TempDir(), "wal")
			l, _ := durableOpen(t, dir, sdk.Config{SealEvery: 4}, sdk.DurableOptions{WAL: wal.Options{Fsync: fsync}})
			coreAppend(t, l, 10)
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			check()
		})
	}

	// Failed opens: no goroutine, and the directory's lock is let go
	// (a later open succeeds).
	build := func(t *testing.T) string {
		dir := filepath.Join(t.TempDir(), "wal")
		l, _ := durableOpen(t, dir, sdk.Config{}, sdk.DurableOptions{})
		coreAppend(t, l, 5)
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	reopen := func(t *testing.T, dir string) {
		t.Helper()
		l, _, err := sdk.OpenDurable(dir, sdk.Config{Signer: coreSigner(t)}, sdk.DurableOptions{})
		if err != nil {
			t.Fatalf("open after a failed open: %v", err)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name string
		fail func(t *testing.T, dir string) error
		ok   bool // the log can be opened after (nothing damaged)
	}{
		{"locked", func(t *testing.T, dir string) error {
			held, _ := durableOpen(t, dir, sdk.Config{}, sdk.DurableOptions{})
			defer held.Close()
			_, _, err := sdk.OpenDurable(dir, sdk.Config{Signer: coreSigner(t)}, sdk.DurableOptions{})
			if !errors.Is(err, wal.ErrLocked) {
				t.Errorf("second open: %v, want ErrLocked", err)
			}
			return err
		}, true},
		{"replay-refused", func(t *testing.T, dir string) error {
			_, _, err := sdk.OpenDurable(dir, sdk.Config{Signer: coreSigner(t), Observer: refuseReplay{}}, sdk.DurableOptions{})
			return err
		}, true},
		{"unknown-key", func(t *testing.T, dir string) error {
			_, _, err := sdk.OpenDurable(dir, sdk.Config{Signer: otherSigner(t)}, sdk.DurableOptions{})
			return err
		}, true},
		{"bad-options", func(t *testing.T, dir string) error {
			_, _, err := sdk.OpenDurable(dir, sdk.Config{Signer: coreSigner(t)},
				sdk.DurableOptions{WAL: wal.Options{Replay: func(wal.Frame) error { return nil }}})
			return err
		}, true},
		{"damaged", func(t *testing.T, dir string) error {
			_, frames := durableFrames(t, dir)
			p := frames[1].Payload
			p[len(p)-40] ^= 1
			rewriteFrame(t, frames[1], p)
			_, _, err := sdk.OpenDurable(dir, sdk.Config{Signer: coreSigner(t)}, sdk.DurableOptions{})
			if !errors.Is(err, sdk.ErrDurable) {
				t.Errorf("open of a damaged log: %v, want ErrDurable", err)
			}
			return err
		}, false},
		{"not-a-dir", func(t *testing.T, dir string) error {
			file := filepath.Join(t.TempDir(), "file")
			if err := os.WriteFile(file, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			_, _, err := sdk.OpenDurable(file, sdk.Config{Signer: coreSigner(t)}, sdk.DurableOptions{})
			return err
		}, true},
	}
	for _, c := range cases {
		t.Run("failed-open-"+c.name, func(t *testing.T) {
			dir := build(t)
			check := leakcheck.Check(t)
			if err := c.fail(t, dir); err == nil {
				t.Fatal("the open did not fail")
			}
			check()
			if c.ok {
				reopen(t, dir)
			}
		})
	}
}

// otherSigner is a key the logs of coreSigner do not trust.
func otherSigner(t *testing.T) *sdk.Ed25519Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := sdk.NewEd25519Signer(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestNoLeakEmitter(t *testing.T) {
	t.Run("failed-new", func(t *testing.T) {
		check := leakcheck.Check(t)
		l := coreLog(t, sdk.Config{})
		for _, opts := range []sdk.EmitterOptions{{Depth: -1}, {Workers: sdk.MaxWorkers + 1}, {ShedBudget: 2}} {
			if _, err := sdk.NewEmitter(l, opts); err == nil {
				t.Errorf("NewEmitter(%+v) did not fail", opts)
			}
		}
		e := newEmitter(t, l, sdk.EmitterOptions{})
		if _, err := sdk.NewEmitter(l, sdk.EmitterOptions{}); err == nil {
			t.Error("a second emitter on one log")
		}
		closeEmitter(t, e)
		l.Close()
		if _, err := sdk.NewEmitter(l, sdk.EmitterOptions{}); !errors.Is(err, sdk.ErrClosed) {
			t.Errorf("NewEmitter on a closed log: %v", err)
		}
		check()
	})
	t.Run("durable", func(t *testing.T) {
		check := leakcheck.Check(t)
		l, _ := durableOpen(t, filepath.Join(t.TempDir(), "wal"), sdk.Config{SealEvery: 8}, sdk.DurableOptions{})
		e := newEmitter(t, l, sdk.EmitterOptions{Workers: 2, Shed: sdk.ShedBlock})
		for n := range 50 {
			rec := emitRecord(0, n, "s")
			if err := e.TryEmit(&rec); err != nil {
				t.Fatal(err)
			}
		}
		closeEmitter(t, e)
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		check()
	})
	t.Run("close-deadline", func(t *testing.T) {
		check := leakcheck.Check(t)
		e, store := stuckInPut(t, sdk.EmitterOptions{Workers: 2})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := e.Close(ctx); err == nil {
			t.Fatal("Close with an ended ctx returned nil while a Put hangs")
		}
		store.release()
		select {
		case <-e.Done():
		case <-time.After(10 * time.Second):
			t.Fatal("Done not closed once the Put returned")
		}
		check()
	})
}

func TestNoLeakVerifyChainParallel(t *testing.T) {
	check := leakcheck.Check(t)
	l := coreLog(t, sdk.Config{})
	coreAppend(t, l, 64)
	recs, err := l.Records("svc-gateway@inst-1", "reads", 1, 64)
	if err != nil {
		t.Fatal(err)
	}
	recs[40].Bytes[len(recs[40].Bytes)-1] ^= 1
	if _, err := sdk.VerifyChainParallel(recs, l.Keys(), sdk.VerifyOptions{}, 4); !errors.Is(err, sdk.ErrHashMismatch) {
		t.Fatalf("got %v, want a hash mismatch", err)
	}
	check()
}
