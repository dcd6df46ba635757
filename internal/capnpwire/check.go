package capnpwire

import (
	"bytes"
	"strconv"
	"unicode/utf8"
)

// PtrKind says what a pointer field of a struct holds.
type PtrKind uint8

// Pointer field kinds a StructLayout can name.
const (
	PtrText       PtrKind = iota + 1 // Text
	PtrData                          // Data
	PtrStruct                        // a struct of Layout.Struct
	PtrList                          // a list of primitives of Layout.Elem
	PtrStructList                    // a list of structs of Layout.Struct
	PtrTextList                      // List(Text)
	PtrDataList                      // List(Data)
)

// StructLayout is the schema of one struct as the checker needs it; generated
// code declares one per struct.
type StructLayout struct {
	Name      string
	DataWords int
	Ptrs      []PtrLayout // one per pointer slot, in slot order
	Enums     []EnumSlot  // enum fields of the data section
	// DataMask has one word per data word: the bits some field of the
	// schema uses. A set bit outside it would be a field this schema does
	// not know, so the checker rejects it.
	DataMask []uint64
}

// PtrLayout describes pointer slot i of a struct.
type PtrLayout struct {
	Field     string // "Struct.field", for errors
	Kind      PtrKind
	Struct    *StructLayout // PtrStruct, PtrStructList
	Elem      ElemSize      // PtrList: ElemBit to ElemEight
	EnumCount int           // PtrList of an enum: number of enumerants
}

// EnumSlot is an enum field of a data section: its byte offset and the number
// of enumerants the schema defines. Any other value is rejected.
type EnumSlot struct {
	Field  string
	Offset int
	Count  int
}

type checker struct {
	b   []byte
	cur int // where the next object must start: canonical order is preorder
	// empties is what is left of the message's allowance of elements of
	// lists of zero-sized structs (see MaxEmptyElems).
	empties int
}

func (c *checker) fail(off int, field, reason string) error {
	return &NonCanonicalError{Offset: off, Field: field, Reason: reason}
}

// Check verifies that b is exactly the canonical encoding ("empty is null"
// included) of a message whose root is a struct of layout l, and returns a
// view of the root. It reads every word of b once and never panics.
func Check(b []byte, l *StructLayout) (Struct, error) {
	c := checker{b: b, cur: 8, empties: MaxEmptyElems(len(b))}
	if len(b) < 8 || len(b)%8 != 0 {
		return Struct{}, c.fail(0, "", "length "+strconv.Itoa(len(b))+" is not a positive multiple of 8")
	}
	if len(b) > MaxMessageBytes {
		return Struct{}, c.fail(0, "", "message longer than "+strconv.Itoa(MaxMessageBytes)+" bytes")
	}
	w := le.Uint64(b)
	if w == 0xfffffffc { // the empty root struct: offset -1, no sections
		if len(b) != 8 {
			return Struct{}, c.fail(8, "", "bytes after the end of the message")
		}
		return Struct{b: b}, nil
	}
	if w == 0 {
		return Struct{}, c.fail(0, "", "null root pointer")
	}
	s, err := c.structPtr(0, w, l, l.Name)
	if err != nil {
		return Struct{}, err
	}
	if c.cur != len(b) {
		return Struct{}, c.fail(c.cur, "", "bytes after the end of the message")
	}
	return s, nil
}

// objectAt checks that pointer word w at pos is of kind want (0 struct,
// 1 list) and points exactly where canonical order puts the next object.
func (c *checker) objectAt(pos int, w uint64, want uint64, field string) (int, error) {
	if w&3 != want {
		if want == 0 {
			return 0, c.fail(pos, field, "expected a struct pointer")
		}
		return 0, c.fail(pos, field, "expected a list pointer")
	}
	return c.cur, c.atCursor(pos, w, field)
}

