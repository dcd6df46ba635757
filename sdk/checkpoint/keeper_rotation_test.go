package checkpoint

import (
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/wal"
)

// Key rotations, restarts and quiet chains: the Keeper signs only what it
// may, with the key it may, and vouches for a quiet chain's tail in time.

// rotationKey is a signer from a fixed seed.
func rotationKey(t *testing.T, s string) *sdk.Ed25519Signer {
	seed := make([]byte, ed25519.SeedSize)
	copy(seed, s)
	k, err := sdk.NewEd25519Signer(ed25519.NewKeyFromSeed(seed))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// durableChain reads the records of the durable log in wdir.
func durableChain(t *testing.T, wdir string) []sdk.Sealed {
	var recs []sdk.Sealed
	if _, err := sdk.ReadDir(wdir, func(rec sdk.Sealed, _ wal.Position) error {
		rec.Bytes = append([]byte(nil), rec.Bytes...)
		recs = append(recs, rec)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return recs
}

// streamRecords reads the records of stream in the durable log in wdir:
// one chain of a log whose chains share a writer (svc@inst-1).
func streamRecords(t *testing.T, wdir, stream string) []sdk.Sealed {
	var recs []sdk.Sealed
	for _, r := range durableChain(t, wdir) {
		if v, err := canonical.OpenAuditRecord(r.Bytes); err == nil && string(v.Stream()) == stream {
			recs = append(recs, r)
		}
	}
	return recs
}

// checkStartedWith checks that stream, a chain what names that started
// after a rotation began, has checkpoints kept in cdir, and that they and
// its records in the durable log in wdir verify with key alone, the key
// the chain started with: a verifier holding only that key for the chain
// must trust them. It returns the chain's records.
func checkStartedWith(t *testing.T, wdir, cdir, stream string, key *sdk.Ed25519Signer, what string) []sdk.Sealed {
	t.Helper()
	hist, err := LoadHistory(cdir, "svc@inst-1", stream)
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) == 0 {
		t.Fatalf("%s has no checkpoint", what)
	}
	recs := streamRecords(t, wdir, stream)
	v, _ := NoteVerifier(KeyName("svc@inst-1"), key.Public())
	if _, err := VerifyChain(sdk.NewSliceIterator(recs), sdk.NewKeySet(key.Public()), note.VerifierList(v), hist, sdk.VerifyOptions{}); err != nil {
		t.Errorf("%s, with the key it started with (%d checkpoints): %v", what, len(hist), err)
	}
	return recs
}

// TestKeeperStopsAtRetirementAfterReopen: reopened with the key a chain
// retired (the documented way to finish a rotation a crash cut short: open
// with the old key, RotateKey again), the replay's catch-up checkpoint
// must not go past the transition: signed by the retired key, it would
// leave a kept history that no longer verifies (sdk.RetireObserver).
func TestKeeperStopsAtRetirementAfterReopen(t *testing.T) {
	k1, k2 := rotationKey(t, "keeper test key"), rotationKey(t, "the next key")
	dir := t.TempDir()
	wdir, cdir := filepath.Join(dir, "wal"), filepath.Join(dir, "checkpoints")
	keys := sdk.NewKeySet(k1.Public(), k2.Public())

	k, _ := NewKeeper(cdir, k1, KeeperOptions{Every: 3, Interval: -1})
	l, _, err := sdk.OpenDurable(wdir, sdk.Config{Signer: k1, Observer: k}, sdk.DurableOptions{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	keeperAppend(t, l, 0, 3)                   // checkpoint at 3 (k1)
	if _, err := l.RotateKey(k2); err != nil { // transition at seq 4
		t.Fatal(err)
	}
	keeperAppend(t, l, 3, 2) // seq 5, 6: checkpoint at 6 (k2, FollowKey)
	l.Close()
	if err := k.Close(); err != nil {
		t.Fatal(err)
	}
	// Records 7..9 become durable; the process dies before the Keeper
	// writes the checkpoint at 9 (no Keeper watching, as
	// TestKeeperReplaySignsOnlyChecked simulates it).
	bare, _, err := sdk.OpenDurable(wdir, sdk.Config{Signer: k2}, sdk.DurableOptions{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	keeperAppend(t, bare, 5, 3)
	bare.Close()

	// Reopen with the old key, then RotateKey to k2 as documented.
	k, _ = NewKeeper(cdir, k1, KeeperOptions{Every: 3, Interval: -1})
	l, _, err = sdk.OpenDurable(wdir, sdk.Config{Signer: k1, Observer: k}, sdk.DurableOptions{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.RotateKey(k2); err != nil {
		t.Fatal(err)
	}
	l.Close()
	if err := k.Close(); err != nil {
		t.Fatal(err)
	}
	hist, err := LoadHistory(cdir, "svc@inst-1", "caps")
	if err != nil {
		t.Fatal(err)
	}
	v1, _ := NoteVerifier(KeyName("svc@inst-1"), k1.Public())
	v2, _ := NoteVerifier(KeyName("svc@inst-1"), k2.Public())
	_, err = VerifyChain(sdk.NewSliceIterator(durableChain(t, wdir)), sdk.NewKeySet(k1.Public()), note.VerifierList(v1, v2), hist, sdk.VerifyOptions{})
	if errors.Is(err, ErrRetiredKey) {
		t.Fatalf("the Keeper signed a checkpoint past the transition with the retired key: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// TestKeeperIgnoresRefusedRotation: finishing a rotation a crash cut
// short with the wrong new key (`ronaudit rotate --key OLD --new-key
// WRONG`) fails with ErrConfig before anything changes: a Keeper handed
// the wrong key would sign the chain's tail at Close with a key no
// transition names, breaking the kept history.
func TestKeeperIgnoresRefusedRotation(t *testing.T) {
	k1, x, y := rotationKey(t, "keeper test key"), rotationKey(t, "the next key"), rotationKey(t, "a wrong key")
	dir := t.TempDir()
	wdir, cdir := filepath.Join(dir, "wal"), filepath.Join(dir, "checkpoints")
	keys := sdk.NewKeySet(k1.Public(), x.Public())

	k, _ := NewKeeper(cdir, k1, KeeperOptions{Interval: -1})
	l, _, err := sdk.OpenDurable(wdir, sdk.Config{Signer: k1, Observer: k}, sdk.DurableOptions{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	keeperAppend(t, l, 0, 3)
	l.Close()
	if err := k.Close(); err != nil { // checkpoint at 3 by k1
		t.Fatal(err)
	}
	// A rotation to x that a crash cut short: the transition (seq 4) is
	// durable, the Keeper's checkpoint of it never written.
	bare, _, err := sdk.OpenDurable(wdir, sdk.Config{Signer: k1}, sdk.DurableOptions{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bare.RotateKey(x); err != nil {
		t.Fatal(err)
	}
	bare.Close()

	// What ronaudit rotate does, given the wrong new key.
	k, _ = NewKeeper(cdir, k1, KeeperOptions{})
	l, _, err = sdk.OpenDurable(wdir, sdk.Config{Signer: k1, Observer: k}, sdk.DurableOptions{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.RotateKey(y); !errors.Is(err, sdk.ErrConfig) {
		t.Fatalf("RotateKey(wrong key): %v", err)
	}
	if got := k.Signer().KeyID(); got == y.KeyID() {
		t.Errorf("RotateKey failed with ErrConfig, but the Keeper now signs with the key it refused (%s)", got)
	}
	l.Close()
	k.Close()

	hist, err := LoadHistory(cdir, "svc@inst-1", "caps")
	if err != nil {
		t.Fatal(err)
	}
	v1, _ := NoteVerifier(KeyName("svc@inst-1"), k1.Public())
	vx, _ := NoteVerifier(KeyName("svc@inst-1"), x.Public())
	if _, err := VerifyChain(sdk.NewSliceIterator(durableChain(t, wdir)), sdk.NewKeySet(k1.Public()), note.VerifierList(v1, vx), hist, sdk.VerifyOptions{}); err != nil {
		t.Fatalf("kept history after a refused rotation: %v", err)
	}
}

// TestNewKeeperErrorIsTyped: NewKeeper's errors are *Error too, as
// doc.go says of every error of the package.
func TestNewKeeperErrorIsTyped(t *testing.T) {
	f := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(f, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := NewKeeper(filepath.Join(f, "cp"), keeperSigner(t), KeeperOptions{})
	var e *Error
	if err == nil || !errors.As(err, &e) {
		t.Fatalf("NewKeeper error %T %v is not a *checkpoint.Error", err, err)
	}
}

// TestKeeperTickQuietChain: a chain that goes quiet is checkpointed by
// Tick once Interval has passed (Durable checks Interval only when a
// record arrives, so its tail stayed unvouched).
func TestKeeperTickQuietChain(t *testing.T) {
	now := time.Unix(1764201600, 0)
	k, err := NewKeeper(filepath.Join(t.TempDir(), "cp"), keeperSigner(t), KeeperOptions{Every: 1000, Interval: time.Minute, Clock: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	l, err := sdk.New(sdk.Config{Signer: keeperSigner(t), Observer: k})
	if err != nil {
		t.Fatal(err)
	}
	keeperAppend(t, l, 0, 3)
	now = now.Add(59 * time.Second)
	if err := k.Tick(); err != nil {
		t.Fatal(err)
	}
	if paths, _ := k.History("svc@inst-1", "caps"); len(paths) != 0 {
		t.Fatalf("checkpointed before Interval: %v", paths)
	}
	now = now.Add(time.Second)
	if err := k.Tick(); err != nil {
		t.Fatal(err)
	}
	if cps := openHistory(t, k); len(cps) != 1 || cps[0].Size != 3 {
		t.Fatalf("after Interval: %+v", cps)
	}
}

// TestVerifyChainFollowsRotationForCheckpoints: a verifier holding only
// the first key follows a rotation for the chain's checkpoints as it does
// for its records (sdk.Retirement.Next: "for checkpoints too"), as
// ronaudit verify and export.VerifySequence do: otherwise every
// checkpoint the Keeper signed with the new key is unknown_key, and an
// offline auditor given the first key cannot verify a rotated log with
// its kept checkpoints. A key no verified transition names stays unknown.
func TestVerifyChainFollowsRotationForCheckpoints(t *testing.T) {
	k1, k2 := rotationKey(t, "keeper test key"), rotationKey(t, "the next key")
	dir := t.TempDir()
	wdir, cdir := filepath.Join(dir, "wal"), filepath.Join(dir, "checkpoints")

	k, _ := NewKeeper(cdir, k1, KeeperOptions{Every: 3, Interval: -1})
	l, _, err := sdk.OpenDurable(wdir, sdk.Config{Signer: k1, Observer: k, SealEvery: 3}, sdk.DurableOptions{})
	if err != nil {
		t.Fatal(err)
	}
	keeperAppend(t, l, 0, 3)                   // checkpoint at 3 (k1)
	if _, err := l.RotateKey(k2); err != nil { // transition at seq 4
		t.Fatal(err)
	}
	keeperAppend(t, l, 3, 5) // checkpoints at 6 and 9 (k2); the last record unsigned
	l.Close()
	if err := k.Close(); err != nil { // checkpoint at 9 (k2)
		t.Fatal(err)
	}
	hist, err := LoadHistory(cdir, "svc@inst-1", "caps")
	if err != nil {
		t.Fatal(err)
	}
	recs := durableChain(t, wdir)
	v1, _ := NoteVerifier(KeyName("svc@inst-1"), k1.Public())

	res, err := VerifyChain(sdk.NewSliceIterator(recs), sdk.NewKeySet(k1.Public()), note.VerifierList(v1), hist, sdk.VerifyOptions{})
	if err != nil {
		t.Fatalf("VerifyChain with the first key only: %v", err)
	}
	if res.Head.SealedSeq != res.Head.Seq || res.Head.Seq != 9 {
		t.Errorf("head %+v: want seq 9 sealed by the checkpoints", res.Head)
	}

	// A chain without the rotation names no new key: a checkpoint by k2
	// of its first three records is not trusted.
	tr := NewTree()
	for _, r := range recs[:3] {
		tr.Append(r.Hash)
	}
	msg, err := Sign(Origin("svc@inst-1", "caps"), 3, tr.Root(), NewNoteSigner(k2, KeyName("svc@inst-1")))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyChain(sdk.NewSliceIterator(recs[:3]), sdk.NewKeySet(k1.Public()), note.VerifierList(v1), [][]byte{msg}, sdk.VerifyOptions{}); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("checkpoint by a key no transition names: %v, want ErrUnknownKey", err)
	}
}

// TestVerifyChainNamesTheFailingCheckpoint: a chain has many checkpoints
// (a Keeper signs one every N records); when one of them fails to open or
// to vouch for the chain, the error must say which, as it does for one of
// another chain, or an auditor cannot tell which note file to look at.
// It keeps its Reason and its underlying error.
func TestVerifyChainNamesTheFailingCheckpoint(t *testing.T) {
	k1 := rotationKey(t, "keeper test key")
	dir := t.TempDir()
	wdir, cdir := filepath.Join(dir, "wal"), filepath.Join(dir, "checkpoints")
	k, _ := NewKeeper(cdir, k1, KeeperOptions{Every: 2, Interval: -1})
	l, _, err := sdk.OpenDurable(wdir, sdk.Config{Signer: k1, Observer: k, SealEvery: 2}, sdk.DurableOptions{})
	if err != nil {
		t.Fatal(err)
	}
	keeperAppend(t, l, 0, 6) // checkpoints at 2, 4, 6
	l.Close()
	if err := k.Close(); err != nil {
		t.Fatal(err)
	}
	hist, err := LoadHistory(cdir, "svc@inst-1", "caps")
	if err != nil || len(hist) != 3 {
		t.Fatalf("history: %d notes, %v", len(hist), err)
	}
	recs := durableChain(t, wdir)
	v1, _ := NoteVerifier(KeyName("svc@inst-1"), k1.Public())
	keys := sdk.NewKeySet(k1.Public())

	forged := append([][]byte(nil), hist...)
	forged[1] = []byte(strings.Replace(string(hist[1]), "\n4\n", "\n5\n", 1)) // the size, signature kept
	_, err = VerifyChain(sdk.NewSliceIterator(recs), keys, note.VerifierList(v1), forged, sdk.VerifyOptions{})
	if !errors.Is(err, ErrBadSignature) || !strings.Contains(err.Error(), "checkpoints[1]") {
		t.Errorf("forged second checkpoint: %v; want bad_signature naming checkpoints[1]", err)
	}
	var ise *note.InvalidSignatureError
	if !errors.As(err, &ise) {
		t.Errorf("the note's error is no longer reachable: %v", err)
	}

	// The log cut to 3 records: the checkpoints at 4 and 6 roll it back.
	_, err = VerifyChain(sdk.NewSliceIterator(recs[:3]), keys, note.VerifierList(v1), hist, sdk.VerifyOptions{AllowUnsealedTail: true})
	if !errors.Is(err, ErrRollback) || !strings.Contains(err.Error(), "checkpoints[1]") {
		t.Errorf("cut log: %v; want rollback naming checkpoints[1]", err)
	}
}

// TestKeeperSealedLaterChainReopenedWithOldKey: Keeper-sealed (no record
// signed but the transition), a chain started after a whole rotation has
// no signature in the log. Reopened with the old key and a Keeper holding
// it, the log must refuse the old key's records there (it is the new
// key's: its first record came after the transition naming the new key)
// and the Keeper must sign no checkpoint of it with the old key, neither
// in CheckReplay nor at Close: a verifier holding only the new key for
// that chain refuses them.
func TestKeeperSealedLaterChainReopenedWithOldKey(t *testing.T) {
	k1, k2 := rotationKey(t, "keeper test key"), rotationKey(t, "the next key")
	dir := t.TempDir()
	wdir, cdir := filepath.Join(dir, "wal"), filepath.Join(dir, "checkpoints")
	keys := sdk.NewKeySet(k1.Public(), k2.Public())

	// The first Keeper checkpoints nothing on its own (Every 100): the
	// later chain's checkpoints come due only after the reopen.
	k, err := NewKeeper(cdir, k1, KeeperOptions{Every: 100, Interval: -1})
	if err != nil {
		t.Fatal(err)
	}
	l, _, err := sdk.OpenDurable(wdir, sdk.Config{Signer: k1, Observer: k, SealEvery: 100}, sdk.DurableOptions{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	keeperAppend(t, l, 0, 2)
	if _, err := l.RotateKey(k2); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		r := canonical.AuditRecord{WriterID: "svc@inst-1", Stream: "later", TsMs: uint64(2000 + i), Reason: "after the rotation"}
		if _, err := l.Append(&r); err != nil {
			t.Fatal(err)
		}
	}
	// A crash now: the segments as they are, no Close (its seals).
	crashed := filepath.Join(dir, "crashed")
	copySegments(t, wdir, crashed)
	ccrashed := filepath.Join(dir, "crashed-checkpoints")
	if err := os.CopyFS(ccrashed, os.DirFS(cdir)); err != nil {
		t.Fatal(err)
	}
	_ = l.Close()
	_ = k.Close()
	wdir, cdir = crashed, ccrashed
	for _, r := range streamRecords(t, wdir, "later") {
		if r.Signed {
			t.Fatalf("Keeper-sealed: a record of the later chain is signed (%s): the test needs it unsigned", r.KeyID)
		}
	}
	if hist, err := LoadHistory(cdir, "svc@inst-1", "later"); err == nil && len(hist) > 0 {
		t.Fatalf("the later chain has %d checkpoints before the reopen: the test needs none", len(hist))
	}

	// Reopened with the old key and its Keeper.
	k, err = NewKeeper(cdir, k1, KeeperOptions{Every: 1, Interval: -1})
	if err != nil {
		t.Fatal(err)
	}
	l, _, err = sdk.OpenDurable(wdir, sdk.Config{Signer: k1, Observer: k, SealEvery: 100}, sdk.DurableOptions{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	r := canonical.AuditRecord{WriterID: "svc@inst-1", Stream: "later", TsMs: 3000, Reason: "by the old key"}
	if a, err := l.Append(&r); !errors.Is(err, sdk.ErrConfig) {
		t.Errorf("the old key appending to the chain started after the rotation: %v (seq %d), want ErrConfig", err, a.Seq)
	}
	if err := l.SealAll(); err != nil && !errors.Is(err, sdk.ErrSealIncomplete) && !errors.Is(err, sdk.ErrConfig) {
		t.Errorf("SealAll: %v", err)
	}
	// RotateKey to the new key finishes it: the Keeper gets the chain's
	// key, and signs its checkpoints with it (Close).
	if _, err := l.RotateKey(k2); err != nil {
		t.Fatalf("RotateKey to the new key after the reopen: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := k.Close(); err != nil {
		t.Fatal(err)
	}

	checkStartedWith(t, wdir, cdir, "later", k2, "the chain started after the rotation")
}

// copySegments copies the segment files of the log in from to to: what
// a crash would leave on disk.
func copySegments(t *testing.T, from, to string) {
	t.Helper()
	if err := os.MkdirAll(to, 0o700); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.IsDir() || filepath.Ext(e.Name()) != ".seg" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}
