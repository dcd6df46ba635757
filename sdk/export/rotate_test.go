package export

import (
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/checkpoint"
)

func rotateKey(t *testing.T, label string) *sdk.Ed25519Signer {
	t.Helper()
	seed := make([]byte, ed25519.SeedSize)
	copy(seed, label)
	s, err := sdk.NewEd25519Signer(ed25519.NewKeyFromSeed(seed))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// rotationLog opens a durable log of chain w/s in walDir signed by
// signer, and add(from, n) appends n records to it, the first with tsMs
// from+1.
func rotationLog(t *testing.T, walDir string, signer sdk.Signer) (*sdk.Log, func(from, n int)) {
	t.Helper()
	log, _, err := sdk.OpenDurable(walDir, sdk.Config{Signer: signer}, sdk.DurableOptions{})
	if err != nil {
		t.Fatal(err)
	}
	add := func(from, n int) {
		for i := from; i < from+n; i++ {
			r := canonical.AuditRecord{WriterID: "w", Stream: "s", TsMs: uint64(i + 1), Reason: "r" + strconv.Itoa(i)}
			if _, err := log.Append(&r); err != nil {
				t.Fatal(err)
			}
		}
	}
	return log, add
}

// TestBundlesFollowKeyRotation: bundles written across a key rotation
// verify with the old key alone (the transition names the new one, which
// signs the later checkpoints); a record signed by the retired key after
// the transition is refused, and so is a checkpoint by it past the
// transition: it would vouch for records the new key never signed.
func TestBundlesFollowKeyRotation(t *testing.T) {
	old, next := rotateKey(t, "bundle old key"), rotateKey(t, "bundle next key")
	dir := t.TempDir()
	walDir := filepath.Join(dir, "wal")
	log, add := rotationLog(t, walDir, old)
	sink := &FileSink{Dir: filepath.Join(dir, "out")}
	ex := &Exporter{Sink: sink, Signer: old}
	add(0, 4)
	b1, err := ex.Export(walDir, "w", "s", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := log.RotateKey(next); err != nil {
		t.Fatal(err)
	}
	add(4, 4)
	log.Close()
	// The exporter refuses to sign with the retired key; one given that
	// key as a note signer (as whoever holds it could) makes the bundle.
	if _, err := (&Exporter{Sink: &memSink{}, Signer: old}).Export(walDir, "w", "s", b1.State()); !errors.Is(err, sdk.ErrConfig) {
		t.Fatalf("export signed by the retired key: %v", err)
	}
	stale, err := (&Exporter{Sink: &memSink{}, Signer: old, NoteSigner: checkpoint.NewNoteSigner(old, checkpoint.KeyName("w"))}).Export(walDir, "w", "s", b1.State())
	if err != nil {
		t.Fatal(err)
	}
	ex.Signer = next // the key in force signs from the rotation on
	b2, err := ex.Export(walDir, "w", "s", b1.State())
	if err != nil {
		t.Fatal(err)
	}
	trust := sdk.NewKeySet(old.Public())
	sum, err := VerifyDir(filepath.Join(dir, "out", "w", "s"), KeyVerifiers(old.Public()), trust, nil)
	if err != nil || sum.Records != 9 {
		t.Fatalf("sequence across the rotation: %+v %v", sum, err)
	}
	// The second bundle holds the transition (seq 5), so it verifies alone
	// with the old key too.
	data2, _ := b2.MarshalBinary()
	if _, err := VerifyBundle(data2, KeyVerifiers(old.Public()), trust); err != nil {
		t.Fatalf("second bundle alone: %v", err)
	}
	// A record after the transition re-signed by the retired key.
	forged := *b2
	forged.Records = append([]sdk.Sealed(nil), b2.Records...)
	r := &forged.Records[len(forged.Records)-1]
	msg := canonical.SignedMessage(r.Hash)
	if err := old.Sign(msg[:], &r.Sig); err != nil {
		t.Fatal(err)
	}
	r.KeyID = old.KeyID()
	data1, _ := b1.MarshalBinary()
	dataF, _ := forged.MarshalBinary()
	_, err = VerifySequence([]Named{{"1", data1}, {"2", dataF}}, KeyVerifiers(old.Public()), trust, nil)
	if !errors.Is(err, sdk.ErrRetiredKey) {
		t.Fatalf("retired key: %v", err)
	}
	// The retired key's checkpoint of all 9 records, alone and in the
	// sequence, even with the new key trusted too.
	dataS, _ := stale.MarshalBinary()
	for name, seq := range map[string][]Named{"alone": {{"2", dataS}}, "sequence": {{"1", data1}, {"2", dataS}}} {
		_, err := VerifySequence(seq, KeyVerifiers(old.Public(), next.Public()), sdk.NewKeySet(old.Public(), next.Public()), nil)
		if name == "alone" {
			_, err = VerifyBundle(dataS, KeyVerifiers(old.Public(), next.Public()), sdk.NewKeySet(old.Public(), next.Public()))
		}
		if !errors.Is(err, checkpoint.ErrRetiredKey) || !errors.Is(err, ErrBadCheckpoint) {
			t.Errorf("%s: a checkpoint by the retired key past its transition: %v", name, err)
		}
	}
}

// TestTrustedCheckpointFollowsKeyRotation: the trusted checkpoint given
// to a sequence obeys the rotation the bundles carry, as their own
// checkpoints do: the new key's is trusted with the old key alone, the
// retired key's past its transition is refused, its one up to the
// transition is not.
func TestTrustedCheckpointFollowsKeyRotation(t *testing.T) {
	old, next := rotateKey(t, "trusted old key"), rotateKey(t, "trusted next key")
	dir := t.TempDir()
	walDir := filepath.Join(dir, "wal")
	log, add := rotationLog(t, walDir, old)
	sink := &memSink{}
	add(0, 4)
	b1, err := (&Exporter{Sink: sink, Signer: old}).Export(walDir, "w", "s", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := log.RotateKey(next); err != nil { // the transition is seq 5
		t.Fatal(err)
	}
	add(4, 4)
	log.Close()
	b2, err := (&Exporter{Sink: sink, Signer: next}).Export(walDir, "w", "s", b1.State())
	if err != nil {
		t.Fatal(err)
	}
	data1, _ := b1.MarshalBinary()
	data2, _ := b2.MarshalBinary()
	bundles := []Named{{"1", data1}, {"2", data2}}
	recs := append(append([]sdk.Sealed(nil), b1.Records...), b2.Records...)
	signAt := func(s *sdk.Ed25519Signer, size int64) []byte {
		root, err := treeOf(recs).RootAt(size)
		if err != nil {
			t.Fatal(err)
		}
		msg, err := checkpoint.Sign(checkpoint.Origin("w", "s"), size, root, checkpoint.NewNoteSigner(s, checkpoint.KeyName("w")))
		if err != nil {
			t.Fatal(err)
		}
		return msg
	}
	oldOnly, oldKeys := KeyVerifiers(old.Public()), sdk.NewKeySet(old.Public())
	both, bothKeys := KeyVerifiers(old.Public(), next.Public()), sdk.NewKeySet(old.Public(), next.Public())

	// The new key's checkpoint of all 9 records, with the old key alone.
	sum, err := VerifySequenceTrusted(bundles, oldOnly, oldKeys, signAt(next, 9))
	if err != nil || sum.Trusted == nil || sum.Trusted.Size != 9 {
		t.Fatalf("new key's trusted checkpoint with the old key: %+v %v", sum.Trusted, err)
	}
	// The old key's up to its transition.
	for _, size := range []int64{4, 5} {
		if _, err := VerifySequenceTrusted(bundles, oldOnly, oldKeys, signAt(old, size)); err != nil {
			t.Errorf("old key's trusted checkpoint of %d: %v", size, err)
		}
	}
	// The old key's past its transition, whichever keys are trusted and
	// whether the caller or the sequence opens it.
	stale := signAt(old, 6)
	for name, vk := range map[string]struct {
		vs   note.Verifiers
		keys *sdk.KeySet
	}{"old": {oldOnly, oldKeys}, "both": {both, bothKeys}} {
		_, err := VerifySequenceTrusted(bundles, vk.vs, vk.keys, stale)
		if !errors.Is(err, ErrBadCheckpoint) || !errors.Is(err, checkpoint.ErrRetiredKey) {
			t.Errorf("%s: retired key's trusted checkpoint (note): %v", name, err)
		}
		cp, err := checkpoint.Open(stale, vk.vs)
		if err != nil {
			t.Fatal(err)
		}
		_, err = VerifySequence(bundles, vk.vs, vk.keys, &cp)
		if !errors.Is(err, ErrBadCheckpoint) || !errors.Is(err, checkpoint.ErrRetiredKey) {
			t.Errorf("%s: retired key's trusted checkpoint (opened): %v", name, err)
		}
	}
	// A checkpoint by neither key, and one no transition of the first
	// bundle alone names.
	other := rotateKey(t, "trusted other key")
	if _, err := VerifySequenceTrusted(bundles, oldOnly, oldKeys, signAt(other, 9)); !errors.Is(err, ErrBadCheckpoint) || !errors.Is(err, checkpoint.ErrUnknownKey) {
		t.Errorf("unknown key's trusted checkpoint: %v", err)
	}
	if _, err := VerifySequenceTrusted(bundles[:1], oldOnly, oldKeys, signAt(next, 4)); !errors.Is(err, checkpoint.ErrUnknownKey) {
		t.Errorf("new key's trusted checkpoint before any transition: %v", err)
	}
}

// handRecs builds a chain of testWriter/testStream record by record, each
// signed by by[i] (nil: unsigned) and, where next[i] is set, a transition naming it: what
// a writer bypassing the Log could write (RotateKey refuses the bad ones).
func handRecs(t *testing.T, by, next []*sdk.Ed25519Signer) []sdk.Sealed {
	t.Helper()
	var recs []sdk.Sealed
	prev := make([]byte, 32)
	for i := range by {
		rec := canonical.AuditRecord{V: 1, Kind: canonical.KindPolicyChanged, Seq: uint64(i + 1), TsMs: uint64(i + 1), WriterID: testWriter, Stream: testStream, Prev: prev}
		if next[i] != nil {
			rec.Attrs = []canonical.Attr{{Key: sdk.KeyTransitionAttr, Value: "ed25519:" + hex.EncodeToString(next[i].Public())}}
		}
		b, err := canonical.AppendRecord(nil, &rec, canonical.DefaultLimits)
		if err != nil {
			t.Fatal(err)
		}
		s := sdk.Sealed{Bytes: b, Hash: canonical.RecordHash(b)}
		if by[i] != nil { // else unsigned
			s.Signed, s.KeyID = true, by[i].KeyID()
			m := canonical.SignedMessage(s.Hash)
			if err := by[i].Sign(m[:], &s.Sig); err != nil {
				t.Fatal(err)
			}
		}
		recs = append(recs, s)
		prev = s.Hash[:]
	}
	return recs
}

// TestBundleTransitionRules: a key the verifier is given keeps its trust
// when a later transition names it (it may sign before), and a transition
// must hand the chain to another key that is not retired.
func TestBundleTransitionRules(t *testing.T) {
	o, n := rotateKey(t, "bundle o"), rotateKey(t, "bundle n")
	verify := func(recs []sdk.Sealed, signer sdk.Signer, pubs ...ed25519.PublicKey) error {
		b, err := (&Exporter{Sink: &memSink{}, Signer: signer}).ExportTree(treeOf(recs), testWriter, testStream, recs, nil)
		if err != nil {
			t.Fatal(err)
		}
		data, err := b.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		_, err = VerifyBundle(data, KeyVerifiers(pubs...), sdk.NewKeySet(pubs...))
		return err
	}
	// n signs seq 2 before the transition at seq 3 names it; both are given.
	early := handRecs(t, []*sdk.Ed25519Signer{o, n, o, n}, []*sdk.Ed25519Signer{nil, nil, n, nil})
	if err := verify(early, n, o.Public(), n.Public()); err != nil {
		t.Fatalf("a given key signing before the transition that names it: %v", err)
	}
	for _, tc := range []struct {
		name     string
		by, next []*sdk.Ed25519Signer
		seq      uint64
	}{
		{"names its own signer", []*sdk.Ed25519Signer{o, o}, []*sdk.Ed25519Signer{nil, o}, 2},
		{"names a retired key", []*sdk.Ed25519Signer{o, n}, []*sdk.Ed25519Signer{n, o}, 2},
	} {
		err := verify(handRecs(t, tc.by, tc.next), o, o.Public())
		var ve *sdk.VerifyError
		if !errors.As(err, &ve) || ve.Reason != sdk.ReasonBadTransition || ve.Seq != tc.seq {
			t.Errorf("%s: got %v, want %s at seq %d", tc.name, err, sdk.ReasonBadTransition, tc.seq)
		}
	}
}

// midRotation is a Keeper as Observer that, as each chain's key transition
// is committed, checkpoints every other chain: what a concurrent append's
// Durable does while RotateKey goes from chain to chain.
type midRotation struct {
	*checkpoint.Keeper
	writer  string
	streams []string
}

func (m midRotation) Retired(writer, stream string, id sdk.KeyID, seq uint64) {
	m.Keeper.Retired(writer, stream, id, seq)
	for _, s := range m.streams {
		if s != stream {
			if _, err := m.Keeper.Checkpoint(m.writer, s); err != nil {
				panic(err) // the test's own wiring
			}
		}
	}
}

// TestAutoAcrossRotationVerifiesWithFirstKey: a checkpoint the Keeper signs
// of a chain while RotateKey goes from chain to chain, before that
// chain's transition, and the bundle Auto exports up to it (even once
// the rotation is over), must be signed by the key still in force there
// (the old one): signed by the new key, which only the chain's later
// transition names, the bundle would not verify with the first key, in
// sequence or alone (TestCrashAll meets the case at random; this test
// every run).
func TestAutoAcrossRotationVerifiesWithFirstKey(t *testing.T) {
	old, next := rotateKey(t, "bundle old key"), rotateKey(t, "bundle next key")
	dir := t.TempDir()
	walDir := filepath.Join(dir, "wal")
	sink := &FileSink{Dir: filepath.Join(dir, "out")}
	auto := &Auto{Exporter: &Exporter{Sink: sink}, Prev: sink.Prev}
	keeper, err := checkpoint.NewKeeper(filepath.Join(walDir, "checkpoints"), old, checkpoint.KeeperOptions{Every: 100, Interval: -1, OnCheckpoint: auto.Checkpointed})
	if err != nil {
		t.Fatal(err)
	}
	streams := []string{"a", "b", "c"}
	obs := midRotation{Keeper: keeper, writer: "w", streams: streams}
	log, _, err := sdk.OpenDurable(walDir, sdk.Config{Signer: old, Observer: obs}, sdk.DurableOptions{Keys: sdk.NewKeySet(old.Public(), next.Public())})
	if err != nil {
		t.Fatal(err)
	}
	auto.Log, auto.Keeper = log, keeper
	add := func(n int) {
		for i := 0; i < n; i++ {
			for _, s := range streams {
				r := canonical.AuditRecord{WriterID: "w", Stream: s, TsMs: uint64(time.Now().UnixNano()), Reason: "r" + strconv.Itoa(i)}
				if _, err := log.Append(&r); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	add(3)
	if _, err := log.RotateKey(next); err != nil {
		t.Fatal(err)
	}
	// The exports of the checkpoints signed during the rotation run only
	// now, after it, as a busy export goroutine runs them: they are
	// signed by the key in force at their sizes, not by the Keeper's key
	// of the moment.
	auto.Start()
	add(2)
	if err := errors.Join(log.Close(), keeper.Close(), auto.Close()); err != nil {
		t.Fatal(err)
	}
	first := old.Public()
	sum, err := checkpoint.VerifyDir(walDir, []ed25519.PublicKey{first}, checkpoint.DirOptions{})
	if err != nil || len(sum.Unused) > 0 {
		t.Fatalf("the log and its checkpoints with the first key: %v, unused %v", err, sum.Unused)
	}
	// Each chain's first checkpoint, signed while another chain's
	// transition was committed (at 3, or at 4: the chain's own
	// transition), opens with the old key alone: a rotation
	// cut short there would have left it by a key no transition of its
	// chain names (checkpoint.VerifyDir: unused, not a seal).
	for _, s := range streams {
		hist, err := checkpoint.LoadHistory(filepath.Join(walDir, "checkpoints"), "w", s)
		if err != nil || len(hist) == 0 {
			t.Fatalf("history of %s: %d %v", s, len(hist), err)
		}
		if cp, err := checkpoint.Open(hist[0], KeyVerifiers(first)); err != nil || cp.Size > 4 {
			t.Errorf("%s: the checkpoint before its transition, with the old key: %+v %v", s, cp.Size, err)
		}
	}
	for _, s := range streams {
		seq, err := VerifyDir(filepath.Join(dir, "out", "w", s), KeyVerifiers(first), sdk.NewKeySet(first), nil)
		if err != nil || seq.Records != 6 {
			t.Errorf("the bundles of %s with the first key: %+v %v", s, seq.Head, err)
		}
	}
}

// TestReplayAfterRotationVerifiesWithFirstKey: a log whose rotation is
// done, reopened with the new key, with checkpoints a crash kept from
// being written before the transition. Signed by the replay as the
// records go by, they would carry the new key before the transition later
// in the log that names it, and Auto's bundle up to there would not verify
// with the first key. So the replay's checkpoint is written once the
// whole log is replayed (CheckReplay), by the key in force.
func TestReplayAfterRotationVerifiesWithFirstKey(t *testing.T) {
	old, next := rotateKey(t, "bundle old key"), rotateKey(t, "bundle next key")
	dir := t.TempDir()
	walDir := filepath.Join(dir, "wal")
	keys := sdk.NewKeySet(old.Public(), next.Public())
	// Records 1..4 by old, the transition at 5, record 6 by next; no
	// Keeper watching: its checkpoints are lost, as to a crash.
	bare, _, err := sdk.OpenDurable(walDir, sdk.Config{Signer: old}, sdk.DurableOptions{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	add := func(l *sdk.Log, from, n int) {
		for i := from; i < from+n; i++ {
			r := canonical.AuditRecord{WriterID: "w", Stream: "s", TsMs: uint64(i + 1), Reason: "r" + strconv.Itoa(i)}
			if _, err := l.Append(&r); err != nil {
				t.Fatal(err)
			}
		}
	}
	add(bare, 0, 4)
	if _, err := bare.RotateKey(next); err != nil {
		t.Fatal(err)
	}
	add(bare, 4, 1)
	if err := bare.Close(); err != nil {
		t.Fatal(err)
	}
	sink := &FileSink{Dir: filepath.Join(dir, "out")}
	auto := &Auto{Exporter: &Exporter{Sink: sink}, Prev: sink.Prev}
	keeper, err := checkpoint.NewKeeper(filepath.Join(walDir, "checkpoints"), next, checkpoint.KeeperOptions{Every: 3, Interval: -1, OnCheckpoint: auto.Checkpointed})
	if err != nil {
		t.Fatal(err)
	}
	l, _, err := sdk.OpenDurable(walDir, sdk.Config{Signer: next, Observer: keeper}, sdk.DurableOptions{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	auto.Log, auto.Keeper = l, keeper
	auto.Start()
	if err := errors.Join(l.Close(), keeper.Close(), auto.Close()); err != nil {
		t.Fatal(err)
	}
	first := old.Public()
	hist, err := checkpoint.LoadHistory(filepath.Join(walDir, "checkpoints"), "w", "s")
	if err != nil || len(hist) == 0 {
		t.Fatalf("history: %d %v", len(hist), err)
	}
	for _, n := range hist {
		cp, err := checkpoint.Open(n, KeyVerifiers(first, next.Public()))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := checkpoint.Open(n, KeyVerifiers(first)); cp.Size < 5 && err != nil {
			t.Errorf("the kept checkpoint at %d, before the transition at 5, is not by the old key: %v", cp.Size, err)
		}
	}
	seq, err := VerifyDir(filepath.Join(dir, "out", "w", "s"), KeyVerifiers(first), sdk.NewKeySet(first), nil)
	if err != nil || seq.Records != 6 {
		t.Fatalf("the bundles with the first key: %d records, %v", seq.Records, err)
	}
}

// TestAutoCatchesUpAtTransitionWithNewKey: a chain whose last record is
// its transition, checkpointed there by the old key and not exported
// before the crash; the log reopened with the new key only. The bundle up
// to the transition may be signed by the new key (the transition it
// holds names it), and Auto's Start writes it: the chain gets no more
// records to carry the export otherwise.
func TestAutoCatchesUpAtTransitionWithNewKey(t *testing.T) {
	old, next := rotateKey(t, "bundle old key"), rotateKey(t, "bundle next key")
	dir := t.TempDir()
	walDir, cpDir := filepath.Join(dir, "wal"), filepath.Join(dir, "wal", "checkpoints")
	keys := sdk.NewKeySet(old.Public(), next.Public())
	keeper, err := checkpoint.NewKeeper(cpDir, old, checkpoint.KeeperOptions{Every: 100, Interval: -1})
	if err != nil {
		t.Fatal(err)
	}
	l, _, err := sdk.OpenDurable(walDir, sdk.Config{Signer: old, Observer: keeper}, sdk.DurableOptions{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if _, err := l.Append(&canonical.AuditRecord{WriterID: "w", Stream: "s", TsMs: uint64(i + 1)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.RotateKey(next); err != nil { // seq 4
		t.Fatal(err)
	}
	if err := errors.Join(l.Close(), keeper.Close()); err != nil { // checkpoint at 4, by the old key
		t.Fatal(err)
	}
	sink := &FileSink{Dir: filepath.Join(dir, "out")}
	auto := &Auto{Exporter: &Exporter{Sink: sink}, Prev: sink.Prev}
	keeper, err = checkpoint.NewKeeper(cpDir, next, checkpoint.KeeperOptions{Every: 100, Interval: -1, OnCheckpoint: auto.Checkpointed})
	if err != nil {
		t.Fatal(err)
	}
	l, _, err = sdk.OpenDurable(walDir, sdk.Config{Signer: next, Observer: keeper}, sdk.DurableOptions{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	auto.Log, auto.Keeper = l, keeper
	auto.Start()
	if err := errors.Join(l.Close(), keeper.Close(), auto.Close()); err != nil {
		t.Fatal(err)
	}
	seq, err := VerifyDir(filepath.Join(dir, "out", "w", "s"), KeyVerifiers(old.Public()), sdk.NewKeySet(old.Public()), nil)
	if err != nil || seq.Records != 4 {
		t.Fatalf("the bundles with the first key: %d records, %v", seq.Records, err)
	}
}

// TestBundleTransitionVerdictsAgree: a chain's bundles, in sequence,
// accept exactly the chains sdk.VerifyChain accepts and refuse the others
// at the same seq (the reason may differ where a record breaks two rules:
// FORMAT.md leaves which one is reported first open), wherever the
// bundles split the chain: before, at or after a transition, whose key
// the bundle verifier learns from a scan ahead of the checks
// (keyTracker.learn) where VerifyChain learns it record by record. The
// chains are as a writer bypassing the Log could write them: records
// signed by any of three keys or unsigned, transitions naming any of them.
// The checkpoints are signed by a note key apart from the record keys,
// which counts at every size, so that only the records decide.
func TestBundleTransitionVerdictsAgree(t *testing.T) {
	o, n, x := rotateKey(t, "agree o"), rotateKey(t, "agree n"), rotateKey(t, "agree x")
	noteKey := rotateKey(t, "agree note key")
	signers := []*sdk.Ed25519Signer{nil, o, n, x}
	sets := [][]ed25519.PublicKey{{o.Public()}, {o.Public(), n.Public()}, {n.Public()}}
	failedAt := func(err error) string {
		var ve *sdk.VerifyError
		if err == nil {
			return "ok"
		} else if errors.As(err, &ve) {
			return "refused at seq " + strconv.FormatUint(ve.Seq, 10)
		}
		return "not a record failure: " + err.Error()
	}
	rng := rand.New(rand.NewPCG(16, 2026))
	seen := map[bool]int{}
	for i := range 200 {
		size := 2 + rng.IntN(5)
		by, next := make([]*sdk.Ed25519Signer, size), make([]*sdk.Ed25519Signer, size)
		for j := range size {
			by[j] = signers[rng.IntN(len(signers))]
			if rng.IntN(3) == 0 {
				next[j] = signers[1+rng.IntN(3)]
			}
		}
		recs := handRecs(t, by, next)
		split := 1 + rng.IntN(size-1)
		var bundles []Named
		for _, b := range exportSplits(t, noteKey, recs, split, size) {
			bundles = append(bundles, Named{Data: b})
		}
		for _, set := range sets {
			keys := sdk.NewKeySet(set...)
			_, err := sdk.VerifyChain(sdk.NewSliceIterator(recs), keys, sdk.VerifyOptions{AllowUnsealedTail: true})
			seen[err == nil]++
			want := failedAt(err)
			_, err = VerifySequence(bundles, KeyVerifiers(noteKey.Public()), keys, nil)
			var e *Error
			if err != nil && (!errors.As(err, &e) || e.Reason != ReasonRecord) {
				t.Errorf("chain %d (%d keys, split after seq %d): %v, want a record failure or none (VerifyChain: %s)", i, len(set), split, err, want)
				continue
			}
			if e != nil {
				err = e.Err
			}
			if got := failedAt(err); got != want {
				t.Errorf("chain %d (%d keys, split after seq %d): VerifyChain %s, the bundles %s (%v)", i, len(set), split, want, got, err)
			}
		}
	}
	if seen[true] < 20 || seen[false] < 20 {
		t.Fatalf("%d chains verified and %d failed: too few of one to compare", seen[true], seen[false])
	}
}
