package sdk_test

// Tests that pin promises of the godoc that no other test checked.

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/checkpoint"
	"github.com/rustyonions/ron-audit-go/sdk/wal"
)

// TestAppendFailureResetsFilledFields: "Either way the fields Append
// filled are zero again when it returns" (Log.Append), on the failure path
// too, and for AppendPending.
func TestAppendFailureResetsFilledFields(t *testing.T) {
	l := coreLog(t, sdk.Config{})
	coreAppend(t, l, 1)
	rec := coreRecord(5)
	rec.TsMs = 0
	rec.Reason = "\xff"
	if _, err := l.Append(&rec); !errors.Is(err, canonical.ErrInvalid) {
		t.Fatalf("Append of bad UTF-8: %v", err)
	}
	if rec.Seq != 0 || rec.Prev != nil || rec.TsMs != 0 {
		t.Fatalf("a failed Append left filled fields: seq %d prev %x ts %d", rec.Seq, rec.Prev, rec.TsMs)
	}
	rec = coreRecord(6)
	rec.TsMs = 0
	p, err := l.AppendPending(&rec)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Wait(); err != nil {
		t.Fatal(err)
	}
	if rec.Seq != 0 || rec.Prev != nil || rec.TsMs != 0 || p.Seq != 2 {
		t.Fatalf("AppendPending left filled fields: seq %d prev %x ts %d (got seq %d)", rec.Seq, rec.Prev, rec.TsMs, p.Seq)
	}
}

