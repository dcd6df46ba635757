package sdk_test

import (
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/sdk"
)

func rotateSigner(t testing.TB, label string) *sdk.Ed25519Signer {
	t.Helper()
	seed := make([]byte, ed25519.SeedSize)
	copy(seed, label)
	s, err := sdk.NewEd25519Signer(ed25519.NewKeyFromSeed(seed))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func chainRecs(l *sdk.Log, writer, stream string) []sdk.Sealed {
	var recs []sdk.Sealed
	for it := l.Store().Iter(writer, stream); it.Next(); {
		recs = append(recs, it.Entry())
	}
	return recs
}

func TestRotateKey(t *testing.T) {
	old, next := rotateSigner(t, "old key"), rotateSigner(t, "next key")
	l := coreLog(t, sdk.Config{Signer: old})
	coreAppend(t, l, 5)
	heads, err := l.RotateKey(next)
	if err != nil || len(heads) != 1 || heads[0].Seq != 6 {
		t.Fatalf("rotate: %+v %v", heads, err)
	}
	as := coreAppendFrom(t, l, 5, 4)
	if as[0].Record.KeyID != next.KeyID() {
		t.Fatal("records after the rotation are not signed by the new key")
	}
	recs := chainRecs(l, "svc-gateway@inst-1", "reads")
	if recs[5].KeyID != old.KeyID() || !recs[5].Signed {
		t.Fatal("the transition is not signed by the old key")
	}
	// A verifier that trusts only the old key follows the transition.
	if res, err := sdk.VerifyChain(sdk.NewSliceIterator(recs), sdk.NewKeySet(old.Public()), sdk.VerifyOptions{}); err != nil || res.Records != 10 {
		t.Fatalf("old key only: %+v %v", res, err)
	}
	if _, err := sdk.VerifyChainParallel(recs, sdk.NewKeySet(old.Public()), sdk.VerifyOptions{}, 4); err != nil {
		t.Fatalf("parallel: %v", err)
	}
	// One that trusts only the new key cannot check the start.
	if _, err := sdk.VerifyChain(sdk.NewSliceIterator(recs), sdk.NewKeySet(next.Public()), sdk.VerifyOptions{}); !errors.Is(err, sdk.ErrUnknownKey) {
		t.Fatalf("new key only: %v", err)
	}
	// A record signed by the retired key after the transition is refused,
	// even with a valid signature.
	forged := append([]sdk.Sealed(nil), recs...)
	msg := canonical.SignedMessage(forged[7].Hash)
	if err := old.Sign(msg[:], &forged[7].Sig); err != nil {
		t.Fatal(err)
	}
	forged[7].KeyID = old.KeyID()
	_, err = sdk.VerifyChain(sdk.NewSliceIterator(forged), sdk.NewKeySet(old.Public(), next.Public()), sdk.VerifyOptions{})
	var ve *sdk.VerifyError
	if !errors.As(err, &ve) || ve.Reason != sdk.ReasonRetiredKey || ve.Seq != 8 {
		t.Fatalf("retired key: %v", err)
	}
	// Only RotateKey writes transitions.
	rec := coreRecord(99)
	rec.Attrs = append(rec.Attrs, canonical.Attr{Key: sdk.KeyTransitionAttr, Value: "ed25519:00"})
	if _, err := l.Append(&rec); !errors.Is(err, canonical.ErrInvalid) {
		t.Fatalf("reserved attr: %v", err)
	}
}

func TestRotateKeySealedAndDurable(t *testing.T) {
	old, next := rotateSigner(t, "old key"), rotateSigner(t, "next key")
	dir := filepath.Join(t.TempDir(), "wal")
	l, _, err := sdk.OpenDurable(dir, sdk.Config{Signer: old, SealEvery: 100}, sdk.DurableOptions{})
	if err != nil {
		t.Fatal(err)
	}
	coreAppend(t, l, 3)
	if _, err := l.RotateKey(next); err != nil {
		t.Fatal(err)
	}
	coreAppendFrom(t, l, 3, 3)
	if err := l.Close(); err != nil { // seals the head with the new key
		t.Fatal(err)
	}
	sum, err := sdk.VerifyDir(dir, sdk.NewKeySet(old.Public()), false, nil)
	if err != nil || sum.Records != 7 {
		t.Fatalf("verify with the old key: %+v %v", sum, err)
	}
	// Reopened with the retired key, the rotated chain takes no record
	// (nor a seal); with the new key it goes on.
	lo, _, err := sdk.OpenDurable(dir, sdk.Config{Signer: old}, sdk.DurableOptions{Keys: sdk.NewKeySet(old.Public())})
	if err != nil {
		t.Fatal(err)
	}
	r := coreRecord(99)
	if _, err := lo.Append(&r); !errors.Is(err, sdk.ErrConfig) || !strings.Contains(err.Error(), "retired at") {
		t.Fatalf("append with the retired key: %v", err)
	}
	if err := lo.Close(); err != nil {
		t.Fatal(err)
	}
	l, _, err = sdk.OpenDurable(dir, sdk.Config{Signer: next}, sdk.DurableOptions{Keys: sdk.NewKeySet(old.Public())})
	if err != nil {
		t.Fatal(err)
	}
	coreAppendFrom(t, l, 6, 1)
	l.Close()
	if _, err := sdk.VerifyDir(dir, sdk.NewKeySet(old.Public()), true, nil); err != nil {
		t.Fatal(err)
	}
}

// TestRotateKeySameKey: rotating to the key that already signs the log is
// a mistake, not a rotation.
func TestRotateKeySameKey(t *testing.T) {
	k := rotateSigner(t, "old key")
	l := coreLog(t, sdk.Config{Signer: k})
	coreAppend(t, l, 2)
	if _, err := l.RotateKey(k); !errors.Is(err, sdk.ErrConfig) {
		t.Fatalf("RotateKey to the current key: %v", err)
	}
}

// TestRotateKeyNilSigner: RotateKey(nil) panicked (a nil interface's
// KeyID) where New refuses a nil Signer with ErrConfig. It is ErrConfig,
// and the log goes on as it was.
func TestRotateKeyNilSigner(t *testing.T) {
	l := coreLog(t, sdk.Config{Signer: rotateSigner(t, "old key")})
	coreAppend(t, l, 2)
	before := l.Heads()
	if _, err := l.RotateKey(nil); !errors.Is(err, sdk.ErrConfig) {
		t.Fatalf("RotateKey(nil): %v, want ErrConfig", err)
	}
	if after := l.Heads(); len(after) != 1 || after[0] != before[0] {
		t.Fatalf("RotateKey(nil) changed the chain: %+v, then %+v", before, after)
	}
	coreAppendFrom(t, l, 2, 1)
}

// TestRotateKeyConcurrent: two rotations at once run one after the other,
// so every chain ends under the same key, the log's: they interleaved
// chain by chain and left some chains under each key.
func TestRotateKeyConcurrent(t *testing.T) {
	for trial := 0; trial < 5; trial++ {
		orig := rotateSigner(t, "orig key")
		l := coreLog(t, sdk.Config{Signer: orig})
		for i := 0; i < 20; i++ {
			r := coreRecord(i)
			r.Stream = "s" + strconv.Itoa(i)
			if _, err := l.Append(&r); err != nil {
				t.Fatal(err)
			}
		}
		ka, kb := rotateSigner(t, "key a"), rotateSigner(t, "key b")
		var wg sync.WaitGroup
		for _, k := range []sdk.Signer{ka, kb} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := l.RotateKey(k); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		signers := map[sdk.KeyID]int{}
		for i := 0; i < 20; i++ {
			r := coreRecord(100 + i)
			r.Stream = "s" + strconv.Itoa(i)
			a, err := l.Append(&r)
			if err != nil {
				t.Fatal(err)
			}
			signers[a.Record.KeyID]++
			if _, err := sdk.VerifyChain(l.Store().Iter(r.WriterID, r.Stream), sdk.NewKeySet(orig.Public()), sdk.VerifyOptions{}); err != nil {
				t.Fatalf("trial %d chain %s: %v", trial, r.Stream, err)
			}
		}
		if len(signers) != 1 {
			t.Fatalf("trial %d: chains split between keys after concurrent rotations: %v", trial, signers)
		}
	}
}

// failAfter is a Signer that fails once it has signed n times: a crash in
// the middle of a rotation, as the log sees it.
type failAfter struct {
	sdk.Signer
	n int
}

func (f *failAfter) Sign(msg []byte, sig *sdk.Signature) error {
	if f.n == 0 {
		return errors.New("signer gone")
	}
	f.n--
	return f.Signer.Sign(msg, sig)
}

// TestRotateKeyResumes: a rotation cut short (one chain of three has its
// transition) is finished by RotateKey to the same key after a reopen
// with the old key: the rotated chain takes no record under the old key
// meanwhile, no chain gets a second transition, and every chain verifies
// with the old key alone and ends under the new one.
func TestRotateKeyResumes(t *testing.T) {
	old, next := rotateSigner(t, "old key"), rotateSigner(t, "next key")
	dir, streams := cutShortRotation(t, old, next, sdk.NewKeySet(old.Public()))

	l, _, err := sdk.OpenDurable(dir, sdk.Config{Signer: old}, sdk.DurableOptions{Keys: sdk.NewKeySet(old.Public())})
	if err != nil {
		t.Fatalf("reopen after the cut: %v", err)
	}
	var rotated, pending int
	for i, s := range streams {
		r := coreRecord(10 + i)
		r.Stream = s
		if _, err := l.Append(&r); errors.Is(err, sdk.ErrConfig) {
			rotated++
		} else if err == nil {
			pending++
		} else {
			t.Fatal(err)
		}
	}
	if rotated != 1 || pending != 2 {
		t.Fatalf("%d chains rotated, %d not; want 1 and 2", rotated, pending)
	}
	heads, err := l.RotateKey(next)
	if err != nil || len(heads) != 3 {
		t.Fatalf("finishing the rotation: %+v %v", heads, err)
	}
	for i, s := range streams {
		r := coreRecord(20 + i)
		r.Stream = s
		a, err := l.Append(&r)
		if err != nil || a.Record.KeyID != next.KeyID() {
			t.Fatalf("%s after the rotation: %v, key %s", s, err, a.Record.KeyID)
		}
	}
	l.Close()
	sum, err := sdk.VerifyDir(dir, sdk.NewKeySet(old.Public()), false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Retired) != 3 {
		t.Fatalf("%d transitions, want one per chain: %+v", len(sum.Retired), sum.Retired)
	}
}

// TestKeyTransitionValue pins canonical SPEC.md section 5: a record
// holding the transition attr is a transition whatever its kind, and its
// value is "ed25519:" and 64 lower-case hex digits, nothing else.
func TestKeyTransitionValue(t *testing.T) {
	pub := strings.Repeat("ab", 32)
	for _, tc := range []struct {
		kind   canonical.Kind
		value  string
		ok     bool // the attr is there
		broken bool // and names no key
	}{
		{canonical.KindPolicyChanged, "ed25519:" + pub, true, false},
		{canonical.KindCapIssued, "ed25519:" + pub, true, false},
		{canonical.KindPolicyChanged, "ed25519:" + strings.ToUpper(pub), true, true},
		{canonical.KindPolicyChanged, pub, true, true},
		{canonical.KindPolicyChanged, "ed25519:" + pub[:62], true, true},
		{canonical.KindPolicyChanged, "", false, false}, // no attr at all
	} {
		rec := canonical.AuditRecord{V: 1, Kind: tc.kind, Seq: 1, WriterID: "w", Stream: "s", Prev: make([]byte, 32)}
		if tc.value != "" {
			rec.Attrs = []canonical.Attr{{Key: sdk.KeyTransitionAttr, Value: tc.value}}
		}
		b, err := canonical.AppendRecord(nil, &rec, canonical.DefaultLimits)
		if err != nil {
			t.Fatal(err)
		}
		v, err := canonical.OpenAuditRecord(b)
		if err != nil {
			t.Fatal(err)
		}
		next, ok, err := sdk.KeyTransition(v)
		if ok != tc.ok || (err != nil) != tc.broken {
			t.Errorf("kind %v value %q: ok %v err %v", tc.kind, tc.value, ok, err)
		}
		if ok && !tc.broken && hex.EncodeToString(next) != pub {
			t.Errorf("value %q: key %x", tc.value, next)
		}
	}
}

// handChain builds a chain record by record as a writer that bypasses the
// Log could: each step is signed by its signer (none: unsigned) and, when next is set,
// holds a transition naming it. RotateKey writes none of the refused
// transitions below; verifiers must refuse them anyway.
func handChain(t *testing.T, steps []handStep) []sdk.Sealed {
	t.Helper()
	var recs []sdk.Sealed
	prev := make([]byte, 32)
	for i, st := range steps {
		rec := canonical.AuditRecord{V: 1, Kind: canonical.KindPolicyChanged, Seq: uint64(i + 1), TsMs: uint64(i + 1), WriterID: "w", Stream: "s", Prev: prev}
		if st.next != nil {
			rec.Attrs = []canonical.Attr{{Key: sdk.KeyTransitionAttr, Value: "ed25519:" + hex.EncodeToString(st.next.Public())}}
		}
		b, err := canonical.AppendRecord(nil, &rec, canonical.DefaultLimits)
		if err != nil {
			t.Fatal(err)
		}
		s := sdk.Sealed{Bytes: b, Hash: canonical.RecordHash(b)}
		if st.by != nil { // else unsigned, as under the checkpoint-sealed policy
			s.Signed, s.KeyID = true, st.by.KeyID()
			m := canonical.SignedMessage(s.Hash)
			if err := st.by.Sign(m[:], &s.Sig); err != nil {
				t.Fatal(err)
			}
		}
		recs = append(recs, s)
		prev = s.Hash[:]
	}
	return recs
}

type handStep struct{ by, next *sdk.Ed25519Signer }

func TestTransitionMustHandOver(t *testing.T) {
	o, n := rotateSigner(t, "hand o"), rotateSigner(t, "hand n")
	keys := sdk.NewKeySet(o.Public())
	ok := handChain(t, []handStep{{by: o}, {by: o, next: n}, {by: n}})
	if _, err := sdk.VerifyChain(sdk.NewSliceIterator(ok), keys, sdk.VerifyOptions{}); err != nil {
		t.Fatalf("a rotation o -> n: %v", err)
	}
	for _, tc := range []struct {
		name  string
		steps []handStep
		seq   uint64
	}{
		{"names its own signer", []handStep{{by: o}, {by: o, next: o}}, 2},
		{"names a retired key", []handStep{{by: o, next: n}, {by: n, next: o}}, 2},
	} {
		_, err := sdk.VerifyChain(sdk.NewSliceIterator(handChain(t, tc.steps)), keys, sdk.VerifyOptions{})
		var ve *sdk.VerifyError
		if !errors.As(err, &ve) || ve.Reason != sdk.ReasonBadTransition || ve.Seq != tc.seq {
			t.Errorf("%s: got %v, want %s at seq %d", tc.name, err, sdk.ReasonBadTransition, tc.seq)
		}
	}
}

// followRecorder is an Observer that records FollowKey calls.
type followRecorder struct{ followed []sdk.KeyID }

func (f *followRecorder) Committed(string, string, uint64, canonical.Hash, bool) {}
func (f *followRecorder) Durable(string, string, uint64, bool)                   {}
func (f *followRecorder) FollowKey(next sdk.Signer)                              { f.followed = append(f.followed, next.KeyID()) }

// TestRotateKeyRefusesUnwritableTransition: a chain whose records fit the
// log's limits but whose key transition (about 110 bytes more) does not
// makes RotateKey fail before anything changes. It used to fail after the
// log and its Keeper had moved to the new key: the rotation could never be
// finished, and the Keeper signed with a key no transition names.
func TestRotateKeyRefusesUnwritableTransition(t *testing.T) {
	old, next := rotateSigner(t, "old key"), rotateSigner(t, "next key")
	obs := &followRecorder{}
	// The longest stream a record of this test allows, under limits
	// small enough for a stream within sdk.MaxChainName to reach them.
	lim := canonical.Limits{MaxRecord: canonical.MinMaxAttrs, MaxAttrs: canonical.MinMaxAttrs}
	stream := "s"
	for {
		r := canonical.AuditRecord{WriterID: "w", Stream: stream + "s", Seq: 1, TsMs: 1, Prev: make([]byte, 32)}
		if _, err := canonical.AppendRecord(nil, &r, lim); err != nil {
			break
		}
		stream += "s"
	}
	l := coreLog(t, sdk.Config{Signer: old, Observer: obs, Limits: lim})
	for _, s := range []string{stream, "short"} {
		if _, err := l.Append(&canonical.AuditRecord{WriterID: "w", Stream: s, TsMs: 1}); err != nil {
			t.Fatal(err)
		}
	}
	_, err := l.RotateKey(next)
	if !errors.Is(err, sdk.ErrConfig) || !errors.Is(err, canonical.ErrTooLarge) {
		t.Fatalf("RotateKey: %v, want ErrConfig wrapping the SizeError", err)
	}
	if len(obs.followed) != 0 {
		t.Fatalf("the Keeper was told to follow %v", obs.followed)
	}
	if _, ok := l.Keys().Lookup(next.KeyID()); ok {
		t.Fatal("the refused key joined the log's keys")
	}
	for _, s := range []string{stream, "short"} {
		a, err := l.Append(&canonical.AuditRecord{WriterID: "w", Stream: s, TsMs: 2})
		if err != nil || a.Record.KeyID != old.KeyID() || a.Seq != 2 {
			t.Fatalf("%.8s: %+v, %v; want seq 2 signed by the old key", s, a, err)
		}
	}
}

// TestVerifyResumeKeepsRetirement: a verification resumed from a Start
// after a rotation, given the transitions before it (Retired), refuses
// the retired key as a whole-chain verification does, sequential or
// parallel, and trusts the key the transition named.
func TestVerifyResumeKeepsRetirement(t *testing.T) {
	old, next := rotateSigner(t, "old key"), rotateSigner(t, "next key")
	l := coreLog(t, sdk.Config{Signer: old})
	coreAppend(t, l, 5)
	if _, err := l.RotateKey(next); err != nil {
		t.Fatal(err)
	}
	coreAppendFrom(t, l, 5, 10)
	recs := chainRecs(l, "svc-gateway@inst-1", "reads")
	both := sdk.NewKeySet(old.Public(), next.Public())
	first, err := sdk.VerifyChain(sdk.NewSliceIterator(recs[:7]), both, sdk.VerifyOptions{})
	if err != nil || len(first.Retired) != 1 {
		t.Fatalf("up to seq 7: %+v %v", first, err)
	}
	start := first.Head
	opts := sdk.VerifyOptions{Start: &start, Retired: first.Retired}
	// Honest records: they verify, and the result still lists the
	// transition, for the next resume.
	for _, keys := range []*sdk.KeySet{both, sdk.NewKeySet(old.Public())} {
		res, err := sdk.VerifyChain(sdk.NewSliceIterator(recs[7:]), keys, opts)
		if err != nil || res.Records != len(recs)-7 || len(res.Retired) != 1 || res.Retired[0].Seq != 6 {
			t.Fatalf("resumed: %+v %v", res, err)
		}
	}
	// The holder of the retired key signs seq 9.
	forged := append([]sdk.Sealed(nil), recs[7:]...)
	msg := canonical.SignedMessage(forged[1].Hash)
	if err := old.Sign(msg[:], &forged[1].Sig); err != nil {
		t.Fatal(err)
	}
	forged[1].KeyID = old.KeyID()
	var ve *sdk.VerifyError
	if _, err := sdk.VerifyChain(sdk.NewSliceIterator(forged), both, opts); !errors.As(err, &ve) || ve.Reason != sdk.ReasonRetiredKey || ve.Seq != 9 {
		t.Fatalf("resumed, retired key: %v", err)
	}
	if _, err := sdk.VerifyChainParallel(forged, both, opts, 2); !errors.As(err, &ve) || ve.Reason != sdk.ReasonRetiredKey || ve.Seq != 9 {
		t.Fatalf("resumed in parallel, retired key: %v", err)
	}
	// Another chain's retirements do not apply.
	other := []sdk.Retirement{first.Retired[0]}
	other[0].Stream = "another"
	if _, err := sdk.VerifyChain(sdk.NewSliceIterator(recs[7:]), sdk.NewKeySet(old.Public()), sdk.VerifyOptions{Start: &start, Retired: other}); !errors.Is(err, sdk.ErrUnknownKey) {
		t.Fatalf("another chain's transition: %v", err)
	}
}

// TestRotateKeyCutShortReopenedWithNext: after a crash in RotateKey, the
// operator reopens the log with the new key. The chains the rotation had
// not reached are still the old key's, with no transition: the new key
// may not take them over silently (a verifier holding only the old key
// could not follow, and the old key would stay in force there); the
// error says to finish with the old key, and that works.
func TestRotateKeyCutShortReopenedWithNext(t *testing.T) {
	old, next := rotateSigner(t, "old key"), rotateSigner(t, "next key")
	both := sdk.NewKeySet(old.Public(), next.Public())
	dir, streams := cutShortRotation(t, old, next, both)

	appendEach := func(l *sdk.Log, from int) (ok, refused int) {
		for i, s := range streams {
			r := coreRecord(from + i)
			r.Stream = s
			a, err := l.Append(&r)
			switch {
			case errors.Is(err, sdk.ErrConfig):
				if !strings.Contains(err.Error(), "open the log with key "+old.KeyID().String()) {
					t.Fatalf("%s: the error does not say how to finish: %v", s, err)
				}
				refused++
			case err != nil:
				t.Fatal(err)
			case a.Record.KeyID != next.KeyID():
				t.Fatalf("%s: signed by %s", s, a.Record.KeyID)
			default:
				ok++
			}
		}
		return ok, refused
	}
	l, _, err := sdk.OpenDurable(dir, sdk.Config{Signer: next}, sdk.DurableOptions{Keys: both})
	if err != nil {
		t.Fatalf("reopen with the new key: %v", err)
	}
	if ok, refused := appendEach(l, 10); ok != 1 || refused != 2 {
		t.Fatalf("reopened with the new key: %d chains took a record, %d refused; want 1 and 2", ok, refused)
	}
	if _, err := l.RotateKey(rotateSigner(t, "third key")); !errors.Is(err, sdk.ErrConfig) {
		t.Fatalf("rotating on past the cut: %v", err)
	}
	l.Close()

	// Finishing with the old key, as the error says.
	l, _, err = sdk.OpenDurable(dir, sdk.Config{Signer: old}, sdk.DurableOptions{Keys: both})
	if err != nil {
		t.Fatal(err)
	}
	if heads, err := l.RotateKey(next); err != nil || len(heads) != 3 {
		t.Fatalf("finishing the rotation: %+v %v", heads, err)
	}
	l.Close()
	l, _, err = sdk.OpenDurable(dir, sdk.Config{Signer: next}, sdk.DurableOptions{Keys: both})
	if err != nil {
		t.Fatal(err)
	}
	if ok, refused := appendEach(l, 20); ok != 3 || refused != 0 {
		t.Fatalf("after finishing: %d chains took a record, %d refused", ok, refused)
	}
	l.Close()
	sum, err := sdk.VerifyDir(dir, sdk.NewKeySet(old.Public()), false, nil)
	if err != nil || len(sum.Retired) != 3 || sum.Records != 3+3+1+3 { // records, transitions, one after the cut, one each after
		t.Fatalf("old key only: %d records, %+v %v", sum.Records, sum.Retired, err)
	}
}

// cutShortRotation writes a durable log of three chains (streams a, b, c)
// signed by old, one record each, then starts RotateKey(next) and cuts it
// short after the first chain's transition, as a crash would. It returns
// the log's directory, closed.
func cutShortRotation(t *testing.T, old, next sdk.Signer, keys *sdk.KeySet) (dir string, streams []string) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "wal")
	cut := &failAfter{Signer: old}
	l, _, err := sdk.OpenDurable(dir, sdk.Config{Signer: cut}, sdk.DurableOptions{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	streams = []string{"a", "b", "c"}
	cut.n = len(streams) + 1 // a record per chain, then one transition
	for i, s := range streams {
		r := coreRecord(i)
		r.Stream = s
		if _, err := l.Append(&r); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.RotateKey(next); err == nil {
		t.Fatal("the cut-short rotation succeeded")
	}
	l.Close()
	return dir, streams
}

// TestRotateKeyRefusesUnwritableTransitionOfNewChain: as
// TestRotateKeyRefusesUnwritableTransition, for a chain started while
// RotateKey checks the others (here from its Clock, which the check
// reads): it has a record, so it needs a transition, which is too large.
// RotateKey checked only the chains it had gathered first: it moved the
// log to the new key, and the transition failed in the middle of the
// rotation (after others were written, a rotation cut short that
// RotateKey could never finish, each retry refused by the check).
func TestRotateKeyRefusesUnwritableTransitionOfNewChain(t *testing.T) {
	old, next := rotateSigner(t, "old key"), rotateSigner(t, "next key")
	obs := &followRecorder{}
	// The longest stream a record of this test allows, under limits
	// small enough for a stream within sdk.MaxChainName to reach them.
	lim := canonical.Limits{MaxRecord: canonical.MinMaxAttrs, MaxAttrs: canonical.MinMaxAttrs}
	stream := "s"
	for {
		r := canonical.AuditRecord{WriterID: "w", Stream: stream + "s", Seq: 1, TsMs: 1, Prev: make([]byte, 32)}
		if _, err := canonical.AppendRecord(nil, &r, lim); err != nil {
			break
		}
		stream += "s"
	}
	var (
		l       *sdk.Log
		armed   atomic.Bool
		hookErr error
	)
	clock := func() time.Time {
		if armed.CompareAndSwap(true, false) {
			_, hookErr = l.Append(&canonical.AuditRecord{WriterID: "w", Stream: stream, TsMs: 1})
		}
		return time.UnixMilli(1764201600000)
	}
	l = coreLog(t, sdk.Config{Signer: old, Observer: obs, Clock: clock, Limits: lim})
	for i := range 8 {
		if _, err := l.Append(&canonical.AuditRecord{WriterID: "w", Stream: "short" + strconv.Itoa(i), TsMs: 1}); err != nil {
			t.Fatal(err)
		}
	}
	armed.Store(true)
	_, err := l.RotateKey(next)
	if hookErr != nil || armed.Load() {
		t.Fatalf("the chain started during the check: %v (started: %v)", hookErr, !armed.Load())
	}
	if !errors.Is(err, sdk.ErrConfig) || !errors.Is(err, canonical.ErrTooLarge) {
		t.Fatalf("RotateKey: %v, want ErrConfig wrapping the SizeError", err)
	}
	for i := range 8 {
		if h, _ := l.Head("w", "short"+strconv.Itoa(i)); h.Seq != 1 {
			t.Errorf("short%d: head seq %d after a refused rotation: a transition was written", i, h.Seq)
		}
	}
	if len(obs.followed) != 0 {
		t.Fatalf("the Keeper was told to follow %v", obs.followed)
	}
	if _, ok := l.Keys().Lookup(next.KeyID()); ok {
		t.Fatal("the refused key joined the log's keys")
	}
	a, err := l.Append(&canonical.AuditRecord{WriterID: "w", Stream: "after", TsMs: 1})
	if err != nil || a.Record.KeyID != old.KeyID() {
		t.Fatalf("a chain started after the refused rotation: %v, signed by %s, want the old key %s", err, a.Record.KeyID, old.KeyID())
	}
}
