package canonical

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/rustyonions/ron-audit-go/gen"
	"github.com/rustyonions/ron-audit-go/internal/capnptest"
)

const schemaFile = "../schema/audit.capnp"

// auditDecl returns the schema model of AuditRecord from the compiled
// request the generator reads.
func auditDecl(t testing.TB) *gen.StructDecl {
	t.Helper()
	d, err := capnptest.Decl("../gen/testdata/audit.req", "AuditRecord")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// validRecord returns a random record that satisfies every rule of the
// format: any field may be empty unless required, texts are random UTF-8.
func validRecord(r *capnptest.Rand) AuditRecord {
	rec := AuditRecord{
		V:        Version,
		Kind:     Kind(r.R.IntN(7)),
		Seq:      1 + r.R.Uint64N(1<<40),
		TsMs:     r.R.Uint64(),
		WriterID: "w" + r.Text(),
		Stream:   "s" + r.Text(),
		Reason:   r.Text(),
		Prev:     make([]byte, 32),
	}
	if r.R.IntN(3) > 0 {
		rec.Actor = Actor{CapID: r.Text(), KeyFpr: r.Text(), PassportID: r.Text(), Anon: r.R.IntN(2) == 0}
	}
	if r.R.IntN(3) > 0 {
		rec.Subject = Subject{ContentID: r.Text(), LedgerTxid: r.Text(), Name: r.Text()}
	}
	for i := range rec.Prev {
		rec.Prev[i] = byte(r.R.Uint32())
	}
	n := r.R.IntN(8)
	seen := map[string]bool{}
	for i := 0; i < n; i++ {
		k := fmt.Sprintf("k%d%s", r.R.IntN(100), r.Text())
		if seen[k] {
			continue
		}
		seen[k] = true
		rec.Attrs = append(rec.Attrs, Attr{Key: k, Value: r.Text()})
	}
	return rec
}

func newRand(seed uint64) *capnptest.Rand {
	return &capnptest.Rand{R: rand.New(rand.NewPCG(seed, 7))}
}

var update = flag.Bool("update", false, "rewrite the test vectors of the current schema version, testing/vectors/v<SchemaVersion> (never an earlier version's)")
