package sdk_test

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/sdk"
)

func coreSigner(t testing.TB) *sdk.Ed25519Signer {
	t.Helper()
	seed := make([]byte, ed25519.SeedSize)
	copy(seed, "ron-audit sdk core test key")
	s, err := sdk.NewEd25519Signer(ed25519.NewKeyFromSeed(seed))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

type coreClock struct{ now time.Time }

func (c *coreClock) Now() time.Time { return c.now }

func coreLog(t testing.TB, cfg sdk.Config) *sdk.Log {
	t.Helper()
	if cfg.Signer == nil {
		cfg.Signer = coreSigner(t)
	}
	l, err := sdk.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func coreRecord(i int) canonical.AuditRecord {
	return canonical.AuditRecord{
		Kind: canonical.KindGetServed, TsMs: 1764201600000 + uint64(i),
		WriterID: "svc-gateway@inst-1", Stream: "reads",
		Actor:  canonical.Actor{CapID: "cap-" + fmt.Sprint(i%7)},
		Reason: "served", Attrs: []canonical.Attr{{Key: "n", Value: fmt.Sprint(i)}},
	}
}

func coreAppend(t testing.TB, l *sdk.Log, n int) []sdk.Appended {
	t.Helper()
	return coreAppendFrom(t, l, 0, n)
}

// coreAppendFrom appends coreRecord(from) .. coreRecord(from+n-1): distinct
// events, so dedupe keeps them all.
func coreAppendFrom(t testing.TB, l *sdk.Log, from, n int) []sdk.Appended {
	t.Helper()
	var out []sdk.Appended
	for i := from; i < from+n; i++ {
		rec := coreRecord(i)
		a, err := l.Append(&rec)
		if err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
		out = append(out, a)
	}
	return out
}

func coreVerify(t testing.TB, l *sdk.Log, writer, stream string, opts sdk.VerifyOptions) (sdk.Result, error) {
	t.Helper()
	return sdk.VerifyChain(l.Store().Iter(writer, stream), l.Keys(), opts)
}

func TestAppendFillsAndLinks(t *testing.T) {
	clock := &coreClock{now: time.UnixMilli(1764201600123)}
	l := coreLog(t, sdk.Config{Clock: clock.Now})
	rec := coreRecord(0)
	rec.TsMs = 0
	a, err := l.Append(&rec)
	if err != nil {
		t.Fatal(err)
	}
	if a.Seq != 1 || a.Head.Seq != 1 || a.Head.Hash != a.Record.Hash || a.Head.SealedSeq != 1 || !a.Record.Signed {
		t.Fatalf("first append: %+v", a)
	}
	if rec.Seq != 0 || rec.Prev != nil || rec.TsMs != 0 {
		t.Fatalf("Append left filled fields in the record: %+v", rec)
	}
	v, err := canonical.Open(a.Record.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if v.TsMs() != 1764201600123 || v.Seq() != 1 || string(v.Prev()) != string(canonical.Genesis[:]) {
		t.Fatalf("filled fields: ts %d seq %d prev %x", v.TsMs(), v.Seq(), v.Prev())
	}
	if canonical.RecordHash(a.Record.Bytes) != a.Record.Hash {
		t.Fatal("hash is not the hash of the bytes")
	}
	as := coreAppend(t, l, 50)
	if as[49].Seq != 51 {
		t.Fatalf("seq %d", as[49].Seq)
	}
	res, err := coreVerify(t, l, rec.WriterID, rec.Stream, sdk.VerifyOptions{})
	if err != nil || res.Records != 51 || res.Head.Hash != as[49].Head.Hash {
		t.Fatalf("verify: %+v %v", res, err)
	}
	if h, ok := l.Head(rec.WriterID, rec.Stream); !ok || h.Seq != 51 {
		t.Fatalf("Head: %+v", h)
	}
}

// TestAppendErrorsLeaveChain: every refused record leaves the chain as it
// was: the next good record gets the next seq and links to the old head.
func TestAppendErrorsLeaveChain(t *testing.T) {
	failing := &coreFailSigner{Signer: coreSigner(t)}
	l := coreLog(t, sdk.Config{Signer: failing})
	coreAppend(t, l, 3)
	before, _ := l.Head("svc-gateway@inst-1", "reads")
	cases := map[string]struct {
		mut  func(*canonical.AuditRecord)
		want error
	}{
		"attrs too large": {func(r *canonical.AuditRecord) {
			r.Attrs = []canonical.Attr{{Key: "k", Value: strings.Repeat("v", 2000)}}
		}, canonical.ErrTooLarge},
		"record too large": {func(r *canonical.AuditRecord) { r.Reason = strings.Repeat("r", 5000) }, canonical.ErrTooLarge},
		"bad utf8":         {func(r *canonical.AuditRecord) { r.Reason = "\xff" }, canonical.ErrInvalid},
		"unknown kind":     {func(r *canonical.AuditRecord) { r.Kind = 99 }, canonical.ErrInvalid},
		"seq conflict":     {func(r *canonical.AuditRecord) { r.Seq = 2 }, sdk.ErrChainConflict},
		"prev conflict":    {func(r *canonical.AuditRecord) { r.Prev = make([]byte, 32) }, sdk.ErrChainConflict},
		"bad key":          {func(r *canonical.AuditRecord) { failing.fail = true }, sdk.ErrSign},
	}
	for name, c := range cases {
		rec := coreRecord(100)
		c.mut(&rec)
		_, err := l.Append(&rec)
		failing.fail = false
		if !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", name, err, c.want)
		}
		if h, _ := l.Head("svc-gateway@inst-1", "reads"); h != before {
			t.Fatalf("%s: chain changed: %+v, was %+v", name, h, before)
		}
	}
	var fe *canonical.FieldError
	rec := coreRecord(1)
	rec.Reason = "\xff"
	if _, err := l.Append(&rec); !errors.As(err, &fe) || fe.Field != "reason" {
		t.Fatalf("bad utf8: %v", err)
	}
	a := coreAppendFrom(t, l, 3, 1)[0]
	if a.Seq != 4 {
		t.Fatalf("next seq %d, want 4", a.Seq)
	}
	if _, err := coreVerify(t, l, "svc-gateway@inst-1", "reads", sdk.VerifyOptions{}); err != nil {
		t.Fatal(err)
	}
}

type coreFailSigner struct {
	sdk.Signer
	fail bool
}

func (s *coreFailSigner) Sign(msg []byte, sig *sdk.Signature) error {
	if s.fail {
		return errors.New("HSM unavailable")
	}
	return s.Signer.Sign(msg, sig)
}

func TestDedupe(t *testing.T) {
	l := coreLog(t, sdk.Config{DedupeWindow: 8})
	rec := coreRecord(1)
	first, err := l.Append(&rec)
	if err != nil {
		t.Fatal(err)
	}
	again := coreRecord(1)
	again.Attrs = append(again.Attrs, canonical.Attr{Key: "a", Value: "x"}) // out of order on purpose
	rec2 := coreRecord(1)
	rec2.Attrs = []canonical.Attr{{Key: "a", Value: "x"}, {Key: "n", Value: "1"}}
	second, err := l.Append(&rec2)
	if err != nil || second.Duplicate {
		t.Fatalf("a different record was taken for a duplicate: %v", err)
	}
	dup, err := l.Append(&again)
	if err != nil {
		t.Fatal(err)
	}
	if !dup.Duplicate || dup.Seq != second.Seq || dup.Record.Hash != second.Record.Hash {
		t.Fatalf("replay not deduplicated: %+v", dup)
	}
	if h, _ := l.Head(rec.WriterID, rec.Stream); h.Seq != 2 {
		t.Fatalf("duplicate appended: head %d", h.Seq)
	}
	// Another tsMs is another event.
	later := coreRecord(1)
	later.TsMs++
	if a, _ := l.Append(&later); a.Duplicate {
		t.Fatal("tsMs ignored")
	}
	// The window is bounded: after 8 more records the first is forgotten.
	for i := 0; i < 8; i++ {
		r := coreRecord(1000 + i)
		if _, err := l.Append(&r); err != nil {
			t.Fatal(err)
		}
	}
	rec = coreRecord(1)
	if a, _ := l.Append(&rec); a.Duplicate || a.Seq == first.Seq {
		t.Fatalf("window not bounded: %+v", a)
	}
	// Off.
	off := coreLog(t, sdk.Config{DedupeWindow: -1})
	r1, r2 := coreRecord(5), coreRecord(5)
	a1, _ := off.Append(&r1)
	a2, _ := off.Append(&r2)
	if a2.Duplicate || a2.Seq != a1.Seq+1 {
		t.Fatal("dedupe not off")
	}
}

func TestSealedPolicy(t *testing.T) {
	l := coreLog(t, sdk.Config{SealEvery: 10})
	as := coreAppend(t, l, 25)
	for i, a := range as {
		if want := (i+1)%10 == 0; a.Record.Signed != want {
			t.Fatalf("record %d signed=%v", i+1, a.Record.Signed)
		}
	}
	w, s := as[0].Head.WriterID, as[0].Head.Stream
	_, err := coreVerify(t, l, w, s, sdk.VerifyOptions{})
	var ve *sdk.VerifyError
	if !errors.As(err, &ve) || ve.Reason != sdk.ReasonUnsealedTail || ve.Seq != 21 || ve.Verified != 20 {
		t.Fatalf("unsealed tail: %v", err)
	}
	if res, err := coreVerify(t, l, w, s, sdk.VerifyOptions{AllowUnsealedTail: true}); err != nil || res.Records != 25 {
		t.Fatalf("allowed tail: %+v %v", res, err)
	}
	h, err := l.Seal(w, s)
	if err != nil || h.SealedSeq != 25 {
		t.Fatalf("seal: %+v %v", h, err)
	}
	if _, err := coreVerify(t, l, w, s, sdk.VerifyOptions{}); err != nil {
		t.Fatalf("after Seal: %v", err)
	}
	if err := l.SealAll(); err != nil {
		t.Fatal(err)
	}

	// Time trigger.
	clock := &coreClock{now: time.Unix(1764201600, 0)}
	tl := coreLog(t, sdk.Config{SealEvery: 1000, SealInterval: time.Minute, Clock: clock.Now})
	coreAppend(t, tl, 3)
	clock.now = clock.now.Add(61 * time.Second)
	a := coreAppendFrom(t, tl, 3, 1)[0]
	if !a.Record.Signed || a.Head.SealedSeq != 4 {
		t.Fatalf("time trigger: %+v", a.Head)
	}
	if _, err := sdk.New(sdk.Config{Signer: coreSigner(t), SealInterval: time.Second}); !errors.Is(err, sdk.ErrConfig) {
		t.Fatalf("interval without sealed policy: %v", err)
	}
}

func TestMemStoreBound(t *testing.T) {
	store := sdk.NewMemStore(256 << 10)
	l := coreLog(t, sdk.Config{Store: store})
	as := coreAppend(t, l, 3000)
	w, s := as[0].Head.WriterID, as[0].Head.Stream
	evicted, first := store.Evicted(w, s)
	if evicted == 0 || first != evicted+1 {
		t.Fatalf("evicted %d, first kept %d", evicted, first)
	}
	if _, ok := store.Get(w, s, 1); ok {
		t.Fatal("record 1 still kept")
	}
	kept, ok := store.Get(w, s, first)
	if !ok {
		t.Fatal("first kept record missing")
	}
	v, _ := canonical.Open(kept.Bytes)
	var prev canonical.Hash
	copy(prev[:], v.Prev())
	start := &sdk.Head{WriterID: w, Stream: s, Seq: first - 1, Hash: prev}
	res, err := coreVerify(t, l, w, s, sdk.VerifyOptions{Start: start})
	if err != nil || res.Records != int(3000-evicted) {
		t.Fatalf("verify kept records: %+v %v", res, err)
	}
}

func TestConcurrentAppends(t *testing.T) {
	l := coreLog(t, sdk.Config{})
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				rec := coreRecord(g*1000 + i)
				rec.Stream = fmt.Sprint("s", g%3) // three streams, shared by several goroutines
				if _, err := l.Append(&rec); err != nil {
					t.Error(err)
					return
				}
			}
		}(g)
	}
	wg.Wait()
	total := 0
	for _, h := range l.Heads() {
		res, err := coreVerify(t, l, h.WriterID, h.Stream, sdk.VerifyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		total += res.Records
	}
	if total != 1600 {
		t.Fatalf("%d records, want 1600", total)
	}
}

