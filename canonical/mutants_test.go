package canonical

import (
	"testing"

	"github.com/rustyonions/ron-audit-go/internal/capnptest"
)

// TestCxxMutants: structural mutants of canonical records (see
// capnptest.Ops: truncated and widened sections, gaps, sibling order, far
// pointers, zero-sized structs, empty lists, text terminators, pointer
// words, ...) are judged by the C++ reference and by OpenAuditRecord and
// Open. An opener accepts a mutant exactly when C++ finds it canonical
// and it is its writer's encoding (AppendCanonical, AppendRecord) of the
// value capnp-go reads in it. -canonical.mutants=N runs a longer campaign.
func TestCxxMutants(t *testing.T) {
	if testing.Short() {
		t.Skip("C++ oracle: skipped with -short")
	}
	decl := auditDecl(t)
	r := newRand(21)
	seed := func(i int) []byte {
		var rec AuditRecord
		if i%3 == 0 {
			r.Fill(decl, &rec)
		} else {
			rec = validRecord(r)
		}
		b, err := rec.AppendCanonical(nil)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	decode := func(m []byte) (AuditRecord, error) {
		var rec AuditRecord
		err := capnptest.Decode(decl, m, &rec)
		return rec, err
	}
	c := capnptest.Campaign{
		SchemaFile: schemaFile, TypeName: "AuditRecord", Seed: seed, Short: 1500, Rand: 1,
		Openers: []capnptest.Opener{
			{
				Name: "OpenAuditRecord",
				Open: func(b []byte) error { _, err := OpenAuditRecord(b); return err },
				Encode: func(m []byte) ([]byte, error) {
					rec, err := decode(m)
					if err != nil {
						return nil, err
					}
					return rec.AppendCanonical(nil)
				},
			},
			{
				Name: "Open",
				Open: func(b []byte) error { _, err := Open(b); return err },
				Encode: func(m []byte) ([]byte, error) {
					rec, err := decode(m)
					if err != nil {
						return nil, err
					}
					return AppendRecord(nil, &rec, Limits{MaxRecord: MaxRecordSize, MaxAttrs: MaxRecordSize})
				},
			},
		},
	}
	c.Run(t)
}
