package node_test

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/internal/crashtest"
	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/checkpoint"
	"github.com/rustyonions/ron-audit-go/sdk/export"
	"github.com/rustyonions/ron-audit-go/sdk/metrics"
	"github.com/rustyonions/ron-audit-go/sdk/node"
	"github.com/rustyonions/ron-audit-go/sdk/wal"
)

var nodeCrashRounds = flag.Int("node.crashrounds", 40, "rounds of TestNodeCrash (each kills a child running node.Open with SIGKILL)")
var nodeCrashSeed = flag.Uint64("node.crashseed", 0, "seed of TestNodeCrash's choices (0: from the clock)")

// nodeCrashAppenders is for soaks: above the 4 appending goroutines CI
// runs, each run of TestNodeCrash picks 4 or this many (a commit then
// holds up to one record of each), so the rounds CI runs, and their
// seeds, stay as they were.
var nodeCrashAppenders = flag.Int("node.crashappenders", 4, "most goroutines a child of TestNodeCrash appends (or emits) from; above 4, each run picks 4 or this many")

// The crash test of the node path: a child process opens the log with
// node.Open (its Keeper, export.Auto to a FileSink, its ticker), appends
// from several goroutines, directly or through an sdk.Emitter, prints each
// record once it is acknowledged (durable), and is killed with SIGKILL at
// a random moment, now and then while it closes the Node.

const nodeCrashWriter = "svc-node@inst-1"

// nodeCrashBatch is the children's WAL MaxBatch: the records a crash can
// leave on disk that the Keeper had not yet heard were durable.
const nodeCrashBatch = 8

// nodeCrashDepth is the Depth of the children's Emitters.
const nodeCrashDepth = 64

// nodeCrashSetup is what a run of children on the same directories share
// (the chains a child appends to and its signing policy change now and
// then across a crash, as a host's configuration may).
type nodeCrashSetup struct {
	dir, exports string
	every        int
	sealed       bool // SealEvery = every: the checkpoint-sealed policy (the next child's)
	streams      int  // the chains the next child appends to
	emitter      bool
	intervalMs   int  // the Keeper's Interval; -1: no time trigger, no ticker
	maxEvery     int  // the largest Every of the children since the last clean Close
	tails        bool // a checkpoint-sealed child ran since the last clean Close: it may have left unsealed tails
	smallSegs    bool // the WAL's least SegmentBytes: kills land in segment rotations
	rotate       int  // the next child calls RotateKey after this many acknowledgements (0: never)
	appenders    int  // the goroutines the child appends (or emits) from
}

func (s nodeCrashSetup) options() node.Options {
	o := node.Options{Every: int64(s.every), Interval: time.Duration(s.intervalMs) * time.Millisecond, ExportDir: s.exports,
		Durable: sdk.DurableOptions{WAL: wal.Options{Fsync: wal.FsyncBatch, MaxBatch: nodeCrashBatch}}}
	if s.intervalMs < 0 {
		o.Interval = -1
	}
	if s.smallSegs {
		o.Durable.WAL.SegmentBytes = wal.MinSegmentBytes
	}
	if s.sealed {
		o.SealEvery = s.every
	}
	return o
}

// inFlight bounds the records a crash can leave on disk that the Keeper
// had not yet heard were durable: a WAL batch and, with an Emitter, the
// records it holds (its Depth); without one, each appending goroutine's
// record is in a batch, so a batch holds at most one record of each
// (more than MaxBatch when more goroutines append than that).
func (s nodeCrashSetup) inFlight() int {
	if s.emitter {
		return nodeCrashBatch + nodeCrashDepth
	}
	return max(nodeCrashBatch, s.appenders)
}

func (s nodeCrashSetup) env() []string {
	return []string{"NODE_CRASH_DIR=" + s.dir, "NODE_CRASH_EXPORTS=" + s.exports,
		"NODE_CRASH_EVERY=" + strconv.Itoa(s.every), "NODE_CRASH_SEALED=" + strconv.FormatBool(s.sealed),
		"NODE_CRASH_STREAMS=" + strconv.Itoa(s.streams), "NODE_CRASH_EMITTER=" + strconv.FormatBool(s.emitter),
		"NODE_CRASH_INTERVAL=" + strconv.Itoa(s.intervalMs), "NODE_CRASH_SMALLSEGS=" + strconv.FormatBool(s.smallSegs),
		"NODE_CRASH_ROTATE=" + strconv.Itoa(s.rotate), "NODE_CRASH_APPENDERS=" + strconv.Itoa(s.appenders)}
}

func (s nodeCrashSetup) String() string {
	return fmt.Sprintf("every %d, sealed %v, %d chains, emitter %v, interval %dms, small segments %v, rotate after %d, %d appenders", s.every, s.sealed, s.streams, s.emitter, s.intervalMs, s.smallSegs, s.rotate, s.appenders)
}

// nodeCrashMaxKeys bounds the keys a run rotates through (a rotation per
// child at most).
const nodeCrashMaxKeys = 16

