// Package capnptest holds the test oracles of the canonical encoders: it
// builds the same value with capnp-go's own message API (by reflection over
// the generated Go types and the schema model of package gen) so the result
// can be canonicalized by capnp.Canonicalize or by the C++ capnp tool, it
// writes values in Cap'n Proto text form by field name (Text), so the C++
// tool lays them out without any offset of gen's (DiffCxxText), it makes
// random values of generated types, and it runs differential mutation
// campaigns of the strict openers against the C++ tool (Campaign:
// structural mutants of canonical messages, Ops). Tests only.
package capnptest

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"reflect"

	"capnproto.org/go/capnp/v3"

	"github.com/rustyonions/ron-audit-go/gen"
)

// IsZero reports whether v holds the value the canonical form writes as
// null: zero scalars (floats by bits), empty strings and slices, and
// structs of such fields.
func IsZero(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.String, reflect.Slice:
		return v.Len() == 0
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if !IsZero(v.Field(i)) {
				return false
			}
		}
		return true
	case reflect.Float32, reflect.Float64:
		return math.Float64bits(v.Float()) == 0 && !math.Signbit(v.Float())
	}
	return v.IsZero()
}

// Message builds v, a generated struct of type s, as a capnp-go message
// that leaves every empty value null.
func Message(s *gen.StructDecl, v any) (*capnp.Message, capnp.Struct, error) {
	msg, seg, err := capnp.NewMessage(capnp.SingleSegment(nil))
	if err != nil {
		return nil, capnp.Struct{}, err
	}
	root, err := capnp.NewRootStruct(seg, size(s))
	if err != nil {
		return nil, capnp.Struct{}, err
	}
	if err := fill(seg, root, s, reflect.Indirect(reflect.ValueOf(v))); err != nil {
		return nil, capnp.Struct{}, err
	}
	return msg, root, nil
}

// Canonicalize returns capnp.Canonicalize of v built by Message.
func Canonicalize(s *gen.StructDecl, v any) ([]byte, error) {
	_, root, err := Message(s, v)
	if err != nil {
		return nil, err
	}
	return capnp.Canonicalize(root)
}

// Marshal returns v built by Message in the standard stream framing (with a
// segment table), as `capnp convert binary:...` reads it.
func Marshal(s *gen.StructDecl, v any) ([]byte, error) {
	msg, _, err := Message(s, v)
	if err != nil {
		return nil, err
	}
	return msg.Marshal()
}

func size(s *gen.StructDecl) capnp.ObjectSize {
	return capnp.ObjectSize{DataSize: capnp.Size(8 * s.DataWords), PointerCount: uint16(s.PtrCount)}
}

func fill(seg *capnp.Segment, st capnp.Struct, s *gen.StructDecl, v reflect.Value) error {
	for _, f := range s.Fields {
		fv := v.FieldByName(f.GoName)
		if !fv.IsValid() {
			return fmt.Errorf("capnptest: %s has no Go field %s", s.GoName, f.GoName)
		}
		if f.Type.Kind.IsPointer() {
			if IsZero(fv) {
				continue
			}
			p, err := pointer(seg, &f.Type, fv)
			if err != nil {
				return err
			}
			if err := st.SetPtr(uint16(f.Offset), p); err != nil {
				return err
			}
			continue
		}
		bits := scalarBits(f.Type.Kind, fv)
		switch f.Type.Kind.Bits() {
		case 1:
			st.SetBit(capnp.BitOffset(f.Offset), bits != 0)
		case 8:
			st.SetUint8(capnp.DataOffset(f.Offset), uint8(bits))
		case 16:
			st.SetUint16(capnp.DataOffset(2*f.Offset), uint16(bits))
		case 32:
			st.SetUint32(capnp.DataOffset(4*f.Offset), uint32(bits))
		case 64:
			st.SetUint64(capnp.DataOffset(8*f.Offset), bits)
		}
	}
	return nil
}