// atCursor checks that pointer word w at pos points exactly where
// canonical order puts the next object. It compares offsets in words, not
// bytes: the offset field has 30 bits, so offset*8 does not fit an int of
// 32 bits (GOARCH=386, arm), and there an offset of -2^29 words would land
// on the cursor too.
func (c *checker) atCursor(pos int, w uint64, field string) error {
	if off := int32(uint32(w)) >> 2; int(off) != (c.cur-pos-8)/8 {
		t := int64(pos) + 8 + 8*int64(off)
		return c.fail(pos, field, "pointer target "+strconv.FormatInt(t, 10)+" is not at "+strconv.Itoa(c.cur)+" (canonical preorder, no gaps)")
	}
	return nil
}

// claim advances the cursor over n bytes starting at t. n is a uint64 so
// that the sizes callers compute from counts of up to 2^30 cannot wrap
// where int has 32 bits.
func (c *checker) claim(pos, t int, n uint64, field string) error {
	if n > uint64(len(c.b)-t) {
		return c.fail(pos, field, "object runs past the end of the message")
	}
	c.cur = t + int(n)
	return nil
}

func (c *checker) structPtr(pos int, w uint64, l *StructLayout, field string) (Struct, error) {
	t, err := c.objectAt(pos, w, 0, field)
	if err != nil {
		return Struct{}, err
	}
	dw, pc := int(uint16(w>>32)), int(uint16(w>>48))
	if dw == 0 && pc == 0 {
		return Struct{}, c.fail(pos, field, "empty struct must be a null pointer")
	}
	if err := c.sizes(pos, dw, pc, l, field); err != nil {
		return Struct{}, err
	}
	if err := c.claim(pos, t, 8*uint64(dw+pc), field); err != nil {
		return Struct{}, err
	}
	if dw > 0 && le.Uint64(c.b[t+8*(dw-1):]) == 0 {
		return Struct{}, c.fail(t+8*(dw-1), field, "trailing zero word in data section")
	}
	if pc > 0 && le.Uint64(c.b[t+8*(dw+pc-1):]) == 0 {
		return Struct{}, c.fail(t+8*(dw+pc-1), field, "trailing null pointer")
	}
	s := makeStruct(c.b, t, dw, pc)
	return s, c.body(s, l)
}

func (c *checker) sizes(pos, dw, pc int, l *StructLayout, field string) error {
	if dw > l.DataWords || pc > len(l.Ptrs) {
		return c.fail(pos, field, "struct has "+strconv.Itoa(dw)+" data words and "+strconv.Itoa(pc)+
			" pointers; schema "+l.Name+" has "+strconv.Itoa(l.DataWords)+" and "+strconv.Itoa(len(l.Ptrs))+
			" (fields unknown to this schema)")
	}
	return nil
}

