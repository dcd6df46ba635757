package sdk_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/internal/leakcheck"
	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/checkpoint"
	"github.com/rustyonions/ron-audit-go/sdk/export"
	"github.com/rustyonions/ron-audit-go/sdk/wal"
)

// The stress test of the host's path on the Macronode stack: an Emitter
// (TryEmit or Emit from producers per chain, retries to hit dedupe,
// parallel signing workers, durable acknowledgements) on a durable log
// whose only seals are a checkpoint.Keeper's (the Keeper as Sealer,
// SealEvery > 1), now and then with export.Auto writing the Keeper's
// checkpoints out as bundles to a FileSink, wired as ronaudit append wires
// them; beside the emitting, a host's ticker calling SealAll (and Seal,
// and the Keeper's Tick); then the Emitter's Close, with or without a
// deadline, while the producers still run or after they end, and the
// Log's, the Keeper's and the Auto's. Each round is seeded and logs its
// seed; the scheduling is not reproducible, the round's shape and choices
// are:
//
//	go test ./sdk -run TestEmitterKeeperStress -sdk.emkseed=SEED
//
// It found a TryEmit that got in before Close and was refused at its link
// after Close's deadline counted as a sink error, not a shutdown drop
// (TestLinkRefusedAfterDeadlineIsShutdown). With the Keeper's seal on
// Close no longer waiting for the head and telling the Keeper (the defect
// TestCloseSealsAppendAwaitingFsync and
// TestCloseSealsAppendBeingAcknowledged pin), it fails in each of three
// runs of its default budget: "head 9 sealed only to 8".
var (
	emkSeed   = flag.Uint64("sdk.emkseed", 0, "run one round of TestEmitterKeeperStress with this seed (0: seeded from the time, rounds until the budget is spent)")
	emkBudget = flag.Duration("sdk.emkbudget", 0, "how long TestEmitterKeeperStress runs rounds (0: 8s, 2s with -short)")
)

// emkRound is one round's shape.
type emkRound struct {
	seed              uint64
	workers, depth    int
	sealEvery         int
	keeperEvery       int64
	keeperInterval    time.Duration // <0: no time trigger
	tick              bool          // a host goroutine calls Keeper.Tick
	sealInterval      time.Duration // Config.SealInterval (no effect with a Sealer, but a host sets it)
	dedupe            int
	fsync             wal.FsyncPolicy
	segment           int64
	export            bool
	chains, producers int
	n                 int
	retryP            float64
	blocking          bool          // Emit with a short ctx, else TryEmit
	closeAfter        time.Duration // 0: Close once the producers end; else Close this long after they start
	deadline          time.Duration // Close's deadline; 0: none (context.Background)
	doneAt            emkDoneAt     // when the host waits for the Emitter's Done
}

// emkDoneAt is when, in its shutdown, a host waits for the Emitter's
// goroutines to end (Done): Close may return on its deadline before.
type emkDoneAt int

const (
	emkDoneBeforeLog emkDoneAt = iota // before Log.Close
	emkDoneAfterLog                   // after Log.Close, before the Keeper's
	emkDoneAtEnd                      // after the Log's, the Keeper's and the Auto's Close
)

func (d emkDoneAt) String() string {
	return [...]string{"before-log", "after-log", "at-end"}[d]
}

func (c emkRound) String() string {
	return fmt.Sprintf("seed=%d workers=%d depth=%d sealEvery=%d keeperEvery=%d keeperInterval=%v tick=%v sealInterval=%v dedupe=%d fsync=%v segment=%d export=%v chains=%d producers=%d n=%d blocking=%v closeAfter=%v deadline=%v doneAt=%v",
		c.seed, c.workers, c.depth, c.sealEvery, c.keeperEvery, c.keeperInterval, c.tick, c.sealInterval, c.dedupe, c.fsync, c.segment, c.export,
		c.chains, c.producers, c.n, c.blocking, c.closeAfter, c.deadline, c.doneAt)
}

