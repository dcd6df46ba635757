package sdk_test

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
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

var crashRounds = flag.Int("sdk.crashrounds", 50, "rounds of the durable crash test")

func durableOpen(t testing.TB, dir string, cfg sdk.Config, opts sdk.DurableOptions) (*sdk.Log, sdk.Recovery) {
	t.Helper()
	if cfg.Signer == nil {
		cfg.Signer = coreSigner(t)
	}
	l, rec, err := sdk.OpenDurable(dir, cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	return l, rec
}

func TestDurableReopen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "wal")
	l, rec := durableOpen(t, dir, sdk.Config{}, sdk.DurableOptions{})
	if !rec.WAL.Created || rec.Records != 0 {
		t.Fatalf("new log: %+v", rec)
	}
	coreAppend(t, l, 30)
	r := coreRecord(0)
	r.Stream = "other"
	if _, err := l.Append(&r); err != nil {
		t.Fatal(err)
	}
	head, _ := l.Head("svc-gateway@inst-1", "reads")
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("dir mode: %v %v", fi.Mode(), err)
	}

	l, rec = durableOpen(t, dir, sdk.Config{}, sdk.DurableOptions{})
	defer l.Close()
	if rec.Records != 31 || len(rec.Heads) != 2 {
		t.Fatalf("recovery: %+v", rec)
	}
	if h, _ := l.Head("svc-gateway@inst-1", "reads"); h != head {
		t.Fatalf("head after reopen %+v, was %+v", h, head)
	}
	// The chain resumes, and dedupe still knows the replayed records.
	a := coreAppendFrom(t, l, 30, 1)[0]
	if a.Seq != 31 {
		t.Fatalf("resumed at seq %d", a.Seq)
	}
	again := coreRecord(29)
	if d, err := l.Append(&again); err != nil || !d.Duplicate || d.Seq != 30 {
		t.Fatalf("dedupe after reopen: %+v %v", d, err)
	}
	res, err := sdk.VerifyChain(l.Store().Iter("svc-gateway@inst-1", "reads"), l.Keys(), sdk.VerifyOptions{})
	if err != nil || res.Records != 31 {
		t.Fatalf("verify: %+v %v", res, err)
	}
	if _, _, err := sdk.OpenDurable(dir, sdk.Config{Signer: coreSigner(t)}, sdk.DurableOptions{}); !errors.Is(err, wal.ErrLocked) {
		t.Fatalf("second writer: %v", err)
	}
}

func TestDurableSealedCloseAndVerifyDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "wal")
	l, _ := durableOpen(t, dir, sdk.Config{SealEvery: 16}, sdk.DurableOptions{})
	coreAppend(t, l, 40)
	keys := l.Keys()
	// While open, 33-40 are unsealed.
	if _, err := sdk.VerifyDir(dir, keys, false, nil); !errors.Is(err, sdk.ErrDurable) || !errors.Is(err, sdk.ErrUnsealedTail) ||
		!strings.HasPrefix(err.Error(), "sdk: durable log (") { // no empty ":0" position
		t.Fatalf("unsealed tail: %v", err)
	}
	if err := l.Close(); err != nil { // seals every chain
		t.Fatal(err)
	}
	sum, err := sdk.VerifyDir(dir, keys, false, nil)
	if err != nil || sum.Records != 40 || sum.Seals != 1 || sum.Heads[0].SealedSeq != 40 {
		t.Fatalf("after close: %+v %v", sum, err)
	}
	l, rec := durableOpen(t, dir, sdk.Config{SealEvery: 16}, sdk.DurableOptions{})
	defer l.Close()
	if rec.Seals != 1 || rec.Heads[0].SealedSeq != 40 {
		t.Fatalf("reopen: %+v", rec)
	}
	if _, err := sdk.VerifyChain(l.Store().Iter("svc-gateway@inst-1", "reads"), keys, sdk.VerifyOptions{}); err != nil {
		t.Fatal(err)
	}
}

