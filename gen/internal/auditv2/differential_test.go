package auditv2

import (
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/rustyonions/ron-audit-go/internal/capnptest"
)

// TestDifferentialCxxText: the C++ tool lays out 500 random v2 records
// from their text form, written by field name (capnptest.Text), to
// exactly the encoder's bytes. TestCxxMutants judges bytes the encoder
// wrote, so an offset gen read wrongly for a v2 field (region, traceId,
// origin) would be laid out there by both sides; here every offset is
// the C++ tool's own.
func TestDifferentialCxxText(t *testing.T) {
	decl, err := capnptest.Decl("../../testdata/audit_v2.req", "AuditRecord")
	if err != nil {
		t.Fatal(err)
	}
	r := &capnptest.Rand{R: rand.New(rand.NewPCG(37, 1))}
	texts := make([]string, 500)
	want := make([][]byte, len(texts))
	for i := range texts {
		var rec AuditRecord
		r.Fill(decl, &rec)
		capnptest.MakeTextable(decl, &rec)
		s, err := capnptest.Text(decl, &rec)
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if want[i], err = rec.AppendCanonical(nil); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		texts[i] = s
	}
	err = capnptest.DiffCxxText("../../testdata/audit_v2.capnp", "AuditRecord", texts, want)
	if errors.Is(err, capnptest.ErrNoCapnp) {
		t.Skip("skipping the C++ text oracle:", err)
	}
	if err != nil {
		t.Fatal(err)
	}
}