func TestNewConfig(t *testing.T) {
	if _, err := sdk.New(sdk.Config{}); !errors.Is(err, sdk.ErrConfig) {
		t.Fatalf("no signer: %v", err)
	}
	if _, err := sdk.New(sdk.Config{Signer: coreSigner(t), Limits: canonical.Limits{MaxRecord: 4096, MaxAttrs: 100}}); !errors.Is(err, sdk.ErrConfig) {
		t.Fatalf("attrs limit under 256: %v", err)
	}
	l := coreLog(t, sdk.Config{Limits: canonical.Limits{MaxRecord: 8192, MaxAttrs: 4096}})
	rec := coreRecord(1)
	rec.Attrs = []canonical.Attr{{Key: "k", Value: strings.Repeat("v", 3000)}}
	if _, err := l.Append(&rec); err != nil {
		t.Fatalf("configured limits not applied: %v", err)
	}
}

// coreUndurableStore fails to make records durable after Put succeeded.
type coreUndurableStore struct {
	*sdk.MemStore
	fail bool
}

func (s *coreUndurableStore) Wait(sdk.Ticket) error {
	if s.fail {
		return errors.New("fsync: input/output error")
	}
	return nil
}

// TestNotDurableStopsLog: a record that may not be on disk is never
// acknowledged, and nothing may be appended after it.
func TestNotDurableStopsLog(t *testing.T) {
	store := &coreUndurableStore{MemStore: sdk.NewMemStore(0)}
	l := coreLog(t, sdk.Config{Store: store})
	coreAppend(t, l, 2)
	store.fail = true
	rec := coreRecord(50)
	if _, err := l.Append(&rec); !errors.Is(err, sdk.ErrStore) || !strings.Contains(err.Error(), "not durable") {
		t.Fatalf("got %v", err)
	}
	store.fail = false
	rec = coreRecord(51)
	if _, err := l.Append(&rec); !errors.Is(err, sdk.ErrStore) {
		t.Fatalf("log went on after a lost record: %v", err)
	}
}