// TestConfigDefaults: the zero values the Config fields' docs promise.
func TestConfigDefaults(t *testing.T) {
	// Store nil: a new MemStore.
	l := coreLog(t, sdk.Config{})
	if _, ok := l.Store().(*sdk.MemStore); !ok {
		t.Fatalf("nil Store: the log's store is a %T", l.Store())
	}
	// Clock nil: time.Now fills a zero tsMs.
	rec := coreRecord(1)
	rec.TsMs = 0
	before := time.Now().UnixMilli()
	a, err := l.Append(&rec)
	after := time.Now().UnixMilli()
	if err != nil {
		t.Fatal(err)
	}
	v, err := canonical.Open(a.Record.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if ts := int64(v.TsMs()); ts < before || ts > after {
		t.Fatalf("nil Clock: tsMs %d not in [%d, %d]", ts, before, after)
	}
	// SealEvery 0 or 1: every record signed.
	for _, every := range []int{0, 1} {
		l := coreLog(t, sdk.Config{SealEvery: every})
		for i, a := range coreAppend(t, l, 3) {
			if !a.Record.Signed || a.Head.SealedSeq != a.Seq {
				t.Fatalf("SealEvery %d: record %d not signed: %+v", every, i+1, a.Head)
			}
		}
	}
	// Negative values are no policy: ErrConfig.
	for _, cfg := range []sdk.Config{{SealEvery: -1}, {SealEvery: 2, SealInterval: -time.Second}} {
		cfg.Signer = coreSigner(t)
		if _, err := sdk.New(cfg); !errors.Is(err, sdk.ErrConfig) {
			t.Errorf("SealEvery %d SealInterval %v: %v, want ErrConfig", cfg.SealEvery, cfg.SealInterval, err)
		}
	}
	// Head of a chain the log has no record of.
	if h, ok := l.Head("nobody", "nothing"); ok {
		t.Fatalf("Head of an unknown chain: %+v, ok", h)
	}
}

// TestLogCloseContract: Close seals a checkpoint-sealed chain on a
// MemStore too, is idempotent, and every append path fails with ErrClosed
// afterwards; NewEmitter refuses a closed log, and a nil one.
func TestLogCloseContract(t *testing.T) {
	l := coreLog(t, sdk.Config{SealEvery: 4})
	coreAppend(t, l, 3)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if h, _ := l.Head("svc-gateway@inst-1", "reads"); h.SealedSeq != 3 {
		t.Fatalf("Close left an unsealed tail: %+v", h)
	}
	if _, err := coreVerify(t, l, "svc-gateway@inst-1", "reads", sdk.VerifyOptions{}); err != nil {
		t.Fatalf("after Close: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	rec := coreRecord(9)
	if _, err := l.Append(&rec); !errors.Is(err, sdk.ErrClosed) {
		t.Errorf("Append after Close: %v", err)
	}
	if _, err := l.AppendPending(&rec); !errors.Is(err, sdk.ErrClosed) {
		t.Errorf("AppendPending after Close: %v", err)
	}
	if _, err := l.RotateKey(rotateSigner(t, "after close")); !errors.Is(err, sdk.ErrClosed) {
		t.Errorf("RotateKey after Close: %v", err)
	}
	if _, err := sdk.NewEmitter(l, sdk.EmitterOptions{}); !errors.Is(err, sdk.ErrClosed) {
		t.Errorf("NewEmitter on a closed log: %v", err)
	}
	if _, err := sdk.NewEmitter(nil, sdk.EmitterOptions{}); !errors.Is(err, sdk.ErrConfig) {
		t.Errorf("NewEmitter(nil): %v", err)
	}
}

// TestDuplicateIsTheOriginal: a deduped Append returns the original:
// its record, seq and the unchanged head.
func TestDuplicateIsTheOriginal(t *testing.T) {
	l := coreLog(t, sdk.Config{})
	r := coreRecord(1)
	orig, err := l.Append(&r)
	if err != nil {
		t.Fatal(err)
	}
	r = coreRecord(1)
	dup, err := l.Append(&r)
	if err != nil || !dup.Duplicate || dup.Seq != orig.Seq || dup.Record.Hash != orig.Record.Hash ||
		!bytes.Equal(dup.Record.Bytes, orig.Record.Bytes) || dup.Head != orig.Head {
		t.Fatalf("duplicate %+v, %v; original %+v", dup, err, orig)
	}
	// Seal under the default policy: the head is signed already, nothing
	// changes.
	if h, err := l.Seal(orig.Head.WriterID, orig.Head.Stream); err != nil || h != orig.Head {
		t.Fatalf("Seal of a signed head: %+v, %v", h, err)
	}
}

// TestEmitterStatsEveryReason: "Dropped map[string]uint64 // by reason,
// every reason present", from the start; ReportVerifyFailure(nil) counts
// nothing.
func TestEmitterStatsEveryReason(t *testing.T) {
	l := coreLog(t, sdk.Config{})
	e := newEmitter(t, l, sdk.EmitterOptions{})
	st := e.Stats()
	reasons := []string{sdk.DropBackpressure, sdk.DropBounds, sdk.DropInvalid, sdk.DropSinkError, sdk.DropShutdown, sdk.DropClosed}
	for _, r := range reasons {
		if n, ok := st.Dropped[r]; !ok || n != 0 {
			t.Errorf("reason %s: %d, present %v", r, n, ok)
		}
	}
	if len(st.Dropped) != len(reasons) {
		t.Errorf("Dropped %v: want exactly the %d reasons", st.Dropped, len(reasons))
	}
	e.ReportVerifyFailure(nil)
	if err := e.Ready(); err != nil {
		t.Fatalf("Ready after ReportVerifyFailure(nil): %v", err)
	}
}

// TestEmitterCloseEndedCtx: Close with a ctx that has already ended does
// not wait. On an idle emitter it drops nothing and returns the ctx's
// error or, when the emitter had finished by then, nil (which of the two
// is a race: the godoc used to read as if it were always the error, and
// a run now and then got nil); on an emitter holding records whose
// signer is stuck it returns the ctx's error and drops them.
func TestEmitterCloseEndedCtx(t *testing.T) {
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	for range 20 {
		l := coreLog(t, sdk.Config{})
		e := newEmitter(t, l, sdk.EmitterOptions{})
		start := time.Now()
		err := e.Close(ended)
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Fatalf("idle Close with an ended ctx: %v", err)
		}
		if d := time.Since(start); d > time.Second {
			t.Fatalf("idle Close with an ended ctx took %v", d)
		}
		<-e.Done()
		if st := finishedStats(t, e); st.Offered != 0 || st.Dropped[sdk.DropShutdown] != 0 {
			t.Fatalf("idle Close dropped: %+v", st)
		}
	}

	g := newGateSigner(t)
	l := coreLog(t, sdk.Config{Signer: g})
	e := newEmitter(t, l, sdk.EmitterOptions{Workers: 1})
	for n := range 3 {
		rec := emitRecord(0, n, "s")
		if err := e.TryEmit(&rec); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	if err := e.Close(ended); !errors.Is(err, context.Canceled) {
		t.Fatalf("Close with an ended ctx while records wait: %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Close with an ended ctx took %v", d)
	}
	close(g.gate)
	<-e.Done()
	if st := finishedStats(t, e); st.Appended+st.Dropped[sdk.DropShutdown] != 3 || st.Dropped[sdk.DropShutdown] < 2 {
		t.Fatalf("after the aborted Close: %+v", st)
	}
}

// TestOpenDurableRefusesItsOwnFields: OpenDurable provides the Store and
// the WAL's Replay and Recovered hooks; set by the caller they are
// ErrConfig, before the directory is touched.
func TestOpenDurableRefusesItsOwnFields(t *testing.T) {
	for name, c := range map[string]struct {
		cfg  sdk.Config
		opts sdk.DurableOptions
	}{
		"Store":     {cfg: sdk.Config{Store: sdk.NewMemStore(0)}},
		"Replay":    {opts: sdk.DurableOptions{WAL: wal.Options{Replay: func(wal.Frame) error { return nil }}}},
		"Recovered": {opts: sdk.DurableOptions{WAL: wal.Options{Recovered: func(wal.Recovery) error { return nil }}}},
	} {
		dir := filepath.Join(t.TempDir(), "wal")
		c.cfg.Signer = coreSigner(t)
		if l, _, err := sdk.OpenDurable(dir, c.cfg, c.opts); !errors.Is(err, sdk.ErrConfig) {
			if l != nil {
				l.Close()
			}
			t.Errorf("%s set: %v, want ErrConfig", name, err)
		}
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s set: the refused open created %s (%v)", name, dir, err)
		}
	}
}

// TestKeyHelpersCopy: NewEd25519Signer keeps its own copy of the key,
// Clone makes an independent set, a nil KeySet holds no key, and
// DefaultIPKeys returns a new slice each call.
func TestKeyHelpersCopy(t *testing.T) {
	seed := make([]byte, ed25519.SeedSize)
	copy(seed, "copy test")
	priv := ed25519.NewKeyFromSeed(seed)
	pub := bytes.Clone(priv.Public().(ed25519.PublicKey))
	s, err := sdk.NewEd25519Signer(priv)
	if err != nil {
		t.Fatal(err)
	}
	clear(priv)
	var sig sdk.Signature
	msg := canonical.SignedMessage(canonical.Hash{1})
	if err := s.Sign(msg[:], &sig); err != nil || !ed25519.Verify(pub, msg[:], sig[:]) || !bytes.Equal(s.Public(), pub) {
		t.Fatalf("the signer shares the caller's key slice (err %v)", err)
	}

	ks := sdk.NewKeySet(pub)
	c := ks.Clone()
	c.Add(rotateSigner(t, "clone").Public())
	if ks.Len() != 1 || c.Len() != 2 {
		t.Fatalf("Clone shares the set: %d and %d keys", ks.Len(), c.Len())
	}
	var none *sdk.KeySet
	if k, ok := none.Lookup(s.KeyID()); ok || k != nil {
		t.Fatal("a nil KeySet holds a key")
	}

	a := sdk.DefaultIPKeys()
	a[0] = "changed"
	if b := sdk.DefaultIPKeys(); b[0] == "changed" {
		t.Fatal("DefaultIPKeys returns a shared slice")
	}
}

// TestPrivacyInvalidLeavesAttrs: "An invalid p (see Validate) returns
// attrs unchanged and the error", a *PrivacyError matching ErrConfig.
func TestPrivacyInvalidLeavesAttrs(t *testing.T) {
	for _, p := range []sdk.Privacy{{Mode: sdk.IPHash}, {Mode: sdk.IPMode(9)}} {
		attrs := []canonical.Attr{{Key: "ip", Value: "203.0.113.7"}, {Key: "n", Value: "1"}}
		out, err := p.Apply(attrs)
		var pe *sdk.PrivacyError
		if !errors.As(err, &pe) || !errors.Is(err, sdk.ErrConfig) {
			t.Fatalf("%v: %v, want a *PrivacyError matching ErrConfig", p.Mode, err)
		}
		if len(out) != 2 || out[0].Value != "203.0.113.7" || attrs[0].Value != "203.0.113.7" {
			t.Fatalf("%v: attrs changed: %v", p.Mode, out)
		}
	}
}

// TestRecordsFromDiskAndCopies: Records reads, through the store's Iter,
// the records a durable log's cache no longer keeps; what it returns are
// copies; and a range past the chain's head is ErrStore.
func TestRecordsFromDiskAndCopies(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "wal")
	l, _ := durableOpen(t, dir, sdk.Config{}, sdk.DurableOptions{CacheBytes: sdk.MemStoreMinBytes,
		WAL: wal.Options{Fsync: wal.FsyncNever, AllowNoFsync: true}})
	defer l.Close()
	const n = 1000 // past the cache's bound: it keeps a few hundred
	as := coreAppend(t, l, n)
	w, s := as[0].Head.WriterID, as[0].Head.Stream
	if _, ok := l.Store().Get(w, s, 1); ok {
		t.Fatal("the cache still keeps seq 1: the test does not reach the disk")
	}
	recs, err := l.Records(w, s, 1, 3)
	if err != nil || len(recs) != 3 {
		t.Fatalf("Records 1..3 from disk: %d records, %v", len(recs), err)
	}
	for i, r := range recs {
		if r.Hash != as[i].Record.Hash || canonical.RecordHash(r.Bytes) != r.Hash || !r.Signed {
			t.Fatalf("record %d from disk: %+v", i+1, r)
		}
	}
	last, err := l.Records(w, s, n, n)
	if err != nil || len(last) != 1 {
		t.Fatalf("Records %d..%d: %v", n, n, err)
	}
	clear(last[0].Bytes)
	if again, _ := l.Records(w, s, n, n); canonical.RecordHash(again[0].Bytes) != as[n-1].Record.Hash {
		t.Fatal("Records returned the cache's bytes, not a copy")
	}
	if _, err := l.Records(w, s, n, n+1); !errors.Is(err, sdk.ErrStore) {
		t.Fatalf("Records past the head: %v, want ErrStore", err)
	}
}

// TestEmitterOptionRanges: the bounds the EmitterOptions fields state, at
// their edges (TestEmitterOwnsLog has the far side of some).
func TestEmitterOptionRanges(t *testing.T) {
	l := coreLog(t, sdk.Config{})
	for _, bad := range []sdk.EmitterOptions{{Workers: sdk.MaxWorkers + 1}, {ShedBudget: -0.001}, {ShedBudget: 1.001}, {ReadyWindow: -time.Nanosecond}} {
		if _, err := sdk.NewEmitter(l, bad); !errors.Is(err, sdk.ErrConfig) {
			t.Errorf("%+v: %v, want ErrConfig", bad, err)
		}
	}
	for _, good := range []sdk.EmitterOptions{{Workers: sdk.MaxWorkers}, {Workers: 1, Depth: 1}, {ShedBudget: 1}, {ReadyWindow: time.Nanosecond}} {
		e, err := sdk.NewEmitter(l, good)
		if err != nil {
			t.Fatalf("%+v: %v", good, err)
		}
		closeEmitter(t, e)
	}
}

// TestCloseRacingAppendLeavesNoUnsealedTail: "Close seals every chain
// under the checkpoint-sealed policy (so a clean shutdown leaves no
// unsealed tail)". An Append that had passed the closed check when Close
// began, and got the chain's lock only after Close had sealed it, used to
// append a record after the seal and succeed: the closed log ended in an
// unsealed tail. Such an append now fails with ErrClosed.
func TestCloseRacingAppendLeavesNoUnsealedTail(t *testing.T) {
	for i := range 10 {
		// Even runs: Close first, then the second append (the old code let
		// it pass the closed check and queue behind Close's seal); odd
		// runs: the second append first.
		closeFirst := i%2 == 0
		store := newSlowPutStore()
		l := coreLog(t, sdk.Config{Store: store, SealEvery: 1000})
		first := make(chan error, 1)
		go func() { // holds the chain's lock, stuck in Put
			r := coreRecord(0)
			_, err := l.Append(&r)
			first <- err
		}()
		<-store.entered
		closed, second := make(chan error, 1), make(chan error, 1)
		closeLog := func() { closed <- l.Close() } // waits for the lock to seal
		appendSecond := func() {                   // waits for the lock
			r := coreRecord(1)
			_, err := l.Append(&r)
			second <- err
		}
		start, then := closeLog, appendSecond
		if !closeFirst {
			start, then = appendSecond, closeLog
		}
		go start()
		time.Sleep(5 * time.Millisecond)
		go then()
		time.Sleep(5 * time.Millisecond)
		store.release()
		if err := <-first; err != nil {
			t.Fatalf("run %d: first append: %v", i, err)
		}
		if err := <-closed; err != nil {
			t.Fatalf("run %d: Close: %v", i, err)
		}
		err2 := <-second
		if err2 != nil && !errors.Is(err2, sdk.ErrClosed) {
			t.Fatalf("run %d: second append: %v, want nil or ErrClosed", i, err2)
		}
		res, err := coreVerify(t, l, "svc-gateway@inst-1", "reads", sdk.VerifyOptions{})
		if err != nil {
			t.Fatalf("run %d: the closed log does not verify (second append: %v): %v", i, err2, err)
		}
		if want := map[bool]int{true: 1, false: 2}[err2 != nil]; res.Records != want {
			t.Fatalf("run %d: %d records, want %d (second append: %v)", i, res.Records, want, err2)
		}
	}
}

// TestMergeNilInput: "Inputs must not be nil ...: Merge panics" naming the
// input, for a nil interface and for a nil pointer in one (which used to
// pass and panic later, in Next, with a nil dereference).
func TestMergeNilInput(t *testing.T) {
	var nilPtr *sdk.SliceIterator
	for name, in := range map[string][]sdk.Iterator{
		"nil":         {sdk.NewSliceIterator(nil), nil},
		"nil pointer": {sdk.NewSliceIterator(nil), nilPtr},
	} {
		func() {
			defer func() {
				if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "input 1 is nil") {
					t.Errorf("%s: Merge panicked with %v, want a panic naming input 1", name, r)
				}
			}()
			sdk.Merge(in...)
		}()
	}
}

