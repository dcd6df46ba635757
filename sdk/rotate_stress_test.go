package sdk_test

import (
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/internal/leakcheck"
	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/checkpoint"
	"github.com/rustyonions/ron-audit-go/sdk/wal"
)

// The stress test of key rotation against seals, Close and reopen, on a
// durable log: appenders on several chains (and on chains they start as
// they go, some while a rotation writes its transitions), a rotator whose
// keys' signatures sometimes fail (a rotation cut short in process, which
// it finishes by rotating to the same key again), a sealer, and a Close
// from a timer, from inside a KeyFollower's FollowKey or from inside an
// Observer's Durable. Then, beyond what TestLogChaos checks:
//
//   - a nil Close left nothing unsealed: the log has no unsealed tail, or,
//     sealed by the Keeper's checkpoints, the Keeper's newest checkpoint of
//     each chain covers its head before the Keeper closes;
//   - a nil Seal returned a sealed head;
//   - each chain verifies with one key alone, the key it started with,
//     through its own transitions (no record, and with a Keeper no
//     checkpoint, signed by a key the chain never had in force), and
//     that key is the first for the chains that
//     had records before the first rotation (not checked when Close came
//     after a rotation whose first transition failed: it left no trace
//     in the log, so a chain its key started is the old key's on reopen);
//   - a rotation cut short at Close is finished by reopening with the old
//     key; the log then reopens with the newest key, holds every
//     acknowledged record (which its Keys verify), takes records on every
//     chain signed by that key, and rotates once more.
//
// Rounds are seeded (the scheduling is not reproducible, the round's
// shape and choices are):
//
//	go test ./sdk -run TestRotateSealCloseStress -sdk.rotsealseed=SEED
//	go test ./sdk -run TestRotateSealCloseStress -sdk.rotsealrounds=200
var (
	rotSealSeed   = flag.Uint64("sdk.rotsealseed", 0, "run one round of TestRotateSealCloseStress with this seed")
	rotSealRounds = flag.Int("sdk.rotsealrounds", 0, "rounds of TestRotateSealCloseStress (0: 8, 3 with -short)")
)

// errFlaky is the failure of a flakySigner.
var errFlaky = errors.New("signer briefly unavailable")

// flakySigner fails one signature in oneIn (never for 0), by its own
// seeded draw: a remote key or an HSM that is briefly unavailable.
type flakySigner struct {
	*sdk.Ed25519Signer
	mu    sync.Mutex
	rng   *rand.Rand
	oneIn int
}

func (f *flakySigner) Sign(msg []byte, sig *sdk.Signature) error {
	if f.oneIn > 0 {
		f.mu.Lock()
		x := f.rng.IntN(f.oneIn)
		f.mu.Unlock()
		if x == 0 {
			return errFlaky
		}
	}
	return f.Ed25519Signer.Sign(msg, sig)
}

// inner is the signer without its failures, for the Keeper (a Keeper that
// fails to sign fails for good) and for the reopens.
func inner(s sdk.Signer) sdk.Signer {
	if f, ok := s.(*flakySigner); ok {
		return f.Ed25519Signer
	}
	return s
}

// rsObs is the round's Observer: the Keeper's (if any), and the Close the
// round plans from inside FollowKey or Durable.
type rsObs struct {
	k         *checkpoint.Keeper
	log       atomic.Pointer[sdk.Log]
	plan      rsClose
	followAt  int32 // the FollowKey that closes (plan rsCloseFollow)
	durableAt int64 // the Durable that closes (plan rsCloseDurable)
	follows   atomic.Int32
	durables  atomic.Int64
	once      sync.Once
	closeErr  chan error
}

type rsClose int

const (
	rsCloseTimer   rsClose = iota // from a goroutine, at a random moment
	rsCloseFollow                 // from inside a FollowKey
	rsCloseDurable                // from inside a Durable (not a Sealer's: it may not call the Log)
)

func (o *rsObs) close() {
	o.once.Do(func() {
		if l := o.log.Load(); l != nil {
			o.closeErr <- l.Close()
		}
	})
}

func (o *rsObs) Committed(w, s string, seq uint64, h canonical.Hash, replay bool) {
	if o.k != nil {
		o.k.Committed(w, s, seq, h, replay)
	}
}

func (o *rsObs) Durable(w, s string, seq uint64, replay bool) {
	if o.k != nil {
		o.k.Durable(w, s, seq, replay)
	}
	if o.plan == rsCloseDurable && !replay && o.durables.Add(1) == o.durableAt {
		o.close()
	}
}

