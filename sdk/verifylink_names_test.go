package sdk_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/sdk"
)

// TestVerifyLinkQuotesChainNames: a record of another chain than the one
// it is read as fails VerifyLink naming both chains; the record's names
// come from bytes anyone may have written, so they are spelled as every
// message spells them (internal/names: quoted unless plain), and a name
// holding a newline cannot add a line of its own to the report that
// prints the error (ronaudit's FAIL line).
func TestVerifyLinkQuotesChainNames(t *testing.T) {
	const hostile = "w\nok: 1 record in 1 stream"
	r := canonical.AuditRecord{V: canonical.Version, Seq: 1, Prev: canonical.Genesis[:], WriterID: hostile, Stream: "s", TsMs: 1}
	b, err := canonical.AppendRecord(nil, &r, canonical.DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	v, err := canonical.Open(b)
	if err != nil {
		t.Fatal(err)
	}
	err = sdk.VerifyLink(sdk.Head{WriterID: "w/x", Stream: "s", Hash: canonical.Genesis}, v)
	var ve *sdk.VerifyError
	if !errors.As(err, &ve) || ve.Reason != sdk.ReasonPrevMismatch {
		t.Fatalf("VerifyLink of a record of another chain: %v, want prev_mismatch", err)
	}
	msg := err.Error()
	if strings.Contains(msg, "\n") || !strings.Contains(msg, `expected a record of "w/x"/"s", got a record of "w\nok: 1 record in 1 stream"/"s"`) {
		t.Errorf("VerifyLink's error: %q, want one line naming both chains quoted", msg)
	}
}