// TestOpenDurableEmptyDir: OpenDurable("") opened a log in the process's
// current directory (the WAL cleaned "" to "."), where an unset setting
// put the audit trail. It is a Config error, returned before any
// directory is touched, as OpenDurable's doc says of the others.
func TestOpenDurableEmptyDir(t *testing.T) {
	cwd := t.TempDir()
	if err := os.Chmod(cwd, 0o700); err != nil { // a mode the WAL takes
		t.Fatal(err)
	}
	t.Chdir(cwd)
	l, _, err := sdk.OpenDurable("", sdk.Config{Signer: coreSigner(t)}, sdk.DurableOptions{})
	if err == nil {
		l.Close()
	}
	if !errors.Is(err, sdk.ErrConfig) {
		t.Fatalf("OpenDurable(\"\"): %v; want ErrConfig", err)
	}
	if ents, err := os.ReadDir(cwd); err != nil || len(ents) != 0 {
		t.Fatalf("OpenDurable(\"\") wrote to the current directory: %v (%v)", ents, err)
	}
}

// TestNilKeySetLen: a nil *KeySet is a key set callers pass (VerifyDir's
// keys nil: signatures not checked; Lookup and Clone take it as empty),
// but Len panicked on it. It holds no key: Len is 0.
func TestNilKeySetLen(t *testing.T) {
	var ks *sdk.KeySet
	if n := ks.Len(); n != 0 {
		t.Fatalf("nil KeySet: Len %d", n)
	}
}

