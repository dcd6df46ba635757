package capnpwire

import (
	"errors"
	"testing"
)

var (
	oneWordLayout = StructLayout{Name: "W1", DataWords: 1, DataMask: []uint64{^uint64(0)}}
	eightWord     = StructLayout{Name: "W8", DataWords: 8,
		DataMask: []uint64{^uint64(0), ^uint64(0), ^uint64(0), ^uint64(0), ^uint64(0), ^uint64(0), ^uint64(0), ^uint64(0)}}
	// wideLayout has one pointer of every kind the checker reads.
	wideLayout = StructLayout{Name: "R", Ptrs: []PtrLayout{
		{Field: "R.text", Kind: PtrText},
		{Field: "R.data", Kind: PtrData},
		{Field: "R.u64s", Kind: PtrList, Elem: ElemEight},
		{Field: "R.u32s", Kind: PtrList, Elem: ElemFour},
		{Field: "R.u16s", Kind: PtrList, Elem: ElemTwo},
		{Field: "R.texts", Kind: PtrTextList},
		{Field: "R.datas", Kind: PtrDataList},
		{Field: "R.w1s", Kind: PtrStructList, Struct: &oneWordLayout},
		{Field: "R.w8s", Kind: PtrStructList, Struct: &eightWord},
		{Field: "R.w1", Kind: PtrStruct, Struct: &oneWordLayout},
	}}
)

// message returns a message whose root (no data, slot+1 pointers) has only
// pointer slot set, to w, followed by the words of obj: the object of a
// pointer with offset 0 starts right there.
func message(slot int, w uint64, obj ...uint64) []byte {
	b := make([]byte, 8*(2+slot+len(obj)))
	PutStructPtr(b, 0, 8, 0, slot+1)
	le.PutUint64(b[8*(1+slot):], w)
	for i, x := range obj {
		le.PutUint64(b[8*(2+slot+i):], x)
	}
	return b
}

// TestCheckHugeFields: pointers whose offsets or counts are near the top of
// their bit fields are refused with a NonCanonicalError naming the field,
// never accepted and never a panic. Where int has 32 bits (GOARCH=386,
// arm), offset*8 and count*size wrap: an offset of -2^29 words landed
// exactly where the next object starts, and the checker accepted a second
// byte string for the same value (FuzzOpenShapes' TestStrictOpenRejects
// found it); counts of 2^29-1 elements claimed a negative number of bytes
// and made the checker read past the message and panic.
func TestCheckHugeFields(t *testing.T) {
	const (
		wrap  = uint64(0x80000000) // offset field -2^29 words: -2^32 bytes
		huge  = uint64(1<<29 - 1)  // the largest list count
		ones  = ^uint64(0)
		list  = 1
		bytes = uint64(ElemByte) << 32
	)
	cases := []struct {
		name string
		b    []byte
		slot int
	}{
		{"text offset wraps", message(0, wrap|list|bytes|3<<35, 'h'|'i'<<8), 0},
		{"data offset wraps", message(1, wrap|list|bytes|2<<35, 'h'|'i'<<8), 1},
		{"list offset wraps", message(2, wrap|list|uint64(ElemEight)<<32|1<<35, 1), 2},
		{"struct offset wraps", message(9, wrap|1<<32, 1), 9},
		{"u64 count", message(2, list|uint64(ElemEight)<<32|huge<<35), 2},
		{"u32 count", message(3, list|uint64(ElemFour)<<32|huge<<35), 3},
		{"u16 count", message(4, list|uint64(ElemTwo)<<32|huge<<35), 4},
		{"text list count", message(5, list|uint64(ElemPointer)<<32|huge<<35), 5},
		{"data list count", message(6, list|uint64(ElemPointer)<<32|huge<<35), 6},
		// 2^29-1 elements of one word: the word count is right, 8 times it is not an int32.
		{"composite word count", message(7, list|uint64(ElemComposite)<<32|huge<<35, huge<<2|1<<32, 1), 7},
		// 2^29+1 elements of 8 words is 2^32+8 words: 8 in 32 bits.
		{"composite element count", message(8, list|uint64(ElemComposite)<<32|8<<35, (1<<29+1)<<2|8<<32,
			ones, ones, ones, ones, ones, ones, ones, ones), 8},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Check(c.b, &wideLayout)
			var nc *NonCanonicalError
			if !errors.As(err, &nc) {
				t.Fatalf("Check(%x) = %v, want a NonCanonicalError", c.b, err)
			}
			if want := wideLayout.Ptrs[c.slot].Field; nc.Field != want || nc.Offset != 8*(1+c.slot) {
				t.Errorf("error %q, want one naming %s at byte %d", err, want, 8*(1+c.slot))
			}
		})
	}
}

