package sdk_test

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/internal/leakcheck"
	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/checkpoint"
	"github.com/rustyonions/ron-audit-go/sdk/wal"
)

// The chaos test of the Log API on a durable log: appends on a few chains
// from several goroutines (repeats to hit dedupe, invalid and too large
// records, conflicting seqs), key rotations, seals and readers beside
// them, and a Close from yet another goroutine at a random moment. Then
// the log is reopened and checked against everything that was
// acknowledged. Each round is seeded and logs its seed: the scheduling
// is not reproducible, but the round's shape and choices are
//
//	go test ./sdk -run TestLogChaos -sdk.chaosseed=SEED
var (
	chaosSeed   = flag.Uint64("sdk.chaosseed", 0, "run one round of TestLogChaos with this seed (0: seeded from the time, rounds until the budget is spent)")
	chaosBudget = flag.Duration("sdk.chaosbudget", 0, "how long TestLogChaos runs rounds (0: 12s, 2s with -short)")
)

// chaosObserver is a Keeper that is not a Sealer: the log signs its
// records itself (every SealEvery-th, Seal frames) while the Keeper still
// checkpoints them, follows the key and checks the replay.
type chaosObserver struct{ k *checkpoint.Keeper }

func (o chaosObserver) Committed(w, s string, seq uint64, h canonical.Hash, replay bool) {
	o.k.Committed(w, s, seq, h, replay)
}
func (o chaosObserver) Durable(w, s string, seq uint64, replay bool)  { o.k.Durable(w, s, seq, replay) }
func (o chaosObserver) FollowKey(next sdk.Signer)                     { o.k.FollowKey(next) }
func (o chaosObserver) Retired(w, s string, id sdk.KeyID, seq uint64) { o.k.Retired(w, s, id, seq) }
func (o chaosObserver) CheckReplay() error                            { return o.k.CheckReplay() }

// chaosMode is a round's signing policy.
type chaosMode int

const (
	chaosSigned       chaosMode = iota // every record signed, the Keeper observes
	chaosKeeperSealed                  // SealEvery > 1, the Keeper's checkpoints are the seals
	chaosSelfSealed                    // SealEvery > 1, the log signs every Nth record and Seal frames
)

func (m chaosMode) String() string {
	return [...]string{"signed", "keeper-sealed", "self-sealed"}[m]
}

type chaosRound struct {
	seed       uint64
	mode       chaosMode
	sealEvery  int
	keeperEvry int64
	dedupe     int
	cache      int
	segment    int64
	fsync      wal.FsyncPolicy
	chains     int
	appenders  int
	closeAfter time.Duration
}

func (c chaosRound) String() string {
	return fmt.Sprintf("seed=%d mode=%s sealEvery=%d keeperEvery=%d dedupe=%d cache=%d segment=%d fsync=%v chains=%d appenders=%d closeAfter=%v",
		c.seed, c.mode, c.sealEvery, c.keeperEvry, c.dedupe, c.cache, c.segment, c.fsync, c.chains, c.appenders, c.closeAfter)
}

func newChaosRound(seed uint64, short bool) chaosRound {
	rng := rand.New(rand.NewPCG(seed, 0x6c6f67))
	c := chaosRound{seed: seed, mode: chaosMode(rng.IntN(3))}
	if c.mode != chaosSigned {
		c.sealEvery = 2 + rng.IntN(8)
	}
	c.keeperEvry = int64(1 + rng.IntN(20))
	if c.mode == chaosKeeperSealed {
		c.keeperEvry = int64(c.sealEvery)
	}
	c.dedupe = []int{0, 4, 64, -1}[rng.IntN(4)]
	c.cache = []int{0, sdk.MemStoreMinBytes}[rng.IntN(2)]
	c.segment = []int64{0, wal.MinSegmentBytes, 4 * wal.MinSegmentBytes}[rng.IntN(3)]
	c.fsync = []wal.FsyncPolicy{wal.FsyncBatch, wal.FsyncAlways}[rng.IntN(2)]
	c.chains = 1 + rng.IntN(4)
	c.appenders = 2 + rng.IntN(4)
	maxClose := 400
	if short {
		maxClose = 150
	}
	c.closeAfter = time.Duration(10+rng.IntN(maxClose)) * time.Millisecond
	return c
}

