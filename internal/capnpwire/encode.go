package capnpwire

import (
	"bytes"
	"encoding/binary"
	"math"
	"strings"
	"unicode/utf8"
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
// keeps every pointer offset and list word count far inside its bit field;
// the element counts that bytes do not bound are bounded by MaxListLen (bit
// lists) and MaxEmptyElems (lists of zero-sized structs).
const MaxMessageBytes = 1 << 28

var le = binary.LittleEndian

// MaxEmptyElems is how many elements of lists of zero-sized structs a
// message of size bytes may hold, all such lists together: one per word of
// the message. Such elements take no bytes, so without a bound a message of
// a few words could claim 2^30 of them, and a reader that decodes it would
// allocate that many; Cap'n Proto readers charge them to their traversal
// limit for the same reason. Encoders refuse what Check refuses.
func MaxEmptyElems(size int) int { return size / 8 }

// MaxListLen is the most elements a list other than a struct list may
// hold: its pointer has 29 bits for the count. Only a bit list can reach
// it under MaxMessageBytes; encoders refuse a longer one.
const MaxListLen = 1<<29 - 1

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

// The encoders of generated code first add up the exact size of a message
// (the XxxSize functions), grow the buffer once, and then write every object
// at its place (the PutXxx functions, which return where the next object
// starts). The grown bytes are zero, so padding, NUL terminators and null
// pointers need no writing.

// The size functions saturate: a size over MaxMessageBytes comes back as
// TooBig, and AddSize keeps it there. A value's size is not bounded by the
// memory it takes (a list may hold one long text many times, lists of
// structs may share their elements' lists), and a plain sum wrapped where
// int has 32 bits: the message then looked small enough, and the encoder
// wrote past the buffer it had grown. Exact below the bound, saturated
// above it, the sum is refused exactly when the message is too large.

// TooBig is the size the size functions give for anything over
// MaxMessageBytes.
const TooBig = MaxMessageBytes + 1

// AddSize returns a+b for sizes a, b >= 0, or TooBig when that is more
// than MaxMessageBytes.
func AddSize(a, b int) int {
	if a > MaxMessageBytes || b > MaxMessageBytes-a {
		return TooBig
	}
	return a + b
}

// TextSize is the canonical size of Text s: 0 when empty (null).
func TextSize(s string) int {
	if s == "" {
		return 0
	}
	return DataSize(len(s) + 1)
}

// DataSize is the canonical size of n bytes of Data.
func DataSize(n int) int {
	if n > MaxMessageBytes {
		return TooBig
	}
	return padded(n)
}

// ListSize is the canonical size of a list of n elements of the given bits.
func ListSize(n, bits int) int {
	if uint64(n)*uint64(bits) > 8*MaxMessageBytes-8 { // then n*bits+7 fits an int32
		return TooBig
	}
	return padded((n*bits + 7) / 8)
}

// CompositeSize is the canonical size of the tag word and the sections of
// a composite list of n elements of words words each.
func CompositeSize(n, words int) int {
	if uint64(n)*uint64(words) >= MaxMessageBytes/8 {
		return TooBig
	}
	return 8 + 8*n*words
}

// PutText writes the non-empty text s at at and points ptrPos at it. It
// reports false when s is not valid UTF-8 or holds NUL: Text has no
// canonical encoding then.
//
// It copies s a word at a time and checks each word as it passes through a
// register (see TextOK for the check), so every byte is loaded once; the
// copy and a separate check cost a memmove call and a second pass. A text
// of fewer than 8 bytes is gathered into one word with at most three
// loads: its padded slot is at least 8 bytes, and the bytes past the text
// must stay zero anyway (the NUL and the padding).
func PutText(b []byte, ptrPos, at int, s string) (int, bool) {
	n := len(s)
	end := at + padded(n+1)
	PutListPtr(b, ptrPos, at, ElemByte, n+1)
	w := b[at:end]
	var acc, all uint64
	if n >= 8 {
		all = hi8
		i := 0
		for ; i+16 <= n; i += 16 {
			x, y := load64(s, i), load64(s, i+8)
			d := w[i : i+16]
			le.PutUint64(d, x)
			le.PutUint64(d[8:], y)
			acc |= x | y
			all &= (x + m7) & (y + m7)
		}
		if i+8 <= n {
			x := load64(s, i)
			le.PutUint64(w[i:], x)
			acc |= x
			all &= x + m7
			i += 8
		}
		if i < n { // the last 8 bytes, overlapping words already written
			x := load64(s, n-8)
			le.PutUint64(w[n-8:], x)
			acc |= x
			all &= x + m7
		}
	} else {
		x := gather(s)
		le.PutUint64(w, x)
		k := uint(n) * 8
		acc = x
		all = (x | (^uint64(0)<<k)&lo8) + m7 // bytes past the text count as 0x01
	}
	if acc&hi8 == 0 && all&hi8 == hi8 {
		return end, true
	}
	return end, strings.IndexByte(s, 0) < 0 && utf8.ValidString(s)
}

// gather returns the 1 to 7 bytes of s as one little-endian word, zero
// above them. Overlapping loads OR the same byte onto itself.
func gather(s string) uint64 {
	n := len(s)
	if n >= 4 {
		lo := uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24
		t := s[n-4:]
		hi := uint64(t[0]) | uint64(t[1])<<8 | uint64(t[2])<<16 | uint64(t[3])<<24
		return lo | hi<<(8*uint(n-4))
	}
	return uint64(s[0]) | uint64(s[n/2])<<(8*uint(n/2)) | uint64(s[n-1])<<(8*uint(n-1))
}

// load64 reads 8 bytes of s at i, little-endian (the compiler makes it one load).
func load64(s string, i int) uint64 {
	s = s[i : i+8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// PutData writes the non-empty data d at at and points ptrPos at it.
func PutData(b []byte, ptrPos, at int, d []byte) int {
	copy(b[at:], d)
	PutListPtr(b, ptrPos, at, ElemByte, len(d))
	return at + padded(len(d))
}

// PutList8 writes a non-empty list of 8-bit values.
func PutList8[T ~uint8 | ~int8](b []byte, ptrPos, at int, xs []T) int {
	for i, x := range xs {
		b[at+i] = uint8(x)
	}
	PutListPtr(b, ptrPos, at, ElemByte, len(xs))
	return at + ListSize(len(xs), 8)
}

// PutList16 writes a non-empty list of 16-bit values (and enums).
func PutList16[T ~uint16 | ~int16](b []byte, ptrPos, at int, xs []T) int {
	for i, x := range xs {
		le.PutUint16(b[at+2*i:], uint16(x))
	}
	PutListPtr(b, ptrPos, at, ElemTwo, len(xs))
	return at + ListSize(len(xs), 16)
}

// PutList32 writes a non-empty list of 32-bit integers.
func PutList32[T ~uint32 | ~int32](b []byte, ptrPos, at int, xs []T) int {
	for i, x := range xs {
		le.PutUint32(b[at+4*i:], uint32(x))
	}
	PutListPtr(b, ptrPos, at, ElemFour, len(xs))
	return at + ListSize(len(xs), 32)
}

// PutList64 writes a non-empty list of 64-bit integers.
func PutList64[T ~uint64 | ~int64](b []byte, ptrPos, at int, xs []T) int {
	for i, x := range xs {
		le.PutUint64(b[at+8*i:], uint64(x))
	}
	PutListPtr(b, ptrPos, at, ElemEight, len(xs))
	return at + 8*len(xs)
}

// PutFloat32s writes a non-empty list of float32, bit for bit.
func PutFloat32s(b []byte, ptrPos, at int, xs []float32) int {
	for i, x := range xs {
		le.PutUint32(b[at+4*i:], math.Float32bits(x))
	}
	PutListPtr(b, ptrPos, at, ElemFour, len(xs))
	return at + ListSize(len(xs), 32)
}

// PutFloat64s writes a non-empty list of float64, bit for bit.
func PutFloat64s(b []byte, ptrPos, at int, xs []float64) int {
	for i, x := range xs {
		le.PutUint64(b[at+8*i:], math.Float64bits(x))
	}
	PutListPtr(b, ptrPos, at, ElemEight, len(xs))
	return at + 8*len(xs)
}

// PutBools writes a non-empty bit list.
func PutBools(b []byte, ptrPos, at int, xs []bool) int {
	for i, x := range xs {
		if x {
			b[at+i/8] |= 1 << (i % 8)
		}
	}
	PutListPtr(b, ptrPos, at, ElemBit, len(xs))
	return at + ListSize(len(xs), 1)
}

// TextListSize is the canonical size of a non-empty List(Text).
func TextListSize(xs []string) int {
	n := ListSize(len(xs), 64)
	for _, s := range xs {
		n = AddSize(n, TextSize(s))
	}
	return n
}

// PutTextList writes a non-empty list of texts; empty ones are null. It
// reports false when a text is not valid UTF-8 or holds NUL.
func PutTextList(b []byte, ptrPos, at int, xs []string) (int, bool) {
	PutListPtr(b, ptrPos, at, ElemPointer, len(xs))
	next, ok := at+8*len(xs), true
	for i, s := range xs {
		if s != "" {
			var good bool
			next, good = PutText(b, at+8*i, next, s)
			ok = ok && good
		}
	}
	return next, ok
}

// DataListSize is the canonical size of a non-empty List(Data).
func DataListSize(xs [][]byte) int {
	n := ListSize(len(xs), 64)
	for _, d := range xs {
		n = AddSize(n, DataSize(len(d)))
	}
	return n
}

// PutDataList writes a non-empty list of data; empty ones are null.
func PutDataList(b []byte, ptrPos, at int, xs [][]byte) int {
	PutListPtr(b, ptrPos, at, ElemPointer, len(xs))
	next := at + 8*len(xs)
	for i, d := range xs {
		if len(d) != 0 {
			next = PutData(b, at+8*i, next, d)
		}
	}
	return next
}

const (
	lo8 = 0x0101010101010101
	hi8 = 0x8080808080808080
	m7  = 0x7f7f7f7f7f7f7f7f
)

// TextOK reports whether w, a text's words, holds n bytes of valid UTF-8
// without NUL followed by zero bytes only (the NUL and the padding):
// exactly what a canonical Text of n bytes is. len(w) is a multiple of 8
// greater than n. ASCII is checked two words at a time: for a byte below
// 0x80, adding 0x7f sets its high bit exactly when it is not zero. Other
// text falls back to utf8.Valid.
func TextOK(w []byte, n int) bool {
	full := n &^ 7
	acc, all := uint64(0), uint64(hi8)
	body := w[:full:full]
	for len(body) >= 16 {
		x, y := le.Uint64(body), le.Uint64(body[8:])
		acc |= x | y
		all &= (x + m7) & (y + m7)
		body = body[16:]
	}
	if len(body) >= 8 {
		x := le.Uint64(body)
		acc |= x
		all &= x + m7
	}
	last := le.Uint64(w[full:])
	k := uint(n-full) * 8 // content bits of the last word, 0..56
	if last>>k != 0 {
		return false // the NUL or the padding is not zero
	}
	x := last | (^uint64(0)<<k)&lo8 // bytes past the content count as 0x01
	acc |= x
	all &= x + m7
	if acc&hi8 == 0 && all&hi8 == hi8 {
		return true
	}
	return bytes.IndexByte(w[:n], 0) < 0 && utf8.Valid(w[:n])
}