// nodeCrashKey is the i-th key of a run: the first is testSigner's, each
// later one the target of the i-th rotation.
func nodeCrashKey(t testing.TB, i int) *sdk.Ed25519Signer {
	t.Helper()
	if i == 0 {
		return testSigner(t)
	}
	seed := make([]byte, ed25519.SeedSize)
	copy(seed, fmt.Sprintf("node test key %d", i))
	s, err := sdk.NewEd25519Signer(ed25519.NewKeyFromSeed(seed))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// nodeKeyPlan is how a host opens a log whose keys may have rotated, as
// sdk/rotate.go says: it reads the log's key transitions offline, trusting
// the first key only (verifiers follow the transitions), and finds the
// newest key a transition names. A log whose every chain has its
// transition to that key is opened with it (cur is its index); otherwise
// the rotation to it was cut short, and the log is opened with the key
// before, which then finishes it: RotateKey(finish). keys are the keys
// the log is opened with: the first and the opening one's.
type nodeKeyPlan struct {
	open, finish *sdk.Ed25519Signer
	cur          int // the index of the key signing the log once the plan is done
	keys         *sdk.KeySet
}

func planNodeKeys(t testing.TB, dir string) (nodeKeyPlan, error) {
	t.Helper()
	first := nodeCrashKey(t, 0)
	plan := nodeKeyPlan{open: first, keys: sdk.NewKeySet(first.Public())}
	if segs, _ := filepath.Glob(filepath.Join(dir, "*.seg")); len(segs) == 0 {
		return plan, nil // a child killed before its log was created
	}
	sum, err := sdk.VerifyDir(dir, sdk.NewKeySet(first.Public()), true, nil)
	if err != nil {
		return plan, fmt.Errorf("reading the key transitions of %s: %w", dir, err)
	}
	index := map[sdk.KeyID]int{}
	keys := make([]*sdk.Ed25519Signer, nodeCrashMaxKeys)
	for i := range keys {
		keys[i] = nodeCrashKey(t, i)
		index[keys[i].KeyID()] = i
	}
	newest := 0
	for _, r := range sum.Retired {
		i, ok := index[sdk.KeyIDOf(r.Next)]
		if !ok {
			return plan, fmt.Errorf("%s: %s of %s moved to a key of no rotation (%s)", dir, r.Stream, r.WriterID, sdk.KeyIDOf(r.Next))
		}
		newest = max(newest, i)
	}
	if newest == 0 {
		return plan, nil
	}
	moved := 0
	for _, r := range sum.Retired {
		if r.KeyID == keys[newest-1].KeyID() && sdk.KeyIDOf(r.Next) == keys[newest].KeyID() {
			moved++
		}
	}
	plan.cur = newest
	if moved == len(sum.Heads) {
		plan.open = keys[newest]
	} else {
		plan.open, plan.finish = keys[newest-1], keys[newest]
	}
	plan.keys = sdk.NewKeySet(first.Public(), plan.open.Public())
	return plan, nil
}

// openNodeCrash opens the log in s.dir with node.Open as a host that
// rotates keys would: with the key planNodeKeys says, the first key's
// public key among the earlier ones, and a rotation cut short finished
// (its transitions, RotateKey's heads, are returned).
func openNodeCrash(t testing.TB, s nodeCrashSetup, opts node.Options) (*node.Node, sdk.Recovery, nodeKeyPlan, []sdk.Head, error) {
	t.Helper()
	plan, err := planNodeKeys(t, s.dir)
	if err != nil {
		return nil, sdk.Recovery{}, plan, nil, err
	}
	opts.Durable.Keys = plan.keys
	n, rec, err := node.Open(s.dir, plan.open, opts)
	if err != nil {
		return nil, rec, plan, nil, fmt.Errorf("node.Open with key %s: %w", plan.open.KeyID(), err)
	}
	if plan.finish == nil {
		return n, rec, plan, nil, nil
	}
	heads, err := n.Log().RotateKey(plan.finish)
	if err != nil {
		return n, rec, plan, nil, fmt.Errorf("finishing the rotation to %s: %w", plan.finish.KeyID(), err)
	}
	return n, rec, plan, heads, nil
}

func nodeCrashStream(i int) string { return "s" + strconv.Itoa(i) }

// nodeCrashStats count what the rounds went through.
type nodeCrashStats struct {
	rounds, runs, acked  int
	closing, closed      int // kills after Close began; of them, after it returned
	childOpens           int // children that opened a log a crash left as it was
	tails                int // chains found with an unsealed tail after a crash
	cpTemps, bundleTemps int // ".tmp-" files crashes left
	checkpoints, bundles int // checkpoints and bundles verified by the strict checks, summed
	reopenReplayed       int // records the parent's node.Open replayed, summed
	openKills            int // children killed at a random moment from their start
	segments             int // the most WAL segments a reopen found
	rotateRuns           int // runs whose children rotate keys
	rotating, rotations  int // rotations children began; of them, finished (RotateKey returned)
	closeIncomplete      int // Closes beside a rotation that returned ErrSealIncomplete (documented)
	cutShort             int // opens that found a rotation cut short and finished it
	nodeVerified         int // node.VerifyDir runs after a clean reopen and close
	temps                map[string]bool
}

// newTemps counts the paths not seen before.
func (st *nodeCrashStats) newTemps(paths []string) int {
	if st.temps == nil {
		st.temps = map[string]bool{}
	}
	n := 0
	for _, p := range paths {
		if !st.temps[p] {
			st.temps[p] = true
			n++
		}
	}
	return n
}

// TestNodeCrash: runs of children on the same directories, each child
// killed with SIGKILL after a random number of acknowledgements and a
// random delay (in some rounds once it has begun to Close the Node, and
// its Emitter before). After each kill the parent checks the directories
// as the crash left them, offline and with the public key only: every
// acknowledged record is at its seq with its hash; checkpoint.VerifyDir
// holds with no unused checkpoint (an unsealed tail only under the
// checkpoint-sealed policy, and within the Keeper's cadence); each chain's
// bundles verify as a sequence, end at a record of the log, and their last
// checkpoint is one the Keeper kept. Then, in most rounds (and always at
// the end of a run), it reopens with node.Open, which must succeed,
// finds every acknowledged record, closes, and checks strictly: nothing
// unsealed, and every chain's bundles reach its head and the newest kept
// checkpoint. Otherwise the next child opens the log the crash left.
// Between the children of a run the chains written, the signing policy
// and the Keeper's cadence change now and then, as a host's configuration
// may across a restart.
//
// Some runs (without an Emitter, which owns the log's appends) rotate
// keys: a child calls RotateKey to the run's next key after a random
// number of acknowledgements, and the kill may land during the rotation
// (some rounds kill a random moment after it began). Every opener, child
// or parent, opens with the key the log's transitions say, the first
// key's public key among the earlier ones, and finishes a rotation cut
// short as sdk/rotate.go says (openNodeCrash); no chain starts after a
// rotation. The parent's checks trust the first public key only
// (verifiers follow the transitions), and after each clean reopen and
// close node.VerifyDir with it must hold too.
func TestNodeCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	seed := *nodeCrashSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (-node.crashseed), %d rounds", seed, *nodeCrashRounds)
	rng := rand.New(rand.NewPCG(seed, 29))
	first := testSigner(t).Public()
	var st nodeCrashStats
	for st.rounds < *nodeCrashRounds {
		base := t.TempDir()
		s := nodeCrashSetup{dir: filepath.Join(base, "wal"), exports: filepath.Join(base, "exports"),
			every: 2 + rng.IntN(11), sealed: rng.IntN(2) == 0, streams: []int{1, 3}[rng.IntN(2)],
			emitter: rng.IntN(3) == 0, intervalMs: []int{-1, 0, 2, 20}[rng.IntN(4)], smallSegs: rng.IntN(2) == 0}
		if s.intervalMs == 0 {
			s.intervalMs = 1 + rng.IntN(50)
		}
		s.appenders = 4
		if *nodeCrashAppenders > 4 && rng.IntN(2) == 0 { // no draw at CI's 4: its seeds stay as they were
			s.appenders = *nodeCrashAppenders
		}
		// Some runs rotate keys: their children call RotateKey now and
		// then (never with an Emitter, which owns the log's appends), and
		// every check trusts the first key only.
		rotating := !s.emitter && rng.IntN(3) != 0
		if rotating {
			st.rotateRuns++
		}
		crashes := 1 + rng.IntN(4)
		st.runs++
		acked := map[string]string{}       // "stream seq" -> hash
		transitions := map[string]string{} // the heads RotateKey returned, by "stream seq"
		rotAcked := map[string]bool{}      // the acknowledgements of acked during a rotation, since the last clean Close
		var last checkpoint.DirSummary     // what the last check found
		raw := false                       // the directories are as a crash left them
		for c := 0; c < crashes && st.rounds < *nodeCrashRounds; c++ {
			round := st.rounds
			st.rounds++
			if c > 0 && rng.IntN(3) == 0 {
				s.streams = 1 + rng.IntN(3) // chains start (or go quiet) after a crash
				if len(last.Retired) > 0 {
					// No chain starts after a rotation: the first key
					// leads to the next only through a chain's transition.
					s.streams = min(s.streams, len(last.Heads))
				}
			}
			s.rotate = 0
			if rotating && rng.IntN(3) != 0 {
				s.rotate = 1 + rng.IntN(20)
			}
			if c > 0 && rng.IntN(5) == 0 {
				// The host changes its signing policy across a restart.
				s.sealed = !s.sealed
			}
			if c > 0 && rng.IntN(5) == 0 {
				s.every = 2 + rng.IntN(11) // and its Keeper's cadence
			}
			s.tails = s.tails || s.sealed
			s.maxEvery = max(s.maxEvery, s.every)
			closeAt := 0
			if rng.IntN(4) == 0 {
				closeAt = 1 + rng.IntN(40)
			}
			n := 1 + rng.IntN(60)
			stopAt := "" // the line after which the kill waits delay, whatever the acks
			if closeAt > 0 {
				stopAt = "closing"
			}
			delay := time.Duration(rng.IntN(4000)) * time.Microsecond
			switch {
			case closeAt > 0:
				delay = time.Duration(rng.IntN(20000)) * time.Microsecond
			case c > 0 && rng.IntN(6) == 0:
				// Killed while node.Open replays the log, checkpoints what is
				// due and starts the exports, or soon after.
				n = -1
				st.openKills++
				delay = time.Duration(rng.IntN(30000)) * time.Microsecond
			case s.rotate > 0 && rng.IntN(2) == 0:
				// Killed once the rotation began: now and then between
				// the chains' transitions.
				stopAt = "rotating"
				delay = time.Duration(rng.IntN(1500)) * time.Microsecond
			}
			what := fmt.Sprintf("round %d (run %d, crash %d of %d: %v; kill after %d acks + %v, close after %d)",
				round, st.runs, c+1, crashes, s, n, delay, closeAt)
			env := append(s.env(), "NODE_CRASH_CLOSE="+strconv.Itoa(closeAt), "NODE_CRASH_ID="+strconv.Itoa(round),
				"NODE_CRASH_SEED="+strconv.FormatUint(rng.Uint64(), 10))
			if raw {
				st.childOpens++
			}
			lines := runNodeCrashChild(t, exe, env, n, stopAt, delay, what, &st)
			inRotation := false
			for _, line := range lines {
				f := strings.Fields(line)
				switch {
				case line == "rotating":
					inRotation = true
				case len(f) == 4 && (f[0] == "a" || f[0] == "h"):
					m := acked
					if f[0] == "h" {
						m = transitions
					}
					key := f[1] + " " + f[2]
					if h, ok := m[key]; ok && h != f[3] {
						t.Fatalf("%s: %s acknowledged with hash %s, earlier with %s", what, key, f[3], h)
					}
					m[key] = f[3]
					if f[0] == "a" {
						st.acked++
						if inRotation {
							rotAcked[key] = true
						}
					}
				case len(f) == 2 && f[0] == "rotated":
					st.rotations++
				case len(f) == 2 && f[0] == "finished":
					st.cutShort++
				}
			}
			last = checkNodeCrashed(t, what, s, first, acked, rotAcked, &st)
			checkAcked(t, what+" (the transitions)", readNodeCrashLog(t, what, s.dir), transitions)
			raw = true
			if c == crashes-1 || rng.IntN(3) != 0 {
				reopenNodeCrash(t, what, s, first, acked, transitions, &st)
				raw, s.tails, s.maxEvery = false, false, 0
				clear(rotAcked)
			}
		}
		if raw {
			reopenNodeCrash(t, fmt.Sprintf("run %d, at its end", st.runs), s, first, acked, transitions, &st)
		}
	}
	if st.checkpoints == 0 || st.bundles == 0 || st.acked < st.rounds || st.nodeVerified == 0 {
		t.Fatalf("too little done: %+v", st)
	}
	t.Logf("%d rounds in %d runs: %d acknowledgements; %d kills during Close (%d after it returned), %d from the start; %d children opened a crashed log; %d unsealed tails, %d checkpoint and %d bundle temps left by kills; %d checkpoints, %d bundles verified after the runs (%d node.VerifyDir); up to %d WAL segments; %d runs rotating keys: %d rotations begun, %d done, %d cut short and finished, %d Closes beside one ErrSealIncomplete",
		st.rounds, st.runs, st.acked, st.closing, st.closed, st.openKills, st.childOpens, st.tails, st.cpTemps, st.bundleTemps, st.checkpoints, st.bundles, st.nodeVerified, st.segments,
		st.rotateRuns, st.rotating, st.rotations, st.cutShort, st.closeIncomplete)
}

