package schemacheck

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// canonicalize returns the Cap'n Proto canonical form (encoding spec,
// "Canonicalization", as the C++ reference writes it) of the message whose
// single segment, without a segment table, is seg: the objects in
// preorder, struct sections cut after their last non-zero data word and
// non-null pointer, the elements of a struct list as wide as the widest
// element needs, and a zero-sized struct as a pointer of offset -1.
//
// It replaces capnp.Canonicalize for rendering defaults: that one copies a
// list of structs without pointer fields as it finds it, without its tag
// word and with the elements' full width, so two such lists of different
// values could render alike (a changed default passed) and one value
// rendered differently once its struct grew (a compatible change was
// refused).
func canonicalize(seg []byte) ([]byte, error) {
	if len(seg) < 8 {
		return nil, errCanon("no root pointer")
	}
	c := &canonWriter{src: seg, out: make([]byte, 8)}
	if err := c.ptr(0, 0, 0); err != nil {
		return nil, err
	}
	return c.out, nil
}

var le = binary.LittleEndian

// errNotCanonicalizable: a default value that cannot be rendered (a far
// pointer, a capability, a pointer outside its segment, nesting too deep).
var errNotCanonicalizable = errors.New("schemacheck: default value cannot be canonicalized")

func errCanon(why string) error { return fmt.Errorf("%w: %s", errNotCanonicalizable, why) }

// maxCanonDepth bounds the nesting of a default value (and so the
// recursion over a malformed one).
const maxCanonDepth = 64

type canonWriter struct {
	src, out []byte
}

// grow appends n zero bytes to the output and returns where they start.
func (c *canonWriter) grow(n int) int {
	at := len(c.out)
	c.out = append(c.out, make([]byte, n)...)
	return at
}

// target returns the byte position the pointer word w at pos points to,
// and checks that n bytes from there are inside the segment.
func (c *canonWriter) target(pos int, w uint64, n uint64) (int, error) {
	t := int64(pos) + 8 + 8*int64(int32(uint32(w))>>2)
	if t < 0 || t > int64(len(c.src)) || n > uint64(int64(len(c.src))-t) {
		return 0, errCanon(fmt.Sprintf("pointer at byte %d points outside the segment", pos))
	}
	return int(t), nil
}

// putPtr writes at out byte dst a pointer of kind (0 struct, 1 list) to
// out byte at, with hi as its upper 32 bits.
func (c *canonWriter) putPtr(dst, at int, kind, hi uint64) {
	off := int32((at - dst - 8) / 8)
	le.PutUint64(c.out[dst:], uint64(uint32(off<<2))|kind|hi<<32)
}

// trimmed returns the canonical section sizes of the struct at t with dw
// data words and pc pointers.
func (c *canonWriter) trimmed(t, dw, pc int) (int, int) {
	ptrs := t + 8*dw // before the cut: the pointers follow the whole data section
	for dw > 0 && le.Uint64(c.src[t+8*(dw-1):]) == 0 {
		dw--
	}
	for pc > 0 && le.Uint64(c.src[ptrs+8*(pc-1):]) == 0 {
		pc--
	}
	return dw, pc
}

// ptr copies the object of the source pointer at src byte pos to the end of
// the output, in canonical form, and writes its pointer at out byte dst.
func (c *canonWriter) ptr(pos, dst, depth int) error {
	w := le.Uint64(c.src[pos:])
	if w == 0 {
		return nil
	}
	if depth > maxCanonDepth {
		return errCanon("nested too deep")
	}
	switch w & 3 {
	case 0:
		dw, pc := int(uint16(w>>32)), int(uint16(w>>48))
		t, err := c.target(pos, w, 8*uint64(dw+pc))
		if err != nil {
			return err
		}
		return c.structAt(t, dw, pc, dst, depth)
	case 1:
		return c.list(pos, w, dst, depth)
	case 2:
		return errCanon("far pointer")
	}
	return errCanon("capability pointer")
}

