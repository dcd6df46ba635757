package sdk_test

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/internal/leakcheck"
	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/checkpoint"
)

// putHookStore is a MemStore that calls onPut before each Put (under the
// chain's lock).
type putHookStore struct {
	*sdk.MemStore
	onPut func(writer, stream string, seq uint64, rec sdk.Sealed)
}

func (s *putHookStore) Put(w, st string, seq uint64, rec sdk.Sealed) (sdk.Sealed, sdk.Ticket, error) {
	if s.onPut != nil {
		s.onPut(w, st, seq, rec)
	}
	return s.MemStore.Put(w, st, seq, rec)
}

// transitions counts the key-transition records of a chain.
func transitions(t *testing.T, l *sdk.Log, stream string) int {
	t.Helper()
	n := 0
	for _, r := range chainRecs(l, "svc-gateway@inst-1", stream) {
		v, err := canonical.OpenAuditRecord(r.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := sdk.KeyTransition(v); ok {
			n++
		}
	}
	return n
}

// TestCloseDuringRotateKey: a Close that starts while RotateKey writes
// its transitions does not cut the rotation short. Since Close refuses
// appends before it seals (under each chain's lock), the transitions
// RotateKey had not yet written failed with ErrClosed: the log was left
// with some chains handed to the new key and the others not, the state a
// crash mid-rotation leaves (reopened with the new key, those chains take
// no record). Close now waits for a rotation under way.
func TestCloseDuringRotateKey(t *testing.T) {
	store := &putHookStore{MemStore: sdk.NewMemStore(0)}
	l := coreLog(t, sdk.Config{Store: store})
	streams := []string{"a", "b", "c"}
	for i, s := range streams {
		r := emitRecord(0, i, s)
		if _, err := l.Append(&r); err != nil {
			t.Fatal(err)
		}
	}
	var once sync.Once
	closed := make(chan error, 1)
	store.onPut = func(_, stream string, seq uint64, rec sdk.Sealed) {
		if seq != 2 {
			return
		}
		once.Do(func() {
			// RotateKey writes its first transition: Close now, and give
			// it time to refuse appends (a probe append on another
			// chain sees it) before the rotation goes on.
			go func() { closed <- l.Close() }()
			deadline := time.Now().Add(300 * time.Millisecond)
			for time.Now().Before(deadline) {
				r := emitRecord(0, 99, "probe")
				if _, err := l.Append(&r); errors.Is(err, sdk.ErrClosed) {
					return
				}
				time.Sleep(time.Millisecond)
			}
		})
	}
	heads, rerr := l.RotateKey(rotateSigner(t, "close during rotation"))
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	rotated := 0
	for _, s := range streams {
		got[s] = transitions(t, l, s)
		rotated += got[s]
	}
	if rotated != 0 && rotated != len(streams) {
		t.Errorf("Close during RotateKey left a rotation cut short: transitions per chain %v (RotateKey: %d heads, %v)", got, len(heads), rerr)
	}
	if rerr == nil && rotated != len(streams) {
		t.Errorf("RotateKey returned nil but wrote %d transitions of %d", rotated, len(streams))
	}
}

// gapKeeper is a Keeper whose first Durable, once armed, stops until
// resume is closed, having closed gap: RotateKey tells the Observer of
// its transitions there, after it has released the lock Close waits for,
// so the test runs a host's shutdown (the Log's Close, then the
// Keeper's) in that gap. Embedding the Keeper keeps it the log's
// KeyFollower, RetireObserver and (sealed policy) Sealer.
type gapKeeper struct {
	*checkpoint.Keeper
	armed       atomic.Bool
	gap, resume chan struct{}
}

func (g *gapKeeper) Durable(w, s string, seq uint64, replay bool) {
	if g.armed.CompareAndSwap(true, false) {
		close(g.gap)
		<-g.resume
	}
	g.Keeper.Durable(w, s, seq, replay)
}

// TestCloseDuringRotateKeyTellsObserver: Close waits for a rotation
// under way until its transitions are written and durable, not for
// RotateKey to tell the Observer of them, which it does holding no lock
// of the Log. RotateKey marked them durable first, so a Close in between
// took them for told (awaitAppends tells only of heads not marked
// durable; a seal, of heads not signed, and a transition is signed):
// when it returned, the Keeper had not heard of them, and its Close,
// next, checkpointed each chain short of its transition (a Node closed
// so fails node.VerifyDir with ErrUnexported). Under either policy.
func TestCloseDuringRotateKeyTellsObserver(t *testing.T) {
	for _, sealEvery := range []int{1, 4} {
		t.Run(fmt.Sprintf("SealEvery=%d", sealEvery), func(t *testing.T) {
			defer leakcheck.Check(t)()
			old, next := rotateSigner(t, "gap old"), rotateSigner(t, "gap next")
			keeper, err := checkpoint.NewKeeper(t.TempDir(), old, checkpoint.KeeperOptions{Every: 1 << 20, Interval: -1})
			if err != nil {
				t.Fatal(err)
			}
			g := &gapKeeper{Keeper: keeper, gap: make(chan struct{}), resume: make(chan struct{})}
			l := coreLog(t, sdk.Config{Signer: old, Observer: g, SealEvery: sealEvery})
			streams := []string{"a", "b"}
			for i, s := range streams {
				r := emitRecord(0, i, s)
				if _, err := l.Append(&r); err != nil {
					t.Fatal(err)
				}
			}
			g.armed.Store(true)
			rotated := make(chan error, 1)
			go func() {
				_, err := l.RotateKey(next)
				rotated <- err
			}()
			<-g.gap
			within(t, 5*time.Second, "Close with RotateKey telling the Observer", func() {
				if err := l.Close(); err != nil {
					t.Errorf("Log.Close: %v", err)
				}
				if err := keeper.Close(); err != nil {
					t.Errorf("Keeper.Close: %v", err)
				}
			})
			const writer = "svc-gateway@inst-1"
			for _, s := range streams {
				head, _ := l.Head(writer, s)
				paths, err := keeper.History(writer, s)
				if err != nil || len(paths) == 0 {
					t.Errorf("chain %s: checkpoints %v, %v; want one of its %d records", s, paths, err, head.Seq)
					continue
				}
				cp, err := checkpoint.Open(readNote(t, paths[len(paths)-1]), checkpoint.KeyVerifiers(old.Public()))
				if err != nil || uint64(cp.Size) != head.Seq {
					t.Errorf("chain %s: after the Log's and the Keeper's Close, the newest checkpoint is of %d records (%v); the log holds %d, its key transition the last",
						s, cp.Size, err, head.Seq)
				}
			}
			close(g.resume)
			if err := <-rotated; err != nil {
				t.Fatalf("RotateKey: %v", err)
			}
		})
	}
}