// TestFailedFirstAppendLeavesNoChain: a chain whose first append fails
// does not exist afterwards, for Heads and for RotateKey, which used to
// fail on it after switching the log's key (a rotation that could then
// never be finished, leaving the other chains on the old key) or to write
// a transition as its first record.
func TestFailedFirstAppendLeavesNoChain(t *testing.T) {
	l := coreLog(t, sdk.Config{})
	coreAppend(t, l, 1)
	for _, mut := range []func(*canonical.AuditRecord){
		func(r *canonical.AuditRecord) { r.WriterID = "svc\x00nul" },               // the chain's name itself is bad
		func(r *canonical.AuditRecord) { r.Stream = "never-written"; r.Kind = 99 }, // a good name, a bad record
	} {
		rec := coreRecord(2)
		mut(&rec)
		if _, err := l.Append(&rec); !errors.Is(err, canonical.ErrInvalid) {
			t.Fatalf("append: %v, want ErrInvalid", err)
		}
	}
	if heads := l.Heads(); len(heads) != 1 {
		t.Fatalf("Heads after the failed appends: %+v", heads)
	}
	next := rotateSigner(t, "next key")
	heads, err := l.RotateKey(next)
	if err != nil || len(heads) != 1 || heads[0].Seq != 2 {
		t.Fatalf("RotateKey: %+v, %v", heads, err)
	}
	// Both chains sign with next: the old one after its transition, the
	// new one from its first record, which is the caller's.
	rec := coreRecord(3)
	rec.Stream = "never-written"
	for _, stream := range []string{"reads", "never-written"} {
		rec.Stream = stream
		a, err := l.Append(&rec)
		if err != nil || a.Record.KeyID != next.KeyID() {
			t.Fatalf("%s: %+v, %v; want signed by %s", stream, a, err, next.KeyID())
		}
		if want := map[string]uint64{"reads": 3, "never-written": 1}[stream]; a.Seq != want {
			t.Errorf("%s: seq %d, want %d", stream, a.Seq, want)
		}
	}
}

