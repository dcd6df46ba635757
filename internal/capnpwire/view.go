package capnpwire

import (
	"bytes"
	"math"
	"math/bits"
)

// Struct is a zero-copy view of one struct of a checked message. The zero
// Struct reads every field as its default, as a null pointer does. It is
// four words, and its accessors are small enough to inline.
type Struct struct {
	b   []byte // the whole message
	off uint32 // byte offset of the data section
	dw  uint16 // data words
	pc  uint16 // pointers
}

func makeStruct(b []byte, off, dw, pc int) Struct {
	return Struct{b: b, off: uint32(off), dw: uint16(dw), pc: uint16(pc)}
}

// Bytes returns the whole message the view reads from.
func (s Struct) Bytes() []byte { return s.b }

// Bit reads bit n of the data section.
func (s Struct) Bit(n int) bool {
	if n>>6 >= int(s.dw) {
		return false
	}
	return s.b[int(s.off)+n>>3]>>(n&7)&1 != 0
}

// Uint8 reads the byte at byte offset off of the data section.
func (s Struct) Uint8(off int) uint8 {
	if off >= 8*int(s.dw) {
		return 0
	}
	return s.b[int(s.off)+off]
}

// Uint16 reads the 16-bit value at byte offset off of the data section.
func (s Struct) Uint16(off int) uint16 {
	if off+2 > 8*int(s.dw) {
		return 0
	}
	return le.Uint16(s.b[int(s.off)+off:])
}

// Uint32 reads the 32-bit value at byte offset off of the data section.
func (s Struct) Uint32(off int) uint32 {
	if off+4 > 8*int(s.dw) {
		return 0
	}
	return le.Uint32(s.b[int(s.off)+off:])
}

// Uint64 reads the 64-bit value at byte offset off of the data section.
func (s Struct) Uint64(off int) uint64 {
	if off+8 > 8*int(s.dw) {
		return 0
	}
	return le.Uint64(s.b[int(s.off)+off:])
}

// ptr returns pointer i and its byte position; 0 for a missing pointer.
func (s Struct) ptr(i int) (uint64, int) {
	if uint(i) >= uint(s.pc) {
		return 0, 0
	}
	pos := int(s.off) + 8*(int(s.dw)+i)
	return le.Uint64(s.b[pos:]), pos
}

func target(pos int, w uint64) int { return pos + 8 + int(int32(uint32(w))>>2)*8 }

// Text returns the bytes of text pointer i, without its NUL; nil when null.
func (s Struct) Text(i int) []byte {
	if uint(i) < uint(s.pc) {
		pos := int(s.off) + 8*(int(s.dw)+i)
		if w := le.Uint64(s.b[pos:]); w != 0 {
			t, n := pos+8+int(int32(w)>>2)*8, int(w>>35)-1
			return s.b[t : t+n : t+n]
		}
	}
	return nil
}

// Data returns the bytes of data pointer i; nil when null.
func (s Struct) Data(i int) []byte {
	if uint(i) < uint(s.pc) {
		pos := int(s.off) + 8*(int(s.dw)+i)
		if w := le.Uint64(s.b[pos:]); w != 0 {
			t, n := pos+8+int(int32(w)>>2)*8, int(w>>35)
			return s.b[t : t+n : t+n]
		}
	}
	return nil
}

// Struct returns the struct pointer i points to.
func (s Struct) Struct(i int) Struct {
	if uint(i) < uint(s.pc) {
		pos := int(s.off) + 8*(int(s.dw)+i)
		if w := le.Uint64(s.b[pos:]); w != 0 {
			return Struct{b: s.b, off: uint32(pos + 8 + int(int32(w)>>2)*8), dw: uint16(w >> 32), pc: uint16(w >> 48)}
		}
	}
	return Struct{}
}

// List returns the list pointer i points to.
func (s Struct) List(i int) List {
	w, pos := s.ptr(i)
	return listAt(s.b, w, pos)
}

func textAt(b []byte, w uint64, pos int) []byte {
	if w == 0 {
		return nil
	}
	t, n := target(pos, w), int(w>>35)
	return b[t : t+n-1 : t+n-1]
}

func dataAt(b []byte, w uint64, pos int) []byte {
	if w == 0 {
		return nil
	}
	t, n := target(pos, w), int(w>>35)
	return b[t : t+n : t+n]
}

func listAt(b []byte, w uint64, pos int) List {
	if w == 0 {
		return List{}
	}
	t, n := target(pos, w), int(w>>35)
	if ElemSize(w>>32)&7 == ElemComposite {
		return List{b: b, off: uint32(t + 8), n: uint32(le.Uint64(b[t:])) >> 2}
	}
	return List{b: b, off: uint32(t), n: uint32(n)}
}

// List is a zero-copy view of one list of a checked message. The zero List is
// empty, as a null pointer is. It is four words, so that the compiler keeps
// it in registers (a struct of more than four words or 32 bytes lives in
// memory, and every view handed on is a copy): the element size is the
// caller's, from the schema, and a struct list's element shape is read from
// its tag word, just before element 0.
type List struct {
	b   []byte
	off uint32 // byte offset of element 0
	n   uint32
}

// Len returns the number of elements.
func (l List) Len() int { return int(l.n) }

func (l List) at(i int, size int) int {
	if uint(i) >= uint(l.n) {
		panic("capnpwire: list index out of range")
	}
	return int(l.off) + i*size
}

