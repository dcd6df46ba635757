package sdk_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/rustyonions/ron-audit-go/sdk"
)

// TestReopenedWithOldKeyLeavesLaterUnsignedChain: as
// TestReopenedWithOldKeyLeavesLaterChains, for a chain with no signature
// in the log yet (SealEvery: its records wait for a seal, and a crash
// came first). Its first record comes after the transition that handed
// the log from the old key to the new one, so it is the new key's, as
// OpenDurable's docs say for the other direction (opened with the new
// key, a chain with no signature that started before the rotation's
// first transition is the old key's). Reopened with the old key, the
// log must not let the old key sign there.
func TestReopenedWithOldKeyLeavesLaterUnsignedChain(t *testing.T) {
	old, next := rotateSigner(t, "unsigned old"), rotateSigner(t, "unsigned next")
	both := sdk.NewKeySet(old.Public(), next.Public())
	dir := filepath.Join(t.TempDir(), "wal")
	l, _, err := sdk.OpenDurable(dir, sdk.Config{Signer: old, SealEvery: 100}, sdk.DurableOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	r := coreRecord(1)
	r.Stream = "a"
	if _, err := l.Append(&r); err != nil {
		t.Fatal(err)
	}
	if _, err := l.RotateKey(next); err != nil {
		t.Fatal(err)
	}
	r = coreRecord(2)
	r.Stream = "later"
	if _, err := l.Append(&r); err != nil {
		t.Fatal(err)
	}
	// A crash now: what is on disk, without Close's seals.
	crashed := filepath.Join(t.TempDir(), "crashed")
	if err := os.MkdirAll(crashed, 0o700); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.IsDir() || filepath.Ext(e.Name()) != ".seg" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(crashed, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}

	l2, _, err := sdk.OpenDurable(crashed, sdk.Config{Signer: old, SealEvery: 100}, sdk.DurableOptions{Keys: both})
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	r = coreRecord(3)
	r.Stream = "later"
	if a, err := l2.Append(&r); !errors.Is(err, sdk.ErrConfig) {
		t.Errorf("the old key appending to a chain started after the rotation: %v (seq %d); want ErrConfig", err, a.Seq)
	}
	// Nor seal it: its unsealed record is the new key's to vouch for (the
	// Seal and SealAll docs say so).
	if h, err := l2.Seal(r.WriterID, "later"); !errors.Is(err, sdk.ErrConfig) || h.SealedSeq != 0 {
		t.Errorf("the old key sealing a chain started after the rotation: sealed to %d, %v; want ErrConfig", h.SealedSeq, err)
	}
	if err := l2.SealAll(); !errors.Is(err, sdk.ErrConfig) {
		t.Errorf("SealAll with a chain the old key may not sign: %v, want ErrConfig", err)
	}
	if heads, err := l2.RotateKey(next); err != nil || len(heads) != 2 {
		t.Fatalf("finishing with RotateKey to the new key: %+v, %v", heads, err)
	}
}
