package capnptest

import (
	"encoding/binary"
	"fmt"
	"math"
	"reflect"

	"capnproto.org/go/capnp/v3"

	"github.com/rustyonions/ron-audit-go/gen"
)

// Decode reads b, a single-segment message without a segment table, with
// capnp-go's lenient reader, and sets *v (a generated struct of schema
// type s) to what capnp-go sees in it: the inverse of Message, independent
// of the generated openers. Whatever capnp-go cannot read as the field's
// type (a pointer of another kind, a text without its NUL) reads as the
// field's default, as capnp-go's own accessors do.
func Decode(s *gen.StructDecl, b []byte, v any) (err error) {
	if len(b) == 0 || len(b)%8 != 0 {
		return fmt.Errorf("capnptest: %d bytes are not whole words", len(b))
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("capnptest: capnp-go panicked: %v", r)
		}
	}()
	framed := make([]byte, 8, 8+len(b))
	binary.LittleEndian.PutUint32(framed[4:], uint32(len(b)/8))
	msg, err := capnp.Unmarshal(append(framed, b...))
	if err != nil {
		return err
	}
	root, err := msg.Root()
	if err != nil {
		return err
	}
	rv := reflect.ValueOf(v).Elem()
	rv.SetZero()
	return read(root.Struct(), s, rv)
}

func read(st capnp.Struct, s *gen.StructDecl, v reflect.Value) error {
	for _, f := range s.Fields {
		fv := v.FieldByName(f.GoName)
		if !fv.IsValid() {
			return fmt.Errorf("capnptest: %s has no Go field %s", s.GoName, f.GoName)
		}
		if f.Type.Kind.IsPointer() {
			p, err := st.Ptr(uint16(f.Offset))
			if err != nil {
				return err
			}
			if err := readPtr(p, &f.Type, fv); err != nil {
				return err
			}
			continue
		}
		var bits uint64
		switch f.Type.Kind.Bits() {
		case 1:
			if st.Bit(capnp.BitOffset(f.Offset)) {
				bits = 1
			}
		case 8:
			bits = uint64(st.Uint8(capnp.DataOffset(f.Offset)))
		case 16:
			bits = uint64(st.Uint16(capnp.DataOffset(2 * f.Offset)))
		case 32:
			bits = uint64(st.Uint32(capnp.DataOffset(4 * f.Offset)))
		case 64:
			bits = st.Uint64(capnp.DataOffset(8 * f.Offset))
		}
		setScalar(f.Type.Kind, fv, bits)
	}
	return nil
}

func setScalar(k gen.Kind, v reflect.Value, bits uint64) {
	switch k {
	case gen.Bool:
		v.SetBool(bits != 0)
	case gen.Float32:
		v.Set(reflect.ValueOf(math.Float32frombits(uint32(bits))).Convert(v.Type()))
	case gen.Float64:
		v.SetFloat(math.Float64frombits(bits))
	case gen.Int8:
		v.SetInt(int64(int8(bits)))
	case gen.Int16:
		v.SetInt(int64(int16(bits)))
	case gen.Int32:
		v.SetInt(int64(int32(bits)))
	case gen.Int64:
		v.SetInt(int64(bits))
	default:
		v.SetUint(bits)
	}
}

func readPtr(p capnp.Ptr, t *gen.Type, v reflect.Value) error {
	if !p.IsValid() {
		return nil
	}
	switch t.Kind {
	case gen.Text:
		v.SetString(p.Text())
	case gen.Data:
		if d := p.Data(); len(d) > 0 {
			v.SetBytes(append([]byte(nil), d...))
		}
	case gen.StructKind:
		return read(p.Struct(), t.Struct, v)
	case gen.List:
		return readList(p.List(), t.Elem, v)
	default:
		return fmt.Errorf("capnptest: no pointer for kind %d", t.Kind)
	}
	return nil
}

func readList(l capnp.List, el *gen.Type, v reflect.Value) error {
	n := l.Len()
	if !l.IsValid() || n == 0 {
		return nil
	}
	if n > 8*len(l.Segment().Data()) {
		// more elements than bits: only zero-sized structs, which no
		// writer under test encodes that many of
		return fmt.Errorf("capnptest: list of %d elements in a segment of %d bytes", n, len(l.Segment().Data()))
	}
	out := reflect.MakeSlice(v.Type(), n, n)
	for i := 0; i < n; i++ {
		ev := out.Index(i)
		switch el.Kind {
		case gen.StructKind:
			if err := read(l.Struct(i), el.Struct, ev); err != nil {
				return err
			}
		case gen.Text, gen.Data:
			p, err := capnp.PointerList(l).At(i)
			if err != nil {
				return err
			}
			if err := readPtr(p, el, ev); err != nil {
				return err
			}
		case gen.Bool:
			ev.SetBool(capnp.BitList(l).At(i))
		default:
			var bits uint64
			switch el.Kind.Bits() {
			case 8:
				bits = uint64(capnp.UInt8List(l).At(i))
			case 16:
				bits = uint64(capnp.UInt16List(l).At(i))
			case 32:
				bits = uint64(capnp.UInt32List(l).At(i))
			default:
				bits = capnp.UInt64List(l).At(i)
			}
			setScalar(el.Kind, ev, bits)
		}
	}
	v.Set(out)
	return nil
}
