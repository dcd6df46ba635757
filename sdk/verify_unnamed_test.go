package sdk_test

import (
	"strings"
	"testing"

	"github.com/rustyonions/ron-audit-go/sdk"
)

// TestVerifyUnnamedFirstRecordMessage: a chain whose first record's bytes
// are unreadable names no chain; VerifyChain's failure, which ronaudit
// and logs print, then says the seq and that no chain is named, without
// an empty name (it read `verify ""/"" seq 1: hash_mismatch`).
func TestVerifyUnnamedFirstRecordMessage(t *testing.T) {
	recs, keys := tamperChain(t, 1)
	c := cloneRecs(recs[:3])
	for i := range c[0].Bytes {
		c[0].Bytes[i] = 0xff
	}
	_, err := sdk.VerifyChain(sdk.NewSliceIterator(c), keys, sdk.VerifyOptions{})
	if err == nil {
		t.Fatal("a chain whose first record is 0xff bytes verifies")
	}
	msg := err.Error()
	if strings.Contains(msg, `""`) || !strings.HasPrefix(msg, "verify seq 1 (") || !strings.Contains(msg, "no chain named") ||
		!strings.Contains(msg, "hash_mismatch") {
		t.Errorf("message %q: want the seq, that the record names no chain, and the reason, without empty names", msg)
	}
	// Nothing names a place at all: as before.
	if msg := (&sdk.VerifyError{Reason: sdk.ReasonNotCanonical}).Error(); !strings.HasPrefix(msg, "verify: not_canonical") {
		t.Errorf("no chain, no seq: %q", msg)
	}
}