// Bit reads element i of a bit list.
func (l List) Bit(i int) bool {
	if uint(i) >= uint(l.n) {
		panic("capnpwire: list index out of range")
	}
	return l.b[int(l.off)+i>>3]>>(i&7)&1 != 0
}

// Uint8 reads element i of a byte list.
func (l List) Uint8(i int) uint8 { return l.b[l.at(i, 1)] }

// Uint16 reads element i of a 16-bit list.
func (l List) Uint16(i int) uint16 { return le.Uint16(l.b[l.at(i, 2):]) }

// Uint32 reads element i of a 32-bit list.
func (l List) Uint32(i int) uint32 { return le.Uint32(l.b[l.at(i, 4):]) }

// Uint64 reads element i of a 64-bit list.
func (l List) Uint64(i int) uint64 { return le.Uint64(l.b[l.at(i, 8):]) }

// Struct returns element i of a struct list.
func (l List) Struct(i int) Struct {
	if uint(i) >= uint(l.n) {
		panic("capnpwire: list index out of range")
	}
	dw, pc := l.shape()
	return makeStruct(l.b, int(l.off)+i*8*(dw+pc), dw, pc)
}

// shape returns the data words and pointers of the elements of a non-empty
// struct list, from its tag word.
func (l List) shape() (dw, pc int) {
	tag := le.Uint64(l.b[int(l.off)-8:])
	return int(uint16(tag >> 32)), int(uint16(tag >> 48))
}

// Text returns element i of a text list, nil when null.
func (l List) Text(i int) []byte {
	pos := l.at(i, 8)
	return textAt(l.b, le.Uint64(l.b[pos:]), pos)
}

// Data returns element i of a data list, nil when null.
func (l List) Data(i int) []byte {
	pos := l.at(i, 8)
	return dataAt(l.b, le.Uint64(l.b[pos:]), pos)
}

// AscendingTexts returns the index of the first element of struct list l
// whose text pointer slot is null, or not bytewise greater than that of the
// element before it; l.Len() when there is none. A reader checking that
// keys are sorted and unique calls it once instead of a view per element,
// and explains a failure with the views. It compares the texts' first
// words as big-endian numbers first: a text holds no NUL, so the NUL and
// zero padding after a shorter one order it first, as bytes.Compare does.
func (l List) AscendingTexts(slot int) int {
	if l.n == 0 {
		return 0
	}
	dw, pc := l.shape()
	if uint(slot) >= uint(pc) {
		return 0 // every element's text is null
	}
	var prev []byte
	var prevHead uint64
	n, stride := int(l.n), 8*(dw+pc)
	pos := int(l.off) + 8*(dw+slot)
	for i := 0; i < n; i, pos = i+1, pos+stride {
		w := le.Uint64(l.b[pos:])
		if w == 0 {
			return i
		}
		t := target(pos, w)
		head := bits.ReverseBytes64(le.Uint64(l.b[t:])) // a text's object is at least a word
		k := textAt(l.b, w, pos)
		if i > 0 && (head < prevHead || head == prevHead && bytes.Compare(prev, k) >= 0) {
			return i
		}
		prev, prevHead = k, head
	}
	return n
}

// Typed list views for generated accessors. L is the underlying list.

// BoolList is a list of Bool.
type BoolList struct{ L List }

// List8 is a list of 8-bit integers.
type List8[T ~uint8 | ~int8] struct{ L List }

// List16 is a list of 16-bit integers or enums.
type List16[T ~uint16 | ~int16] struct{ L List }

// List32 is a list of 32-bit integers.
type List32[T ~uint32 | ~int32] struct{ L List }

// List64 is a list of 64-bit integers.
type List64[T ~uint64 | ~int64] struct{ L List }

// Float32List is a list of Float32.
type Float32List struct{ L List }

// Float64List is a list of Float64.
type Float64List struct{ L List }

// TextList is a list of Text.
type TextList struct{ L List }

// DataList is a list of Data.
type DataList struct{ L List }

func (x BoolList) Len() int      { return x.L.Len() }
func (x BoolList) At(i int) bool { return x.L.Bit(i) }
func (x List8[T]) Len() int      { return x.L.Len() }
func (x List8[T]) At(i int) T    { return T(x.L.Uint8(i)) }
func (x List16[T]) Len() int     { return x.L.Len() }
func (x List16[T]) At(i int) T   { return T(x.L.Uint16(i)) }
func (x List32[T]) Len() int     { return x.L.Len() }
func (x List32[T]) At(i int) T   { return T(x.L.Uint32(i)) }
func (x List64[T]) Len() int     { return x.L.Len() }
func (x List64[T]) At(i int) T   { return T(x.L.Uint64(i)) }
func (x Float32List) Len() int   { return x.L.Len() }
func (x Float32List) At(i int) float32 {
	return math.Float32frombits(x.L.Uint32(i))
}
func (x Float64List) Len() int { return x.L.Len() }
func (x Float64List) At(i int) float64 {
	return math.Float64frombits(x.L.Uint64(i))
}
func (x TextList) Len() int        { return x.L.Len() }
func (x TextList) At(i int) []byte { return x.L.Text(i) }
func (x DataList) Len() int        { return x.L.Len() }
func (x DataList) At(i int) []byte { return x.L.Data(i) }