func (o *rsObs) FollowKey(next sdk.Signer) {
	if o.plan == rsCloseFollow && o.follows.Add(1) == o.followAt {
		o.close() // before the Keeper has the key: it seals with the old one
	}
	if o.k != nil {
		o.k.FollowKey(inner(next))
	}
}

func (o *rsObs) Retired(w, s string, id sdk.KeyID, seq uint64) {
	if o.k != nil {
		o.k.Retired(w, s, id, seq)
	}
}

// rsSealer is rsObs with the Keeper as the log's Sealer.
type rsSealer struct{ *rsObs }

func (o rsSealer) SealChain(w, s string) (uint64, error) { return o.k.SealChain(w, s) }
func (o rsSealer) CheckReplay() error                    { return o.k.CheckReplay() }

type rsRound struct {
	seed      uint64
	mode      chaosMode
	sealEvery int
	oneIn     int // a rotation key's signatures fail one in oneIn (0: never)
	chains    int
	appenders int
	plan      rsClose
	closeAt   time.Duration // rsCloseTimer
	followAt  int32
	durableAt int64
}

func (r rsRound) String() string {
	return fmt.Sprintf("seed=%d mode=%s sealEvery=%d oneIn=%d chains=%d appenders=%d plan=%d closeAt=%v followAt=%d durableAt=%d",
		r.seed, r.mode, r.sealEvery, r.oneIn, r.chains, r.appenders, r.plan, r.closeAt, r.followAt, r.durableAt)
}

func newRSRound(seed uint64) rsRound {
	rng := rand.New(rand.NewPCG(seed, 0x726f74))
	r := rsRound{seed: seed, mode: chaosMode(rng.IntN(3))}
	if r.mode != chaosSigned {
		r.sealEvery = 2 + rng.IntN(6)
	}
	r.oneIn = []int{0, 8, 30, 100}[rng.IntN(4)]
	r.chains = 2 + rng.IntN(3)
	r.appenders = 2 + rng.IntN(3)
	r.plan = rsClose(rng.IntN(3))
	if r.plan == rsCloseDurable && r.mode == chaosKeeperSealed {
		r.plan = rsCloseTimer // a Sealer hears Durable under a chain's lock
	}
	r.closeAt = time.Duration(20+rng.IntN(180)) * time.Millisecond
	r.followAt = int32(1 + rng.IntN(3))
	r.durableAt = int64(20 + rng.IntN(400))
	return r
}

func TestRotateSealCloseStress(t *testing.T) {
	if *rotSealSeed != 0 {
		runRotSeal(t, newRSRound(*rotSealSeed))
		return
	}
	rounds := *rotSealRounds
	if rounds == 0 {
		rounds = 8
		if testing.Short() {
			rounds = 3
		}
	}
	base := uint64(time.Now().UnixNano())
	for i := range rounds {
		s := base + uint64(i)
		if !t.Run(strconv.FormatUint(s, 10), func(t *testing.T) { runRotSeal(t, newRSRound(s)) }) {
			return
		}
	}
}

// rsWithin runs f and fails the test with every goroutine's stack if it
// has not returned after d (a deadlock).
func rsWithin(t *testing.T, d time.Duration, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(d):
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		t.Fatalf("%s did not return within %v (deadlock?); goroutines:\n%s", what, d, buf)
	}
}

// rsAllowed reports whether err is one a call beside rotations, seals and
// Close may return: the log closed, a flaky signature (oneIn > 0), or,
// for a seal, one that cannot reach the head yet.
func rsAllowed(err error, flaky, seal bool) bool {
	return errors.Is(err, sdk.ErrClosed) || (flaky && errors.Is(err, sdk.ErrSign)) ||
		(seal && errors.Is(err, sdk.ErrSealIncomplete))
}