// body checks the enum fields and every pointer of s, in slot order.
func (c *checker) body(s Struct, l *StructLayout) error {
	data := int(s.off)
	for i := 0; i < int(s.dw); i++ {
		if w := le.Uint64(c.b[data+8*i:]); w&^l.DataMask[i] != 0 {
			return c.fail(data+8*i, l.Name, "data bits set outside every field of the schema")
		}
	}
	for i := range l.Enums {
		e := &l.Enums[i]
		if v := int(s.Uint16(e.Offset)); v >= e.Count {
			return c.fail(data+e.Offset, e.Field, "enum value "+strconv.Itoa(v)+" is not in the schema")
		}
	}
	ptrs := data + 8*int(s.dw)
	for i := 0; i < int(s.pc); i++ {
		pos := ptrs + 8*i
		w := le.Uint64(c.b[pos:])
		if w == 0 {
			continue
		}
		p := &l.Ptrs[i]
		var err error
		if p.Kind == PtrText { // most pointers: skip the dispatch
			err = c.text(pos, w, p.Field)
		} else {
			err = c.ptr(pos, w, p)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (c *checker) ptr(pos int, w uint64, p *PtrLayout) error {
	switch p.Kind {
	case PtrText:
		return c.bytes(pos, w, p.Field, true)
	case PtrData:
		return c.bytes(pos, w, p.Field, false)
	case PtrStruct:
		_, err := c.structPtr(pos, w, p.Struct, p.Field)
		return err
	case PtrList:
		return c.scalars(pos, w, p)
	case PtrStructList:
		return c.structs(pos, w, p)
	case PtrTextList, PtrDataList:
		return c.pointers(pos, w, p)
	}
	return c.fail(pos, p.Field, "no layout for this pointer")
}

// listHead checks a list pointer's kind, order and element size.
func (c *checker) listHead(pos int, w uint64, es ElemSize, field string) (t, n int, err error) {
	if t, err = c.objectAt(pos, w, 1, field); err != nil {
		return 0, 0, err
	}
	if got := ElemSize(w>>32) & 7; got != es {
		return 0, 0, c.fail(pos, field, "list element size "+strconv.Itoa(int(got))+", schema needs "+strconv.Itoa(int(es)))
	}
	if n = int(w >> 35); n == 0 {
		return 0, 0, c.fail(pos, field, "empty list must be a null pointer")
	}
	return t, n, nil
}

// zeroPad checks that bytes [from, to) are zero.
func (c *checker) zeroPad(from, to int, field string) error {
	for i := from; i < to; i++ {
		if c.b[i] != 0 {
			return c.fail(i, field, "non-zero padding")
		}
	}
	return nil
}

// text is bytes(pos, w, field, true) for the common case, a well-placed
// text that fits the message, without the calls: one test for the
// pointer's kind, place, size and fit, then its words, the short texts
// (up to 7 bytes and the NUL, one word) inline and ASCII only. Anything
// else, errors included, goes to bytes, which decides alone; nothing is
// changed before that, so the same bytes are accepted and refused with
// the same error.
func (c *checker) text(pos int, w uint64, field string) error {
	t, n := c.cur, int(w>>35)
	end := t + padded(n)
	if w&(7<<32|3) == uint64(ElemByte)<<32|1 && int(int32(uint32(w))>>2) == (t-pos-8)/8 &&
		n >= 2 && padded(n) <= len(c.b)-t {
		if n <= 8 {
			x := le.Uint64(c.b[t:])
			k := uint(n-1) * 8 // content bits, 8..56: the NUL and padding above
			y := x | (^uint64(0)<<k)&lo8
			if x>>k == 0 && y&hi8 == 0 && (y+m7)&hi8 == hi8 {
				c.cur = end
				return nil
			}
		} else if TextOK(c.b[t:end], n-1) {
			c.cur = end
			return nil
		}
	}
	return c.bytes(pos, w, field, true)
}

// bytes checks Text (at least one byte, valid UTF-8 without NUL, then the
// NUL) or Data (at least one byte), and zero padding.
func (c *checker) bytes(pos int, w uint64, field string, text bool) error {
	if w&(7<<32|3) != uint64(ElemByte)<<32|1 {
		return c.fail(pos, field, "expected a list of bytes")
	}
	if err := c.atCursor(pos, w, field); err != nil {
		return err
	}
	t, n := c.cur, int(w>>35)
	if n == 0 {
		return c.fail(pos, field, "empty list must be a null pointer")
	}
	if err := c.claim(pos, t, uint64(padded(n)), field); err != nil {
		return err
	}
	end := c.cur
	if !text {
		if k := uint(n&7) * 8; k != 0 && le.Uint64(c.b[end-8:])>>k != 0 {
			return c.fail(end-8, field, "non-zero padding")
		}
		return nil
	}
	if n == 1 {
		return c.fail(pos, field, "empty text must be a null pointer")
	}
	if TextOK(c.b[t:end], n-1) {
		return nil
	}
	switch {
	case c.b[t+n-1] != 0:
		return c.fail(t+n-1, field, "text is not NUL-terminated")
	case bytes.IndexByte(c.b[t:t+n-1], 0) >= 0:
		return c.fail(t, field, "text holds a NUL byte")
	case !utf8.Valid(c.b[t : t+n-1]):
		return c.fail(t, field, "text is not valid UTF-8")
	}
	return c.fail(t+n, field, "non-zero padding")
}

var elemBits = [8]int{0, 1, 8, 16, 32, 64, 64, 0}

func (c *checker) scalars(pos int, w uint64, p *PtrLayout) error {
	t, n, err := c.listHead(pos, w, p.Elem, p.Field)
	if err != nil {
		return err
	}
	used64 := (uint64(n)*uint64(elemBits[p.Elem]) + 7) / 8
	if err := c.claim(pos, t, (used64+7)&^7, p.Field); err != nil {
		return err
	}
	used := int(used64)
	if p.Elem == ElemBit && n%8 != 0 && c.b[t+used-1]>>(n%8) != 0 {
		return c.fail(t+used-1, p.Field, "non-zero padding bits")
	}
	if p.EnumCount > 0 {
		for i := 0; i < n; i++ {
			if v := int(le.Uint16(c.b[t+2*i:])); v >= p.EnumCount {
				return c.fail(t+2*i, p.Field, "enum value "+strconv.Itoa(v)+" is not in the schema")
			}
		}
	}
	return c.zeroPad(t+used, t+padded(used), p.Field)
}

func (c *checker) pointers(pos int, w uint64, p *PtrLayout) error {
	t, n, err := c.listHead(pos, w, ElemPointer, p.Field)
	if err != nil {
		return err
	}
	if err := c.claim(pos, t, 8*uint64(n), p.Field); err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		ep := t + 8*i
		if ew := le.Uint64(c.b[ep:]); ew != 0 {
			var err error
			if p.Kind == PtrTextList {
				err = c.text(ep, ew, p.Field)
			} else {
				err = c.bytes(ep, ew, p.Field, false)
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}

func (c *checker) structs(pos int, w uint64, p *PtrLayout) error {
	t, err := c.objectAt(pos, w, 1, p.Field)
	if err != nil {
		return err
	}
	if ElemSize(w>>32)&7 != ElemComposite {
		return c.fail(pos, p.Field, "struct list must use the composite element size")
	}
	words := int(w >> 35) // may be 0: a list of empty structs
	if err := c.claim(pos, t, 8, p.Field); err != nil {
		return err
	}
	tag := le.Uint64(c.b[t:])
	if tag&3 != 0 {
		return c.fail(t, p.Field, "composite list tag is not a struct word")
	}
	count, dw, pc := int(uint32(tag)>>2), int(uint16(tag>>32)), int(uint16(tag>>48))
	if count == 0 {
		return c.fail(t, p.Field, "empty list must be a null pointer")
	}
	if err := c.sizes(t, dw, pc, p.Struct, p.Field); err != nil {
		return err
	}
	if uint64(words) != uint64(count)*uint64(dw+pc) {
		return c.fail(pos, p.Field, "list word count "+strconv.Itoa(words)+" does not match "+strconv.Itoa(count)+" elements of "+strconv.Itoa(dw+pc)+" words")
	}
	body := t + 8
	if err := c.claim(pos, body, 8*uint64(words), p.Field); err != nil {
		return err
	}
	if dw == 0 && pc == 0 {
		// Elements are empty structs: nothing more to read, but a few
		// bytes could claim a billion of them for a reader to allocate.
		if c.empties -= count; c.empties < 0 {
			return c.fail(t, p.Field, "list of "+strconv.Itoa(count)+" empty structs: a message of "+strconv.Itoa(len(c.b)/8)+
				" words holds at most as many elements of such lists")
		}
		return nil
	}
	stride := 8 * (dw + pc)
	lastData, lastPtr := dw == 0, pc == 0
	for i := 0; i < count; i++ {
		e := body + i*stride
		lastData = lastData || le.Uint64(c.b[e+8*(dw-1):]) != 0
		lastPtr = lastPtr || le.Uint64(c.b[e+stride-8:]) != 0
	}
	if !lastData {
		return c.fail(t, p.Field, "element data sections are wider than any element needs")
	}
	if !lastPtr {
		return c.fail(t, p.Field, "element pointer sections are wider than any element needs")
	}
	for i := 0; i < count; i++ {
		e := body + i*stride
		if err := c.body(makeStruct(c.b, e, dw, pc), p.Struct); err != nil {
			return err
		}
	}
	return nil
}