// runNodeCrashChild starts a child and kills it once it has acknowledged
// n records and delay has passed after, or, with closing, delay after it
// said it began to Close (whichever comes first: it may close before n),
// or, with n < 0, delay after it started, however far it got; it returns
// the lines the child printed.
func runNodeCrashChild(t *testing.T, exe string, env []string, n int, stopAt string, delay time.Duration, what string, st *nodeCrashStats) []string {
	t.Helper()
	c := crashtest.Start(t, exe, env, "-test.run=^TestNodeCrashChild$")
	if n < 0 {
		time.Sleep(delay)
		return c.Kill(t, nil)
	}
	deadline := time.Now().Add(60 * time.Second)
	var err error
	for line := ""; err == nil && line != "ready"; {
		line, err = c.Line(time.Until(deadline))
	}
	var lines []string
	acks := 0
	stopped := false
	for err == nil && acks < n && !stopped {
		var line string
		if line, err = c.Line(time.Until(deadline)); err == nil {
			lines = append(lines, line)
			if strings.HasPrefix(line, "a ") {
				acks++
			}
			stopped = stopAt != "" && line == stopAt
		}
	}
	if err != nil {
		err = fmt.Errorf("%s: child printed %d lines (%d acks of %d): %w", what, len(lines), acks, n, err)
	} else {
		time.Sleep(delay)
	}
	lines = append(lines, c.Kill(t, err)...)
	for _, l := range lines {
		switch l {
		case "closing":
			st.closing++
		case "closed":
			st.closed++
		case "rotating":
			st.rotating++
		case "close incomplete":
			st.closeIncomplete++
		}
	}
	return lines
}

