package sdk_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/wal"
)

// TestErrorsQuoteNames: a writer id or stream comes from the records (in
// a changed log, from whoever changed it), so an error message quotes
// one that is not plain: a newline in it cannot start a line of its own
// in a report, and a '/' in it cannot move where the writer id ends.
func TestErrorsQuoteNames(t *testing.T) {
	const w, s = "w\nok: all records verified", "a/b"
	for _, err := range []error{
		&sdk.VerifyError{WriterID: w, Stream: s, Seq: 3, Reason: sdk.ReasonHashMismatch},
		&sdk.DurableError{Position: wal.Position{File: "x.seg", Offset: 8}, WriterID: w, Stream: s, Seq: 3, Err: errors.New("bad")},
		&sdk.MergeError{Input: 1, Read: 2, WriterID: w, Stream: s, Seq: 3, Err: errors.New("bad")},
	} {
		msg := err.Error()
		if strings.Contains(msg, "\n") || !strings.Contains(msg, `"w\nok: all records verified"/"a/b" seq 3`) {
			t.Errorf("%T: %s", err, msg)
		}
	}
	plain := (&sdk.VerifyError{WriterID: "svc@1", Stream: "caps", Seq: 3, Reason: sdk.ReasonSeqGap}).Error()
	if !strings.HasPrefix(plain, "verify svc@1/caps seq 3: seq_gap") {
		t.Errorf("a plain name is quoted: %s", plain)
	}
}
