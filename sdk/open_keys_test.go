package sdk_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/sdk"
)

// TestOpenDurableNewKeyNeedsOldPublicKey: after a rotation, the writer
// restarted with only the new key cannot check what the old key signed.
// That is the opener's missing key, not damage; the error used to read
// like damage (the runbook's "durable log refused at open": copy the
// evidence, start a new log) and said nothing of DurableOptions.Keys.
// It must name the remedy and keep its types; with the old public key
// in Keys the same log opens.
func TestOpenDurableNewKeyNeedsOldPublicKey(t *testing.T) {
	old, next := rotateSigner(t, "old key"), rotateSigner(t, "next key")
	dir := filepath.Join(t.TempDir(), "wal")
	l, _, err := sdk.OpenDurable(dir, sdk.Config{Signer: old}, sdk.DurableOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rec := canonical.AuditRecord{WriterID: "w", Stream: "s", TsMs: 1, Reason: "r"}
	if _, err := l.Append(&rec); err != nil {
		t.Fatal(err)
	}
	if _, err := l.RotateKey(next); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	_, _, err = sdk.OpenDurable(dir, sdk.Config{Signer: next}, sdk.DurableOptions{})
	var de *sdk.DurableError
	if !errors.Is(err, sdk.ErrUnknownKey) || !errors.As(err, &de) || de.Seq != 1 {
		t.Fatalf("open with the new key only: %v; want unknown_key at seq 1 as a *DurableError", err)
	}
	if !strings.Contains(err.Error(), "DurableOptions.Keys") {
		t.Errorf("the error does not say what to do: %v", err)
	}

	l, _, err = sdk.OpenDurable(dir, sdk.Config{Signer: next}, sdk.DurableOptions{Keys: sdk.NewKeySet(old.Public())})
	if err != nil {
		t.Fatalf("open with the old public key in Keys: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}
