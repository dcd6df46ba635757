package export

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/checkpoint"
)

// Auto across restarts and beside other exporters, and FileSink's names.

func restartSigner(t *testing.T) *sdk.Ed25519Signer {
	seed := make([]byte, ed25519.SeedSize)
	copy(seed, "review auto key")
	s, err := sdk.NewEd25519Signer(ed25519.NewKeyFromSeed(seed))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// openWithAuto opens the durable log in dir with a Keeper and an Auto,
// wired as ronaudit append --export wires them: auto.Log is only known
// once OpenDurable has returned, and Start comes after.
func openWithAuto(t *testing.T, dir string, signer sdk.Signer, every int64, cache int) (*sdk.Log, *checkpoint.Keeper, *Auto, *FileSink) {
	t.Helper()
	sink := &FileSink{Dir: filepath.Join(dir, "exports")}
	auto := &Auto{Exporter: &Exporter{Sink: sink, Signer: signer}, Prev: sink.Prev}
	k, err := checkpoint.NewKeeper(filepath.Join(dir, "checkpoints"), signer, checkpoint.KeeperOptions{Every: every, Interval: -1, OnCheckpoint: auto.Checkpointed})
	if err != nil {
		t.Fatal(err)
	}
	auto.Keeper = k
	l, _, err := sdk.OpenDurable(filepath.Join(dir, "wal"), sdk.Config{Signer: signer, Observer: k}, sdk.DurableOptions{CacheBytes: cache})
	if err != nil {
		t.Fatal(err)
	}
	auto.Log = l
	if err := auto.Start(); err != nil {
		t.Fatal(err)
	}
	return l, k, auto, sink
}

func appendN(t *testing.T, l *sdk.Log, from, n, pad int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		r := canonical.AuditRecord{WriterID: "w", Stream: "s", TsMs: uint64(i + 1), Reason: "r" + strconv.Itoa(i) + strings.Repeat("x", pad)}
		if _, err := l.Append(&r); err != nil {
			t.Fatal(err)
		}
	}
}

// TestAutoExportsReplayCheckpoint: a checkpoint that the replay of
// OpenDurable writes (one a crash kept from being written) reaches
// Auto.Checkpointed before the host can set Auto.Log: it waits for Start
// (before it, the export goroutine has no *sdk.Log to read), and the
// bundles verify as a sequence.
func TestAutoExportsReplayCheckpoint(t *testing.T) {
	dir := t.TempDir()
	signer := restartSigner(t)
	l, k, auto, _ := openWithAuto(t, dir, signer, 10, 0)
	appendN(t, l, 0, 10, 0) // checkpoint + bundle 1-10
	l.Close()
	k.Close()
	if err := auto.Close(); err != nil {
		t.Fatal(err)
	}
	// Records 11..20 become durable, then the process dies before the
	// Keeper writes the checkpoint at 20 (simulated: no Keeper watching,
	// as TestKeeperReplaySignsOnlyChecked does).
	bare, _, err := sdk.OpenDurable(filepath.Join(dir, "wal"), sdk.Config{Signer: signer}, sdk.DurableOptions{})
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, bare, 10, 10, 0)
	bare.Close()

	// Restart: the replay signs the missing checkpoint at 20 and Auto
	// exports it ... with auto.Log still nil.
	l, k, auto, sink := openWithAuto(t, dir, signer, 10, 0)
	l.Close()
	k.Close()
	if err := auto.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyDir(filepath.Join(sink.Dir, "w", "s"), KeyVerifiers(signer.Public()), sdk.NewKeySet(signer.Public()), nil); err != nil {
		t.Fatal(err)
	}
}

// TestAutoFollowsOtherExporter: another exporter (ronaudit export) writes
// to a running Auto's directory; Auto's next bundle starts after it, as
// FORMAT.md says: an Auto that asked Prev only once per chain would
// overlap it, breaking the sequence for good.
func TestAutoFollowsOtherExporter(t *testing.T) {
	dir := t.TempDir()
	signer := restartSigner(t)
	l, k, auto, sink := openWithAuto(t, dir, signer, 10, 0)
	appendN(t, l, 0, 10, 0) // Auto: bundle 1-10
	if err := autoIdle(auto); err != nil {
		t.Fatal(err)
	}
	appendN(t, l, 10, 5, 0)
	// a second exporter, e.g. `ronaudit export`, picks up after Latest
	latest, err := sink.Latest(checkpoint.Origin("w", "s"))
	if err != nil || latest == nil {
		t.Fatal(latest, err)
	}
	if _, err := (&Exporter{Sink: sink, Signer: signer}).Export(filepath.Join(dir, "wal"), "w", "s", latest.State()); err != nil {
		t.Fatal(err) // bundle 11-15
	}
	appendN(t, l, 15, 5, 0) // Auto: checkpoint at 20, bundle 11-20
	l.Close()
	k.Close()
	if err := auto.Close(); err != nil {
		t.Fatalf("auto: %v", err)
	}
	if _, err := VerifyDir(filepath.Join(sink.Dir, "w", "s"), KeyVerifiers(signer.Public()), sdk.NewKeySet(signer.Public()), nil); err != nil {
		t.Fatalf("VerifyDir: %v", err)
	}
}