// coreFailPutStore fails Put while fail is set.
type coreFailPutStore struct {
	*sdk.MemStore
	fail bool
}

func (s *coreFailPutStore) Put(w, st string, seq uint64, r sdk.Sealed) (sdk.Sealed, sdk.Ticket, error) {
	if s.fail {
		return sdk.Sealed{}, 0, errors.New("disk full")
	}
	return s.MemStore.Put(w, st, seq, r)
}

// TestFailedAppendStartsNoSealInterval: the seal interval runs from a
// chain's first record, not from a first append that failed (which used to
// start it, so the first record appended an interval later was signed).
func TestFailedAppendStartsNoSealInterval(t *testing.T) {
	signed := func(failFirst bool) bool {
		clock := &coreClock{now: time.UnixMilli(1764201600000)}
		store := &coreFailPutStore{MemStore: sdk.NewMemStore(0), fail: failFirst}
		l := coreLog(t, sdk.Config{SealEvery: 1000, SealInterval: time.Minute, Clock: clock.Now, Store: store})
		if failFirst {
			r := coreRecord(0)
			if _, err := l.Append(&r); !errors.Is(err, sdk.ErrStore) {
				t.Fatalf("want ErrStore, got %v", err)
			}
			store.fail = false
		}
		clock.now = clock.now.Add(time.Minute)
		r := coreRecord(1)
		a, err := l.Append(&r)
		if err != nil {
			t.Fatal(err)
		}
		return a.Record.Signed
	}
	if clean, afterFail := signed(false), signed(true); clean || afterFail {
		t.Errorf("first record signed: %v on a clean log, %v after a failed append; want neither", clean, afterFail)
	}
}