// readNodeCrashLog reads the log in dir: each record's hash by "stream
// seq".
func readNodeCrashLog(t *testing.T, what, dir string) map[string]canonical.Hash {
	t.Helper()
	found := map[string]canonical.Hash{}
	if _, err := sdk.ReadDir(dir, func(rec sdk.Sealed, _ wal.Position) error {
		v, err := canonical.Open(rec.Bytes)
		if err != nil {
			return err
		}
		found[string(v.Stream())+" "+strconv.FormatUint(v.Seq(), 10)] = rec.Hash
		return nil
	}); err != nil {
		t.Fatalf("%s: reading the log: %v", what, err)
	}
	return found
}

// checkAcked fails t unless every acknowledged record is in found, at its
// seq, with its hash.
func checkAcked(t *testing.T, what string, found map[string]canonical.Hash, acked map[string]string) {
	t.Helper()
	var missing []string
	for k, h := range acked {
		if got, ok := found[k]; !ok || hex.EncodeToString(got[:]) != h {
			missing = append(missing, k)
		}
	}
	slices.Sort(missing)
	if len(missing) > 0 {
		t.Fatalf("%s: %d acknowledged records lost or changed, e.g. %v", what, len(missing), missing[:min(5, len(missing))])
	}
}

// checkNodeCrashed checks the directories as the crash left them, without
// writing to them: the acknowledged records, the log and its kept
// checkpoints (an unsealed tail only under the checkpoint-sealed policy,
// within the Keeper's cadence and a WAL batch), and each chain's bundles.
//
// The Keeper's cadence bounds the tail by what was acknowledged but for
// the records acknowledged once a rotation began (rotAcked): RotateKey
// hands the Keeper the new key only once every chain has its transition
// (sdk/rotate.go), and until then the Keeper checkpoints no chain past
// its transition, while the chains that have theirs take records; a
// crash then leaves them unsealed, whatever the cadence, until a Keeper
// holding the new key checkpoints the chain again.
func checkNodeCrashed(t *testing.T, what string, s nodeCrashSetup, pub ed25519.PublicKey, acked map[string]string, rotAcked map[string]bool, st *nodeCrashStats) checkpoint.DirSummary {
	t.Helper()
	found := readNodeCrashLog(t, what, s.dir)
	checkAcked(t, what, found, acked)
	sum, err := checkpoint.VerifyDir(s.dir, []ed25519.PublicKey{pub}, checkpoint.DirOptions{AllowUnsealedTail: true})
	if err != nil {
		t.Fatalf("%s: checkpoint.VerifyDir as the crash left it: %v", what, err)
	}
	if len(sum.Unused) > 0 {
		t.Fatalf("%s: kept checkpoints signed by no known key: %v", what, sum.Unused)
	}
	maxAcked := map[string]uint64{}
	inRotation := map[string]bool{} // chains with records acknowledged during a rotation
	for k := range acked {
		f := strings.Fields(k)
		if rotAcked[k] {
			inRotation[f[0]] = true
			continue
		}
		seq, _ := strconv.ParseUint(f[1], 10, 64)
		maxAcked[f[0]] = max(maxAcked[f[0]], seq)
	}
	for _, h := range sum.Heads {
		tail := int(h.Seq - h.SealedSeq)
		switch {
		case tail == 0:
		case !s.tails:
			t.Fatalf("%s: %s has an unsealed tail from seq %d to %d, and no checkpoint-sealed child ran since the last clean Close", what, h.Stream, h.SealedSeq+1, h.Seq)
		case maxAcked[h.Stream] >= h.SealedSeq+uint64(s.maxEvery):
			// The Keeper heard each record was durable (Pending.Wait
			// tells it) before it was acknowledged, and checkpoints every
			// Every records, synchronously: an acknowledged record is at
			// most Every-1 past the newest checkpoint.
			t.Fatalf("%s: %s is sealed up to seq %d, and seq %d was acknowledged: more than the Keeper's cadence %d allows",
				what, h.Stream, h.SealedSeq, maxAcked[h.Stream], s.maxEvery)
		case tail > s.maxEvery+s.inFlight() && !inRotation[h.Stream]:
			t.Fatalf("%s: %s has an unsealed tail of %d records (seq %d to %d), more than the Keeper's cadence %d and the records in flight (%d) allow",
				what, h.Stream, tail, h.SealedSeq+1, h.Seq, s.maxEvery, s.inFlight())
		default:
			st.tails++
		}
		cps, _ := filepath.Glob(filepath.Join(s.dir, "checkpoints", "*", h.Stream, ".tmp-*"))
		st.cpTemps += st.newTemps(cps)
		checkNodeBundles(t, what, s, pub, learnedKeys(sum), h, found, false, st)
	}
	return sum
}

