package capnptest

import (
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/rustyonions/ron-audit-go/gen"
)

// TestRandFloatEdges: the random values of the differential tests hold
// the float edges whose bits, not values, the canonical form keeps, for
// Float32 as for Float64, and the oracle's builder writes them bit for bit.
func TestRandFloatEdges(t *testing.T) {
	type rec struct {
		F32 float32
		F64 float64
	}
	decl := &gen.StructDecl{Name: "R", Fields: []*gen.Field{
		{Name: "f32", GoName: "F32", Type: gen.Type{Kind: gen.Float32}},
		{Name: "f64", GoName: "F64", Type: gen.Type{Kind: gen.Float64}},
	}}
	want32 := map[uint32]string{1 << 31: "-0.0", 0x7fc00000: "quiet NaN", 0x7f800001: "signaling NaN"}
	want64 := map[uint64]string{1 << 63: "-0.0", 0x7ff8000000000001: "NaN", 0x7ff0000000000001: "signaling NaN"}
	seen32, seen64 := map[uint32]bool{}, map[uint64]bool{}
	r := &Rand{R: rand.New(rand.NewPCG(1, 2))}
	for i := 0; i < 2000; i++ {
		var v rec
		r.Fill(decl, &v)
		b32, b64 := math.Float32bits(v.F32), math.Float64bits(v.F64)
		seen32[b32], seen64[b64] = true, true
		if got := scalarBits(gen.Float32, reflect.ValueOf(v).Field(0)); got != uint64(b32) {
			t.Fatalf("oracle writes float32 %#x as %#x", b32, got)
		}
		if got := scalarBits(gen.Float64, reflect.ValueOf(v).Field(1)); got != b64 {
			t.Fatalf("oracle writes float64 %#x as %#x", b64, got)
		}
	}
	for bits, name := range want32 {
		if !seen32[bits] {
			t.Errorf("no Float32 %s (%#x) in 2000 values", name, bits)
		}
	}
	for bits, name := range want64 {
		if !seen64[bits] {
			t.Errorf("no Float64 %s (%#x) in 2000 values", name, bits)
		}
	}
}
