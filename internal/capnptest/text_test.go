package capnptest

import (
	"errors"
	"math"
	"testing"

	"github.com/rustyonions/ron-audit-go/gen"
)

// textDecl is a hand-made model of a struct of each kind Text writes in
// its own way.
func textDecl() *gen.StructDecl {
	inner := &gen.StructDecl{Name: "Inner", GoName: "Inner", Fields: []*gen.Field{
		{Name: "key", GoName: "Key", Type: gen.Type{Kind: gen.Text}},
		{Name: "n", GoName: "N", Type: gen.Type{Kind: gen.Int8}},
	}}
	color := &gen.EnumDecl{Name: "Color", Enumerants: []gen.Enumerant{{Name: "red"}, {Name: "green"}}}
	return &gen.StructDecl{Name: "T", GoName: "T", Fields: []*gen.Field{
		{Name: "b", GoName: "B", Type: gen.Type{Kind: gen.Bool}},
		{Name: "u64", GoName: "U64", Type: gen.Type{Kind: gen.Uint64}},
		{Name: "i64", GoName: "I64", Type: gen.Type{Kind: gen.Int64}},
		{Name: "f32", GoName: "F32", Type: gen.Type{Kind: gen.Float32}},
		{Name: "f64", GoName: "F64", Type: gen.Type{Kind: gen.Float64}},
		{Name: "color", GoName: "Color", Type: gen.Type{Kind: gen.Enum, Enum: color}},
		{Name: "text", GoName: "Text", Type: gen.Type{Kind: gen.Text}},
		{Name: "data", GoName: "Data", Type: gen.Type{Kind: gen.Data}},
		{Name: "inner", GoName: "Inner", Type: gen.Type{Kind: gen.StructKind, Struct: inner}},
		{Name: "inners", GoName: "Inners", Type: gen.Type{Kind: gen.List, Elem: &gen.Type{Kind: gen.StructKind, Struct: inner}}},
		{Name: "texts", GoName: "Texts", Type: gen.Type{Kind: gen.List, Elem: &gen.Type{Kind: gen.Text}}},
		{Name: "f64s", GoName: "F64s", Type: gen.Type{Kind: gen.List, Elem: &gen.Type{Kind: gen.Float64}}},
	}}
}

type textInner struct {
	Key string
	N   int8
}

type textT struct {
	B      bool
	U64    uint64
	I64    int64
	F32    float32
	F64    float64
	Color  uint16
	Text   string
	Data   []byte
	Inner  textInner
	Inners []textInner
	Texts  []string
	F64s   []float64
}

// TestText pins the text form: fields by schema name in declaration order,
// empty ones left out (zero structs included, not zero list elements),
// floats in exponent form (-0.0 keeps its sign), strings with every byte
// that could upset capnp convert's message splitting or lexer escaped.
func TestText(t *testing.T) {
	v := textT{
		B: true, U64: math.MaxUint64, I64: math.MinInt64,
		F32: float32(math.Inf(-1)), F64: math.Copysign(0, -1), Color: 1,
		Text: "a(b)#\"\\\nü", Data: []byte{0, 0xff},
		Inners: []textInner{{}, {Key: "k", N: -1}},
		Texts:  []string{"x"},
		F64s:   []float64{1.5, math.Float64frombits(textNaN64), math.Inf(1), 5},
	}
	got, err := Text(textDecl(), &v)
	if err != nil {
		t.Fatal(err)
	}
	want := `(b = true, u64 = 18446744073709551615, i64 = -9223372036854775808, f32 = -inf, f64 = -0e+00, color = green, ` +
		`text = "a\x28b\x29\x23\x22\x5c\x0a\xc3\xbc", data = "\x00\xff", inners = [(), (key = "k", n = -1)], texts = ["x"], ` +
		`f64s = [1.5e+00, nan, inf, 5e+00])`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if got, err := Text(textDecl(), &textT{}); err != nil || got != "()" {
		t.Errorf("zero value: %q, %v; want ()", got, err)
	}
}

// TestTextRefuses: what the text form cannot write is an ErrNotText, not
// text that means another value; MakeTextable makes each writable.
func TestTextRefuses(t *testing.T) {
	cases := map[string]textT{
		"signaling NaN":      {F64: math.Float64frombits(0x7ff0000000000001)},
		"Go's NaN":           {F64: math.NaN()},
		"negative NaN":       {F32: math.Float32frombits(0xffc00000)},
		"NaN in a list":      {F64s: []float64{math.Float64frombits(0xfff8000000000000)}},
		"empty text element": {Texts: []string{"a", ""}},
		"unknown enumerant":  {Color: 2},
	}
	for name, v := range cases {
		if _, err := Text(textDecl(), &v); !errors.Is(err, ErrNotText) {
			t.Errorf("%s: got %v, want ErrNotText", name, err)
		}
		if name == "unknown enumerant" {
			continue
		}
		MakeTextable(textDecl(), &v)
		if _, err := Text(textDecl(), &v); err != nil {
			t.Errorf("%s: after MakeTextable: %v", name, err)
		}
	}
}