func scalarBits(k gen.Kind, v reflect.Value) uint64 {
	switch k {
	case gen.Bool:
		if v.Bool() {
			return 1
		}
		return 0
	case gen.Float32:
		// Not float32(v.Float()): the round trip through float64 quiets a
		// signaling NaN, so the oracle would see other bits than the
		// encoder under test. Convert keeps a float32's bits.
		return uint64(math.Float32bits(v.Convert(float32Type).Interface().(float32)))
	case gen.Float64:
		return math.Float64bits(v.Float())
	case gen.Int8, gen.Int16, gen.Int32, gen.Int64:
		return uint64(v.Int())
	}
	return v.Uint()
}

func pointer(seg *capnp.Segment, t *gen.Type, v reflect.Value) (capnp.Ptr, error) {
	switch t.Kind {
	case gen.Text:
		l, err := capnp.NewText(seg, v.String())
		return l.ToPtr(), err
	case gen.Data:
		l, err := capnp.NewData(seg, v.Bytes())
		return l.ToPtr(), err
	case gen.StructKind:
		st, err := capnp.NewStruct(seg, size(t.Struct))
		if err != nil {
			return capnp.Ptr{}, err
		}
		return st.ToPtr(), fill(seg, st, t.Struct, v)
	case gen.List:
		return list(seg, t.Elem, v)
	}
	return capnp.Ptr{}, fmt.Errorf("capnptest: no pointer for kind %d", t.Kind)
}

func list(seg *capnp.Segment, el *gen.Type, v reflect.Value) (capnp.Ptr, error) {
	n := int32(v.Len())
	switch el.Kind {
	case gen.StructKind:
		l, err := capnp.NewCompositeList(seg, size(el.Struct), n)
		if err != nil {
			return capnp.Ptr{}, err
		}
		for i := 0; i < v.Len(); i++ {
			if err := fill(seg, l.Struct(i), el.Struct, v.Index(i)); err != nil {
				return capnp.Ptr{}, err
			}
		}
		return l.ToPtr(), nil
	case gen.Text, gen.Data:
		l, err := capnp.NewPointerList(seg, n)
		if err != nil {
			return capnp.Ptr{}, err
		}
		for i := 0; i < v.Len(); i++ {
			if IsZero(v.Index(i)) {
				continue
			}
			p, err := pointer(seg, el, v.Index(i))
			if err != nil {
				return capnp.Ptr{}, err
			}
			if err := l.Set(i, p); err != nil {
				return capnp.Ptr{}, err
			}
		}
		return l.ToPtr(), nil
	case gen.Bool:
		l, err := capnp.NewBitList(seg, n)
		for i := 0; i < v.Len() && err == nil; i++ {
			l.Set(i, v.Index(i).Bool())
		}
		return l.ToPtr(), err
	}
	// Fixed-width scalars: write each element's bits with the widest API of
	// its size; capnp-go's typed lists only differ in the Go type.
	var p capnp.Ptr
	var set func(i int, bits uint64)
	var err error
	switch el.Kind.Bits() {
	case 8:
		var l capnp.UInt8List
		l, err = capnp.NewUInt8List(seg, n)
		p, set = l.ToPtr(), func(i int, b uint64) { l.Set(i, uint8(b)) }
	case 16:
		var l capnp.UInt16List
		l, err = capnp.NewUInt16List(seg, n)
		p, set = l.ToPtr(), func(i int, b uint64) { l.Set(i, uint16(b)) }
	case 32:
		var l capnp.UInt32List
		l, err = capnp.NewUInt32List(seg, n)
		p, set = l.ToPtr(), func(i int, b uint64) { l.Set(i, uint32(b)) }
	default:
		var l capnp.UInt64List
		l, err = capnp.NewUInt64List(seg, n)
		p, set = l.ToPtr(), func(i int, b uint64) { l.Set(i, b) }
	}
	if err != nil {
		return capnp.Ptr{}, err
	}
	for i := 0; i < v.Len(); i++ {
		set(i, scalarBits(el.Kind, v.Index(i)))
	}
	return p, nil
}