func newEmkRound(seed uint64, short bool) emkRound {
	rng := rand.New(rand.NewPCG(seed, 0x656d6b))
	c := emkRound{seed: seed, workers: 1 + rng.IntN(sdk.MaxWorkers), depth: []int{1, 4, 16, 64, 256}[rng.IntN(5)]}
	c.sealEvery = 2 + rng.IntN(9)
	c.keeperEvery = int64(c.sealEvery) // as ronaudit append --seal-every N
	if rng.IntN(3) == 0 {
		c.keeperEvery = int64(1 + rng.IntN(40))
	}
	c.keeperInterval = -1
	if rng.IntN(3) == 0 {
		c.keeperInterval = time.Duration(1+rng.IntN(5)) * time.Millisecond
	}
	c.tick = rng.IntN(2) == 0
	if rng.IntN(3) == 0 {
		c.sealInterval = time.Duration(1+rng.IntN(10)) * time.Millisecond
	}
	c.dedupe = []int{0, 8, -1}[rng.IntN(3)]
	c.fsync = []wal.FsyncPolicy{wal.FsyncBatch, wal.FsyncAlways}[rng.IntN(2)]
	c.segment = []int64{0, wal.MinSegmentBytes}[rng.IntN(2)]
	c.export = rng.IntN(2) == 0
	c.chains = 1 + rng.IntN(4)
	c.producers = 1 + rng.IntN(2)
	c.n = 150
	if short {
		c.n = 60
	}
	c.retryP = 0.3
	c.blocking = rng.IntN(2) == 0
	switch rng.IntN(3) {
	case 0: // the producers end, then a Close with all the time it needs
	case 1: // Close while the producers run, with a deadline that may pass
		c.closeAfter = time.Duration(1+rng.IntN(30)) * time.Millisecond
		c.deadline = time.Duration(rng.IntN(800)) * time.Microsecond
	case 2: // Close while the producers run, no deadline
		c.closeAfter = time.Duration(1+rng.IntN(30)) * time.Millisecond
	}
	if c.closeAfter == 0 && rng.IntN(2) == 0 {
		c.deadline = 60 * time.Second
	}
	c.doneAt = emkDoneAt(rng.IntN(3))
	return c
}

func TestEmitterKeeperStress(t *testing.T) {
	if *emkSeed != 0 {
		t.Run(strconv.FormatUint(*emkSeed, 10), func(t *testing.T) { runEmkRound(t, newEmkRound(*emkSeed, testing.Short())) })
		return
	}
	budget := *emkBudget
	if budget == 0 {
		budget = 8 * time.Second
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
		t.Run(strconv.FormatUint(s, 10), func(t *testing.T) { runEmkRound(t, newEmkRound(s, testing.Short())) })
	}
	t.Logf("%d rounds from seed %d in %v", rounds, seed, time.Since(start).Round(time.Millisecond))
}

// emkOutcome is what the emitter reported of one accepted record.
type emkOutcome struct {
	ack  *sdk.EmitAck
	drop string
	err  error
}

func emkRecord(ch, p, n int) canonical.AuditRecord {
	w, s := chaosChain(ch)
	return canonical.AuditRecord{Kind: canonical.KindGetServed, TsMs: 1764201600000 + uint64(n),
		WriterID: w, Stream: s, Reason: "served",
		Attrs: []canonical.Attr{{Key: "n", Value: strconv.Itoa(n)}, {Key: "p", Value: strconv.Itoa(p)}}}
}

