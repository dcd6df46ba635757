package checkpoint

import (
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/sdk"
)

// Chains started while a rotation runs are the new key's from their
// first record: the Keeper must not vouch for them with the old key.

// midRotation starts chain "fresh" once, at the first hook call after it
// is armed, and seals it: the Keeper checkpoints it then (Every 1 and
// the seal), while the rotation is under way.
type midRotation struct {
	log   atomic.Pointer[sdk.Log]
	armed atomic.Bool
	err   atomic.Pointer[error]
	// hookDone: start no chain (failingSecond only counts).
	hookDone atomic.Bool
}

func (m *midRotation) hook() {
	if !m.armed.CompareAndSwap(true, false) || m.hookDone.Load() {
		return
	}
	r := canonical.AuditRecord{WriterID: "svc@inst-1", Stream: "fresh", TsMs: 2000, Reason: "started mid-rotation"}
	if _, err := m.log.Load().Append(&r); err != nil {
		m.err.Store(&err)
		return
	}
	// Until FollowKey, the Keeper does not hold the key the chain is on:
	// the seal cannot reach its head.
	if _, err := m.log.Load().Seal("svc@inst-1", "fresh"); err != nil && !errors.Is(err, sdk.ErrSealIncomplete) {
		m.err.Store(&err)
	}
}

// hookedKeeper is the Log's Observer (the Keeper, as node's is) that
// calls the hook at each Durable: RotateKey tells the Observer of its
// transitions after they are written, and before FollowKey hands the
// Keeper the new key.
type hookedKeeper struct {
	*Keeper
	m *midRotation
}

func (o hookedKeeper) Durable(writer, stream string, seq uint64, replay bool) {
	o.Keeper.Durable(writer, stream, seq, replay)
	o.m.hook()
}

// hookedSigner calls the hook before each signature: armed before
// RotateKey, at its first transition, while new chains begin with the
// new key and have their first record signed by it. The hook's Append
// runs on another goroutine, the signature waiting for it: the
// transition's signature runs under its chain's lock, not the new
// chain's.
type hookedSigner struct {
	sdk.Signer
	m *midRotation
}

func (s hookedSigner) Sign(msg []byte, sig *sdk.Signature) error {
	if s.m.armed.Load() {
		done := make(chan struct{})
		go func() { defer close(done); s.m.hook() }()
		<-done
	}
	return s.Signer.Sign(msg, sig)
}

