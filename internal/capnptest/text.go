package capnptest

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"

	"github.com/rustyonions/ron-audit-go/gen"
)

// The text oracle. Marshal lays a value out at the offsets package gen read
// from the CodeGeneratorRequest, the same offsets the generated encoder
// uses: were one read wrongly, both would agree on the wrong bytes.
// Text instead writes the value in Cap'n Proto's text form, by field name
// only, and the C++ tool lays it out from the schema itself (`capnp convert
// text:canonical`), so no offset, size or slot of gen's reaches the
// expected bytes. It trusts gen for field names and kinds only, and a name
// the schema lacks or a kind read wrongly makes the C++ tool refuse the
// text or lay out other bytes.

// ErrNotText is returned by Text for a value its text form cannot write:
// see MakeTextable.
var ErrNotText = errors.New("capnptest: value has no Cap'n Proto text form")

// The NaNs the C++ tool writes for the text literal nan: the quiet NaN
// without payload or sign (Go's math.NaN has a payload bit).
const (
	textNaN64 = 0x7ff8000000000000
	textNaN32 = 0x7fc00000
)

// MakeTextable changes the generated struct *v (of schema type s) to the
// nearest value Text can write, which is every value but two shapes: a NaN
// other than the plain quiet one (the text form has only nan; -nan is
// refused) becomes that one, and an empty element of a list of Text or
// Data, which the canonical form writes as a null pointer but the text
// form only as a non-null empty one, becomes "x". The other oracles keep
// NaN bits and null elements covered.
func MakeTextable(s *gen.StructDecl, v any) {
	makeTextable(s, reflect.ValueOf(v).Elem())
}

func makeTextable(s *gen.StructDecl, v reflect.Value) {
	for _, f := range s.Fields {
		textable(&f.Type, v.FieldByName(f.GoName))
	}
}

func textable(t *gen.Type, v reflect.Value) {
	switch t.Kind {
	case gen.Float32:
		if f := v.Convert(float32Type).Interface().(float32); f != f {
			v.Set(reflect.ValueOf(math.Float32frombits(textNaN32)).Convert(v.Type()))
		}
	case gen.Float64:
		if math.IsNaN(v.Float()) {
			v.SetFloat(math.Float64frombits(textNaN64))
		}
	case gen.StructKind:
		makeTextable(t.Struct, v)
	case gen.List:
		for i := 0; i < v.Len(); i++ {
			e := v.Index(i)
			switch t.Elem.Kind {
			case gen.Text:
				if e.Len() == 0 {
					e.SetString("x")
				}
			case gen.Data:
				if e.Len() == 0 {
					e.SetBytes([]byte("x"))
				}
			default:
				textable(t.Elem, e)
			}
		}
	}
}

// Text returns the generated struct v (of schema type s) in Cap'n Proto
// text form, e.g. `(seq = 5, writerId = "w", attrs = [(key = "a")])`, on
// one line. Fields holding empty values are left out, so they stay null,
// as the canonical form's "empty is null" has them. Values MakeTextable
// changes are refused with ErrNotText.
func Text(s *gen.StructDecl, v any) (string, error) {
	var b strings.Builder
	if err := writeStruct(&b, s, reflect.Indirect(reflect.ValueOf(v))); err != nil {
		return "", err
	}
	return b.String(), nil
}

func writeStruct(b *strings.Builder, s *gen.StructDecl, v reflect.Value) error {
	b.WriteByte('(')
	n := 0
	for _, f := range s.Fields {
		fv := v.FieldByName(f.GoName)
		if !fv.IsValid() {
			return fmt.Errorf("capnptest: %s has no Go field %s", s.GoName, f.GoName)
		}
		if IsZero(fv) {
			continue
		}
		if n > 0 {
			b.WriteString(", ")
		}
		n++
		b.WriteString(f.Name)
		b.WriteString(" = ")
		if err := writeValue(b, &f.Type, fv); err != nil {
			return fmt.Errorf("%s.%s: %w", s.Name, f.Name, err)
		}
	}
	b.WriteByte(')')
	return nil
}