func runEmkRound(t *testing.T, c emkRound) {
	t.Logf("round %v", c)
	check := leakcheck.Check(t)
	rng := rand.New(rand.NewPCG(c.seed, 0x6b6579))
	dir := t.TempDir()
	walDir, cpDir, expDir := filepath.Join(dir, "wal"), filepath.Join(dir, "wal", "checkpoints"), filepath.Join(dir, "bundles")
	key := chaosKey(rng)
	pub := key.Public()

	// Wired as ronaudit append wires them: the Auto, the Keeper with its
	// Checkpointed, the Log with the Keeper as Observer (and Sealer), then
	// the Auto's Log and Keeper, and Start.
	var auto *export.Auto
	var sink *export.FileSink
	kopts := checkpoint.KeeperOptions{Every: c.keeperEvery, Interval: c.keeperInterval}
	if c.export {
		sink = &export.FileSink{Dir: expDir}
		auto = &export.Auto{Exporter: &export.Exporter{Sink: sink, Signer: key}, Prev: sink.Prev}
		kopts.OnCheckpoint = auto.Checkpointed
	}
	keeper, err := checkpoint.NewKeeper(cpDir, key, kopts)
	if err != nil {
		t.Fatal(err)
	}
	cfg := sdk.Config{Signer: key, SealEvery: c.sealEvery, SealInterval: c.sealInterval, Observer: keeper, DedupeWindow: c.dedupe}
	l, _, err := sdk.OpenDurable(walDir, cfg, sdk.DurableOptions{WAL: wal.Options{Fsync: c.fsync, SegmentBytes: c.segment}})
	if err != nil {
		t.Fatal(err)
	}
	if auto != nil {
		auto.Log, auto.Keeper = l, keeper
		auto.Start()
	}

	var mu sync.Mutex
	outs := map[string][]emkOutcome{} // per stream, in the emitter's order
	var ackCalls, dropCalls atomic.Int64
	e, err := sdk.NewEmitter(l, sdk.EmitterOptions{Workers: c.workers, Depth: c.depth,
		OnDurable: func(a sdk.EmitAck) {
			ackCalls.Add(1)
			mu.Lock()
			outs[a.Stream] = append(outs[a.Stream], emkOutcome{ack: &a})
			mu.Unlock()
		},
		OnDrop: func(w, s, reason string, err error) {
			dropCalls.Add(1)
			mu.Lock()
			outs[s] = append(outs[s], emkOutcome{drop: reason, err: err})
			mu.Unlock()
		}})
	if err != nil {
		t.Fatal(err)
	}

	// The host beside the emitting: SealAll on a ticker (and a Seal of a
	// chain now and then), the Keeper's Tick. They go on through the
	// closes, as a host's ticker may fire during its shutdown: once the
	// Log is closed a seal is refused with ErrClosed, nothing else.
	hostStop := make(chan struct{})
	var host sync.WaitGroup
	var seals, sealsRefused atomic.Int64
	hostRng := rand.New(rand.NewPCG(rng.Uint64(), rng.Uint64()))
	host.Go(func() {
		for {
			select {
			case <-hostStop:
				return
			case <-time.After(time.Duration(hostRng.IntN(3000)) * time.Microsecond):
			}
			var err error
			if hostRng.IntN(4) == 0 {
				_, err = l.Seal(chaosChain(hostRng.IntN(c.chains)))
			} else {
				err = l.SealAll()
			}
			switch {
			case err == nil:
				seals.Add(1)
			case errors.Is(err, sdk.ErrClosed):
				sealsRefused.Add(1)
			default:
				t.Errorf("seal beside the emitter: %v", err)
			}
		}
	})
	if c.tick {
		host.Go(func() {
			for {
				select {
				case <-hostStop:
					return
				case <-time.After(time.Millisecond):
				}
				if err := keeper.Tick(); err != nil {
					t.Errorf("Keeper.Tick: %v", err)
				}
			}
		})
	}

	// The producers.
	accepted := make([][][2]int, c.chains) // per chain, (p, n) in accept order: exact with one producer
	var accMu sync.Mutex
	var retErrs sync.Map
	var busyRet, closedRet, sinkRet atomic.Int64 // TryEmit's and Emit's errors, by the drop reason they count
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for ch := range c.chains {
		for p := range c.producers {
			prng := rand.New(rand.NewPCG(rng.Uint64(), rng.Uint64()))
			wg.Go(func() {
				var hist []int
				for i := 0; i < c.n; i++ {
					select {
					case <-stop:
						return
					default:
					}
					n := i
					if len(hist) > 0 && prng.Float64() < c.retryP {
						n = hist[max(0, len(hist)-1-prng.IntN(min(len(hist), 8)))]
						i--
					} else {
						hist = append(hist, n)
					}
					rec := emkRecord(ch, p, n)
					var err error
					if c.blocking {
						ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
						err = e.Emit(ctx, &rec)
						cancel()
					} else {
						err = e.TryEmit(&rec)
					}
					if err == nil {
						accMu.Lock()
						accepted[ch] = append(accepted[ch], [2]int{p, n})
						accMu.Unlock()
						continue
					}
					switch {
					case errors.Is(err, sdk.ErrBusy):
						busyRet.Add(1)
					case err == sdk.ErrEmitterClosed:
						closedRet.Add(1)
					default: // refused at link: the chain or the log stopped (counted as sink_error)
						sinkRet.Add(1)
					}
					k := err.Error()
					if len(k) > 40 {
						k = k[:40]
					}
					v, _ := retErrs.LoadOrStore(k, new(atomic.Int64))
					v.(*atomic.Int64).Add(1)
					if errors.Is(err, sdk.ErrEmitterClosed) {
						return
					}
					if errors.Is(err, sdk.ErrBusy) {
						time.Sleep(time.Duration(prng.IntN(200)) * time.Microsecond)
					}
				}
			})
		}
	}

	// The closes, as a host shuts down: the Emitter (with its deadline),
	// the Log, the Keeper, the Auto.
	ctx, cancel := context.Background(), context.CancelFunc(func() {})
	if c.closeAfter > 0 {
		time.Sleep(c.closeAfter)
	} else {
		wg.Wait()
	}
	if c.deadline > 0 {
		ctx, cancel = context.WithTimeout(context.Background(), c.deadline)
	}
	emitterErr := e.Close(ctx)
	cancel()
	close(stop)
	wg.Wait()
	if emitterErr != nil && (c.deadline == 0 || c.deadline >= time.Second) {
		t.Errorf("Emitter.Close with no deadline to miss: %v", emitterErr)
	}
	waitDone := func() {
		select {
		case <-e.Done():
		case <-time.After(60 * time.Second):
			t.Fatalf("emitter not done 60s after Close")
		}
	}
	if c.doneAt == emkDoneBeforeLog {
		waitDone()
	}
	logErr := l.Close()
	if logErr != nil {
		t.Errorf("Log.Close: %v", logErr)
	}
	if c.doneAt == emkDoneAfterLog {
		waitDone()
	}
	// Sealed before the Keeper closes: the Log's Close asked it to seal
	// every chain's head.
	if logErr == nil {
		for ch := range c.chains {
			w, s := chaosChain(ch)
			if h, ok := l.Head(w, s); ok && h.SealedSeq != h.Seq {
				t.Errorf("%s/%s after Log.Close: head %d sealed only to %d", w, s, h.Seq, h.SealedSeq)
			}
		}
	}
	if err := keeper.Close(); err != nil {
		t.Errorf("Keeper.Close: %v", err)
	}
	if auto != nil {
		if err := auto.Close(); err != nil {
			t.Errorf("Auto.Close: %v", err)
		}
	}
	waitDone()
	close(hostStop)
	host.Wait()

	// Counts.
	st := e.Stats()
	var dropped uint64
	for _, n := range st.Dropped {
		dropped += n
	}
	if st.Offered != st.Appended+st.Dedupe+dropped {
		t.Errorf("offered %d != appended %d + dedupe %d + dropped %d (%v)", st.Offered, st.Appended, st.Dedupe, dropped, st.Dropped)
	}
	if st.InFlight != 0 || st.QueueDepth != 0 {
		t.Errorf("after Close: %d in flight, %d queued", st.InFlight, st.QueueDepth)
	}
	if uint64(ackCalls.Load()) != st.Appended+st.Dedupe {
		t.Errorf("%d OnDurable calls, appended+dedupe %d", ackCalls.Load(), st.Appended+st.Dedupe)
	}
	// Every drop is either an error TryEmit or Emit returned or an OnDrop
	// call, never both, never neither.
	if uint64(busyRet.Load()) != st.Dropped[sdk.DropBackpressure] || uint64(closedRet.Load()) != st.Dropped[sdk.DropClosed] ||
		uint64(dropCalls.Load()+sinkRet.Load()) != st.Dropped[sdk.DropSinkError]+st.Dropped[sdk.DropShutdown] {
		t.Errorf("returned %d busy, %d closed, %d refused at link; %d OnDrop calls; drops %v", busyRet.Load(), closedRet.Load(), sinkRet.Load(), dropCalls.Load(), st.Dropped)
	}
	if emitterErr == nil && st.Dropped[sdk.DropShutdown] != 0 {
		t.Errorf("Emitter.Close returned nil and %d records were dropped for its deadline", st.Dropped[sdk.DropShutdown])
	}
	if c.doneAt == emkDoneBeforeLog && st.Dropped[sdk.DropSinkError] != 0 {
		t.Errorf("%d records dropped as sink errors, with a store that never fails and the Log closed after the Emitter", st.Dropped[sdk.DropSinkError])
	}

	emkCheck(t, c, walDir, cpDir, sink, key, pub, outs, accepted, st, logErr == nil)
	t.Logf("offered %d, appended %d, dedupe %d, busy %d, hedged %d, drops %v; %d seals (%d refused after Close)",
		st.Offered, st.Appended, st.Dedupe, st.Busy, st.Hedged, st.Dropped, seals.Load(), sealsRefused.Load())
	if t.Failed() {
		var errs []string
		retErrs.Range(func(k, v any) bool {
			errs = append(errs, fmt.Sprintf("%s=%d", k, v.(*atomic.Int64).Load()))
			return true
		})
		t.Logf("emit errors %v", errs)
	}
	check()
}