// TestZeroMemStore: &sdk.MemStore{} as Config.Store made Append panic
// (assignment to entry in nil map) at the first record. The zero
// MemStore is NewMemStore(0)'s: DefaultMemStoreBytes per chain.
func TestZeroMemStore(t *testing.T) {
	m := &sdk.MemStore{}
	l := coreLog(t, sdk.Config{Store: m})
	coreAppend(t, l, 3)
	if ev, first := m.Evicted("svc-gateway@inst-1", "reads"); ev != 0 || first != 1 {
		t.Fatalf("zero MemStore: evicted %d, first kept %d", ev, first)
	}
	res, err := sdk.VerifyChain(m.Iter("svc-gateway@inst-1", "reads"), l.Keys(), sdk.VerifyOptions{})
	if err != nil || res.Records != 3 {
		t.Fatalf("zero MemStore: %d records verified, %v", res.Records, err)
	}
}

// TestConfigLimitsChecked: Config.Limits other than zero must pass
// Limits.Check, else New is ErrConfig: a record limit under
// canonical.MinMaxAttrs or over canonical.MaxRecordSize, an attrs limit
// over the record limit. The smallest and largest allowed ones open.
func TestConfigLimitsChecked(t *testing.T) {
	for _, lim := range []canonical.Limits{
		{MaxRecord: 100, MaxAttrs: 100},
		{MaxRecord: canonical.MaxRecordSize + 1, MaxAttrs: 1024},
		{MaxRecord: 4096, MaxAttrs: 8192},
		{MaxRecord: 4096},
	} {
		if _, err := sdk.New(sdk.Config{Signer: coreSigner(t), Limits: lim}); !errors.Is(err, sdk.ErrConfig) {
			t.Errorf("New with Limits %+v: %v; want ErrConfig", lim, err)
		}
	}
	for _, lim := range []canonical.Limits{
		{MaxRecord: canonical.MinMaxAttrs, MaxAttrs: canonical.MinMaxAttrs},
		{MaxRecord: canonical.MaxRecordSize, MaxAttrs: canonical.MaxRecordSize},
	} {
		if _, err := sdk.New(sdk.Config{Signer: coreSigner(t), Limits: lim}); err != nil {
			t.Errorf("New with Limits %+v: %v; want a Log", lim, err)
		}
	}
}

