package shapes

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/rustyonions/ron-audit-go/gen"
	"github.com/rustyonions/ron-audit-go/internal/capnptest"
	"github.com/rustyonions/ron-audit-go/internal/capnpwire"
)

// The end-to-end test of the generator: code generated from a schema with
// every supported shape (gen/testdata/shapes.capnp) compiles, and what it
// writes is what capnp-go's Canonicalize and the C++ capnp tool write.

const schemaFile = "../../testdata/shapes.capnp"

func shapesDecl(t testing.TB) *gen.StructDecl {
	t.Helper()
	d, err := capnptest.Decl("../../testdata/shapes.req", "Shapes")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func randomShapes(t testing.TB, n int, seed uint64) []Shapes {
	decl := shapesDecl(t)
	r := &capnptest.Rand{R: rand.New(rand.NewPCG(seed, 1))}
	out := make([]Shapes, n)
	for i := range out {
		r.Fill(decl, &out[i])
	}
	return out
}

func encode(t testing.TB, v *Shapes) []byte {
	t.Helper()
	b, err := v.AppendCanonical(nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRoundTrip: encode, strict open, decode and encode again give the
// same bytes, and every accessor reads back what was written.
func TestRoundTrip(t *testing.T) {
	for i, v := range randomShapes(t, 3000, 1) {
		b := encode(t, &v)
		view, err := OpenShapes(b)
		if err != nil {
			t.Fatalf("value %d: open: %v\n%x", i, err, b)
		}
		got := view.Decode()
		if b2 := encode(t, &got); !bytes.Equal(b, b2) {
			t.Fatalf("value %d: re-encoding differs\n%x\n%x", i, b, b2)
		}
		if !equalCanon(v, got) {
			t.Fatalf("value %d: decoded value differs\n%+v\n%+v", i, v, got)
		}
	}
}

// equalCanon compares two values as the canonical form sees them: empty and
// nil slices alike, floats by bits.
func equalCanon(a, b Shapes) bool {
	ea, _ := a.AppendCanonical(nil)
	eb, _ := b.AppendCanonical(nil)
	return bytes.Equal(ea, eb) && reflect.DeepEqual(normalize(reflect.ValueOf(a)), normalize(reflect.ValueOf(b)))
}

func normalize(v reflect.Value) any {
	switch v.Kind() {
	case reflect.Struct:
		var out []any
		for i := 0; i < v.NumField(); i++ {
			out = append(out, normalize(v.Field(i)))
		}
		return out
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return string(v.Bytes())
		}
		var out []any
		for i := 0; i < v.Len(); i++ {
			out = append(out, normalize(v.Index(i)))
		}
		return out
	case reflect.Float32:
		return math.Float32bits(float32(v.Float()))
	case reflect.Float64:
		return math.Float64bits(v.Float())
	}
	return v.Interface()
}

// TestDifferentialCanonicalize compares with capnp.Canonicalize on every
// value whose shape it handles (not lists of pointer-free structs).
func TestDifferentialCanonicalize(t *testing.T) {
	decl := shapesDecl(t)
	compared := 0
	for i, v := range randomShapes(t, 3000, 2) {
		if capnptest.HasPointerlessStructList(decl, reflect.ValueOf(v)) {
			continue
		}
		want, err := capnptest.Canonicalize(decl, &v)
		if err != nil {
			t.Fatal(err)
		}
		if got := encode(t, &v); !bytes.Equal(got, want) {
			t.Fatalf("value %d differs from capnp.Canonicalize\n got %x\nwant %x", i, got, want)
		}
		compared++
	}
	if compared < 500 {
		t.Fatalf("only %d values compared", compared)
	}
}

// TestDifferentialCxx has the C++ capnp tool canonicalize every value,
// including lists of pointer-free structs.
func TestDifferentialCxx(t *testing.T) {
	decl := shapesDecl(t)
	values := randomShapes(t, 1500, 3)
	var in bytes.Buffer
	want := make([][]byte, len(values))
	pointerless := 0
	for i := range values {
		m, err := capnptest.Marshal(decl, &values[i])
		if err != nil {
			t.Fatal(err)
		}
		in.Write(m)
		want[i] = encode(t, &values[i])
		if capnptest.HasPointerlessStructList(decl, reflect.ValueOf(values[i])) {
			pointerless++
		}
	}
	got, err := capnptest.Convert("binary", "canonical", schemaFile, "Shapes", in.Bytes())
	if errors.Is(err, capnptest.ErrNoCapnp) {
		t.Skip("skipping the C++ oracle: ", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if i := capnptest.FirstDiff(got, want); i >= 0 {
		t.Fatalf("value %d differs from capnp convert binary:canonical", i)
	}
	if pointerless < 100 {
		t.Fatalf("only %d values with pointer-free struct lists", pointerless)
	}
}

// TestDifferentialCxxText: the C++ tool lays out 500 random values from
// their text form, written by field name (capnptest.Text), to exactly the
// encoder's bytes. TestDifferentialCxx's input is laid out at the offsets
// gen read from the request, as the encoder's are, so an offset read
// wrongly would pass it; here every offset is the C++ tool's own.
func TestDifferentialCxxText(t *testing.T) {
	decl := shapesDecl(t)
	values := randomShapes(t, 500, 7)
	texts := make([]string, len(values))
	want := make([][]byte, len(values))
	for i := range values {
		capnptest.MakeTextable(decl, &values[i])
		s, err := capnptest.Text(decl, &values[i])
		if err != nil {
			t.Fatalf("value %d: %v", i, err)
		}
		texts[i], want[i] = s, encode(t, &values[i])
	}
	err := capnptest.DiffCxxText(schemaFile, "Shapes", texts, want)
	if errors.Is(err, capnptest.ErrNoCapnp) {
		t.Skip("skipping the C++ text oracle:", err)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// TestPointerlessStructList pins the shape capnp-go gets wrong with the
// bytes the C++ tool writes for {pairs: [{a: 1}, {b: 2}, {}]}.
func TestPointerlessStructList(t *testing.T) {
	v := Shapes{Pairs: []Pair{{A: 1}, {B: 2}, {}}}
	got := encode(t, &v)
	// root ptr, root struct (4 ptrs, only slot 3 set), list ptr, tag, 3x2 words
	exp := []byte{}
	exp = append(exp, 0, 0, 0, 0, 0, 0, 4, 0) // root: offset 0, 0 data words, 4 pointers
	exp = append(exp, make([]byte, 24)...)    // slots 0-2 null
	exp = append(exp, 1, 0, 0, 0, 0x37, 0, 0, 0)
	exp = append(exp, 0x0c, 0, 0, 0, 2, 0, 0, 0) // tag: 3 elements of 2 data words
	exp = append(exp, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
	exp = append(exp, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0)
	exp = append(exp, make([]byte, 16)...)
	if !bytes.Equal(got, exp) {
		t.Fatalf("got  %x\nwant %x", got, exp)
	}
}

// TestEmptyRoot: the empty struct is the 8-byte root pointer with offset -1.
func TestEmptyRoot(t *testing.T) {
	got := encode(t, &Shapes{})
	if want := []byte{0xfc, 0xff, 0xff, 0xff, 0, 0, 0, 0}; !bytes.Equal(got, want) {
		t.Fatalf("got %x want %x", got, want)
	}
	if _, err := OpenShapes(got); err != nil {
		t.Fatal(err)
	}
}

// TestStrictOpenRejects mutates canonical messages one word at a time: the
// opener must either reject the result or accept only bytes that are the
// canonical encoding of what it decodes to.
func TestStrictOpenRejects(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	rejected := 0
	for i, v := range randomShapes(t, 400, 4) {
		b := encode(t, &v)
		for j := 0; j < 20; j++ {
			m := bytes.Clone(b)
			switch rng.IntN(4) {
			case 0:
				m[rng.IntN(len(m))] ^= byte(1 << rng.IntN(8))
			case 1:
				m = append(m, make([]byte, 8)...)
			case 2:
				if len(m) > 8 {
					m = m[:len(m)-8]
				}
			case 3:
				w := 8 * rng.IntN(len(m)/8)
				copy(m[w:w+8], []byte{byte(rng.Uint32()), byte(rng.Uint32()), 0, 0, byte(rng.Uint32()), 0, 0, 0})
			}
			view, err := OpenShapes(m)
			if err != nil {
				var nc *capnpwire.NonCanonicalError
				if !errors.As(err, &nc) {
					t.Fatalf("value %d: error of type %T: %v", i, err, err)
				}
				rejected++
				continue
			}
			d := view.Decode()
			if re := encode(t, &d); !bytes.Equal(re, m) {
				t.Fatalf("value %d: accepted a non-canonical message\n%x\nre-encodes as\n%x", i, m, re)
			}
		}
	}
	if rejected == 0 {
		t.Fatal("no mutation was rejected")
	}
}

// Hand-made non-canonical forms of {text: "hi"} that capnp itself allows.
func TestStrictOpenCases(t *testing.T) {
	good := encode(t, &Shapes{Text: "hi", Count: 5})
	if _, err := OpenShapes(good); err != nil {
		t.Fatal(err)
	}
	cases := map[string][]byte{
		"empty":         {},
		"not words":     good[:len(good)-1],
		"trailing word": append(bytes.Clone(good), make([]byte, 8)...),
		"null root":     make([]byte, 8),
		"segment table": append([]byte{0, 0, 0, 0, byte(len(good) / 8), 0, 0, 0}, good...),
		// root with 2 pointers, slot 1 (text) pointing at a list of one
		// byte, the NUL: an empty text that is not null.
		"empty text nonnull": {0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0x0a, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
	}
	for name, b := range cases {
		if _, err := OpenShapes(b); err == nil {
			t.Errorf("%s: accepted %x", name, b)
		}
	}
}

func TestAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under -race")
	}
	vs := randomShapes(t, 50, 5)
	buf := make([]byte, 0, 1<<16)
	for i := range vs {
		v := &vs[i]
		if a := testing.AllocsPerRun(20, func() { _, _ = v.AppendCanonical(buf[:0]) }); a != 0 {
			t.Fatalf("AppendCanonical: %v allocs", a)
		}
		b := encode(t, v)
		if a := testing.AllocsPerRun(20, func() {
			view, _ := OpenShapes(b)
			_ = view.Leaves().Len()
			_ = view.Nested().Leaf().Name()
		}); a != 0 {
			t.Fatalf("OpenShapes: %v allocs", a)
		}
	}
}

func FuzzOpenShapes(f *testing.F) {
	for _, v := range randomShapes(f, 20, 6) {
		f.Add(encode(f, &v))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		view, err := OpenShapes(b)
		if err != nil {
			return
		}
		d := view.Decode()
		re, err := d.AppendCanonical(nil)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(re, b) {
			t.Fatalf("accepted non-canonical input\n%x\nre-encodes as\n%x", b, re)
		}
	})
}