func autoIdle(a *Auto) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	for a.running {
		a.idle.Wait()
	}
	return a.err
}

// TestAutoDotChain: a chain whose stream is "." gets its bundles under
// "%2E", as its checkpoints are kept: a FileSink refusing the name would
// stop, at that first failure, Auto's exports of every chain.
func TestAutoDotChain(t *testing.T) {
	dir := t.TempDir()
	signer := restartSigner(t)
	l, k, auto, sink := openWithAuto(t, dir, signer, 5, 0)
	for i := 0; i < 5; i++ {
		r := canonical.AuditRecord{WriterID: "w", Stream: ".", TsMs: uint64(i + 1), Reason: "dot" + strconv.Itoa(i)}
		if _, err := l.Append(&r); err != nil {
			t.Fatal(err)
		}
	}
	_ = autoIdle(auto)
	appendN(t, l, 0, 5, 0) // chain w/s: checkpoint at 5
	l.Close()
	k.Close()
	err := auto.Close()
	paths, _ := sink.Bundles(checkpoint.Origin("w", "s"))
	if err != nil || len(paths) != 1 {
		t.Fatalf("auto: %v; bundles of w/s: %d", err, len(paths))
	}
}

// TestFileSinkOriginsAndOverwrite: a malformed origin is an error, not a panic; an
// existing bundle is ErrBundleExists.
func TestFileSinkOriginsAndOverwrite(t *testing.T) {
	s := &FileSink{Dir: t.TempDir()}
	for _, origin := range []string{"w/s", "", "ron-audit/", "ron-audit/w"} {
		if _, err := s.Latest(origin); err == nil {
			t.Errorf("Latest(%q) accepted", origin)
		}
	}
	name := BundleName(checkpoint.Origin("w", ".."), 1, 2)
	if want := "w/%2E%2E/00000000000000000001-00000000000000000002.bundle"; name != want {
		t.Fatalf("name %q, want %q", name, want)
	}
	if err := s.WriteBundle(name, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := s.WriteBundle(name, []byte("y")); !errors.Is(err, ErrBundleExists) {
		t.Fatalf("second write: %v", err)
	}
}

// TestFileSinkPrevReadsOnChange: Prev, which Auto calls before every
// export, reads a chain's directory only when its modification time
// changed (it listed and parsed it every time, which made a long run of
// small exports quadratic), and follows a change made by someone else.
func TestFileSinkPrevReadsOnChange(t *testing.T) {
	dir := t.TempDir()
	signer := restartSigner(t)
	l, k, auto, sink := openWithAuto(t, dir, signer, 5, 0)
	appendN(t, l, 0, 10, 0) // bundles 1-5 and 6-10
	l.Close()
	k.Close()
	if err := auto.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := sink.Prev("w", "s")
	if err != nil || st == nil || st.Size != 10 {
		t.Fatalf("Prev: %+v, %v", st, err)
	}
	paths, err := sink.Bundles(checkpoint.Origin("w", "s"))
	if err != nil || len(paths) != 2 {
		t.Fatalf("bundles %v, %v", paths, err)
	}
	// Rewriting a file's contents leaves its directory's time alone: the
	// sink answers from what it knows, a new one reads the file.
	if err := os.WriteFile(paths[1], []byte("not a bundle"), 0o600); err != nil {
		t.Fatal(err)
	}
	if st2, err := sink.Prev("w", "s"); err != nil || st2 != st {
		t.Fatalf("Prev read the directory again: %+v, %v", st2, err)
	}
	if _, err := (&FileSink{Dir: sink.Dir}).Prev("w", "s"); err == nil {
		t.Fatal("a new sink parsed the damaged bundle")
	}
	// A file added (another exporter) changes the directory's time.
	time.Sleep(10 * time.Millisecond) // past a coarse timestamp
	if err := os.WriteFile(filepath.Join(filepath.Dir(paths[1]), "note.txt"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := sink.Prev("w", "s"); err == nil {
		t.Fatal("Prev did not see the directory change")
	}
}

// TestFileSinkConcurrentWritersNeverOverwrite: two exporters writing the
// same bundle name at once (an Auto and a ronaudit export beside it) must
// not both succeed: a bundle handed out is evidence, and the second used
// to pass the existence check while the first was still fsyncing, then
// renamed its file over the first's. Exactly one write succeeds, the
// others are ErrBundleExists naming the file, and the file holds the
// winner's bytes.
func TestFileSinkConcurrentWritersNeverOverwrite(t *testing.T) {
	s := &FileSink{Dir: t.TempDir()}
	const n = 8
	for round := range 5 {
		name := BundleName(checkpoint.Origin("w", "s"), uint64(round+1), uint64(round+1))
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				errs[i] = s.WriteBundle(name, bytes.Repeat([]byte{byte('a' + i)}, 4096))
			}()
		}
		close(start)
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner >= 0:
				t.Errorf("round %d: writers %d and %d both wrote %s: one bundle replaced the other", round, winner, i, name)
			case err == nil:
				winner = i
			case !errors.Is(err, ErrBundleExists) || !strings.Contains(err.Error(), filepath.FromSlash(name)):
				t.Errorf("round %d: writer %d: %v, want ErrBundleExists naming the file", round, i, err)
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: no writer succeeded", round)
		}
		b, err := os.ReadFile(filepath.Join(s.Dir, filepath.FromSlash(name)))
		if err != nil || !bytes.Equal(b, bytes.Repeat([]byte{byte('a' + winner)}, 4096)) {
			t.Fatalf("round %d: %s holds %.8q... (%v), want writer %d's bytes", round, name, b, err, winner)
		}
	}
}

