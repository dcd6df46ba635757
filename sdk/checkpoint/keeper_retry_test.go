package checkpoint

import (
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rustyonions/ron-audit-go/sdk"
)

// countingSigner counts the signatures the Keeper makes: one per attempt
// to write a checkpoint, failed or not.
type countingSigner struct {
	sdk.Signer
	n atomic.Int64
}

func (s *countingSigner) Sign(msg []byte, sig *sdk.Signature) error {
	s.n.Add(1)
	return s.Signer.Sign(msg, sig)
}

// failureCounter is an OnFailure that counts.
type failureCounter struct {
	mu   sync.Mutex
	errs []error
}

func (f *failureCounter) on(err error) {
	f.mu.Lock()
	f.errs = append(f.errs, err)
	f.mu.Unlock()
}

func (f *failureCounter) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.errs)
}

// breakDir moves dir aside (keeping its checkpoints) and puts a file in
// its place, under which nothing can be created, even as root; the
// returned func puts the directory back.
func breakDir(t *testing.T, dir string) (repair func()) {
	t.Helper()
	aside := dir + ".aside"
	if err := os.Rename(dir, aside); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	return func() {
		t.Helper()
		if err := os.Remove(dir); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(aside, dir); err != nil {
			t.Fatal(err)
		}
	}
}