// learnedKeys are the keys the log's verified transitions name: a
// verifier trusting the first key trusts them where the transitions say.
func learnedKeys(sum checkpoint.DirSummary) []ed25519.PublicKey {
	var pubs []ed25519.PublicKey
	for _, r := range sum.Retired {
		pubs = append(pubs, r.Next)
	}
	return pubs
}

// checkNodeBundles checks the bundles of chain h: they verify as a
// sequence with the public key only, end at a record of the log, and the
// last one's checkpoint is one the Keeper kept; closed (after a clean
// Close): they reach the chain's head, and verify against its newest kept
// checkpoint as the trusted one.
func checkNodeBundles(t *testing.T, what string, s nodeCrashSetup, pub ed25519.PublicKey, learned []ed25519.PublicKey, h sdk.Head, found map[string]canonical.Hash, closed bool, st *nodeCrashStats) {
	t.Helper()
	sink := &export.FileSink{Dir: s.exports}
	paths, err := sink.Bundles(checkpoint.Origin(h.WriterID, h.Stream))
	if err != nil {
		t.Fatalf("%s: the bundles of %s: %v", what, h.Stream, err)
	}
	if len(paths) > 0 {
		temps, _ := filepath.Glob(filepath.Join(filepath.Dir(paths[0]), ".tmp-*"))
		st.bundleTemps += st.newTemps(temps)
	}
	if len(paths) == 0 {
		if closed && h.Seq > 0 {
			t.Fatalf("%s: after a clean Close %s has %d records and no bundle", what, h.Stream, h.Seq)
		}
		return
	}
	notes, err := checkpoint.LoadHistory(filepath.Join(s.dir, "checkpoints"), h.WriterID, h.Stream)
	if err != nil {
		t.Fatalf("%s: the kept checkpoints of %s: %v", what, h.Stream, err)
	}
	kept := map[int64]checkpoint.Checkpoint{}
	var newest checkpoint.Checkpoint
	for i, b := range notes {
		cp, err := checkpoint.Open(b, checkpoint.KeyVerifiers(append([]ed25519.PublicKey{pub}, learned...)...))
		if err != nil {
			t.Fatalf("%s: kept checkpoint %d of %s: %v", what, i, h.Stream, err)
		}
		kept[cp.Size] = cp
		if cp.Size > newest.Size {
			newest = cp
		}
	}
	dir := filepath.Dir(paths[0])
	seq, err := export.VerifyDir(dir, export.KeyVerifiers(pub), sdk.NewKeySet(pub), nil)
	if err != nil {
		t.Fatalf("%s: the bundles of %s with the public key: %v", what, h.Stream, err)
	}
	if uint64(seq.Records) > h.Seq {
		t.Fatalf("%s: the bundles of %s hold %d records, the log %d", what, h.Stream, seq.Records, h.Seq)
	}
	if got := found[h.Stream+" "+strconv.FormatInt(seq.Records, 10)]; got != seq.Head.Hash {
		t.Fatalf("%s: the last bundle of %s ends at seq %d with hash %s, the log has %s there", what, h.Stream, seq.Records, seq.Head.Hash, got)
	}
	if cp, ok := kept[seq.Checkpoint.Size]; !ok || cp.Root != seq.Checkpoint.Root {
		t.Fatalf("%s: the last bundle of %s is under a checkpoint of size %d the Keeper did not keep (%v)", what, h.Stream, seq.Checkpoint.Size, ok)
	}
	if !closed {
		return
	}
	if uint64(seq.Records) != h.Seq || newest.Size != int64(h.Seq) {
		t.Fatalf("%s: after a clean Close %s has %d records, its bundles end at %d, its newest checkpoint at %d", what, h.Stream, h.Seq, seq.Records, newest.Size)
	}
	if _, err := export.VerifyDir(dir, export.KeyVerifiers(pub), sdk.NewKeySet(pub), &newest); err != nil {
		t.Fatalf("%s: the bundles of %s against the newest kept checkpoint: %v", what, h.Stream, err)
	}
	st.bundles += len(paths)
}