// TestAutoCatchesUpAfterCrash: the process dies after the Keeper wrote a
// checkpoint and before Auto wrote its bundle (simulated: the first
// run's Keeper has no Auto). The restarted Auto exports it at Start:
// waiting for the chain's next checkpoint, which a chain that gets no
// more records never has, would leave records 1-10 vouched for and never
// exported. A second restart, with nothing new, writes nothing (and fails
// on no existing bundle), and the sequence verifies.
func TestAutoCatchesUpAfterCrash(t *testing.T) {
	dir := t.TempDir()
	signer := restartSigner(t)
	k, err := checkpoint.NewKeeper(filepath.Join(dir, "checkpoints"), signer, checkpoint.KeeperOptions{Every: 10, Interval: -1})
	if err != nil {
		t.Fatal(err)
	}
	l, _, err := sdk.OpenDurable(filepath.Join(dir, "wal"), sdk.Config{Signer: signer, Observer: k}, sdk.DurableOptions{})
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, l, 0, 10, 0) // checkpoint at 10; the process dies before its bundle
	l.Close()
	if cps, err := checkpoint.HistoryPaths(filepath.Join(dir, "checkpoints"), "w", "s"); err != nil || len(cps) != 1 {
		t.Fatalf("checkpoints %v, %v; want the one at 10", cps, err)
	}
	for restart := 1; restart <= 2; restart++ {
		l, k, auto, sink := openWithAuto(t, dir, signer, 10, 0)
		l.Close()
		k.Close() // no new record: no new checkpoint
		if err := auto.Close(); err != nil {
			t.Fatalf("restart %d: %v", restart, err)
		}
		paths, err := sink.Bundles(checkpoint.Origin("w", "s"))
		if err != nil || len(paths) != 1 || filepath.Base(paths[0]) != filepath.Base(BundleName(checkpoint.Origin("w", "s"), 1, 10)) {
			t.Fatalf("restart %d: bundles %v, %v; want the one of records 1-10, the checkpoint the crash left unexported", restart, paths, err)
		}
		if _, err := VerifyDir(filepath.Join(sink.Dir, "w", "s"), KeyVerifiers(signer.Public()), sdk.NewKeySet(signer.Public()), nil); err != nil {
			t.Fatalf("restart %d: %v", restart, err)
		}
	}
}

// TestAutoStartWithoutPrevQueuesNothing: without Prev, Auto cannot know
// what was exported before it started, so Start does not catch up (it
// would export from seq 1 again, over the earlier bundles).
func TestAutoStartWithoutPrevQueuesNothing(t *testing.T) {
	dir := t.TempDir()
	signer := restartSigner(t)
	l, k, auto, sink := openWithAuto(t, dir, signer, 10, 0)
	appendN(t, l, 0, 10, 0) // checkpoint and bundle 1-10
	l.Close()
	k.Close()
	if err := auto.Close(); err != nil {
		t.Fatal(err)
	}
	k, err := checkpoint.NewKeeper(filepath.Join(dir, "checkpoints"), signer, checkpoint.KeeperOptions{Every: 10, Interval: -1})
	if err != nil {
		t.Fatal(err)
	}
	l, _, err = sdk.OpenDurable(filepath.Join(dir, "wal"), sdk.Config{Signer: signer, Observer: k}, sdk.DurableOptions{})
	if err != nil {
		t.Fatal(err)
	}
	bare := &Auto{Exporter: &Exporter{Sink: sink, Signer: signer}, Log: l, Keeper: k}
	bare.Start()
	l.Close()
	k.Close()
	if err := bare.Close(); err != nil {
		t.Fatalf("Auto without Prev: %v", err)
	}
}