// HasPointerlessStructList reports whether v (of type s) holds a non-empty
// list of structs without pointer fields: the shape capnp.Canonicalize
// corrupts in v3.1.0-alpha.2, where only the C++ tool can be the oracle.
func HasPointerlessStructList(s *gen.StructDecl, v reflect.Value) bool {
	v = reflect.Indirect(v)
	for _, f := range s.Fields {
		fv := v.FieldByName(f.GoName)
		switch {
		case f.Type.Kind == gen.StructKind:
			if HasPointerlessStructList(f.Type.Struct, fv) {
				return true
			}
		case f.Type.Kind == gen.List && f.Type.Elem.Kind == gen.StructKind:
			if fv.Len() > 0 && f.Type.Elem.Struct.PtrCount == 0 {
				return true
			}
			for i := 0; i < fv.Len(); i++ {
				if HasPointerlessStructList(f.Type.Elem.Struct, fv.Index(i)) {
					return true
				}
			}
		}
	}
	return false
}

// ErrNoCapnp is returned when the capnp binary is not on PATH.
var ErrNoCapnp = errors.New("capnp binary not found (install the Debian package capnproto)")

// Convert runs `capnp convert from:to schemaFile typeName` with input on
// standard input and returns standard output.
func Convert(from, to, schemaFile, typeName string, input []byte) ([]byte, error) {
	bin, err := exec.LookPath("capnp")
	if err != nil {
		return nil, ErrNoCapnp
	}
	cmd := exec.Command(bin, "convert", from+":"+to, schemaFile, typeName)
	cmd.Stdin = bytes.NewReader(input)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return out.Bytes(), fmt.Errorf("capnp convert %s:%s: %w: %s", from, to, err, bytes.TrimSpace(stderr.Bytes()))
	}
	return out.Bytes(), nil
}

// Rand makes random values of generated types, biased toward the edges:
// absent fields, zero and extreme numbers, NaN and negative zero, empty
// and long text, multi-byte UTF-8.
type Rand struct {
	R       *rand.Rand
	MaxText int // longest random text or data; 40 if 0
	MaxList int // longest random list; 6 if 0
}

// Fill sets every field of the generated struct *v (of schema type s).
func (r *Rand) Fill(s *gen.StructDecl, v any) {
	r.fill(s, reflect.ValueOf(v).Elem())
}

func (r *Rand) fill(s *gen.StructDecl, v reflect.Value) {
	for _, f := range s.Fields {
		fv := v.FieldByName(f.GoName)
		fv.SetZero()
		if r.R.IntN(4) == 0 { // absent
			continue
		}
		r.value(&f.Type, fv)
	}
}

func (r *Rand) value(t *gen.Type, v reflect.Value) {
	switch t.Kind {
	case gen.Bool:
		v.SetBool(r.R.IntN(2) == 0)
	case gen.Int8, gen.Int16, gen.Int32, gen.Int64:
		v.SetInt(int64(r.bits(t.Kind.Bits())))
	case gen.Uint8, gen.Uint16, gen.Uint32, gen.Uint64:
		v.SetUint(r.bits(t.Kind.Bits()))
	case gen.Float32:
		// Set, not SetFloat: through float64 a signaling NaN is quieted.
		v.Set(reflect.ValueOf(math.Float32frombits(r.float32())).Convert(v.Type()))
	case gen.Float64:
		v.SetFloat(math.Float64frombits(r.float()))
	case gen.Enum:
		v.SetUint(uint64(r.R.IntN(len(t.Enum.Enumerants))))
	case gen.Text:
		v.SetString(r.Text())
	case gen.Data:
		b := make([]byte, r.length(r.maxText()))
		for i := range b {
			b[i] = byte(r.R.Uint32())
		}
		v.SetBytes(b)
	case gen.StructKind:
		r.fill(t.Struct, v)
	case gen.List:
		n := r.length(r.maxList())
		l := reflect.MakeSlice(v.Type(), n, n)
		for i := 0; i < n; i++ {
			r.value(t.Elem, l.Index(i))
		}
		v.Set(l)
	}
}