// TestSizesSaturate: the size functions are exact up to MaxMessageBytes
// and TooBig above it, for counts whose sizes do not fit 32 bits.
func TestSizesSaturate(t *testing.T) {
	for _, c := range []struct {
		name      string
		got, want int
	}{
		{"AddSize exact", AddSize(MaxMessageBytes-8, 8), MaxMessageBytes},
		{"AddSize over", AddSize(MaxMessageBytes, 8), TooBig},
		{"AddSize of TooBig", AddSize(TooBig, 0), TooBig},
		{"AddSize of two large", AddSize(MaxMessageBytes, MaxMessageBytes), TooBig},
		{"ListSize exact", ListSize(3, 16), 8},
		{"ListSize bits", ListSize(MaxListLen, 1), 1 << 26},
		{"ListSize over", ListSize(MaxListLen, 64), TooBig},
		{"DataSize over", DataSize(MaxMessageBytes + 1), TooBig},
		{"CompositeSize exact", CompositeSize(3, 2), 56},
		{"CompositeSize over", CompositeSize(1<<25, 1), TooBig},
		{"CompositeSize count*words over 32 bits", CompositeSize(1<<30-1, 8), TooBig},
	} {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
		}
	}
}

// TestTextFastPathAgrees: checker.text, the inline path for texts, accepts
// exactly what checker.bytes accepts, with the same error and cursor, for
// every length of one and two words and contents at the edges of its
// word test: NUL, 0x7f, 0x80, UTF-8 sequences, bytes in the padding.
func TestTextFastPathAgrees(t *testing.T) {
	fills := [][]byte{
		[]byte("abcdefghijklmnop"), []byte("\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f"),
		[]byte("\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01"),
		[]byte("é€éééééééééé"), []byte("\xc3\xa9\x80abcdefghijklmn"), []byte("\xffabcdefghijklmnopq"),
	}
	checked := 0
	for n := 0; n <= 17; n++ { // the list's byte count, the NUL included
		for _, fill := range fills {
			for bad := -1; bad < padded(n); bad++ { // one byte set to bad values, or none
				for _, v := range []byte{0, 1, 0x7f, 0x80, 0xc3, 0xff} {
					obj := make([]byte, max(8, padded(n)))
					copy(obj, fill[:max(n-1, 0)])
					if bad >= 0 {
						obj[bad] = v
					} else if v != 0 {
						continue
					}
					words := make([]uint64, len(obj)/8)
					for i := range words {
						words[i] = le.Uint64(obj[8*i:])
					}
					w := uint64(n)<<35 | uint64(ElemByte)<<32 | 1
					for _, msg := range [][]byte{message(0, w, words...), message(0, w, words...)[:16]} {
						pos := 8
						slow := checker{b: msg, cur: 16}
						fast := slow
						errSlow := slow.bytes(pos, w, "T.t", true)
						errFast := fast.text(pos, w, "T.t")
						if (errSlow == nil) != (errFast == nil) || errSlow != nil && errSlow.Error() != errFast.Error() || slow.cur != fast.cur {
							t.Fatalf("n %d obj %q: bytes %v (cursor %d), text %v (cursor %d)", n, obj, errSlow, slow.cur, errFast, fast.cur)
						}
						checked++
					}
				}
			}
		}
	}
	if checked < 1000 {
		t.Fatalf("only %d cases checked", checked)
	}
}
