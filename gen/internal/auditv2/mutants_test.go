package auditv2

import (
	"math/rand/v2"
	"testing"

	"github.com/rustyonions/ron-audit-go/internal/capnptest"
)

// TestCxxMutants: structural mutants of canonical v2 records (see
// capnptest.Ops) are judged by the C++ reference and by OpenAuditRecord,
// which accepts a mutant exactly when C++ finds it canonical and
// AppendCanonical writes it for the value capnp-go reads in it.
// -canonical.mutants=N runs a longer campaign.
func TestCxxMutants(t *testing.T) {
	if testing.Short() {
		t.Skip("C++ oracle: skipped with -short")
	}
	decl, err := capnptest.Decl("../../testdata/audit_v2.req", "AuditRecord")
	if err != nil {
		t.Fatal(err)
	}
	r := &capnptest.Rand{R: rand.New(rand.NewPCG(31, 1))}
	c := capnptest.Campaign{
		SchemaFile: "../../testdata/audit_v2.capnp", TypeName: "AuditRecord", Short: 600, Rand: 3,
		Seed: func(int) []byte {
			var v AuditRecord
			r.Fill(decl, &v)
			b, err := v.AppendCanonical(nil)
			if err != nil {
				t.Fatal(err)
			}
			return b
		},
		Openers: []capnptest.Opener{{
			Name: "OpenAuditRecord",
			Open: func(b []byte) error { _, err := OpenAuditRecord(b); return err },
			Encode: func(m []byte) ([]byte, error) {
				var v AuditRecord
				if err := capnptest.Decode(decl, m, &v); err != nil {
					return nil, err
				}
				return v.AppendCanonical(nil)
			},
		}},
	}
	c.Run(t)
}
