package checkpoint

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/sdk"
)

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
	for _, r := range durableChain(t, wdir) {
		if v, err := canonical.OpenAuditRecord(r.Bytes); err == nil && string(v.Stream()) == "later" && r.Signed {
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

	hist, err := LoadHistory(cdir, "svc@inst-1", "later")
	if err != nil {
		t.Fatal(err)
	}
	var recs []sdk.Sealed
	for _, r := range durableChain(t, wdir) {
		if v, err := canonical.OpenAuditRecord(r.Bytes); err == nil && string(v.Stream()) == "later" {
			recs = append(recs, r)
		}
	}
	if len(hist) == 0 {
		t.Fatal("the later chain has no checkpoint")
	}
	v2, _ := NoteVerifier(KeyName("svc@inst-1"), k2.Public())
	if _, err := VerifyChain(sdk.NewSliceIterator(recs), sdk.NewKeySet(k2.Public()), note.VerifierList(v2), hist, sdk.VerifyOptions{}); err != nil {
		t.Errorf("the chain started after the rotation, with the key it started with (%d checkpoints): %v", len(hist), err)
	}
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