// durableFrames returns the segment file of a small log and the offsets of
// its frames.
func durableFrames(t *testing.T, dir string) (string, []wal.Frame) {
	t.Helper()
	var frames []wal.Frame
	if _, err := wal.ReadDir(dir, func(f wal.Frame) error {
		f.Payload = bytes.Clone(f.Payload)
		frames = append(frames, f)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return frames[0].File, frames
}

func TestDurableTornTail(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "wal")
	l, _ := durableOpen(t, dir, sdk.Config{}, sdk.DurableOptions{})
	coreAppend(t, l, 10)
	l.Close()
	file, frames := durableFrames(t, dir)
	last := frames[len(frames)-1]
	if err := os.Truncate(file, last.Offset+20); err != nil {
		t.Fatal(err)
	}
	l, rec := durableOpen(t, dir, sdk.Config{}, sdk.DurableOptions{})
	defer l.Close()
	if rec.WAL.TornBytes != 20 || rec.Records != 9 {
		t.Fatalf("recovery: %+v", rec.WAL)
	}
	if a := coreAppendFrom(t, l, 9, 1)[0]; a.Seq != 10 {
		t.Fatalf("seq %d after a torn tail", a.Seq)
	}
}

// rewriteFrame replaces the payload of a frame in place, with a correct
// CRC: tampering the WAL's checksum cannot see.
func rewriteFrame(t *testing.T, f wal.Frame, payload []byte) {
	t.Helper()
	if len(payload) != len(f.Payload) {
		t.Fatal("payload size changed")
	}
	b, err := os.ReadFile(f.File)
	if err != nil {
		t.Fatal(err)
	}
	crc := crc32.Checksum(payload, crc32.MakeTable(crc32.Castagnoli))
	b[f.Offset+4], b[f.Offset+5], b[f.Offset+6], b[f.Offset+7] = byte(crc), byte(crc>>8), byte(crc>>16), byte(crc>>24)
	copy(b[f.Offset+8:], payload)
	if err := os.WriteFile(f.File, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestDurableCorruption(t *testing.T) {
	build := func() (string, []wal.Frame) {
		dir := filepath.Join(t.TempDir(), "wal")
		l, _ := durableOpen(t, dir, sdk.Config{}, sdk.DurableOptions{})
		coreAppend(t, l, 10)
		l.Close()
		_, frames := durableFrames(t, dir)
		return dir, frames
	}
	check := func(name, dir string, wantSeq uint64, after bool, want error) {
		t.Helper()
		before := snapshot(t, dir)
		_, _, err := sdk.OpenDurable(dir, sdk.Config{Signer: coreSigner(t)}, sdk.DurableOptions{})
		var de *sdk.DurableError
		if !errors.As(err, &de) || !errors.Is(err, want) || de.Seq != wantSeq || de.After != after ||
			de.Stream != "reads" || de.Position.File == "" || de.Position.Offset == 0 {
			t.Fatalf("%s: %v", name, err)
		}
		if !bytes.Equal(before, snapshot(t, dir)) {
			t.Fatalf("%s: the log was changed", name)
		}
		if _, err := sdk.VerifyDir(dir, sdk.NewKeySet(coreSigner(t).Public()), false, nil); err == nil {
			t.Fatalf("%s: VerifyDir passed", name)
		}
	}
	// A flipped bit in frame 5: the CRC catches it; the error names the
	// record before (seq 4).
	dir, frames := build()
	b, _ := os.ReadFile(frames[4].File)
	b[frames[4].Offset+200] ^= 1
	os.WriteFile(frames[4].File, b, 0o600)
	check("bit flip", dir, 4, true, wal.ErrCorrupt)

	// A rewritten record with a valid CRC: the stored hash catches it at seq 5.
	dir, frames = build()
	p := bytes.Clone(frames[4].Payload)
	i := bytes.Index(p, []byte("served"))
	p[i] = 'S'
	rewriteFrame(t, frames[4], p)
	check("rewritten record", dir, 5, false, sdk.ErrHashMismatch)

	// A forged signature with a valid CRC.
	dir, frames = build()
	p = bytes.Clone(frames[6].Payload)
	p[20] ^= 1 // inside the signature
	rewriteFrame(t, frames[6], p)
	check("forged signature", dir, 7, false, sdk.ErrBadSignature)
}

func snapshot(t *testing.T, dir string) []byte {
	t.Helper()
	var all []byte
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".seg") {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, b...)
		}
	}
	return all
}