func runRotSeal(t *testing.T, c rsRound) {
	t.Logf("round %v", c)
	defer leakcheck.Check(t)()
	rng := rand.New(rand.NewPCG(c.seed, 0x6b6579))
	dir := t.TempDir()
	walDir := filepath.Join(dir, "wal")
	cpDir := filepath.Join(walDir, "checkpoints")
	const writer = "svc-rot@inst-1"
	newKey := func(rng *rand.Rand) *flakySigner {
		return &flakySigner{Ed25519Signer: chaosKey(rng), rng: rand.New(rand.NewPCG(rng.Uint64(), 1)), oneIn: c.oneIn}
	}
	first := newKey(rng)
	first.oneIn = 0 // appends may fail to sign; the rotations' keys are the ones under test
	keys := []*flakySigner{first}

	newObs := func(signer sdk.Signer, plan rsClose) (*rsObs, sdk.Observer, *checkpoint.Keeper) {
		o := &rsObs{plan: plan, followAt: c.followAt, durableAt: c.durableAt, closeErr: make(chan error, 1)}
		if c.mode != chaosKeeperSealed {
			return o, o, nil
		}
		k, err := checkpoint.NewKeeper(cpDir, inner(signer), checkpoint.KeeperOptions{Every: int64(c.sealEvery)})
		if err != nil {
			t.Fatal(err)
		}
		o.k = k
		return o, rsSealer{o}, k
	}
	open := func(signer sdk.Signer, obs sdk.Observer, ks *sdk.KeySet) *sdk.Log {
		t.Helper()
		l, _, err := sdk.OpenDurable(walDir, sdk.Config{Signer: signer, SealEvery: c.sealEvery, Observer: obs},
			sdk.DurableOptions{WAL: wal.Options{Fsync: wal.FsyncBatch}, Keys: ks})
		if err != nil {
			t.Fatalf("OpenDurable with key %s: %v", signer.KeyID(), err)
		}
		return l
	}
	o, obs, keeper := newObs(first, c.plan)
	l := open(first, obs, nil)
	o.log.Store(l)

	var (
		mu         sync.Mutex
		acks       = map[string]map[uint64]canonical.Hash{} // stream -> seq -> hash
		preRotate  = map[string]bool{}                      // streams with a record before the first RotateKey
		streams    = map[string]bool{}
		current    = 0  // keys[current]: the newest key of a whole rotation
		pending    = -1 // keys[pending]: a rotation cut short, not finished yet
		rotStarted atomic.Bool
		n          atomic.Int64
		wg         sync.WaitGroup
		stop       = make(chan struct{})
		rotations  atomic.Int64
		retries    atomic.Int64
		seals      atomic.Int64
	)
	stopped := func() bool {
		select {
		case <-stop:
			return true
		default:
			return false
		}
	}
	run := func(fn func(rng *rand.Rand)) {
		wg.Add(1)
		r := rand.New(rand.NewPCG(rng.Uint64(), rng.Uint64()))
		go func() {
			defer wg.Done()
			fn(r)
		}()
	}
	for p := range c.appenders {
		run(func(rng *rand.Rand) {
			fresh := 0
			for !stopped() {
				stream := "s" + strconv.Itoa(rng.IntN(c.chains))
				if rng.IntN(12) == 0 { // a chain started now: maybe while a rotation writes its transitions
					fresh++
					stream = fmt.Sprintf("new-%d-%d", p, fresh)
				}
				rec := canonical.AuditRecord{Kind: canonical.KindGetServed, TsMs: 1764201600000 + uint64(n.Add(1)),
					WriterID: writer, Stream: stream, Reason: "served"}
				a, err := l.Append(&rec)
				if err != nil {
					if !rsAllowed(err, c.oneIn > 0, false) {
						t.Errorf("Append to %s: %v", stream, err)
					}
					if errors.Is(err, sdk.ErrClosed) {
						return
					}
					continue
				}
				before := !rotStarted.Load()
				mu.Lock()
				if acks[stream] == nil {
					acks[stream] = map[uint64]canonical.Hash{}
				}
				if h, ok := acks[stream][a.Seq]; ok && h != a.Record.Hash {
					t.Errorf("%s seq %d acknowledged with two hashes", stream, a.Seq)
				}
				acks[stream][a.Seq] = a.Record.Hash
				streams[stream] = true
				if before && a.Seq == 1 {
					preRotate[stream] = true
				}
				mu.Unlock()
			}
		})
	}
	run(func(rng *rand.Rand) {
		for !stopped() {
			time.Sleep(time.Duration(2+rng.IntN(25)) * time.Millisecond)
			mu.Lock()
			next := newKey(rng) // the rotator's own rng
			keys = append(keys, next)
			i := len(keys) - 1
			mu.Unlock()
			rotStarted.Store(true)
			for try := 0; ; try++ {
				_, err := l.RotateKey(next)
				mu.Lock()
				switch {
				case err == nil:
					current, pending = i, -1
					rotations.Add(1)
				case errors.Is(err, sdk.ErrSign) && c.oneIn > 0:
					pending = i // some chains may have their transition
					retries.Add(1)
				case errors.Is(err, sdk.ErrClosed):
				default:
					t.Errorf("RotateKey (try %d): %v", try, err)
				}
				mu.Unlock()
				if err == nil {
					break
				}
				if !errors.Is(err, sdk.ErrSign) || try > 20 {
					return // closed, or a finding
				}
			}
		}
	})
	run(func(rng *rand.Rand) {
		for !stopped() {
			time.Sleep(time.Duration(rng.IntN(8)) * time.Millisecond)
			if rng.IntN(3) == 0 {
				if err := l.SealAll(); err != nil && !rsAllowed(err, c.oneIn > 0, true) {
					t.Errorf("SealAll: %v", err)
				}
				continue
			}
			stream := "s" + strconv.Itoa(rng.IntN(c.chains))
			h, err := l.Seal(writer, stream)
			switch {
			case err == nil && h.SealedSeq != h.Seq:
				t.Errorf("Seal of %s returned nil with head %d sealed to %d", stream, h.Seq, h.SealedSeq)
			case err == nil:
				seals.Add(1)
			case !rsAllowed(err, c.oneIn > 0, true):
				t.Errorf("Seal of %s: %v", stream, err)
			}
		}
	})
	closeAt := c.closeAt
	if c.plan != rsCloseTimer {
		closeAt = 600 * time.Millisecond // should the planned FollowKey or Durable not come
	}
	go func() {
		select {
		case <-time.After(closeAt):
			o.close()
		case <-stop:
		}
	}()
	var closeErr error
	rsWithin(t, 30*time.Second, "the round (appends, rotations, seals, Close)", func() {
		closeErr = <-o.closeErr
		close(stop)
		wg.Wait()
	})
	if t.Failed() {
		return
	}
	mu.Lock()
	defer mu.Unlock()
	all := sdk.NewKeySet()
	var signers []*sdk.Ed25519Signer
	for _, k := range keys {
		all.Add(k.Public())
		signers = append(signers, k.Ed25519Signer)
	}
	t.Logf("%d rotations (%d failed tries), %d seals, %d chains; Close: %v; cut short: %v", rotations.Load(), retries.Load(), seals.Load(), len(streams), closeErr, pending >= 0)
	switch {
	case closeErr == nil:
	case errors.Is(closeErr, sdk.ErrSealIncomplete) && rotStarted.Load() && c.mode == chaosKeeperSealed:
		// Close came between a rotation's transitions and its FollowKey
		// (the first rotation's too), or after one that failed: the
		// Keeper vouches for no record past a transition, nor for a
		// chain the rotation's key started, until it has that key.
	case errors.Is(closeErr, sdk.ErrSign) && c.oneIn > 0:
	default:
		t.Errorf("Close: %v", closeErr)
	}

	// A nil Close sealed every chain to its head.
	sum, err := sdk.VerifyDir(walDir, all, c.mode == chaosKeeperSealed || closeErr != nil, nil)
	if err != nil {
		t.Fatalf("VerifyDir after Close (%v): %v", closeErr, err)
	}
	if closeErr == nil && keeper != nil {
		covered := map[string]int64{}
		for _, cp := range keeper.Newest() {
			covered[cp.Stream] = cp.Size
		}
		for _, h := range sum.Heads {
			// A signed record (a transition, a chain's first record
			// signed during a rotation) seals the chain up to it too.
			if int64(h.Seq) > covered[h.Stream] && h.SealedSeq < h.Seq {
				t.Errorf("%s after a nil Close: head %d, the Keeper's newest checkpoint covers %d", h.Stream, h.Seq, covered[h.Stream])
			}
		}
	}
	if keeper != nil {
		if err := keeper.Close(); err != nil {
			t.Errorf("Keeper.Close: %v", err)
		}
	}

	newest := keys[current]
	// A rotation whose first transition failed left no trace in the log,
	// but new chains began with its key: reopened with the old key, the
	// log cannot tell them from its own (not checked below).
	traceless := pending >= 0 && !slices.ContainsFunc(sum.Retired, func(r sdk.Retirement) bool {
		return r.Next.Equal(keys[pending].Public())
	})
	if traceless {
		t.Logf("the rotation cut short at Close wrote no transition")
	}
	if pending >= 0 {
		// The rotation Close cut short: finish it with the old key.
		_, fobs, fk := newObs(newest, rsCloseTimer)
		fl := open(inner(newest), fobs, all)
		if _, err := fl.RotateKey(inner(keys[pending])); err != nil {
			t.Errorf("finishing the rotation cut short at Close: %v", err)
		}
		if err := fl.Close(); err != nil {
			t.Errorf("Close after finishing the rotation: %v", err)
		}
		if fk != nil {
			if err := fk.Close(); err != nil {
				t.Errorf("Keeper.Close after finishing the rotation: %v", err)
			}
		}
		newest = keys[pending]
	}

	// Reopened with the newest key: every acknowledged record, and every
	// chain takes a record signed by that key, and one more rotation.
	_, robs, rk := newObs(newest, rsCloseTimer)
	rl := open(inner(newest), robs, all)
	got := map[string]map[uint64]canonical.Hash{}
	for stream := range streams {
		got[stream] = map[uint64]canonical.Hash{}
		it := rl.Store().Iter(writer, stream)
		for it.Next() {
			r := it.Entry()
			v, err := canonical.OpenAuditRecord(r.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			got[stream][v.Seq()] = r.Hash
		}
		if err := it.Err(); err != nil {
			t.Fatal(err)
		}
		// The reopened log's Keys verify what it holds.
		if _, err := sdk.VerifyChain(rl.Store().Iter(writer, stream), rl.Keys(), sdk.VerifyOptions{AllowUnsealedTail: true}); err != nil {
			t.Errorf("%s with the reopened log's Keys: %v", stream, err)
		}
		for seq, h := range acks[stream] {
			if got[stream][seq] != h {
				t.Errorf("%s seq %d: acknowledged, not in the reopened log", stream, seq)
			}
		}
		rec := canonical.AuditRecord{Kind: canonical.KindGetServed, TsMs: 1764201600000, WriterID: writer, Stream: stream, Reason: "after reopen"}
		a, err := rl.Append(&rec)
		switch {
		case err != nil:
			t.Errorf("Append to %s after reopen with the newest key: %v", stream, err)
		case c.mode == chaosSigned && a.Record.KeyID != newest.KeyID():
			t.Errorf("Append to %s after reopen: signed by %s, want the newest key %s", stream, a.Record.KeyID, newest.KeyID())
		}
	}
	last := newKey(rng)
	last.oneIn = 0
	all.Add(last.Public())
	signers = append(signers, last.Ed25519Signer)
	if _, err := rl.RotateKey(last); err != nil {
		t.Errorf("RotateKey on the reopened log: %v", err)
	}
	if err := rl.Close(); err != nil {
		t.Errorf("Close of the reopened log: %v", err)
	}
	if rk != nil {
		if err := rk.Close(); err != nil {
			t.Errorf("Keeper.Close of the reopened log: %v", err)
		}
	}

	// Each chain verifies with one key, the key it started with, through
	// its own transitions; the first key for the chains it began.
	for stream := range streams {
		var by *sdk.Ed25519Signer
		var errs []error
		for _, k := range signers {
			if traceless {
				break
			}
			_, err := sdk.VerifyDirChain(walDir, writer, stream, sdk.NewKeySet(k.Public()), c.mode == chaosKeeperSealed, nil)
			if err == nil {
				by = k
				break
			}
			errs = append(errs, err)
		}
		switch {
		case traceless:
		case by == nil:
			t.Errorf("%s verifies with no one key alone: %v", stream, errors.Join(errs...))
		case preRotate[stream] && by != first.Ed25519Signer && by.KeyID() != first.KeyID():
			t.Errorf("%s had records before the first rotation but verifies with key %s, not the first key %s", stream, by.KeyID(), first.KeyID())
		}
		if c.mode == chaosKeeperSealed {
			var recs []sdk.Sealed
			if _, err := sdk.VerifyDirChain(walDir, writer, stream, all, true, func(r sdk.Sealed) {
				r.Bytes = append([]byte(nil), r.Bytes...)
				recs = append(recs, r)
			}); err != nil {
				t.Fatal(err)
			}
			if _, err := chaosVerifyCheckpointed(cpDir, writer, stream, sdk.NewSliceIterator(recs), signers, all, false); err != nil {
				t.Errorf("%s with its checkpoints after the Keeper's Close: %v", stream, err)
			}
			// Its checkpoints too, with the one key alone: the Keeper
			// signs a chain started during a rotation with the new key
			// only, never the old.
			if by != nil {
				if _, err := chaosVerifyCheckpointed(cpDir, writer, stream, sdk.NewSliceIterator(recs), []*sdk.Ed25519Signer{by}, sdk.NewKeySet(by.Public()), false); err != nil {
					t.Errorf("%s with its checkpoints and key %s alone, the key it started with: %v", stream, by.KeyID(), err)
				}
			}
		}
	}
}