// reopenNodeCrash opens the log with node.Open as the next host would
// (a crash is never a reason to refuse it), with the key the log's
// transitions say and a rotation cut short finished (openNodeCrash),
// finds every acknowledged record, closes it cleanly, and checks
// strictly, trusting the first key only: every chain sealed and
// checkpointed to its head, its bundles up to it, and node.VerifyDir
// holds.
func reopenNodeCrash(t *testing.T, what string, s nodeCrashSetup, pub ed25519.PublicKey, acked, transitions map[string]string, st *nodeCrashStats) {
	t.Helper()
	n, rec, plan, heads, err := openNodeCrash(t, s, s.options())
	if err != nil {
		t.Fatalf("%s: reopening after the crash: %v", what, err)
	}
	if plan.finish != nil {
		st.cutShort++
	}
	for _, h := range heads {
		transitions[h.Stream+" "+strconv.FormatUint(h.Seq, 10)] = hex.EncodeToString(h.Hash[:])
	}
	st.reopenReplayed += int(rec.Records)
	st.segments = max(st.segments, rec.WAL.Segments)
	for k := range acked {
		f := strings.Fields(k)
		seq, _ := strconv.ParseUint(f[1], 10, 64)
		if h, ok := n.Log().Head(nodeCrashWriter, f[0]); !ok || h.Seq < seq {
			t.Fatalf("%s: reopened, %s is at %d (%v), record %d was acknowledged", what, f[0], h.Seq, ok, seq)
		}
	}
	if err := n.Close(); err != nil {
		t.Fatalf("%s: closing the reopened Node: %v", what, err)
	}
	what += ", reopened and closed"
	found := readNodeCrashLog(t, what, s.dir)
	checkAcked(t, what, found, acked)
	checkAcked(t, what+" (the transitions)", found, transitions)
	sum, err := checkpoint.VerifyDir(s.dir, []ed25519.PublicKey{pub}, checkpoint.DirOptions{})
	if err != nil {
		t.Fatalf("%s: checkpoint.VerifyDir with the first key: %v", what, err)
	}
	if len(sum.Unused) > 0 {
		t.Fatalf("%s: kept checkpoints signed by no key the first one leads to: %v", what, sum.Unused)
	}
	st.checkpoints += sum.Used
	for _, h := range sum.Heads {
		checkNodeBundles(t, what, s, pub, learnedKeys(sum), h, found, true, st)
	}
	// The one-call offline audit agrees.
	nsum, err := node.VerifyDir(s.dir, s.exports, []ed25519.PublicKey{pub}, checkpoint.DirOptions{})
	if err != nil {
		t.Fatalf("%s: node.VerifyDir with the first key: %v", what, err)
	}
	if len(nsum.Unused) > 0 || len(nsum.Exports) != len(sum.Heads) || nsum.Records != sum.Records {
		t.Fatalf("%s: node.VerifyDir found %d records, %d chains exported, unused %v; checkpoint.VerifyDir %d records, %d chains",
			what, nsum.Records, len(nsum.Exports), nsum.Unused, sum.Records, len(sum.Heads))
	}
	for i, ce := range nsum.Exports {
		if h := sum.Heads[i]; ce.Stream != h.Stream || uint64(ce.Records) != h.Seq || ce.Checkpoint != int64(h.Seq) {
			t.Fatalf("%s: node.VerifyDir: %s's bundles hold %d records under a checkpoint of size %d; the log has %d in %s", what, ce.Stream, ce.Records, ce.Checkpoint, h.Seq, h.Stream)
		}
	}
	st.nodeVerified++
}