// TestOpenDurableWALRefusals: "A dir the WAL refuses is the WAL's
// *wal.Error": wal.ErrConfig for an existing directory that holds other
// files and no log (the keys' directory, say), which OpenDurable leaves
// as it was.
func TestOpenDurableWALRefusals(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ops.key"), []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	l, _, err := sdk.OpenDurable(dir, sdk.Config{Signer: coreSigner(t)}, sdk.DurableOptions{})
	if err == nil {
		l.Close()
	}
	var we *wal.Error
	if !errors.Is(err, wal.ErrConfig) || !errors.As(err, &we) {
		t.Fatalf("OpenDurable of a directory holding a key and no log: %v; want a *wal.Error matching wal.ErrConfig", err)
	}
	if ents, err := os.ReadDir(dir); err != nil || len(ents) != 1 {
		t.Fatalf("OpenDurable changed the directory it refused: %v (%v)", ents, err)
	}
}

// TestDocsDefaults: the defaults the scaling knobs table of
// docs/PERFORMANCE.md and the README's prose give are the constants'.
// Those numbers are what an operator tunes from; a default changed in
// code and not in them would mislead every sizing.
func TestDocsDefaults(t *testing.T) {
	thousands := func(n int) string {
		s := strconv.Itoa(n)
		for i := len(s) - 3; i > 0; i -= 3 {
			s = s[:i] + "," + s[i:]
		}
		return s
	}
	if (sdk.EmitterOptions{}).Shed != sdk.ShedDrop {
		t.Fatal("the zero EmitterOptions.Shed is not ShedDrop")
	}
	// The knob's "where" cell -> its "default" cell.
	knobs := map[string]string{
		"`sdk.EmitterOptions.Workers`":                   fmt.Sprintf("GOMAXPROCS, 1-%d", sdk.MaxWorkers),
		"`sdk.EmitterOptions.Depth`":                     thousands(sdk.DefaultDepth),
		"`sdk.EmitterOptions.Shed`":                      "`ShedDrop`",
		"`sdk.EmitterOptions.ShedBudget`, `ReadyWindow`": fmt.Sprintf("%s%%, %d min", strconv.FormatFloat(sdk.DefaultShedBudget*100, 'f', -1, 64), int(sdk.DefaultReadyWindow/time.Minute)),
		"`checkpoint.KeeperOptions.Every`, `Interval`":   fmt.Sprintf("%s records, %d min", thousands(checkpoint.DefaultEvery), int(checkpoint.DefaultInterval/time.Minute)),
		"`wal.Options.Fsync`, `MaxBatch`, `MaxDelay`":    fmt.Sprintf("%s, %d (%d-%d), %d ms", wal.FsyncBatch, wal.DefaultMaxBatch, wal.MinMaxBatch, wal.MaxMaxBatch, wal.DefaultMaxDelay/time.Millisecond),
		"`wal.Options.SegmentBytes`":                     fmt.Sprintf("%d MiB", wal.DefaultSegmentBytes>>20),
		"`sdk.NewMemStore(bytes)`":                       fmt.Sprintf("%d MiB per chain", sdk.DefaultMemStoreBytes>>20),
		"`sdk.Config.DedupeWindow`":                      thousands(sdk.DefaultDedupeWindow) + " per chain",
	}
	b, err := os.ReadFile("../docs/PERFORMANCE.md")
	if err != nil {
		t.Fatal(err)
	}
	_, table, _ := strings.Cut(string(b), "## 3. Scaling knobs")
	table, _, _ = strings.Cut(table, "\n## ")
	seen := map[string]bool{}
	for _, line := range strings.Split(table, "\n") {
		cells := strings.Split(line, " | ")
		if len(cells) < 4 {
			continue
		}
		want, ok := knobs[cells[1]]
		if !ok {
			continue
		}
		seen[cells[1]] = true
		if cells[2] != want {
			t.Errorf("docs/PERFORMANCE.md, knob %s: default %q, the code's is %q", cells[1], cells[2], want)
		}
	}
	for where := range knobs {
		if !seen[where] {
			t.Errorf("docs/PERFORMANCE.md's knobs table has no row for %s (the pattern of this test may be stale)", where)
		}
	}

	// The README's prose, whitespace collapsed.
	b, err = os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := strings.Join(strings.Fields(string(b)), " ")
	for _, s := range []string{
		fmt.Sprintf("// depth %d, workers = GOMAXPROCS (1-%d)", sdk.DefaultDepth, sdk.MaxWorkers),
		fmt.Sprintf("`TryEmit` takes one of %s preallocated slots", thousands(sdk.DefaultDepth)),
		fmt.Sprintf("shed above %s%%", strconv.FormatFloat(sdk.DefaultShedBudget*100, 'f', -1, 64)),
		fmt.Sprintf("the newest %d MiB of each chain", sdk.DefaultMemStoreBytes>>20),
		fmt.Sprintf("rotation at %d MiB", wal.DefaultSegmentBytes>>20),
		fmt.Sprintf("every %s durable records, every %d minutes", thousands(checkpoint.DefaultEvery), int(checkpoint.DefaultInterval/time.Minute)),
		fmt.Sprintf("(every %s records, every %d minutes, and at exit)", thousands(checkpoint.DefaultEvery), int(checkpoint.DefaultInterval/time.Minute)),
		fmt.Sprintf("at most %d KiB with at most %d KiB of attrs by default", canonical.DefaultMaxRecord>>10, canonical.DefaultMaxAttrs>>10),
		fmt.Sprintf("`sdk.MaxChainName` (%d)", sdk.MaxChainName),
	} {
		if !strings.Contains(readme, s) {
			t.Errorf("README.md does not say %q: a default changed, or the sentence did (then update this test)", s)
		}
	}
}
