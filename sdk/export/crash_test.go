package export

import (
	"bufio"
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
	"testing"
	"time"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/internal/crashtest"
	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/checkpoint"
	"github.com/rustyonions/ron-audit-go/sdk/wal"
)

var crashAllRounds = flag.Int("export.crashrounds", 6, "rounds of TestCrashAll (each kills a Macronode child with SIGKILL)")
var crashAllSeed = flag.Uint64("export.crashseed", 0, "seed of TestCrashAll's choices (0: from the clock)")

// The crash test of the whole Macronode stack: a durable log, a Keeper
// (the checkpoint-sealed policy's Sealer, or the Observer of a log whose
// every record is signed), export.Auto writing bundles to a FileSink, and
// now and then a key rotation, all live in a child process that the
// parent kills with SIGKILL at random moments.

const crashWriter = "svc-crash@inst-1"

var crashStreams = []string{"s0", "s1", "s2"}

// crashDirs are the directories the parent and its children share: the
// log (its checkpoints in wal/checkpoints, as ronaudit append keeps
// them), the bundles, and the keys (key-000.key first; a child that
// rotates writes the next key file before it calls RotateKey).
type crashDirs struct{ wal, bundles, keys string }

func (d crashDirs) env() []string {
	return []string{"EXPORT_CRASH_WAL=" + d.wal, "EXPORT_CRASH_BUNDLES=" + d.bundles, "EXPORT_CRASH_KEYS=" + d.keys}
}

// crashKeys loads the key files of dir, in the order they were made.
func crashKeys(dir string) ([]*sdk.Ed25519Signer, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "key-*.key"))
	if err != nil {
		return nil, err
	}
	slices.Sort(paths)
	var out []*sdk.Ed25519Signer
	for i, p := range paths {
		if want := filepath.Join(dir, fmt.Sprintf("key-%03d.key", i)); p != want {
			return nil, fmt.Errorf("key files: %s where %s was expected", p, want)
		}
		s, err := sdk.LoadSigner(p)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no key file in %s", dir)
	}
	return out, nil
}

// crashKeyPlan says which key opens the log in dir, given the key files
// (the last one may be the target of a rotation a crash cut short, or
// never begun), and which key a RotateKey must then move it to (nil when
// none): a log whose every chain has its transition to the newest key is
// opened with it; otherwise with the key before, and RotateKey to the
// newest finishes the rotation (sdk/rotate.go).
func crashKeyPlan(dir string, keys []*sdk.Ed25519Signer) (open, finish *sdk.Ed25519Signer, err error) {
	n := len(keys) - 1
	if n == 0 {
		return keys[0], nil, nil
	}
	pubs := make([]ed25519.PublicKey, len(keys))
	for i, k := range keys {
		pubs[i] = k.Public()
	}
	sum, err := sdk.VerifyDir(dir, sdk.NewKeySet(pubs...), true, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("reading the log's rotations: %w", err)
	}
	moved := 0
	for _, r := range sum.Retired {
		if r.KeyID == keys[n-1].KeyID() && sdk.KeyIDOf(r.Next) == keys[n].KeyID() {
			moved++
		}
	}
	if len(sum.Heads) > 0 && moved == len(sum.Heads) {
		return keys[n], nil, nil
	}
	return keys[n-1], keys[n], nil
}

// crashStack is the Macronode stack on the shared directories, wired as
// ronaudit append wires it: the Auto first (its Checkpointed is the
// Keeper's OnCheckpoint), the Keeper, the log with the Keeper as
// Observer, then the Auto's Log and Keeper, and Start.
type crashStack struct {
	log    *sdk.Log
	keeper *checkpoint.Keeper
	auto   *Auto
	rec    sdk.Recovery
	finish *sdk.Ed25519Signer
}

func openCrashStack(d crashDirs, every int, sealed bool) (*crashStack, error) {
	keys, err := crashKeys(d.keys)
	if err != nil {
		return nil, err
	}
	open, finish, err := crashKeyPlan(d.wal, keys)
	if err != nil {
		return nil, err
	}
	sink := &FileSink{Dir: d.bundles}
	auto := &Auto{Exporter: &Exporter{Sink: sink}, Prev: sink.Prev}
	keeper, err := checkpoint.NewKeeper(filepath.Join(d.wal, "checkpoints"), open,
		checkpoint.KeeperOptions{Every: int64(every), Interval: -1, OnCheckpoint: auto.Checkpointed})
	if err != nil {
		return nil, err
	}
	cfg := sdk.Config{Signer: open, Observer: keeper}
	if sealed {
		cfg.SealEvery = every
	}
	l, rec, err := sdk.OpenDurable(d.wal, cfg, sdk.DurableOptions{
		WAL:  wal.Options{Fsync: wal.FsyncBatch, MaxBatch: 8},
		Keys: sdk.NewKeySet(keys[0].Public(), open.Public())})
	if err != nil {
		return nil, fmt.Errorf("opening the log with key %s: %w", open.KeyID(), err)
	}
	auto.Log, auto.Keeper = l, keeper
	auto.Start()
	return &crashStack{log: l, keeper: keeper, auto: auto, rec: rec, finish: finish}, nil
}