// structAt copies the struct at src byte t and points out byte dst at it.
func (c *canonWriter) structAt(t, sdw, spc, dst, depth int) error {
	dw, pc := c.trimmed(t, sdw, spc)
	if dw == 0 && pc == 0 {
		le.PutUint64(c.out[dst:], 0xfffffffc) // zero-sized: offset -1
		return nil
	}
	at := c.grow(8 * (dw + pc))
	c.putPtr(dst, at, 0, uint64(dw)|uint64(pc)<<16)
	copy(c.out[at:], c.src[t:t+8*dw])
	for i := 0; i < pc; i++ {
		if err := c.ptr(t+8*(sdw+i), at+8*(dw+i), depth+1); err != nil {
			return err
		}
	}
	return nil
}

var canonElemBits = [6]uint64{0, 1, 8, 16, 32, 64}

func (c *canonWriter) list(pos int, w uint64, dst, depth int) error {
	es, n := (w>>32)&7, w>>35
	switch {
	case es < 6: // void and scalars: the bytes as they are, padding zeroed
		used := (n*canonElemBits[es] + 7) / 8
		t, err := c.target(pos, w, used)
		if err != nil {
			return err
		}
		at := c.grow(int((used + 7) &^ 7))
		c.putPtr(dst, at, 1, es|n<<3)
		copy(c.out[at:], c.src[t:t+int(used)])
		if es == 1 && n%8 != 0 {
			c.out[at+int(used)-1] &= byte(1)<<(n%8) - 1
		}
		return nil
	case es == 6:
		t, err := c.target(pos, w, 8*n)
		if err != nil {
			return err
		}
		at := c.grow(8 * int(n))
		c.putPtr(dst, at, 1, es|n<<3)
		for i := 0; i < int(n); i++ {
			if err := c.ptr(t+8*i, at+8*i, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	t, err := c.target(pos, w, 8+8*n) // the tag word, then n words of elements
	if err != nil {
		return err
	}
	tag := le.Uint64(c.src[t:])
	count, sdw, spc := int(uint32(tag)>>2), int(uint16(tag>>32)), int(uint16(tag>>48))
	if tag&3 != 0 || uint64(count)*uint64(sdw+spc) > n {
		return errCanon(fmt.Sprintf("bad struct list tag at byte %d", t))
	}
	body, stride := t+8, 8*(sdw+spc)
	dw, pc := 0, 0
	if stride == 0 {
		count = 0 // zero-sized elements: nothing to cut, copy or follow, however many
	}
	for i := 0; i < count; i++ {
		edw, epc := c.trimmed(body+i*stride, sdw, spc)
		dw, pc = max(dw, edw), max(pc, epc)
	}
	words := count * (dw + pc)
	at := c.grow(8 + 8*words)
	c.putPtr(dst, at, 1, 7|uint64(words)<<3)
	le.PutUint64(c.out[at:], tag&0xfffffffc|uint64(dw)<<32|uint64(pc)<<48) // the count as it was
	for i := 0; i < count; i++ {
		copy(c.out[at+8+8*i*(dw+pc):], c.src[body+i*stride:body+i*stride+8*dw])
	}
	// Then what each element points to, element by element.
	for i := 0; i < count; i++ {
		e := at + 8 + 8*i*(dw+pc)
		for j := 0; j < pc; j++ {
			if err := c.ptr(body+i*stride+8*(sdw+j), e+8*(dw+j), depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

// emptyHeld reports whether b, the canonical form of a holder struct whose
// one pointer is not null (pointerValue), holds an empty value there: a
// zero-sized struct, or a list of no elements (a struct list keeps its tag
// word, of count 0).
func emptyHeld(b []byte) bool {
	switch len(b) {
	case 16:
		p := le.Uint64(b[8:])
		return p == 0xfffffffc || p&^(7<<32) == 1 && p>>32&7 != 7 // offset 0, count 0, not a struct list
	case 24:
		return le.Uint64(b[8:]) == 1|7<<32 && le.Uint64(b[16:]) == 0
	}
	return false
}