// badPubSigner is a Signer (an HSM or KMS plug-in, say) whose public key
// is not an Ed25519 key.
type badPubSigner struct{ sdk.Signer }

func (badPubSigner) Public() ed25519.PublicKey { return nil }

// TestNewRefusesBadSignerKey: New returns ErrConfig, as RotateKey does,
// rather than panicking.
func TestNewRefusesBadSignerKey(t *testing.T) {
	if _, err := sdk.New(sdk.Config{Signer: badPubSigner{coreSigner(t)}}); !errors.Is(err, sdk.ErrConfig) {
		t.Fatalf("New: %v, want ErrConfig", err)
	}
	l := coreLog(t, sdk.Config{})
	if _, err := l.RotateKey(badPubSigner{rotateSigner(t, "other")}); !errors.Is(err, sdk.ErrConfig) {
		t.Fatalf("RotateKey: %v, want ErrConfig", err)
	}
}

// TestRecordsRange: an invalid range is ErrRange naming it, not a store
// failure with a count ("the store has 0 of them"; for from 0 the count
// was off by one: to-from+1 counted seq 0). The empty range from..from-1
// stays what it was: no records, no error.
func TestRecordsRange(t *testing.T) {
	l := coreLog(t, sdk.Config{})
	as := coreAppend(t, l, 5)
	w, s := as[0].Head.WriterID, as[0].Head.Stream
	for _, r := range [][2]uint64{{0, 3}, {4, 2}, {0, 0}, {9, 1}} {
		_, err := l.Records(w, s, r[0], r[1])
		if !errors.Is(err, sdk.ErrRange) || errors.Is(err, sdk.ErrStore) || !strings.Contains(err.Error(), fmt.Sprintf("%d..%d", r[0], r[1])) {
			t.Errorf("Records %d..%d: %v; want ErrRange naming the range", r[0], r[1], err)
		}
	}
	if recs, err := l.Records(w, s, 2, 2); err != nil || len(recs) != 1 {
		t.Fatalf("Records 2..2: %d records, %v", len(recs), err)
	}
	if recs, err := l.Records(w, s, 6, 5); err != nil || len(recs) != 0 {
		t.Fatalf("Records 6..5 (empty): %d records, %v", len(recs), err)
	}
	// A range to the largest seq is valid, past the head: to+1 wrapped to
	// 0, so it was refused as ErrRange ("a range ends at most one before
	// its start"), which it is not.
	for _, from := range []uint64{1, 3} {
		_, err := l.Records(w, s, from, math.MaxUint64)
		if !errors.Is(err, sdk.ErrStore) || errors.Is(err, sdk.ErrRange) || !strings.Contains(err.Error(), "the store has") {
			t.Errorf("Records %d..MaxUint64: %v; want ErrStore: the store has fewer", from, err)
		}
	}
}