// TestNodeCrashChild is the child of TestNodeCrash: it opens the Node,
// appends until killed (or, with NODE_CRASH_CLOSE, closes it after that
// many acknowledgements and waits to be killed), printing "ready", each
// acknowledged record ("a stream seq hash"), "closing" and "closed".
func TestNodeCrashChild(t *testing.T) {
	dir := os.Getenv("NODE_CRASH_DIR")
	if dir == "" {
		t.Skip("child of TestNodeCrash")
	}
	die := func(code int, err error) {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(code)
	}
	atoi := func(name string) int {
		v, err := strconv.Atoi(os.Getenv(name))
		if err != nil {
			die(2, fmt.Errorf("%s: %w", name, err))
		}
		return v
	}
	s := nodeCrashSetup{dir: dir, exports: os.Getenv("NODE_CRASH_EXPORTS"), every: atoi("NODE_CRASH_EVERY"),
		sealed: os.Getenv("NODE_CRASH_SEALED") == "true", streams: atoi("NODE_CRASH_STREAMS"),
		emitter: os.Getenv("NODE_CRASH_EMITTER") == "true", intervalMs: atoi("NODE_CRASH_INTERVAL"),
		smallSegs: os.Getenv("NODE_CRASH_SMALLSEGS") == "true", rotate: atoi("NODE_CRASH_ROTATE"), appenders: atoi("NODE_CRASH_APPENDERS")}
	closeAt, id := atoi("NODE_CRASH_CLOSE"), atoi("NODE_CRASH_ID")
	seed, _ := strconv.ParseUint(os.Getenv("NODE_CRASH_SEED"), 10, 64)

	var mu sync.Mutex
	w := bufio.NewWriter(os.Stdout)
	say := func(format string, args ...any) {
		mu.Lock()
		fmt.Fprintf(w, format+"\n", args...)
		w.Flush()
		mu.Unlock()
	}
	// The metrics hooks, as a host wires them: the Keeper's, the
	// exporter's and the WAL's fsyncs count into them.
	m, err := metrics.New(prometheus.NewRegistry())
	if err != nil {
		die(3, err)
	}
	opts := s.options()
	opts.Metrics = m
	// With the key the log's transitions say, finishing a rotation a
	// crash cut short before anything appends (the chains that made
	// their transition take no record until then).
	n, _, plan, heads, err := openNodeCrash(t, s, opts)
	if err != nil {
		die(3, err)
	}
	if plan.finish != nil {
		say("finished %s", plan.finish.KeyID())
	}
	// "h": a head RotateKey returned (a transition, or the head of a
	// chain that had its transition): durable once it returns.
	for _, h := range heads {
		say("h %s %d %s", h.Stream, h.Seq, hex.EncodeToString(h.Hash[:]))
	}
	var (
		closing  atomic.Bool
		rotating atomic.Bool // a rotation began
		acks     atomic.Int64
		once     sync.Once
		em       *sdk.Emitter
	)
	closeAll := func() {
		say("closing")
		closing.Store(true)
		if em != nil {
			if err := em.Close(context.Background()); err != nil {
				die(4, fmt.Errorf("closing the Emitter: %w", err))
			}
		}
		if err := n.Close(); err != nil {
			if errors.Is(err, sdk.ErrSealIncomplete) && rotating.Load() && !errors.Is(err, node.ErrCheckpoint) && !errors.Is(err, node.ErrExport) {
				// As documented (Log.Close): a Close beside a rotation
				// whose FollowKey is under way cannot seal the records
				// past a chain's transition; they are durable, and the
				// Keeper seals them once it has the key.
				say("close incomplete")
				return
			}
			die(4, fmt.Errorf("closing the Node: %w", err))
		}
		say("closed")
	}
	rotate := make(chan struct{})
	ack := func(stream string, seq uint64, hash canonical.Hash) {
		say("a %s %d %s", stream, seq, hex.EncodeToString(hash[:]))
		a := acks.Add(1)
		if a == int64(closeAt) {
			once.Do(func() { go closeAll() })
		}
		if a == int64(s.rotate) {
			close(rotate)
		}
	}
	if s.rotate > 0 {
		go func() {
			<-rotate
			// Every chain this child writes has a record first: a chain
			// started after the rotation would be signed by a key the
			// first one leads to only through other chains' transitions.
			for i := 0; i < s.streams; i++ {
				for _, ok := n.Log().Head(nodeCrashWriter, nodeCrashStream(i)); !ok; _, ok = n.Log().Head(nodeCrashWriter, nodeCrashStream(i)) {
					time.Sleep(time.Millisecond)
				}
			}
			next := nodeCrashKey(t, plan.cur+1)
			rotating.Store(true)
			say("rotating")
			heads, err := n.Log().RotateKey(next)
			if err != nil {
				if closing.Load() {
					return
				}
				die(8, fmt.Errorf("rotating to %s: %w", next.KeyID(), err))
			}
			for _, h := range heads {
				say("h %s %d %s", h.Stream, h.Seq, hex.EncodeToString(h.Hash[:]))
			}
			if err := n.Err(); err != nil {
				die(7, err)
			}
			say("rotated %s", next.KeyID())
		}()
	}
	if s.emitter {
		em, err = sdk.NewEmitter(n.Log(), sdk.EmitterOptions{Depth: nodeCrashDepth, Workers: 2, Metrics: m,
			OnDurable: func(a sdk.EmitAck) { ack(a.Stream, a.Seq, a.Hash) },
			OnDrop: func(_, _ string, reason string, err error) {
				if !closing.Load() {
					die(5, fmt.Errorf("the Emitter dropped a record (%s): %w", reason, err))
				}
			}})
		if err != nil {
			die(3, err)
		}
	}
	say("ready")
	for g := 0; g < s.appenders; g++ {
		go func(g int) {
			rng := rand.New(rand.NewPCG(seed, uint64(g)))
			for i := 0; ; i++ {
				rec := &canonical.AuditRecord{Kind: canonical.KindIndexWrite, TsMs: uint64(time.Now().UnixMilli()),
					WriterID: nodeCrashWriter, Stream: nodeCrashStream(rng.IntN(s.streams)), Reason: "written",
					Attrs: []canonical.Attr{{Key: "n", Value: fmt.Sprintf("%d-%d-%d", id, g, i)}}}
				if em != nil {
					if err := em.Emit(context.Background(), rec); err != nil {
						if closing.Load() {
							return
						}
						die(6, fmt.Errorf("Emit: %w", err))
					}
					continue
				}
				a, err := n.Log().Append(rec)
				if err != nil {
					if closing.Load() {
						return
					}
					die(6, fmt.Errorf("Append: %w", err))
				}
				if err := n.Err(); err != nil {
					die(7, err)
				}
				ack(rec.Stream, a.Seq, a.Record.Hash)
			}
		}(g)
	}
	select {} // until killed
}