// appendDurable appends records from..from+n-1 of keeperRecord's chain to
// a durable log, in batches that share an fsync; each record is reported
// Durable in seq order, as Append reports it.
func appendDurable(t *testing.T, l *sdk.Log, from, n int) {
	t.Helper()
	const batch = 50
	for i := from; i < from+n; i += batch {
		var ps []sdk.Pending
		for j := i; j < min(i+batch, from+n); j++ {
			r := keeperRecord(j)
			p, err := l.AppendPending(&r)
			if err != nil {
				t.Fatal(err)
			}
			ps = append(ps, p)
		}
		for _, p := range ps {
			if err := p.Wait(); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestKeeperRetryAtDuePoints: once a checkpoint cannot be written (its
// directory replaced by a file), the Keeper tries again at the next due
// point, Every more records on, not at every record that becomes
// durable: 1,000 appends with Every 100 past the failure cost 10
// signatures and 10 failures (951 of each before: one per record from
// the first due point on, a signature and file system operations under
// the chain's lock on the append path). An explicit Checkpoint still
// tries at once. Once the directory is back, the next due point writes a
// checkpoint of every record, which VerifyDir accepts as the seal of the
// whole log.
func TestKeeperRetryAtDuePoints(t *testing.T) {
	base := keeperSigner(t)
	signer := &countingSigner{Signer: base}
	var failures failureCounter
	wdir := filepath.Join(t.TempDir(), "wal")
	cpDir := filepath.Join(wdir, "checkpoints")
	k, err := NewKeeper(cpDir, signer, KeeperOptions{Every: 100, Interval: -1, OnFailure: failures.on})
	if err != nil {
		t.Fatal(err)
	}
	l, _, err := sdk.OpenDurable(wdir, sdk.Config{Signer: base, Observer: k, SealEvery: 100}, sdk.DurableOptions{})
	if err != nil {
		t.Fatal(err)
	}
	appendDurable(t, l, 0, 150)
	if n, f := signer.n.Load(), failures.count(); n != 1 || f != 0 || k.Err() != nil {
		t.Fatalf("healthy: %d signatures, %d failures, Err %v; want 1, 0, nil", n, f, k.Err())
	}

	repair := breakDir(t, cpDir)
	appendDurable(t, l, 150, 1000) // seqs 151..1150: due at 200, 300, ..., 1100
	if n, f := signer.n.Load()-1, failures.count(); n != 10 || f != 10 {
		t.Fatalf("1,000 appends into a broken directory, Every 100: %d signatures, %d failures; want 10 and 10 (one per due point)", n, f)
	}
	if err := k.Err(); !errors.Is(err, ErrSign) || err != failures.errs[0] {
		t.Fatalf("Err %v, want the first failure (ErrSign) %v", err, failures.errs[0])
	}
	// An explicit checkpoint is not held back by the failures.
	if _, err := k.Checkpoint("svc@inst-1", "caps"); !errors.Is(err, ErrSign) {
		t.Fatalf("Checkpoint into a broken directory: %v, want ErrSign", err)
	}
	if n, f := signer.n.Load()-1, failures.count(); n != 11 || f != 11 {
		t.Fatalf("after Checkpoint: %d signatures, %d failures; want 11 and 11", n, f)
	}

	repair()
	appendDurable(t, l, 1150, 99) // up to 1249: not yet due (the last attempt was at 1150)
	if n := signer.n.Load() - 1; n != 11 {
		t.Fatalf("before the next due point: %d signatures, want still 11", n)
	}
	appendDurable(t, l, 1249, 1) // 1250: due
	if n, f := signer.n.Load()-1, failures.count(); n != 12 || f != 11 {
		t.Fatalf("at the due point after the repair: %d signatures, %d failures; want 12 and 11", n, f)
	}
	if got := openHistory(t, k); len(got) != 2 || got[0].Size != 100 || got[1].Size != 1250 {
		t.Fatalf("history %+v, want checkpoints of sizes 100 and 1250", got)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := k.Close(); !errors.Is(err, ErrSign) {
		t.Fatalf("Keeper.Close: %v, want the first failure kept (ErrSign)", err)
	}
	sum, err := VerifyDir(wdir, []ed25519.PublicKey{base.Public()}, DirOptions{})
	if err != nil {
		t.Fatalf("VerifyDir after the repair: %v", err)
	}
	if len(sum.Heads) != 1 || sum.Heads[0].Seq != 1250 || sum.Heads[0].SealedSeq != 1250 || sum.Used != 2 {
		t.Fatalf("VerifyDir: %+v, want one chain of 1250 records sealed by 2 checkpoints", sum)
	}
}

// TestKeeperRetryAtIntervalAndOnClose: with the time trigger, a failed
// attempt is tried again Interval after it (not at the next record), and
// Tick, the Log's Seal (SealChain) and Close still try at once and report
// their failures. Once the directory is back, the next due point writes
// the checkpoint of every record.
func TestKeeperRetryAtIntervalAndOnClose(t *testing.T) {
	base := keeperSigner(t)
	signer := &countingSigner{Signer: base}
	var failures failureCounter
	var now atomic.Int64 // seconds
	clock := func() time.Time { return time.Unix(1_000_000+now.Load(), 0) }
	dir := filepath.Join(t.TempDir(), "cp")
	k, err := NewKeeper(dir, signer, KeeperOptions{Every: 1 << 40, Interval: time.Minute, Clock: clock, OnFailure: failures.on})
	if err != nil {
		t.Fatal(err)
	}
	l, err := sdk.New(sdk.Config{Signer: base, Observer: k, SealEvery: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	keeperAppend(t, l, 0, 1) // t=0: the interval starts; the history is read
	repair := breakDir(t, dir)
	now.Store(61)
	keeperAppend(t, l, 1, 1) // due: the first failure, at t=61
	for i := 1; i <= 100; i++ {
		now.Store(61 + int64(i))
		keeperAppend(t, l, 1+i, 1) // due again at t=121 only
	}
	if n, f := signer.n.Load(), failures.count(); n != 2 || f != 2 {
		t.Fatalf("101 records over 100 s into a broken directory, Interval 1m: %d signatures, %d failures; want 2 and 2 (t=61, t=121)", n, f)
	}
	if err := k.Err(); !errors.Is(err, ErrSign) {
		t.Fatalf("Err %v, want ErrSign", err)
	}
	now.Store(170)
	if err := k.Tick(); !errors.Is(err, ErrSign) {
		t.Fatalf("Tick: %v, want ErrSign", err)
	}
	if _, err := l.Seal("svc@inst-1", "caps"); !errors.Is(err, ErrSign) {
		t.Fatalf("Seal: %v, want ErrSign", err)
	}
	if n, f := signer.n.Load(), failures.count(); n != 4 || f != 4 {
		t.Fatalf("after Tick and Seal: %d signatures, %d failures; want 4 and 4", n, f)
	}

	repair()
	now.Store(229)
	keeperAppend(t, l, 102, 1) // 59 s after the last attempt: not due
	if n := signer.n.Load(); n != 4 {
		t.Fatalf("before the next due point: %d signatures, want 4", n)
	}
	now.Store(230)
	keeperAppend(t, l, 103, 1) // 104 records; due
	if got := openHistory(t, k); len(got) != 1 || got[0].Size != 104 {
		t.Fatalf("history %+v, want one checkpoint of all 104 records", got)
	}
	if f := failures.count(); f != 4 {
		t.Fatalf("%d failures after the repair, want still 4", f)
	}

	// Close tries a final checkpoint, whatever the cadence, and reports it.
	keeperAppend(t, l, 104, 1)
	repair = breakDir(t, dir)
	if err := k.Close(); !errors.Is(err, ErrSign) {
		t.Fatalf("Close: %v, want ErrSign", err)
	}
	if n, f := signer.n.Load(), failures.count(); n != 6 || f != 5 {
		t.Fatalf("after Close: %d signatures, %d failures; want 6 and 5", n, f)
	}
	repair()
	if err := k.Close(); !errors.Is(err, ErrSign) { // the first failure stays
		t.Fatalf("second Close: %v, want ErrSign", err)
	}
	if got := openHistory(t, k); !slices.EqualFunc(got, []int64{104, 105}, func(c Checkpoint, n int64) bool { return c.Size == n }) {
		t.Fatalf("history %+v, want sizes 104 and 105", got)
	}
}

// keptLog leaves a closed log in wdir, its Keeper's checkpoints in cpDir:
// chain svc@inst-1/caps of 25 records, a checkpoint every 10 and at
// Close. It returns that Keeper, closed (History, chainDir), and open,
// which opens a log in a directory with a new Keeper over cpDir; the
// caller closes what it opens.
func keptLog(t *testing.T, signer sdk.Signer, wdir, cpDir string) (*Keeper, func(wdir string) (*Keeper, *sdk.Log, error)) {
	t.Helper()
	open := func(wdir string) (*Keeper, *sdk.Log, error) {
		k, err := NewKeeper(cpDir, signer, KeeperOptions{Every: 10, Interval: -1})
		if err != nil {
			t.Fatal(err)
		}
		l, _, err := sdk.OpenDurable(wdir, sdk.Config{Signer: signer, Observer: k}, sdk.DurableOptions{})
		return k, l, err
	}
	k, l, err := open(wdir)
	if err != nil {
		t.Fatal(err)
	}
	appendDurable(t, l, 0, 25)
	if err := errors.Join(l.Close(), k.Close()); err != nil {
		t.Fatal(err)
	}
	return k, open
}