func writeValue(b *strings.Builder, t *gen.Type, v reflect.Value) error {
	switch t.Kind {
	case gen.Bool:
		b.WriteString(strconv.FormatBool(v.Bool()))
	case gen.Int8, gen.Int16, gen.Int32, gen.Int64:
		b.WriteString(strconv.FormatInt(v.Int(), 10))
	case gen.Uint8, gen.Uint16, gen.Uint32, gen.Uint64:
		b.WriteString(strconv.FormatUint(v.Uint(), 10))
	case gen.Float32:
		f := v.Convert(float32Type).Interface().(float32)
		if f != f && math.Float32bits(f) != textNaN32 {
			return fmt.Errorf("%w: Float32 NaN %#x", ErrNotText, math.Float32bits(f))
		}
		// A float32 is exact as a float64, so the C++ tool's double parse
		// and narrowing give back its very bits.
		writeFloat(b, float64(f))
	case gen.Float64:
		if f := v.Float(); f != f && math.Float64bits(f) != textNaN64 {
			return fmt.Errorf("%w: Float64 NaN %#x", ErrNotText, math.Float64bits(f))
		}
		writeFloat(b, v.Float())
	case gen.Enum:
		n := v.Uint()
		if n >= uint64(len(t.Enum.Enumerants)) {
			return fmt.Errorf("%w: %s has no enumerant %d", ErrNotText, t.Enum.Name, n)
		}
		b.WriteString(t.Enum.Enumerants[n].Name)
	case gen.Text:
		writeQuoted(b, []byte(v.String()))
	case gen.Data:
		writeQuoted(b, v.Bytes())
	case gen.StructKind:
		return writeStruct(b, t.Struct, v)
	case gen.List:
		b.WriteByte('[')
		for i := 0; i < v.Len(); i++ {
			if i > 0 {
				b.WriteString(", ")
			}
			e := v.Index(i)
			if (t.Elem.Kind == gen.Text || t.Elem.Kind == gen.Data) && e.Len() == 0 {
				return fmt.Errorf("%w: empty element %d of a list of %v", ErrNotText, i, e.Type())
			}
			if err := writeValue(b, t.Elem, e); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	default:
		return fmt.Errorf("capnptest: no text form for kind %d", t.Kind)
	}
	return nil
}

// writeFloat writes f so the C++ parser gives back its bits: the shortest
// exponent form (never an integer literal, which would lose -0.0's sign),
// or inf and nan, which it knows by name.
func writeFloat(b *strings.Builder, f float64) {
	switch {
	case math.IsNaN(f):
		b.WriteString("nan")
	case math.IsInf(f, 1):
		b.WriteString("inf")
	case math.IsInf(f, -1):
		b.WriteString("-inf")
	default:
		b.WriteString(strconv.FormatFloat(f, 'e', -1, 64))
	}
}

// writeQuoted writes a string literal that holds exactly p: ASCII letters,
// digits and space as themselves, every other byte as \xNN. capnp convert
// (0.9.2) finds where a text message ends by counting parentheses before it
// parses, quotes or not, and takes # to the line's end as a comment:
// "(" or "#" in a string ran one message into the next ("Input does not
// contain a struct"). Escaping all else also keeps UTF-8 and newlines away
// from its lexer.
func writeQuoted(b *strings.Builder, p []byte) {
	const hex = "0123456789abcdef"
	b.WriteByte('"')
	for _, c := range p {
		if c == ' ' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' {
			b.WriteByte(c)
			continue
		}
		b.WriteString(`\x`)
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	b.WriteByte('"')
}

// DiffCxxText has the C++ tool lay out texts (Text of each value, one
// message each, of typeName in schemaFile) in one `capnp convert
// text:canonical` run and compares its canonical messages with want, the
// encoder's. It returns nil when all are equal, ErrNoCapnp without the
// tool, and else an error naming the first value that differs or that the
// tool refused, with its text.
func DiffCxxText(schemaFile, typeName string, texts []string, want [][]byte) error {
	if len(texts) != len(want) {
		return fmt.Errorf("capnptest: %d texts, %d expected messages", len(texts), len(want))
	}
	got, err := Convert("text", "canonical", schemaFile, typeName, []byte(strings.Join(texts, "\n")+"\n"))
	if errors.Is(err, ErrNoCapnp) {
		return err
	}
	i := FirstDiff(got, want)
	if err != nil {
		// It stops at the message it cannot read, after writing those
		// before: the first that differs is the one it refused.
		if i >= 0 && i < len(texts) {
			return fmt.Errorf("value %d: %w\ntext: %s", i, err, texts[i])
		}
		return err
	}
	if i < 0 {
		return nil
	}
	off := 0
	for _, w := range want[:i] {
		off += len(w)
	}
	if i == len(want) {
		return fmt.Errorf("capnp convert text:canonical wrote %d bytes past the %d messages", len(got)-off, len(want))
	}
	g := got[off:]
	if len(g) > len(want[i]) {
		g = g[:len(want[i])]
	}
	return fmt.Errorf("value %d: the encoder's bytes differ from capnp convert text:canonical of\n%s\nencoder %x\nC++     %x (as many bytes from its message %d on)", i, texts[i], want[i], g, i)
}
