package sdk_test

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/rustyonions/ron-audit-go/sdk"
)

// TestRotateKeyFailedBeforeAnyTransitionKeys: Keys holds every key the
// log has signed with, for verifiers. A rotation that wrote no
// transition is undone (the log's key stays the old one), but Keys kept
// next, which signed nothing: a verifier handed Keys would take next's
// signatures in this log.
func TestRotateKeyFailedBeforeAnyTransitionKeys(t *testing.T) {
	old, next := rotateSigner(t, "keys old"), rotateSigner(t, "keys next")
	dir := filepath.Join(t.TempDir(), "wal")
	flaky := &failOnce{Signer: old, after: 1} // a record, then the first transition fails
	l, _, err := sdk.OpenDurable(dir, sdk.Config{Signer: flaky}, sdk.DurableOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	r := coreRecord(1)
	if _, err := l.Append(&r); err != nil {
		t.Fatal(err)
	}
	if _, err := l.RotateKey(next); !errors.Is(err, sdk.ErrSign) {
		t.Fatalf("the rotation whose first transition fails: %v, want ErrSign", err)
	}
	if _, ok := l.Keys().Lookup(next.KeyID()); ok {
		t.Errorf("Keys holds %s, which signed nothing in the log (the rotation to it wrote nothing)", next.KeyID())
	}
	if _, ok := l.Keys().Lookup(old.KeyID()); !ok {
		t.Errorf("Keys lost the old key %s", old.KeyID())
	}
	// Finishing it later adds next again.
	if _, err := l.RotateKey(next); err != nil {
		t.Fatal(err)
	}
	if _, ok := l.Keys().Lookup(next.KeyID()); !ok {
		t.Errorf("after the rotation, Keys lacks %s", next.KeyID())
	}
}