// emkCheck checks the closed stack on disk: the log with its kept
// checkpoints offline, the bundles, then the reopened log against every
// acknowledgement.
func emkCheck(t *testing.T, c emkRound, walDir, cpDir string, sink *export.FileSink, key *sdk.Ed25519Signer, pub ed25519.PublicKey,
	outs map[string][]emkOutcome, accepted [][][2]int, st sdk.EmitterStats, sealed bool) {
	t.Helper()
	// Offline, with the public key: the log and its kept checkpoints hold
	// and agree; after a clean Log.Close no chain has an unsealed tail.
	sum, err := checkpoint.VerifyDir(walDir, []ed25519.PublicKey{pub}, checkpoint.DirOptions{AllowUnsealedTail: !sealed})
	if err != nil {
		t.Errorf("checkpoint.VerifyDir (unsealed tail allowed: %v): %v", !sealed, err)
	}
	if len(sum.Unused) > 0 {
		t.Errorf("kept checkpoints signed by no key: %v", sum.Unused)
	}
	heads := map[string]sdk.Head{}
	for _, h := range sum.Heads {
		heads[h.Stream] = h
	}

	// The reopened log, with a new Keeper on the same history: its replay
	// check refuses a log its checkpoints do not fit.
	k2, err := checkpoint.NewKeeper(cpDir, key, checkpoint.KeeperOptions{Every: c.keeperEvery, Interval: -1})
	if err != nil {
		t.Fatal(err)
	}
	l, _, err := sdk.OpenDurable(walDir, sdk.Config{Signer: key, SealEvery: c.sealEvery, Observer: k2, DedupeWindow: c.dedupe}, sdk.DurableOptions{})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer func() {
		if err := l.Close(); err != nil {
			t.Errorf("Close of the reopened log: %v", err)
		}
		if err := k2.Close(); err != nil {
			t.Errorf("Keeper.Close of the reopened log: %v", err)
		}
	}()
	var total int
	sizes := make([]int, c.chains)
	for ch := range c.chains {
		w, s := chaosChain(ch)
		var recs []sdk.Sealed
		it := l.Store().Iter(w, s)
		for it.Next() {
			recs = append(recs, it.Entry())
		}
		if err := it.Err(); err != nil {
			t.Fatalf("reading %s/%s: %v", w, s, err)
		}
		total += len(recs)
		sizes[ch] = len(recs)
		if h := heads[s]; h.Seq != uint64(len(recs)) {
			t.Errorf("%s/%s: VerifyDir's head is seq %d, the reopened log has %d records", w, s, h.Seq, len(recs))
		}
		// The kept checkpoints against the chain as reopened.
		if notes, err := chaosVerifyCheckpointed(cpDir, w, s, sdk.NewSliceIterator(recs), []*sdk.Ed25519Signer{key}, sdk.NewKeySet(pub), !sealed); err != nil {
			t.Errorf("%s/%s with its %d kept checkpoints: %v", w, s, notes, err)
		} else if len(recs) > 0 && notes == 0 {
			t.Errorf("%s/%s: %d records and no kept checkpoint", w, s, len(recs))
		}

		// Every acknowledgement is of the record at its seq, with its
		// hash; originals in seq order, a duplicate after its original.
		nonDup := 0
		var last uint64
		seen := map[uint64]bool{}
		for i, o := range outs[s] {
			if o.ack == nil {
				continue
			}
			a := o.ack
			if a.Seq == 0 || a.Seq > uint64(len(recs)) || recs[a.Seq-1].Hash != a.Hash {
				t.Errorf("%s/%s ack %d (%+v): not in the reopened log (%d records)", w, s, i, *a, len(recs))
				continue
			}
			if a.Duplicate {
				if !seen[a.Seq] {
					t.Errorf("%s/%s: duplicate ack of seq %d before its original's", w, s, a.Seq)
				}
				continue
			}
			nonDup++
			if a.Seq <= last {
				t.Errorf("%s/%s: ack of seq %d after %d", w, s, a.Seq, last)
			}
			last, seen[a.Seq] = a.Seq, true
		}
		// No store fails: every record in the log was acknowledged, once.
		if nonDup != len(recs) {
			t.Errorf("%s/%s: %d records in the log, %d acknowledged", w, s, len(recs), nonDup)
		}
		// One producer: outcome i is of the record accepted i-th.
		if c.producers == 1 {
			acc := accepted[ch]
			if len(acc) != len(outs[s]) {
				t.Errorf("%s/%s: %d accepted, %d outcomes", w, s, len(acc), len(outs[s]))
			} else {
				for i, o := range outs[s] {
					if o.ack == nil || o.ack.Seq > uint64(len(recs)) || o.ack.Seq == 0 {
						continue
					}
					v, err := canonical.OpenAuditRecord(recs[o.ack.Seq-1].Bytes)
					if err != nil {
						t.Fatal(err)
					}
					got, want := v.Decode(), emkRecord(ch, acc[i][0], acc[i][1])
					if got.Attrs[0].Value != want.Attrs[0].Value || got.Attrs[1].Value != want.Attrs[1].Value {
						t.Errorf("%s/%s outcome %d: ack (duplicate %v) of seq %d holds n=%s p=%s, accepted n=%s p=%s", w, s, i, o.ack.Duplicate, o.ack.Seq,
							got.Attrs[0].Value, got.Attrs[1].Value, want.Attrs[0].Value, want.Attrs[1].Value)
					}
				}
			}
		}

		// The bundles: they verify as a sequence with the public key,
		// reach the newest kept checkpoint (trusted) and end on the log's
		// record there; after a clean close, at the chain's head.
		if sink == nil || len(recs) == 0 {
			continue
		}
		paths, err := sink.Bundles(checkpoint.Origin(w, s))
		if err != nil || len(paths) == 0 {
			t.Errorf("%s/%s: %d records, bundles %d: %v", w, s, len(recs), len(paths), err)
			continue
		}
		notes, err := checkpoint.LoadHistory(cpDir, w, s)
		if err != nil || len(notes) == 0 {
			t.Errorf("%s/%s: kept checkpoints: %d, %v", w, s, len(notes), err)
			continue
		}
		seq, err := export.VerifyDirTrusted(filepath.Dir(paths[0]), export.KeyVerifiers(pub), sdk.NewKeySet(pub), notes[len(notes)-1])
		if err != nil {
			t.Errorf("%s/%s: export.VerifyDir of %d bundles, trusting the newest kept checkpoint: %v", w, s, len(paths), err)
			continue
		}
		if seq.Records < 1 || seq.Records > int64(len(recs)) || recs[seq.Records-1].Hash != seq.Head.Hash {
			t.Errorf("%s/%s: the bundles end at seq %d with hash %s; the log has %d records", w, s, seq.Records, seq.Head.Hash, len(recs))
		}
		if sealed && seq.Records != int64(len(recs)) {
			t.Errorf("%s/%s: after a clean close the bundles end at seq %d, the log at %d", w, s, seq.Records, len(recs))
		}
	}
	if uint64(total) != st.Appended {
		t.Errorf("the log holds %d records, the emitter appended %d", total, st.Appended)
	}
	// The reopened log takes records on every chain, each at its next seq.
	for ch := range c.chains {
		rec := emkRecord(ch, 9, 0)
		rec.Reason = "after reopen"
		if a, err := l.Append(&rec); err != nil || a.Seq != uint64(sizes[ch])+1 {
			t.Errorf("Append to chain %d after reopen: seq %d (want %d), %v", ch, a.Seq, sizes[ch]+1, err)
		}
	}
}