// TestKeeperSignsNewChainWithItsKey: a chain started while RotateKey
// runs (while it writes the transitions, or after, before its FollowKey)
// is the new key's from its first record: a verifier holding only that
// key must trust its checkpoints. Signed with the old key, which that
// chain never had in force, they fail that verifier ("checkpoint:
// unknown_key: checkpoints[0]: no signature by a trusted key").
func TestKeeperSignsNewChainWithItsKey(t *testing.T) {
	for _, during := range []string{"transitions", "durable"} {
		t.Run(during, func(t *testing.T) {
			k1, k2 := rotationKey(t, "keeper test key"), rotationKey(t, "the next key")
			dir := t.TempDir()
			wdir, cdir := filepath.Join(dir, "wal"), filepath.Join(dir, "checkpoints")

			k, err := NewKeeper(cdir, k1, KeeperOptions{Every: 1, Interval: -1})
			if err != nil {
				t.Fatal(err)
			}
			m := &midRotation{}
			var obs sdk.Observer = k
			var signer sdk.Signer = k1
			if during == "durable" {
				obs = hookedKeeper{k, m}
			} else {
				signer = hookedSigner{k1, m}
			}
			l, _, err := sdk.OpenDurable(wdir, sdk.Config{Signer: signer, Observer: obs, SealEvery: 3}, sdk.DurableOptions{})
			if err != nil {
				t.Fatal(err)
			}
			m.log.Store(l)
			keeperAppend(t, l, 0, 3)
			m.armed.Store(true)
			if _, err := l.RotateKey(k2); err != nil {
				t.Fatal(err)
			}
			if p := m.err.Load(); p != nil {
				t.Fatalf("starting a chain during the rotation: %v", *p)
			}
			if m.armed.Load() {
				t.Fatal("the hook was not called during the rotation")
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			if err := k.Close(); err != nil {
				t.Fatal(err)
			}

			recs := checkStartedWith(t, wdir, cdir, "fresh", k2, "the chain started during the rotation")
			if during == "transitions" && (len(recs) == 0 || recs[0].KeyID != k2.KeyID()) {
				t.Fatalf("the chain's first record: want it signed by the new key %s: %+v", k2.KeyID(), recs)
			}
		})
	}
}

// failingSecond calls the hook at its first signature while armed and
// fails its second: a rotation cut short after its first transition, a
// chain started by the new key meanwhile.
type failingSecond struct {
	sdk.Signer
	m     *midRotation
	calls atomic.Int32
}

var errSecond = errors.New("the signer fails the second transition")

func (s *failingSecond) Sign(msg []byte, sig *sdk.Signature) error {
	if s.m.armed.Load() || s.calls.Load() > 0 {
		switch s.calls.Add(1) {
		case 1:
			done := make(chan struct{})
			go func() { defer close(done); s.m.hook() }()
			<-done
		case 2:
			return errSecond
		}
	}
	return s.Signer.Sign(msg, sig)
}

// TestKeeperReplaySignsHeldChainWithItsKey: a rotation cut short after
// its first transition, a chain started by the new key meanwhile, and
// the log reopened with the old key to finish it (as documented): the
// Keeper's replay checkpoints, by the old key, must not cover that
// chain, which a verifier holding the new key alone must trust.
func TestKeeperReplaySignsHeldChainWithItsKey(t *testing.T) {
	k1, k2 := rotationKey(t, "keeper test key"), rotationKey(t, "the next key")
	dir := t.TempDir()
	wdir, cdir := filepath.Join(dir, "wal"), filepath.Join(dir, "checkpoints")
	keys := sdk.NewKeySet(k1.Public(), k2.Public())

	m := &midRotation{}
	bare, _, err := sdk.OpenDurable(wdir, sdk.Config{Signer: &failingSecond{Signer: k1, m: m}, SealEvery: 3}, sdk.DurableOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m.log.Store(bare)
	keeperAppend(t, bare, 0, 3)
	r := canonical.AuditRecord{WriterID: "svc@inst-1", Stream: "other", TsMs: 1500, Reason: "a second chain"}
	if _, err := bare.Append(&r); err != nil {
		t.Fatal(err)
	}
	m.armed.Store(true)
	if _, err := bare.RotateKey(k2); !errors.Is(err, sdk.ErrSign) {
		t.Fatalf("RotateKey with the second transition failing: %v, want ErrSign", err)
	}
	if p := m.err.Load(); p != nil {
		t.Fatalf("starting a chain during the rotation: %v", *p)
	}
	bare.Close()

	// Reopen with the old key and its Keeper, and finish the rotation.
	k, err := NewKeeper(cdir, k1, KeeperOptions{Every: 1, Interval: -1})
	if err != nil {
		t.Fatal(err)
	}
	l, _, err := sdk.OpenDurable(wdir, sdk.Config{Signer: k1, Observer: k, SealEvery: 3}, sdk.DurableOptions{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.RotateKey(k2); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := k.Close(); err != nil {
		t.Fatal(err)
	}

	recs := checkStartedWith(t, wdir, cdir, "fresh", k2, "the chain started during the rotation")
	if len(recs) == 0 || recs[0].KeyID != k2.KeyID() {
		t.Fatalf("the chain's first record: want it signed by the new key %s: %+v", k2.KeyID(), recs)
	}
}

// TestKeeperReplaySignsUnreachedChainWithItsKey: a rotation cut short
// after its first transition, and the log reopened with the new key (its
// Keeper too): the chain the rotation had not reached is still the old
// key's (OpenDurable refuses its records until the old key finishes the
// rotation), so the Keeper's replay checkpoints must not cover it by the
// new key, which a verifier holding the old key alone refuses there.
func TestKeeperReplaySignsUnreachedChainWithItsKey(t *testing.T) {
	k1, k2 := rotationKey(t, "keeper test key"), rotationKey(t, "the next key")
	dir := t.TempDir()
	wdir, cdir := filepath.Join(dir, "wal"), filepath.Join(dir, "checkpoints")
	keys := sdk.NewKeySet(k1.Public(), k2.Public())

	m := &midRotation{} // not armed: no chain started; the second transition fails
	bare, _, err := sdk.OpenDurable(wdir, sdk.Config{Signer: &failingSecond{Signer: k1, m: m}, SealEvery: 3}, sdk.DurableOptions{})
	if err != nil {
		t.Fatal(err)
	}
	keeperAppend(t, bare, 0, 3)
	r := canonical.AuditRecord{WriterID: "svc@inst-1", Stream: "other", TsMs: 1500, Reason: "a second chain"}
	if _, err := bare.Append(&r); err != nil {
		t.Fatal(err)
	}
	m.armed.Store(true) // counts the signatures from here: the rotation's
	m.hookDone.Store(true)
	if _, err := bare.RotateKey(k2); !errors.Is(err, sdk.ErrSign) {
		t.Fatalf("RotateKey with the second transition failing: %v, want ErrSign", err)
	}
	bare.Close()

	k, err := NewKeeper(cdir, k2, KeeperOptions{Every: 1, Interval: -1})
	if err != nil {
		t.Fatal(err)
	}
	l, _, err := sdk.OpenDurable(wdir, sdk.Config{Signer: k2, Observer: k, SealEvery: 3}, sdk.DurableOptions{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	l.Close() // ErrSealIncomplete, or nil: not what this test is about
	if err := k.Close(); err != nil {
		t.Fatal(err)
	}
	v1, _ := NoteVerifier(KeyName("svc@inst-1"), k1.Public())
	for _, s := range []string{"caps", "other"} {
		hist, err := LoadHistory(cdir, "svc@inst-1", s)
		if err != nil {
			t.Fatal(err)
		}
		recs := streamRecords(t, wdir, s)
		// The chain the rotation reached has its transition signed; the
		// other's records are unsigned (checkpoint-sealed), so only a
		// checkpoint would seal them.
		if _, err := VerifyChain(sdk.NewSliceIterator(recs), sdk.NewKeySet(k1.Public()), note.VerifierList(v1), hist, sdk.VerifyOptions{AllowUnsealedTail: true}); err != nil {
			t.Errorf("%s (%d records, %d checkpoints) with the key it started with alone: %v", s, len(recs), len(hist), err)
		}
	}
}