func TestLogChaos(t *testing.T) {
	if *chaosSeed != 0 {
		t.Run(strconv.FormatUint(*chaosSeed, 10), func(t *testing.T) { runLogChaos(t, newChaosRound(*chaosSeed, testing.Short())) })
		return
	}
	budget := *chaosBudget
	if budget == 0 {
		budget = 12 * time.Second
		if testing.Short() {
			budget = 2 * time.Second
		}
	}
	start := time.Now()
	seed := uint64(start.UnixNano())
	rounds := 0
	for time.Since(start) < budget && !t.Failed() {
		s := seed + uint64(rounds)
		rounds++
		t.Run(strconv.FormatUint(s, 10), func(t *testing.T) { runLogChaos(t, newChaosRound(s, testing.Short())) })
	}
	t.Logf("%d rounds from seed %d in %v", rounds, seed, time.Since(start).Round(time.Millisecond))
}

// chaosAck is an acknowledged append: what was sent, what came back.
type chaosAck struct {
	chain     int
	seq       uint64
	hash      canonical.Hash
	duplicate bool
	bytes     []byte // the record's canonical bytes as returned
	sent      canonical.AuditRecord
}

func chaosKey(rng *rand.Rand) *sdk.Ed25519Signer {
	var seed [ed25519.SeedSize]byte
	for i := range seed {
		seed[i] = byte(rng.Uint32())
	}
	s, err := sdk.NewEd25519Signer(ed25519.NewKeyFromSeed(seed[:]))
	if err != nil {
		panic(err)
	}
	return s
}

func chaosChain(i int) (writer, stream string) {
	return "svc-" + strconv.Itoa(i%2) + "@inst-1", "s" + strconv.Itoa(i)
}

// chaosSentinels are the errors an Append, Seal or SealAll of the chaos
// test may return: the log closed, a seq that is not the chain's next, a
// record without a stream, one too large, a seal that cannot reach the
// head (records past a transition before the rotation's FollowKey hands
// the Keeper the new key). Anything else (ErrStore above all: nothing
// fails the store here) is a finding.
var chaosSentinels = []error{sdk.ErrClosed, sdk.ErrChainConflict, canonical.ErrInvalid, canonical.ErrTooLarge, sdk.ErrSealIncomplete}

// chaosErr fails t unless err is one of chaosSentinels, and counts it.
func chaosErr(t *testing.T, what string, err error, counts *[5]atomic.Int64) {
	t.Helper()
	for i, s := range chaosSentinels {
		if errors.Is(err, s) {
			counts[i].Add(1)
			return
		}
	}
	t.Errorf("%s: undocumented error %T: %v", what, err, err)
}