// TestDurableCrash: a child process appends with group-commit fsync from
// several goroutines and prints each record only once Append acknowledged
// it; the parent kills it with SIGKILL at a random moment, reopens the log,
// and checks every acknowledged record is there and the log verifies.
func TestDurableCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "wal")
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 9))
	acked := map[string]string{} // "stream seq" -> hash
	for round := 0; round < *crashRounds; round++ {
		lines := runDurableCrashChild(t, exe, dir, 1+rng.IntN(24))
		for _, line := range lines {
			f := strings.Fields(line)
			if len(f) == 3 {
				acked[f[0]+" "+f[1]] = f[2]
			}
		}
		// Reopen as the next writer would: recovery must accept the log,
		// and so must the Keeper, whose checkpoints the child signed up to
		// the moment it was killed: a checkpoint only ever covers records
		// already durable, so no crash makes it vouch for a lost one.
		k := crashKeeper(t, dir)
		l, _, err := sdk.OpenDurable(dir, sdk.Config{Signer: coreSigner(t), Observer: k}, sdk.DurableOptions{})
		if err != nil {
			t.Fatalf("round %d: reopen: %v", round, err)
		}
		l.Close()
	}
	if cps, _ := filepath.Glob(filepath.Join(dir, "checkpoints", "*", "*", "*.note")); len(cps) == 0 {
		t.Fatal("the children wrote no checkpoint: the Keeper's check was not exercised")
	}
	// Every acknowledged record is in the log with its hash.
	found := map[string]string{}
	if _, err := sdk.ReadDir(dir, func(rec sdk.Sealed, _ wal.Position) error {
		v, err := canonical.Open(rec.Bytes)
		if err != nil {
			return err
		}
		found[string(v.Stream())+" "+strconv.FormatUint(v.Seq(), 10)] = hex.EncodeToString(rec.Hash[:])
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var missing []string
	for k, h := range acked {
		if found[k] != h {
			missing = append(missing, k)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Fatalf("%d acknowledged records lost or changed, e.g. %v", len(missing), missing[:min(5, len(missing))])
	}
	sum, err := sdk.VerifyDir(dir, sdk.NewKeySet(coreSigner(t).Public()), false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(acked) < *crashRounds {
		t.Fatalf("only %d records acknowledged in %d rounds", len(acked), *crashRounds)
	}
	t.Logf("%d rounds, %d records acknowledged, %d in the log", *crashRounds, len(acked), sum.Records)
}

// runDurableCrashChild starts a crash child on dir, kills it once it has
// acknowledged n records, and returns the lines it printed after it
// reported its log open. The kill follows the child's progress, not a
// timer: a 20-140 ms timer from the start left most rounds to the child's
// start-up and the replay of the growing log, slower on a loaded machine,
// so most rounds killed a child that had appended nothing and the run
// failed its check that records were acknowledged at all.
func runDurableCrashChild(t *testing.T, exe, dir string, n int) []string {
	t.Helper()
	c := crashtest.Start(t, exe, []string{"SDK_CRASH_CHILD=" + dir}, "-test.run=^TestDurableCrashChild$")
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
		err = fmt.Errorf("child acknowledged %d of %d records: %w", len(lines), n, err)
	}
	return append(lines, c.Kill(t, err)...)
}

// crashKeeper is the Keeper of the crash test's log: a checkpoint every 16
// durable records, kept in the log's directory as the CLI keeps them.
func crashKeeper(t *testing.T, dir string) *checkpoint.Keeper {
	k, err := checkpoint.NewKeeper(filepath.Join(dir, "checkpoints"), coreSigner(t), checkpoint.KeeperOptions{Every: 16, Interval: -1})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestDurableCrashChild(t *testing.T) {
	dir := os.Getenv("SDK_CRASH_CHILD")
	if dir == "" {
		t.Skip("child of TestDurableCrash")
	}
	l, _, err := sdk.OpenDurable(dir, sdk.Config{Signer: coreSigner(t), Observer: crashKeeper(t, dir)},
		sdk.DurableOptions{WAL: wal.Options{Fsync: wal.FsyncBatch, MaxBatch: 8}})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(3)
	}
	var mu sync.Mutex
	w := bufio.NewWriter(os.Stdout)
	fmt.Fprintln(w, "ready")
	w.Flush()
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; ; i++ {
				rec := coreRecord(g*1_000_000 + i)
				rec.TsMs = uint64(time.Now().UnixNano()) // unique: no dedupe across rounds
				rec.Stream = "s" + strconv.Itoa(g%2)
				a, err := l.Append(&rec)
				if err != nil {
					fmt.Fprintln(os.Stderr, "child:", err)
					os.Exit(4)
				}
				mu.Lock()
				fmt.Fprintf(w, "%s %d %s\n", rec.Stream, a.Seq, hex.EncodeToString(a.Record.Hash[:]))
				w.Flush()
				mu.Unlock()
			}
		}(g)
	}
	wg.Wait()
}

// TestDurableAcrossSegments: the chain continues across rotations and
// restarts, and a single segment verifies on its own.
func TestDurableAcrossSegments(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "wal")
	opts := sdk.DurableOptions{WAL: wal.Options{SegmentBytes: 16 << 10}}
	for run := 0; run < 3; run++ {
		l, rec := durableOpen(t, dir, sdk.Config{}, opts)
		if rec.Records != uint64(60*run) {
			t.Fatalf("run %d: %d records replayed", run, rec.Records)
		}
		coreAppendFrom(t, l, 60*run, 60)
		l.Close()
	}
	sum, err := sdk.VerifyDir(dir, sdk.NewKeySet(coreSigner(t).Public()), false, nil)
	if err != nil || sum.Records != 180 || sum.WAL.Segments < 3 || sum.Heads[0].Seq != 180 {
		t.Fatalf("%+v %v", sum, err)
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	one, err := sdk.VerifySegment(segs[2], sdk.NewKeySet(coreSigner(t).Public()), false, nil)
	if err != nil || one.Records == 0 || one.Heads[0].Seq == 0 {
		t.Fatalf("one segment: %+v %v", one, err)
	}
}