func (r *Rand) maxText() int {
	if r.MaxText == 0 {
		return 40
	}
	return r.MaxText
}

func (r *Rand) maxList() int {
	if r.MaxList == 0 {
		return 6
	}
	return r.MaxList
}

// length is 0, 1, the maximum or anything between, each often.
func (r *Rand) length(max int) int {
	switch r.R.IntN(5) {
	case 0:
		return 0
	case 1:
		return 1
	case 2:
		return max
	}
	return r.R.IntN(max + 1)
}

func (r *Rand) bits(n int) uint64 {
	mask := uint64(1)<<n - 1
	if n == 64 {
		mask = math.MaxUint64
	}
	switch r.R.IntN(5) {
	case 0:
		return 0
	case 1:
		return mask // -1 or the maximum
	case 2:
		return mask >> 1 // the signed maximum
	case 3:
		return uint64(r.R.IntN(256))
	}
	return r.R.Uint64() & mask
}

func (r *Rand) float() uint64 {
	switch r.R.IntN(8) {
	case 0:
		return 0
	case 1:
		return 1 << 63 // -0.0: bits, not value, decide emptiness
	case 2:
		return math.Float64bits(math.NaN())
	case 3:
		return 0x7ff0000000000001 // a signaling NaN
	case 4:
		return math.Float64bits(math.Inf(-1))
	}
	return r.R.Uint64()
}

// float32 returns the bits of a Float32, with its own edges: the low half
// of float's would make neither -0.0 nor a NaN.
func (r *Rand) float32() uint32 {
	switch r.R.IntN(8) {
	case 0:
		return 0
	case 1:
		return 1 << 31 // -0.0
	case 2:
		return 0x7fc00000 // the quiet NaN
	case 3:
		return 0x7f800001 // a signaling NaN
	case 4:
		return 0xff800000 // -Inf
	}
	return r.R.Uint32()
}

var float32Type = reflect.TypeFor[float32]()

var runes = []rune{'a', 'Z', '0', ' ', '~', 'é', 'ß', 'ü', '€', '中', '文', '𝄞', '😀', 'Å', '\u00a0'}

// Text returns random valid UTF-8 without NUL, possibly empty.
func (r *Rand) Text() string {
	n := r.length(r.maxText())
	b := make([]rune, n)
	for i := range b {
		if r.R.IntN(3) == 0 {
			b[i] = runes[r.R.IntN(len(runes))]
		} else {
			b[i] = rune('!' + r.R.IntN(94))
		}
	}
	return string(b)
}

// Decl reads the compiled schema request at reqPath and returns the model
// of the struct with the given schema name.
func Decl(reqPath, name string) (*gen.StructDecl, error) {
	req, err := os.ReadFile(reqPath)
	if err != nil {
		return nil, err
	}
	files, err := gen.Load(req)
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		for _, s := range f.Structs {
			if s.Name == name {
				return s, nil
			}
		}
	}
	return nil, fmt.Errorf("capnptest: no struct %s in %s", name, reqPath)
}

// FirstDiff compares a concatenation of messages, got, with the messages
// in want and returns the index of the first that differs, or -1 when all
// are equal and nothing follows them in got.
func FirstDiff(got []byte, want [][]byte) int {
	for i, w := range want {
		if len(got) < len(w) || !bytes.Equal(got[:len(w)], w) {
			return i
		}
		got = got[len(w):]
	}
	if len(got) != 0 {
		return len(want)
	}
	return -1
}