// close shuts the stack down cleanly: the Log, the Keeper, the Auto.
func (s *crashStack) close() error {
	return errors.Join(s.log.Close(), s.keeper.Close(), s.auto.Close())
}

// TestCrashAll: a child process runs the whole Macronode stack (OpenDurable,
// a Keeper, export.Auto to a FileSink, an occasional RotateKey) from several
// goroutines and prints each record once it is acknowledged; the parent
// kills it with SIGKILL after a random number of acknowledgements and a
// random delay of microseconds (so kills land in checkpoint and bundle
// writes and in rotations), and checks, before the next child starts on the
// same directories: every acknowledged record is at its seq with its hash;
// checkpoint.VerifyDir passes with only the first public key, an unsealed
// tail only on chains a checkpoint-sealed child wrote last, and no longer
// than its Keeper's cadence allows; every chain's bundles verify as a
// sequence with only the first key and are a prefix of the log; and the log
// reopens with the right key (a rotation cut short is finished). Now and
// then, and at the end, the parent runs the stack itself and closes it
// cleanly: then nothing is unsealed and the bundles reach every head.
func TestCrashAll(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	base := t.TempDir()
	d := crashDirs{wal: filepath.Join(base, "wal"), bundles: filepath.Join(base, "bundles"), keys: filepath.Join(base, "keys")}
	if err := os.Mkdir(d.keys, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := sdk.GenerateKeyFiles(d.keys, "key-000"); err != nil {
		t.Fatal(err)
	}
	first, err := sdk.LoadSigner(filepath.Join(d.keys, "key-000.key"))
	if err != nil {
		t.Fatal(err)
	}
	seed := *crashAllSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (-export.crashseed), %d rounds", seed, *crashAllRounds)
	rng := rand.New(rand.NewPCG(seed, 17))
	acked := map[string]string{} // "stream seq" -> hash
	tailMax := map[string]int{}  // stream -> the longest unsealed tail its writers may have left
	var st crashStats
	for round := 0; round < *crashAllRounds; round++ {
		every := 2 + rng.IntN(11)
		sealed := rng.IntN(2) == 0
		rotateAt := -1
		if rng.IntN(3) == 0 {
			rotateAt = 1 + rng.IntN(40)
		}
		n := 1 + rng.IntN(60)
		delay := time.Duration(rng.IntN(4000)) * time.Microsecond
		env := append(d.env(), "EXPORT_CRASH_EVERY="+strconv.Itoa(every), "EXPORT_CRASH_SEALED="+strconv.FormatBool(sealed),
			"EXPORT_CRASH_ROTATE="+strconv.Itoa(rotateAt), "EXPORT_CRASH_SEED="+strconv.FormatUint(rng.Uint64(), 10))
		lines := runCrashAllChild(t, exe, env, n, delay)
		wrote := map[string]bool{}
		for _, line := range lines {
			f := strings.Fields(line)
			switch {
			case len(f) == 4 && (f[0] == "a" || f[0] == "h"):
				key := f[1] + " " + f[2]
				if h, ok := acked[key]; ok && h != f[3] {
					t.Fatalf("round %d: %s acknowledged with hash %s, earlier with %s", round, key, f[3], h)
				}
				acked[key] = f[3]
				if f[0] == "a" { // appended by this child (a head RotateKey returned may be older)
					wrote[f[1]] = true
				}
				st.acked++
			case len(f) == 2 && f[0] == "rotated":
				st.rotations++
			}
		}
		for _, s := range crashStreams {
			if sealed {
				// The Keeper's cadence, and records on disk it had not yet
				// heard were durable (it may have written records it did
				// not acknowledge, to any chain).
				tailMax[s] = max(tailMax[s], every+8)
			} else if wrote[s] {
				tailMax[s] = 0 // every record it wrote is signed
			}
		}
		checkCrashAll(t, fmt.Sprintf("round %d (every %d, sealed %v, rotate at %d, kill after %d acks + %v)", round, every, sealed, rotateAt, n, delay),
			d, first, acked, tailMax, false, &st)
		clean := rng.IntN(4) == 0 || round == *crashAllRounds-1
		reopenCrashAll(t, round, d, clean, &st)
		if clean {
			clear(tailMax)
			checkCrashAll(t, fmt.Sprintf("round %d, after a clean run", round), d, first, acked, tailMax, true, &st)
		}
	}
	if st.checkpoints == 0 || st.bundles == 0 {
		t.Fatalf("no checkpoint or no bundle written: %+v", st)
	}
	if len(acked) < *crashAllRounds {
		t.Fatalf("only %d records acknowledged in %d rounds", len(acked), *crashAllRounds)
	}
	t.Logf("%d rounds: %d acknowledgements, %d rotations (%d cut short, %d finished by the parent), %d unsealed tails, %d checkpoints and %d bundles cut mid-write; at the end %d checkpoints, %d bundles",
		*crashAllRounds, st.acked, st.rotations, st.cutShort, st.finished, st.tails, st.cpTemps, st.bundleTemps, st.checkpoints, st.bundles)
}

// crashStats count what the rounds went through.
type crashStats struct {
	acked, rotations, finished   int // acknowledgements, rotations done by children, cut short and finished by the parent
	cutShort                     int // kills that left a rotation cut short
	tails                        int // kills that left a chain with an unsealed tail
	cpTemps, bundleTemps         int // checkpoints and bundles a kill left half written (".tmp-" files)
	temps                        map[string]bool
	checkpoints, bundles, unused int // at the last check
}

// runCrashAllChild starts a child, kills it once it has acknowledged n
// records and delay has passed after, and returns what it acknowledged.
func runCrashAllChild(t *testing.T, exe string, env []string, n int, delay time.Duration) []string {
	t.Helper()
	c := crashtest.Start(t, exe, env, "-test.run=^TestCrashAllChild$")
	deadline := time.Now().Add(60 * time.Second)
	var err error
	for line := ""; err == nil && line != "ready"; {
		line, err = c.Line(time.Until(deadline))
	}
	var lines []string
	for err == nil && len(lines) < n {
		var line string
		if line, err = c.Line(time.Until(deadline)); err == nil {
			lines = append(lines, line)
		}
	}
	if err != nil {
		err = fmt.Errorf("child printed %d of %d lines: %w", len(lines), n, err)
	} else {
		time.Sleep(delay)
	}
	return append(lines, c.Kill(t, err)...)
}

// checkCrashAll checks the directories as a crash (or a clean run) left
// them, without writing to them.
func checkCrashAll(t *testing.T, what string, d crashDirs, first *sdk.Ed25519Signer, acked map[string]string, tailMax map[string]int, closed bool, st *crashStats) {
	t.Helper()
	// Every acknowledged record is in the log, at its seq, with its hash.
	found := map[string]canonical.Hash{}
	if _, err := sdk.ReadDir(d.wal, func(rec sdk.Sealed, _ wal.Position) error {
		v, err := canonical.Open(rec.Bytes)
		if err != nil {
			return err
		}
		found[string(v.Stream())+" "+strconv.FormatUint(v.Seq(), 10)] = rec.Hash
		return nil
	}); err != nil {
		t.Fatalf("%s: reading the log: %v", what, err)
	}
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
	// The log and its kept checkpoints verify offline with the first key,
	// following the rotations; a chain's unsealed tail only where a
	// checkpoint-sealed child was killed, and within its cadence.
	pub0 := first.Public()
	sum, err := checkpoint.VerifyDir(d.wal, []ed25519.PublicKey{pub0}, checkpoint.DirOptions{AllowUnsealedTail: true})
	if err != nil {
		t.Fatalf("%s: checkpoint.VerifyDir with the first key: %v", what, err)
	}
	if len(sum.Unused) > 0 {
		t.Fatalf("%s: kept checkpoints signed by no key the first one leads to: %v", what, sum.Unused)
	}
	heads := map[string]sdk.Head{}
	for _, h := range sum.Heads {
		heads[h.Stream] = h
		tail := int(h.Seq - h.SealedSeq)
		switch {
		case tail == 0:
		case tailMax[h.Stream] == 0:
			t.Fatalf("%s: %s has an unsealed tail from seq %d to %d, and no checkpoint-sealed child wrote it last", what, h.Stream, h.SealedSeq+1, h.Seq)
		case tail > tailMax[h.Stream]:
			t.Fatalf("%s: %s has an unsealed tail of %d records (seq %d to %d), more than the %d its Keepers' cadence allows", what, h.Stream, tail, h.SealedSeq+1, h.Seq, tailMax[h.Stream])
		default:
			st.tails++
		}
	}
	sealedAll := true
	for _, n := range tailMax {
		sealedAll = sealedAll && n == 0
	}
	if sealedAll {
		if _, err := checkpoint.VerifyDir(d.wal, []ed25519.PublicKey{pub0}, checkpoint.DirOptions{}); err != nil {
			t.Fatalf("%s: checkpoint.VerifyDir: %v", what, err)
		}
	}
	st.checkpoints, st.unused = sum.Used, len(sum.Unused)
	// Each chain's bundles verify as a sequence with the first key, and
	// are a prefix of the log.
	st.bundles = 0
	for _, s := range crashStreams {
		dir := filepath.Join(d.bundles, chainDir(checkpoint.Origin(crashWriter, s)))
		paths, err := ListDir(dir)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if st.temps == nil {
			st.temps = map[string]bool{}
		}
		for _, count := range []struct {
			n    *int
			glob string
		}{{&st.bundleTemps, filepath.Join(dir, ".tmp-*")}, {&st.cpTemps, filepath.Join(d.wal, "checkpoints", "*", s, ".tmp-*")}} {
			temps, _ := filepath.Glob(count.glob)
			for _, p := range temps {
				if !st.temps[p] {
					st.temps[p] = true
					*count.n++
				}
			}
		}
		if len(paths) == 0 {
			if closed && heads[s].Seq > 0 {
				t.Fatalf("%s: after a clean run %s has no bundle, and %d records", what, s, heads[s].Seq)
			}
			continue
		}
		st.bundles += len(paths)
		seq, err := VerifyDir(dir, KeyVerifiers(pub0), sdk.NewKeySet(pub0), nil)
		if err != nil {
			t.Fatalf("%s: the bundles of %s with the first key: %v", what, s, err)
		}
		h := heads[s]
		if uint64(seq.Records) > h.Seq {
			t.Fatalf("%s: the bundles of %s hold %d records, the log %d", what, s, seq.Records, h.Seq)
		}
		if got := found[s+" "+strconv.FormatInt(seq.Records, 10)]; got != seq.Head.Hash {
			t.Fatalf("%s: the last bundle of %s ends at seq %d with hash %s, the log has %s there", what, s, seq.Records, seq.Head.Hash, got)
		}
		if closed && uint64(seq.Records) != h.Seq {
			t.Fatalf("%s: after a clean run the bundles of %s end at seq %d, the log at %d", what, s, seq.Records, h.Seq)
		}
	}
}

// reopenCrashAll opens the log as the next writer would, with the right
// key. clean: the whole stack, finishing a rotation cut short, closed
// cleanly (every chain checkpointed, sealed and exported to its head);
// else only the log and a Keeper (which refuses a log that lost what it
// vouched for), closed without sealing anything, so the next child meets
// the crash's tails.
func reopenCrashAll(t *testing.T, round int, d crashDirs, clean bool, st *crashStats) {
	t.Helper()
	if clean {
		s, err := openCrashStack(d, 5, false)
		if err != nil {
			t.Fatalf("round %d: reopen: %v", round, err)
		}
		if s.finish != nil {
			st.cutShort++
			if _, err := s.log.RotateKey(s.finish); err != nil {
				t.Fatalf("round %d: finishing the rotation to %s: %v", round, s.finish.KeyID(), err)
			}
			st.finished++
		}
		if err := s.close(); err != nil {
			t.Fatalf("round %d: closing the stack: %v", round, err)
		}
		return
	}
	keys, err := crashKeys(d.keys)
	if err != nil {
		t.Fatal(err)
	}
	open, finish, err := crashKeyPlan(d.wal, keys)
	if err != nil {
		t.Fatalf("round %d: %v", round, err)
	}
	if finish != nil {
		st.cutShort++
	}
	k, err := checkpoint.NewKeeper(filepath.Join(d.wal, "checkpoints"), open, checkpoint.KeeperOptions{Every: 1 << 40, Interval: -1})
	if err != nil {
		t.Fatal(err)
	}
	l, _, err := sdk.OpenDurable(d.wal, sdk.Config{Signer: open, Observer: k}, sdk.DurableOptions{Keys: sdk.NewKeySet(keys[0].Public(), open.Public())})
	if err != nil {
		t.Fatalf("round %d: reopen with key %s: %v", round, open.KeyID(), err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("round %d: close: %v", round, err)
	}
	if err := k.Err(); err != nil {
		t.Fatalf("round %d: the Keeper: %v", round, err)
	}
}

// TestCrashAllChild is the child of TestCrashAll.
func TestCrashAllChild(t *testing.T) {
	d := crashDirs{wal: os.Getenv("EXPORT_CRASH_WAL"), bundles: os.Getenv("EXPORT_CRASH_BUNDLES"), keys: os.Getenv("EXPORT_CRASH_KEYS")}
	if d.wal == "" {
		t.Skip("child of TestCrashAll")
	}
	die := func(code int, err error) {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(code)
	}
	every, _ := strconv.Atoi(os.Getenv("EXPORT_CRASH_EVERY"))
	sealed := os.Getenv("EXPORT_CRASH_SEALED") == "true"
	rotateAt, _ := strconv.Atoi(os.Getenv("EXPORT_CRASH_ROTATE"))
	seed, _ := strconv.ParseUint(os.Getenv("EXPORT_CRASH_SEED"), 10, 64)
	s, err := openCrashStack(d, every, sealed)
	if err != nil {
		die(3, err)
	}
	var mu sync.Mutex
	w := bufio.NewWriter(os.Stdout)
	// "a": a record this child appended; "h": a head RotateKey returned
	// (a transition, or the head of a chain that had its transition).
	ack := func(tag, stream string, seq uint64, hash canonical.Hash) {
		mu.Lock()
		fmt.Fprintf(w, "%s %s %d %s\n", tag, stream, seq, hex.EncodeToString(hash[:]))
		w.Flush()
		mu.Unlock()
	}
	fmt.Fprintln(w, "ready")
	w.Flush()
	if s.finish != nil {
		// A rotation a crash cut short (or never began): finish it before
		// appending, as the chains that made their transition take no
		// record until then.
		heads, err := s.log.RotateKey(s.finish)
		if err != nil {
			die(4, fmt.Errorf("finishing the rotation to %s: %w", s.finish.KeyID(), err))
		}
		for _, h := range heads {
			ack("h", h.Stream, h.Seq, h.Hash)
		}
	}
	check := func() {
		if err := errors.Join(s.keeper.Err(), s.auto.Err()); err != nil {
			die(5, err)
		}
	}
	var count sync.Mutex
	n := 0
	rotate := make(chan struct{})
	for g := 0; g < 4; g++ {
		go func(g int) {
			rng := rand.New(rand.NewPCG(seed, uint64(g)))
			for i := 0; ; i++ {
				rec := canonical.AuditRecord{Kind: canonical.KindGetServed, TsMs: uint64(time.Now().UnixNano()),
					WriterID: crashWriter, Stream: crashStreams[(g+rng.IntN(2))%len(crashStreams)],
					Actor: canonical.Actor{CapID: "cap-" + strconv.Itoa(g)}, Reason: "served",
					Attrs: []canonical.Attr{{Key: "n", Value: strconv.Itoa(g*1_000_000 + i)}}}
				a, err := s.log.Append(&rec)
				if err != nil {
					die(6, err)
				}
				check()
				ack("a", rec.Stream, a.Seq, a.Record.Hash)
				count.Lock()
				n++
				if n == rotateAt {
					close(rotate)
				}
				count.Unlock()
			}
		}(g)
	}
	go func() {
		<-rotate
		// Every chain has a record before the rotation: a chain started
		// after it would be signed by a key the first one leads to only
		// through other chains' transitions.
		for {
			all := true
			for _, st := range crashStreams {
				if _, ok := s.log.Head(crashWriter, st); !ok {
					all = false
				}
			}
			if all {
				break
			}
			time.Sleep(time.Millisecond)
		}
		keys, err := crashKeys(d.keys)
		if err != nil {
			die(7, err)
		}
		name := fmt.Sprintf("key-%03d", len(keys))
		if _, _, _, err := sdk.GenerateKeyFiles(d.keys, name); err != nil {
			die(7, err)
		}
		next, err := sdk.LoadSigner(filepath.Join(d.keys, name+".key"))
		if err != nil {
			die(7, err)
		}
		heads, err := s.log.RotateKey(next)
		if err != nil {
			die(8, fmt.Errorf("rotating to %s: %w", next.KeyID(), err))
		}
		for _, h := range heads {
			ack("h", h.Stream, h.Seq, h.Hash)
		}
		check()
		mu.Lock()
		fmt.Fprintf(w, "rotated %s\n", next.KeyID())
		w.Flush()
		mu.Unlock()
	}()
	select {} // appending until killed
}
