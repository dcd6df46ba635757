package capnpwire

import (
	"encoding/binary"
	"math"
)

// ElemSize is the element size code of a list pointer.
type ElemSize uint8

// Element size codes, as in the Cap'n Proto encoding spec.
const (
	ElemVoid ElemSize = iota
	ElemBit
	ElemByte
	ElemTwo
	ElemFour
	ElemEight
	ElemPointer
	ElemComposite
)

// MaxMessageBytes bounds every message this package writes or reads. It
// keeps every list length and pointer offset far inside its bit field, so an
// encoder that stays under it cannot have produced a wrapped field.
const MaxMessageBytes = 1 << 28

var le = binary.LittleEndian

// Grow appends n zero bytes to b. It allocates only when b lacks room.
func Grow(b []byte, n int) []byte {
	return append(b, make([]byte, n)...)
}

// PutStructPtr writes at ptrPos a struct pointer to a struct at target with
// the given section sizes. Positions are byte offsets into b; only their
// difference is encoded, so a message may start anywhere in b.
func PutStructPtr(b []byte, ptrPos, target, dataWords, ptrCount int) {
	off := (target - ptrPos - 8) >> 3
	le.PutUint64(b[ptrPos:], uint64(uint32(int32(off)<<2))|uint64(dataWords)<<32|uint64(ptrCount)<<48)
}

// PutListPtr writes at ptrPos a list pointer to a list at target.
// n is the element count, or the word count for ElemComposite.
func PutListPtr(b []byte, ptrPos, target int, es ElemSize, n int) {
	off := (target - ptrPos - 8) >> 3
	le.PutUint64(b[ptrPos:], uint64(uint32(int32(off)<<2))|1|uint64(es)<<32|uint64(n)<<35)
}

// PutCompositeTag writes the tag word of a composite list at pos.
func PutCompositeTag(b []byte, pos, count, dataWords, ptrCount int) {
	le.PutUint64(b[pos:], uint64(uint32(count)<<2)|uint64(dataWords)<<32|uint64(ptrCount)<<48)
}

// PutWord writes one data word at pos.
func PutWord(b []byte, pos int, w uint64) { le.PutUint64(b[pos:], w) }

func padded(n int) int { return (n + 7) &^ 7 }

// AppendText appends the non-empty text s (with its NUL) and points ptrPos at it.
func AppendText(b []byte, ptrPos int, s string) []byte {
	at := len(b)
	b = Grow(b, padded(len(s)+1))
	copy(b[at:], s)
	PutListPtr(b, ptrPos, at, ElemByte, len(s)+1)
	return b
}

// AppendData appends the non-empty data d and points ptrPos at it.
func AppendData(b []byte, ptrPos int, d []byte) []byte {
	at := len(b)
	b = Grow(b, padded(len(d)))
	copy(b[at:], d)
	PutListPtr(b, ptrPos, at, ElemByte, len(d))
	return b
}

// AppendList8 appends a non-empty list of 8-bit values.
func AppendList8[T ~uint8 | ~int8](b []byte, ptrPos int, xs []T) []byte {
	at := len(b)
	b = Grow(b, padded(len(xs)))
	for i, x := range xs {
		b[at+i] = uint8(x)
	}
	PutListPtr(b, ptrPos, at, ElemByte, len(xs))
	return b
}

// AppendList16 appends a non-empty list of 16-bit values (and enums).
func AppendList16[T ~uint16 | ~int16](b []byte, ptrPos int, xs []T) []byte {
	at := len(b)
	b = Grow(b, padded(2*len(xs)))
	for i, x := range xs {
		le.PutUint16(b[at+2*i:], uint16(x))
	}
	PutListPtr(b, ptrPos, at, ElemTwo, len(xs))
	return b
}

// AppendList32 appends a non-empty list of 32-bit integers.
func AppendList32[T ~uint32 | ~int32](b []byte, ptrPos int, xs []T) []byte {
	at := len(b)
	b = Grow(b, padded(4*len(xs)))
	for i, x := range xs {
		le.PutUint32(b[at+4*i:], uint32(x))
	}
	PutListPtr(b, ptrPos, at, ElemFour, len(xs))
	return b
}

// AppendList64 appends a non-empty list of 64-bit integers.
func AppendList64[T ~uint64 | ~int64](b []byte, ptrPos int, xs []T) []byte {
	at := len(b)
	b = Grow(b, 8*len(xs))
	for i, x := range xs {
		le.PutUint64(b[at+8*i:], uint64(x))
	}
	PutListPtr(b, ptrPos, at, ElemEight, len(xs))
	return b
}

// AppendFloat32s appends a non-empty list of float32, bit for bit.
func AppendFloat32s(b []byte, ptrPos int, xs []float32) []byte {
	at := len(b)
	b = Grow(b, padded(4*len(xs)))
	for i, x := range xs {
		le.PutUint32(b[at+4*i:], math.Float32bits(x))
	}
	PutListPtr(b, ptrPos, at, ElemFour, len(xs))
	return b
}

// AppendFloat64s appends a non-empty list of float64, bit for bit.
func AppendFloat64s(b []byte, ptrPos int, xs []float64) []byte {
	at := len(b)
	b = Grow(b, 8*len(xs))
	for i, x := range xs {
		le.PutUint64(b[at+8*i:], math.Float64bits(x))
	}
	PutListPtr(b, ptrPos, at, ElemEight, len(xs))
	return b
}

// AppendBools appends a non-empty bit list.
func AppendBools(b []byte, ptrPos int, xs []bool) []byte {
	at := len(b)
	b = Grow(b, padded((len(xs)+7)/8))
	for i, x := range xs {
		if x {
			b[at+i/8] |= 1 << (i % 8)
		}
	}
	PutListPtr(b, ptrPos, at, ElemBit, len(xs))
	return b
}

// AppendTextList appends a non-empty list of texts; empty ones are null.
func AppendTextList(b []byte, ptrPos int, xs []string) []byte {
	at := len(b)
	b = Grow(b, 8*len(xs))
	PutListPtr(b, ptrPos, at, ElemPointer, len(xs))
	for i, s := range xs {
		if s != "" {
			b = AppendText(b, at+8*i, s)
		}
	}
	return b
}

// AppendDataList appends a non-empty list of data; empty ones are null.
func AppendDataList(b []byte, ptrPos int, xs [][]byte) []byte {
	at := len(b)
	b = Grow(b, 8*len(xs))
	PutListPtr(b, ptrPos, at, ElemPointer, len(xs))
	for i, d := range xs {
		if len(d) != 0 {
			b = AppendData(b, at+8*i, d)
		}
	}
	return b
}