func runLogChaos(t *testing.T, c chaosRound) {
	t.Logf("round %v", c)
	check := leakcheck.Check(t)
	rng := rand.New(rand.NewPCG(c.seed, 0x6b6579))
	dir := t.TempDir()
	walDir, cpDir := filepath.Join(dir, "wal"), filepath.Join(dir, "wal", "checkpoints")
	first := chaosKey(rng)
	keeper, err := checkpoint.NewKeeper(cpDir, first, checkpoint.KeeperOptions{Every: c.keeperEvry})
	if err != nil {
		t.Fatal(err)
	}
	var obs sdk.Observer = keeper
	if c.mode == chaosSelfSealed {
		obs = chaosObserver{keeper}
	}
	cfg := sdk.Config{Signer: first, SealEvery: c.sealEvery, Observer: obs, DedupeWindow: c.dedupe}
	dopts := sdk.DurableOptions{WAL: wal.Options{Fsync: c.fsync, SegmentBytes: c.segment}, CacheBytes: c.cache}
	l, _, err := sdk.OpenDurable(walDir, cfg, dopts)
	if err != nil {
		t.Fatal(err)
	}

	var (
		mu      sync.Mutex
		acks    []chaosAck
		keys    = []*sdk.Ed25519Signer{first} // every key a RotateKey was given, in order
		rotated = []bool{true}                // whether that RotateKey returned nil
		panics  []string
		latest  = map[int]canonical.AuditRecord{} // a record per chain that appenders send again
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	run := func(name string, fn func(rng *rand.Rand)) {
		wg.Add(1)
		r := rand.New(rand.NewPCG(rng.Uint64(), rng.Uint64()))
		go func() {
			defer wg.Done()
			defer func() {
				if p := recover(); p != nil {
					mu.Lock()
					panics = append(panics, fmt.Sprintf("%s: %v", name, p))
					mu.Unlock()
				}
			}()
			fn(r)
		}()
	}
	stopped := func() bool {
		select {
		case <-stop:
			return true
		default:
			return false
		}
	}
	var n atomic.Int64
	var errCounts [5]atomic.Int64 // by chaosSentinels
	var rotations, seals, reads atomic.Int64
	var closeErr error
	closed := make(chan struct{})

	for p := range c.appenders {
		run("appender "+strconv.Itoa(p), func(rng *rand.Rand) {
			sent := make([][]canonical.AuditRecord, c.chains) // this appender's, per chain
			for !stopped() {
				ch := rng.IntN(c.chains)
				writer, stream := chaosChain(ch)
				rec := canonical.AuditRecord{Kind: canonical.KindGetServed, TsMs: 1764201600000 + uint64(n.Add(1)),
					WriterID: writer, Stream: stream, Reason: "served",
					Attrs: []canonical.Attr{{Key: "p", Value: strconv.Itoa(p)}}}
				switch x := rng.IntN(100); {
				case x < 10 && len(sent[ch]) > 0: // a repeat: dedupe, or a new record if out of the window
					rec = sent[ch][rng.IntN(len(sent[ch]))]
				case x < 20: // what another appender sends now, or just sent
					mu.Lock()
					if r, ok := latest[ch]; ok {
						rec = r
					} else {
						latest[ch] = rec
					}
					mu.Unlock()
				case x < 23:
					rec.Stream = "" // invalid
				case x < 26:
					rec.Attrs = append(rec.Attrs, canonical.Attr{Key: "big", Value: strings.Repeat("x", 5000)}) // too large
				case x < 28:
					rec.Seq = uint64(1 + rng.IntN(1000)) // most likely not the next seq
				}
				sentRec := rec
				sentRec.Attrs = append([]canonical.Attr(nil), rec.Attrs...)
				a, err := l.Append(&rec)
				if err != nil {
					chaosErr(t, "Append", err, &errCounts)
					if errors.Is(err, sdk.ErrClosed) && rng.IntN(4) == 0 {
						return
					}
					continue
				}
				if sentRec.Seq == 0 {
					sent[ch] = append(sent[ch], sentRec)
				}
				if rng.IntN(8) == 0 {
					mu.Lock()
					latest[ch] = sentRec
					mu.Unlock()
				}
				mu.Lock()
				acks = append(acks, chaosAck{chain: ch, seq: a.Seq, hash: a.Record.Hash, duplicate: a.Duplicate,
					bytes: bytes.Clone(a.Record.Bytes), sent: sentRec})
				mu.Unlock()
			}
		})
	}
	run("rotator", func(rng *rand.Rand) {
		for !stopped() {
			time.Sleep(time.Duration(5+rng.IntN(60)) * time.Millisecond)
			mu.Lock()
			next := chaosKey(rng)
			keys = append(keys, next)
			rotated = append(rotated, false)
			i := len(keys) - 1
			mu.Unlock()
			_, err := l.RotateKey(next)
			mu.Lock()
			rotated[i] = err == nil
			mu.Unlock()
			if err == nil {
				rotations.Add(1)
			}
			if err != nil {
				if !errors.Is(err, sdk.ErrClosed) {
					t.Errorf("RotateKey: %v", err)
				}
				return
			}
		}
	})
	run("sealer", func(rng *rand.Rand) {
		for !stopped() {
			time.Sleep(time.Duration(rng.IntN(10)) * time.Millisecond)
			var err error
			if rng.IntN(2) == 0 {
				err = l.SealAll()
			} else {
				_, err = l.Seal(chaosChain(rng.IntN(c.chains)))
			}
			if err != nil {
				chaosErr(t, "Seal", err, &errCounts)
			} else {
				seals.Add(1)
			}
		}
	})
	run("reader", func(rng *rand.Rand) {
		for !stopped() {
			time.Sleep(time.Duration(rng.IntN(10)) * time.Millisecond)
			writer, stream := chaosChain(rng.IntN(c.chains))
			reads.Add(1)
			if rng.IntN(2) == 0 {
				_, err := sdk.VerifyChain(l.Store().Iter(writer, stream), l.Keys(), sdk.VerifyOptions{AllowUnsealedTail: true})
				if err != nil {
					t.Errorf("VerifyChain of %s/%s while it is written: %v", writer, stream, err)
				}
				continue
			}
			h, ok := l.Head(writer, stream)
			if !ok {
				continue
			}
			from := 1 + uint64(rng.IntN(int(h.Seq)))
			recs, err := l.Records(writer, stream, from, h.Seq)
			if err != nil {
				t.Errorf("Records(%s/%s, %d, %d) below the head: %v", writer, stream, from, h.Seq, err)
				continue
			}
			for i, r := range recs {
				v, err := canonical.OpenAuditRecord(r.Bytes)
				if err != nil || v.Seq() != from+uint64(i) || sdk.VerifyHash(r) != nil {
					t.Errorf("Records(%s/%s, %d, %d)[%d]: seq %d, %v", writer, stream, from, h.Seq, i, v.Seq(), err)
					break
				}
			}
		}
	})
	go func() {
		time.Sleep(c.closeAfter)
		closeErr = l.Close()
		close(closed)
		time.Sleep(time.Duration(rng.IntN(20)) * time.Millisecond) // appends after Close
		close(stop)
	}()
	<-closed
	wg.Wait()
	if len(panics) > 0 {
		t.Fatalf("panics: %v", panics)
	}
	switch {
	case errors.Is(closeErr, sdk.ErrSealIncomplete) && rotations.Load() > 0:
		// Close ran between a rotation's transitions and its FollowKey:
		// the Keeper's Close below seals the rest, and chaosCheck
		// verifies it.
		errCounts[4].Add(1)
	case closeErr != nil:
		t.Errorf("Close: %v", closeErr)
	}
	// Every key, for the verifiers; the newest, to reopen with.
	all := sdk.NewKeySet()
	newest := first
	for i, k := range keys {
		all.Add(k.Public())
		if rotated[i] {
			newest = k
		}
	}
	if c.mode != chaosSigned && closeErr == nil {
		// A clean Close leaves no acknowledged record after the last seal,
		// before the Keeper closes too: every head is sealed (Head), and
		// each chain verifies with no unsealed tail, under the
		// Keeper-sealed policy with the checkpoints kept so far.
		for ch := range c.chains {
			w, st := chaosChain(ch)
			if h, ok := l.Head(w, st); ok && h.SealedSeq != h.Seq {
				t.Errorf("%s/%s after a clean Close: head %d sealed only to %d", w, st, h.Seq, h.SealedSeq)
			}
			var err error
			if c.mode == chaosKeeperSealed {
				_, err = chaosVerifyCheckpointed(cpDir, w, st, l.Store().Iter(w, st), keys, all, false)
			} else {
				_, err = sdk.VerifyChain(l.Store().Iter(w, st), all, sdk.VerifyOptions{})
			}
			if err != nil {
				t.Errorf("%s/%s after a clean Close, before the Keeper's: %v", w, st, err)
			}
		}
	}
	if err := keeper.Close(); err != nil {
		t.Errorf("Keeper.Close: %v", err)
	}

	nacks := len(acks)
	chaosCheck(t, c, walDir, cpDir, newest, keys, all, acks, obsFor(c))
	dups := 0
	for _, a := range acks {
		if a.duplicate {
			dups++
		}
	}
	t.Logf("%d appends acknowledged (%d duplicates); refused: %d closed, %d conflicting seq, %d invalid, %d too large; %d seals short of the head; %d rotations, %d seals, %d reads",
		nacks, dups, errCounts[0].Load(), errCounts[1].Load(), errCounts[2].Load(), errCounts[3].Load(), errCounts[4].Load(), rotations.Load(), seals.Load(), reads.Load())
	check()
}

// obsFor wraps a Keeper as the round's mode does.
func obsFor(c chaosRound) func(*checkpoint.Keeper) sdk.Observer {
	return func(k *checkpoint.Keeper) sdk.Observer {
		if c.mode == chaosSelfSealed {
			return chaosObserver{k}
		}
		return k
	}
}

// chaosCheck reopens the log and checks it against the acknowledged
// appends, and the Keeper's checkpoints against it.
func chaosCheck(t *testing.T, c chaosRound, walDir, cpDir string, newest *sdk.Ed25519Signer, keys []*sdk.Ed25519Signer, all *sdk.KeySet, acks []chaosAck, obs func(*checkpoint.Keeper) sdk.Observer) {
	t.Helper()
	// Whole log, frame by frame: it holds, and (but for the Keeper's
	// seals, which are not in the log) has no unsealed tail.
	if _, err := sdk.VerifyDir(walDir, all, c.mode == chaosKeeperSealed, nil); err != nil {
		t.Errorf("VerifyDir after Close: %v", err)
	}
	keeper, err := checkpoint.NewKeeper(cpDir, newest, checkpoint.KeeperOptions{Every: c.keeperEvry})
	if err != nil {
		t.Fatal(err)
	}
	cfg := sdk.Config{Signer: newest, SealEvery: c.sealEvery, Observer: obs(keeper), DedupeWindow: c.dedupe}
	l, _, err := sdk.OpenDurable(walDir, cfg, sdk.DurableOptions{Keys: all, CacheBytes: c.cache})
	if err != nil {
		t.Fatalf("reopen with the newest key: %v", err)
	}
	defer func() {
		if err := l.Close(); err != nil {
			t.Errorf("Close of the reopened log: %v", err)
		}
		if err := keeper.Close(); err != nil {
			t.Errorf("Keeper.Close of the reopened log: %v", err)
		}
	}()

	// The chains as they are now.
	hashes := make([][]canonical.Hash, c.chains) // [chain][seq-1]
	recs := make([][]sdk.Sealed, c.chains)
	for ch := range c.chains {
		writer, stream := chaosChain(ch)
		var it sdk.Iterator = l.Store().Iter(writer, stream)
		for it.Next() {
			r := it.Entry()
			recs[ch] = append(recs[ch], r)
			hashes[ch] = append(hashes[ch], r.Hash)
		}
		if err := it.Err(); err != nil {
			t.Fatalf("reading %s/%s: %v", writer, stream, err)
		}
		// Signatures with every key; the unsealed tail as the policy says.
		switch c.mode {
		case chaosKeeperSealed:
			if _, err := sdk.VerifyChain(sdk.NewSliceIterator(recs[ch]), all, sdk.VerifyOptions{AllowUnsealedTail: true}); err != nil {
				t.Errorf("VerifyChain %s/%s: %v", writer, stream, err)
			}
		default:
			if _, err := sdk.VerifyChain(sdk.NewSliceIterator(recs[ch]), all, sdk.VerifyOptions{}); err != nil {
				t.Errorf("VerifyChain %s/%s after a clean Close: %v", writer, stream, err)
			}
		}
		// The Keeper's checkpoints: none forks or outgrows the chain, each
		// signed by a key in force at its size; under the Keeper-sealed
		// policy they seal the whole chain (Close sealed it).
		notes, err := chaosVerifyCheckpointed(cpDir, writer, stream, sdk.NewSliceIterator(recs[ch]), keys, all, c.mode != chaosKeeperSealed)
		if err != nil {
			t.Errorf("checkpoint.VerifyChain %s/%s with its %d checkpoints: %v", writer, stream, notes, err)
		} else if len(recs[ch]) > 0 && notes == 0 {
			t.Errorf("%s/%s: %d records and no checkpoint after the Keeper's Close", writer, stream, len(recs[ch]))
		}
	}

	// Every acknowledged append is there, at its seq, with its hash; no
	// seq was acknowledged with two hashes; a Duplicate is the original.
	seen := map[[2]uint64]canonical.Hash{}
	for _, a := range acks {
		writer, stream := chaosChain(a.chain)
		k := [2]uint64{uint64(a.chain), a.seq}
		if h, ok := seen[k]; ok && h != a.hash {
			t.Errorf("%s/%s seq %d acknowledged with hashes %s and %s", writer, stream, a.seq, h, a.hash)
		}
		seen[k] = a.hash
		if a.seq == 0 || a.seq > uint64(len(hashes[a.chain])) {
			t.Errorf("%s/%s seq %d acknowledged (duplicate %v) but the reopened chain has %d records", writer, stream, a.seq, a.duplicate, len(hashes[a.chain]))
			continue
		}
		if got := hashes[a.chain][a.seq-1]; got != a.hash {
			t.Errorf("%s/%s seq %d acknowledged with hash %s, reopened log has %s", writer, stream, a.seq, a.hash, got)
		}
		if canonical.RecordHash(a.bytes) != a.hash {
			t.Errorf("%s/%s seq %d: the returned record's bytes do not hash to its hash", writer, stream, a.seq)
		}
		v, err := canonical.OpenAuditRecord(a.bytes)
		if err != nil {
			t.Errorf("%s/%s seq %d: the returned record: %v", writer, stream, a.seq, err)
			continue
		}
		sent := a.sent
		sent.Seq, sent.Prev = v.Seq(), v.Prev()
		want, err := canonical.AppendRecord(nil, &sent, canonical.DefaultLimits)
		if err != nil || !bytes.Equal(want, a.bytes) {
			t.Errorf("%s/%s seq %d (duplicate %v): the returned record is not the one sent (%v)", writer, stream, a.seq, a.duplicate, err)
		}
	}

	// The reopened log takes records on every chain.
	for ch := range c.chains {
		writer, stream := chaosChain(ch)
		rec := canonical.AuditRecord{Kind: canonical.KindGetServed, TsMs: 1764201600000, WriterID: writer, Stream: stream, Reason: "after reopen"}
		a, err := l.Append(&rec)
		if err != nil {
			t.Errorf("Append to %s/%s after reopen: %v", writer, stream, err)
			continue
		}
		if a.Seq != uint64(len(hashes[ch]))+1 {
			t.Errorf("Append to %s/%s after reopen: seq %d, want %d", writer, stream, a.Seq, len(hashes[ch])+1)
		}
	}
}

// chaosVerifyCheckpointed verifies a chain with the checkpoints kept of it
// in cpDir (checkpoint.VerifyChain, under every key) and returns how many
// there are.
func chaosVerifyCheckpointed(cpDir, writer, stream string, it sdk.Iterator, keys []*sdk.Ed25519Signer, all *sdk.KeySet, allowTail bool) (int, error) {
	notes, err := checkpoint.LoadHistory(cpDir, writer, stream)
	if err != nil {
		return 0, err
	}
	var vs []note.Verifier
	for _, k := range keys {
		v, err := checkpoint.NoteVerifier(checkpoint.KeyName(writer), k.Public())
		if err != nil {
			return 0, err
		}
		vs = append(vs, v)
	}
	_, err = checkpoint.VerifyChain(it, all, note.VerifierList(vs...), notes, sdk.VerifyOptions{AllowUnsealedTail: allowTail})
	return len(notes), err
}
