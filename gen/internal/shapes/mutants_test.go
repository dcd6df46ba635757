package shapes

import (
	"math/rand/v2"
	"testing"

	"github.com/rustyonions/ron-audit-go/internal/capnptest"
)

// TestCxxMutants: structural mutants of canonical Shapes messages (every
// supported shape; see capnptest.Ops) are judged by the C++ reference and
// by OpenShapes, which accepts a mutant exactly when C++ finds it
// canonical and AppendCanonical writes it for the value capnp-go reads in
// it. -canonical.mutants=N runs a longer campaign.
func TestCxxMutants(t *testing.T) {
	if testing.Short() {
		t.Skip("C++ oracle: skipped with -short")
	}
	decl := shapesDecl(t)
	r := &capnptest.Rand{R: rand.New(rand.NewPCG(8, 1))}
	c := capnptest.Campaign{
		SchemaFile: schemaFile, TypeName: "Shapes", Short: 1500, Rand: 2,
		Seed: func(int) []byte {
			var v Shapes
			r.Fill(decl, &v)
			return encode(t, &v)
		},
		Openers: []capnptest.Opener{{
			Name: "OpenShapes",
			Open: func(b []byte) error { _, err := OpenShapes(b); return err },
			Encode: func(m []byte) ([]byte, error) {
				var v Shapes
				if err := capnptest.Decode(decl, m, &v); err != nil {
					return nil, err
				}
				return v.AppendCanonical(nil)
			},
		}},
	}
	c.Run(t)
}
