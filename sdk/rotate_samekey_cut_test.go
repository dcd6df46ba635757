package sdk_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/rustyonions/ron-audit-go/sdk"
)

// TestRotateKeyToOpenerAfterCutShort: a log reopened with the new key of
// a rotation a crash cut short refuses the chains the rotation had not
// reached, and only the old key can finish it. RotateKey to the key the
// log was opened with must say so, as Append does: that key does not
// sign every chain of the log, so "already signs this log" would send
// the operator looking for the wrong problem. Nothing changes either way.
func TestRotateKeyToOpenerAfterCutShort(t *testing.T) {
	old, next := rotateSigner(t, "old key"), rotateSigner(t, "next key")
	both := sdk.NewKeySet(old.Public(), next.Public())
	dir, streams := cutShortRotation(t, old, next, both)
	l, _, err := sdk.OpenDurable(dir, sdk.Config{Signer: next}, sdk.DurableOptions{Keys: both})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	heads, err := l.RotateKey(next)
	if !errors.Is(err, sdk.ErrConfig) || !strings.Contains(err.Error(), "open the log with key "+old.KeyID().String()) {
		t.Fatalf("RotateKey to the opener's key on a rotation cut short: %+v %v; want ErrConfig saying to open the log with key %s", heads, err, old.KeyID())
	}
	refused := 0
	for i, s := range streams {
		r := coreRecord(30 + i)
		r.Stream = s
		if _, err := l.Append(&r); errors.Is(err, sdk.ErrConfig) {
			refused++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if refused != 2 {
		t.Fatalf("after the refused RotateKey, %d chains refused a record; want the 2 the rotation had not reached", refused)
	}
}
