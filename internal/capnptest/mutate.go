package capnptest

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
)

// Structural mutations of canonical messages, for differential tests of
// the strict openers against the C++ reference. A message is parsed
// (without a schema: canonical messages say what every pointer points to)
// into a tree of objects; tree operators change the tree and write it back
// in canonical order, or in a deliberately wrong one; word operators change
// the bytes of the canonical encoding directly. Each operator aims at one
// rule of the canonical form (encoding spec, "Canonicalization"): preorder
// layout without gaps, truncated sections, no far pointers, a single
// segment, zero-sized structs, empty lists, text and padding.

var le = binary.LittleEndian

// object is a struct or a list of a parsed message.
type object struct {
	list bool
	// struct: its sections
	data []byte    // whole words
	ptrs []*object // nil: a null pointer
	// list
	es    int       // element size tag, 0-7
	n     int       // elements
	raw   []byte    // es 0-5: the element bytes, zero-padded to a word
	elems []*object // es 6: the pointers; es 7: the element structs
	edw   int       // es 7: data words of every element
	epc   int       // es 7: pointers of every element
	elem  bool      // an element of a list of structs: sized by the list

	// How the writer lays out this object (default: canonically).
	gap       int   // zero words written just before the object
	order     []int // order in which the pointees of ptrs (or elems) are written
	far       bool  // reached through a far pointer and a landing pad in segment 0
	emptyOff0 bool  // a zero-sized struct written with offset 0, not -1
}

var errShape = errors.New("capnptest: not a message this parser reads")

type parser struct {
	b     []byte
	depth int
}

func (p *parser) word(pos int) (uint64, error) {
	if pos < 0 || pos+8 > len(p.b) {
		return 0, errShape
	}
	return le.Uint64(p.b[pos:]), nil
}

// parse reads the message b (a root pointer at word 0, no segment table).
func parse(b []byte) (*object, error) {
	if len(b) < 8 || len(b)%8 != 0 {
		return nil, errShape
	}
	p := &parser{b: b}
	return p.ptr(0)
}

func (p *parser) ptr(pos int) (*object, error) {
	w, err := p.word(pos)
	if err != nil || w == 0 {
		return nil, err
	}
	if p.depth++; p.depth > 64 {
		return nil, errShape
	}
	defer func() { p.depth-- }()
	t := pos + 8 + 8*int(int32(uint32(w))>>2)
	switch w & 3 {
	case 0:
		dw, pc := int(uint16(w>>32)), int(uint16(w>>48))
		return p.structAt(t, dw, pc)
	case 1:
		es, n := int(w>>32)&7, int(w>>35)
		o := &object{list: true, es: es, n: n}
		switch es {
		case 7:
			tag, err := p.word(t)
			if err != nil || tag&3 != 0 {
				return nil, errShape
			}
			o.n, o.edw, o.epc = int(uint32(tag)>>2), int(uint16(tag>>32)), int(uint16(tag>>48))
			if o.n*(o.edw+o.epc) != n || t+8+8*n > len(p.b) {
				return nil, errShape
			}
			for i := 0; i < o.n; i++ {
				e, err := p.structAt(t+8+8*i*(o.edw+o.epc), o.edw, o.epc)
				if err != nil {
					return nil, err
				}
				e.elem = true
				o.elems = append(o.elems, e)
			}
		case 6:
			if t+8*n > len(p.b) {
				return nil, errShape
			}
			for i := 0; i < n; i++ {
				e, err := p.ptr(t + 8*i)
				if err != nil {
					return nil, err
				}
				o.elems = append(o.elems, e)
			}
		default:
			size := padded((n*elemBitsOf[es] + 7) / 8)
			if t < 0 || t+size > len(p.b) {
				return nil, errShape
			}
			o.raw = append([]byte(nil), p.b[t:t+size]...)
		}
		return o, nil
	}
	return nil, errShape // far pointers and capabilities: not in canonical messages
}

func (p *parser) structAt(t, dw, pc int) (*object, error) {
	if dw == 0 && pc == 0 {
		return &object{}, nil
	}
	if t < 0 || t+8*(dw+pc) > len(p.b) {
		return nil, errShape
	}
	o := &object{data: append([]byte(nil), p.b[t:t+8*dw]...), ptrs: make([]*object, pc)}
	for i := range o.ptrs {
		c, err := p.ptr(t + 8*dw + 8*i)
		if err != nil {
			return nil, err
		}
		o.ptrs[i] = c
	}
	return o, nil
}

var elemBitsOf = [8]int{0, 1, 8, 16, 32, 64, 64, 0}

func padded(n int) int { return (n + 7) &^ 7 }

// writer lays a tree out in preorder, honoring each object's layout
// overrides.
type writer struct{ out []byte }

func (w *writer) alloc(words int) int {
	t := len(w.out)
	w.out = append(w.out, make([]byte, 8*words)...)
	return t
}

// write lays out the tree rooted at o and returns the message.
func write(o *object) []byte {
	w := &writer{out: make([]byte, 8)}
	w.ptr(0, o)
	return w.out
}

func (w *writer) ptr(pos int, o *object) {
	if o == nil {
		return
	}
	if o.gap > 0 {
		w.alloc(o.gap)
	}
	if o.far {
		pad := w.alloc(1)
		le.PutUint64(w.out[pos:], uint64(pad/8)<<3|2) // far pointer into segment 0
		pos = pad
	}
	if !o.list {
		dw, pc := len(o.data)/8, len(o.ptrs)
		if dw == 0 && pc == 0 {
			if o.emptyOff0 {
				// at offset 0 (or after the gap) rather than -1; at
				// offset 0 the word is the null pointer
				putPtr(w.out, pos, len(w.out), 0, 0)
			} else {
				le.PutUint64(w.out[pos:], 0xfffffffc)
			}
			return
		}
		t := w.alloc(dw + pc)
		putPtr(w.out, pos, t, 0, uint64(dw)|uint64(pc)<<16)
		copy(w.out[t:], o.data)
		w.children(t+8*dw, o.ptrs, o.order)
		return
	}
	switch o.es {
	case 7:
		stride := o.edw + o.epc
		t := w.alloc(1 + o.n*stride)
		le.PutUint64(w.out[t:], uint64(uint32(o.n)<<2)|uint64(o.edw)<<32|uint64(o.epc)<<48)
		putPtr(w.out, pos, t, 1, 7|uint64(o.n*stride)<<3)
		for i, e := range o.elems {
			copy(w.out[t+8+8*i*stride:], e.data)
		}
		idx := o.order
		if idx == nil {
			idx = seq(len(o.elems))
		}
		for _, i := range idx {
			e := o.elems[i]
			w.children(t+8+8*i*stride+8*o.edw, e.ptrs, e.order)
		}
	case 6:
		t := w.alloc(len(o.elems))
		putPtr(w.out, pos, t, 1, 6|uint64(o.n)<<3)
		w.children(t, o.elems, o.order)
	default:
		t := w.alloc(len(o.raw) / 8)
		putPtr(w.out, pos, t, 1, uint64(o.es)|uint64(o.n)<<3)
		copy(w.out[t:], o.raw)
	}
}

func (w *writer) children(at int, ptrs []*object, order []int) {
	if order == nil {
		order = seq(len(ptrs))
	}
	for _, i := range order {
		w.ptr(at+8*i, ptrs[i])
	}
}

func seq(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

// putPtr writes a struct (kind 0) or list (kind 1) pointer at pos to t;
// hi is the pointer's upper 32 bits.
func putPtr(b []byte, pos, t int, kind uint64, hi uint64) {
	off := (t - pos - 8) / 8
	le.PutUint64(b[pos:], uint64(uint32(int32(off)<<2))|kind|hi<<32)
}

// walk calls f with every object of the tree, parents first.
func walk(o *object, f func(*object)) {
	if o == nil {
		return
	}
	f(o)
	for _, c := range o.ptrs {
		walk(c, f)
	}
	for _, c := range o.elems {
		walk(c, f)
	}
}

// Mutator makes mutants of canonical messages.
type Mutator struct {
	R *rand.Rand
}

// Op is a mutation operator: it returns a mutant of the canonical message
// b (the tree t parsed from it; operators may change t, a fresh copy), or
// nil when it does not apply to this message.
type Op struct {
	Name string
	Fn   func(m *Mutator, b []byte, t *object) []byte
}

// Ops are the mutation operators, tree operators first.
var Ops = []Op{
	{"zero-last-data-word", opZeroLastData},
	{"zero-last-data-word+shrink", opZeroLastDataShrink},
	{"zero-data-word+truncate", opZeroDataTruncate},
	{"null-last-ptr", opNullLastPtr},
	{"null-last-ptr+shrink", opNullLastPtrShrink},
	{"null-any-ptr+shrink", opNullPtrShrink},
	{"grow-data-zero", opGrowData(false)},
	{"grow-data-nonzero", opGrowData(true)},
	{"grow-ptrs-null", opGrowPtrs(false)},
	{"grow-ptrs-text", opGrowPtrs(true)},
	{"composite-widen", opCompositeWiden},
	{"composite-narrow", opCompositeNarrow},
	{"drop-list-elem", opDropElem},
	{"empty-list-nonnull", opEmptyList},
	{"empty-text-nonnull", opEmptyText},
	{"empty-struct-nonnull", opEmptyStruct},
	{"empty-struct-offset0", opEmptyStructOff0},
	{"list-as-composite", opListAsComposite},
	{"swap-siblings", opSwapSiblings},
	{"gap-before-object", opGap},
	{"far-pointer", opFar},
	{"text-drop-nul", opTextDropNUL},
	{"text-nul-inside", opTextNULInside},
	{"text-nul-flip", opTextNULFlip},
	{"text-byte-flip", opTextByteFlip},
	{"padding-flip", opPaddingFlip},
	{"data-bit-flip", opDataBitFlip},
	{"zero-word", opZeroWord},
	{"ptr-offset-pm1", opPtrOffset},
	{"struct-size-pm1", opStructSize},
	{"list-count-pm1", opListCount},
	{"list-elem-size", opListElemSize},
	{"composite-tag-pm1", opTagField},
	{"empty-elems-count", opEmptiesCount},
	{"list-count-huge", opListCountHuge},
	{"alias-pointer", opAlias},
	{"trailing-word", opTrailing},
	{"drop-last-word", opDropLast},
	{"segment-table", opSegmentTable},
	{"byte-flip", opByteFlip},
}

func (m *Mutator) pick(t *object, ok func(*object) bool) *object {
	var c []*object
	walk(t, func(o *object) {
		if ok(o) {
			c = append(c, o)
		}
	})
	if len(c) == 0 {
		return nil
	}
	return c[m.R.IntN(len(c))]
}

// sized: a struct whose sections its own pointer sizes.
func sized(o *object) bool { return !o.list && !o.elem }

func opZeroLastData(m *Mutator, _ []byte, t *object) []byte {
	o := m.pick(t, func(o *object) bool { return !o.list && len(o.data) > 0 })
	if o == nil {
		return nil
	}
	clear(o.data[len(o.data)-8:])
	return write(t)
}

func opZeroLastDataShrink(m *Mutator, _ []byte, t *object) []byte {
	o := m.pick(t, func(o *object) bool { return sized(o) && len(o.data) > 0 })
	if o == nil {
		return nil
	}
	o.data = o.data[:len(o.data)-8]
	return write(t)
}

func opNullLastPtr(m *Mutator, _ []byte, t *object) []byte {
	o := m.pick(t, func(o *object) bool { return !o.list && len(o.ptrs) > 0 })
	if o == nil {
		return nil
	}
	o.ptrs[len(o.ptrs)-1] = nil
	return write(t)
}

func opNullLastPtrShrink(m *Mutator, _ []byte, t *object) []byte {
	o := m.pick(t, func(o *object) bool { return sized(o) && len(o.ptrs) > 0 })
	if o == nil {
		return nil
	}
	o.ptrs = o.ptrs[:len(o.ptrs)-1]
	return write(t)
}

// opNullPtrShrink nulls any pointer of a struct and truncates the pointer
// section after its last non-null pointer: usually canonical again.
func opNullPtrShrink(m *Mutator, _ []byte, t *object) []byte {
	o := m.pick(t, func(o *object) bool { return sized(o) && len(o.ptrs) > 0 })
	if o == nil {
		return nil
	}
	o.ptrs[m.R.IntN(len(o.ptrs))] = nil
	for len(o.ptrs) > 0 && o.ptrs[len(o.ptrs)-1] == nil {
		o.ptrs = o.ptrs[:len(o.ptrs)-1]
	}
	for len(o.data) > 0 && isZero(o.data[len(o.data)-8:]) {
		o.data = o.data[:len(o.data)-8]
	}
	return write(t)
}

// opZeroDataTruncate zeroes any data word of a struct, then truncates the
// sections canonically: a canonical message of another value.
func opZeroDataTruncate(m *Mutator, _ []byte, t *object) []byte {
	o := m.pick(t, func(o *object) bool { return sized(o) && len(o.data) > 0 })
	if o == nil {
		return nil
	}
	clear(o.data[8*m.R.IntN(len(o.data)/8):][:8])
	for len(o.data) > 0 && isZero(o.data[len(o.data)-8:]) {
		o.data = o.data[:len(o.data)-8]
	}
	return write(t)
}

func isZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func opGrowData(nonzero bool) func(*Mutator, []byte, *object) []byte {
	return func(m *Mutator, _ []byte, t *object) []byte {
		o := m.pick(t, sized)
		w := make([]byte, 8)
		if nonzero {
			le.PutUint64(w, 1<<m.R.IntN(64))
		}
		o.data = append(o.data, w...)
		return write(t)
	}
}

func opGrowPtrs(text bool) func(*Mutator, []byte, *object) []byte {
	return func(m *Mutator, _ []byte, t *object) []byte {
		o := m.pick(t, sized)
		var c *object
		if text {
			c = &object{list: true, es: 2, n: 2, raw: []byte{'x', 0, 0, 0, 0, 0, 0, 0}}
		}
		o.ptrs = append(o.ptrs, c)
		return write(t)
	}
}

func isComposite(o *object) bool { return o.list && o.es == 7 && o.n > 0 }

func opCompositeWiden(m *Mutator, _ []byte, t *object) []byte {
	o := m.pick(t, isComposite)
	if o == nil {
		return nil
	}
	if m.R.IntN(2) == 0 {
		o.edw++
		for _, e := range o.elems {
			e.data = append(e.data, make([]byte, 8)...)
		}
	} else {
		o.epc++
		for _, e := range o.elems {
			e.ptrs = append(e.ptrs, nil)
		}
	}
	return write(t)
}

// opCompositeNarrow drops the last data word or pointer of every element:
// canonical when no element needed it (and then a different value).
func opCompositeNarrow(m *Mutator, _ []byte, t *object) []byte {
	o := m.pick(t, func(o *object) bool { return isComposite(o) && o.edw+o.epc > 0 })
	if o == nil {
		return nil
	}
	if o.epc == 0 || (o.edw > 0 && m.R.IntN(2) == 0) {
		o.edw--
		for _, e := range o.elems {
			e.data = e.data[:8*o.edw]
		}
	} else {
		o.epc--
		for _, e := range o.elems {
			e.ptrs = e.ptrs[:o.epc]
		}
	}
	return write(t)
}

// opDropElem removes one element of a list of pointers or structs, or one
// element's worth of bytes from a list of scalars.
func opDropElem(m *Mutator, _ []byte, t *object) []byte {
	o := m.pick(t, func(o *object) bool { return o.list && o.n > 0 })
	if o == nil {
		return nil
	}
	i := m.R.IntN(o.n)
	switch {
	case o.es >= 6:
		o.elems = append(o.elems[:i:i], o.elems[i+1:]...)
	case o.es >= 2:
		sz := elemBitsOf[o.es] / 8
		raw := append(o.raw[:i*sz:i*sz], o.raw[(i+1)*sz:o.n*sz]...)
		o.raw = append(raw, make([]byte, padded(len(raw))-len(raw))...)
	default:
		return nil
	}
	o.n--
	return write(t)
}

func opEmptyList(m *Mutator, _ []byte, t *object) []byte {
	o := m.pick(t, func(o *object) bool { return o.list && o.n > 0 })
	if o == nil {
		return nil
	}
	o.n, o.raw, o.elems = 0, nil, nil
	return write(t)
}

func isBytes(o *object) bool { return o.list && o.es == 2 && o.n > 0 }

func opEmptyText(m *Mutator, _ []byte, t *object) []byte {
	o := m.pick(t, isBytes)
	if o == nil {
		return nil
	}
	o.n, o.raw = 1, make([]byte, 8)
	return write(t)
}

// structSlots returns the struct pointers of the tree (parent, slot) that
// hold non-empty structs.
func (m *Mutator) structSlot(t *object) (*object, int) {
	type slot struct {
		o *object
		i int
	}
	var s []slot
	walk(t, func(o *object) {
		for i, c := range o.ptrs {
			if c != nil && !c.list {
				s = append(s, slot{o, i})
			}
		}
	})
	if len(s) == 0 {
		return nil, 0
	}
	x := s[m.R.IntN(len(s))]
	return x.o, x.i
}

func opEmptyStruct(m *Mutator, _ []byte, t *object) []byte {
	o, i := m.structSlot(t)
	if o == nil {
		return nil
	}
	o.ptrs[i] = &object{}
	return write(t)
}

func opEmptyStructOff0(m *Mutator, _ []byte, t *object) []byte {
	if m.R.IntN(4) == 0 {
		// the root: offset 0 and no sections is the null pointer
		return write(&object{emptyOff0: true})
	}
	o, i := m.structSlot(t)
	if o == nil {
		return nil
	}
	o.ptrs[i] = &object{emptyOff0: true}
	if m.R.IntN(2) == 0 {
		o.ptrs[i].gap = 1 // offset +1
	}
	return write(t)
}

// opListAsComposite re-encodes a list of scalars as a list of one-word
// structs, or a pointer list as structs of one pointer.
func opListAsComposite(m *Mutator, _ []byte, t *object) []byte {
	o := m.pick(t, func(o *object) bool { return o.list && o.n > 0 && o.es >= 2 && o.es <= 6 })
	if o == nil {
		return nil
	}
	c := &object{list: true, es: 7, n: o.n}
	if o.es == 6 {
		c.epc = 1
		for _, e := range o.elems {
			c.elems = append(c.elems, &object{ptrs: []*object{e}})
		}
	} else {
		c.edw = 1
		sz := elemBitsOf[o.es] / 8
		for i := 0; i < o.n; i++ {
			d := make([]byte, 8)
			copy(d, o.raw[i*sz:(i+1)*sz])
			c.elems = append(c.elems, &object{data: d})
		}
	}
	*o = *c
	return write(t)
}

func opSwapSiblings(m *Mutator, _ []byte, t *object) []byte {
	type cand struct {
		o  *object
		ps []*object
	}
	var cs []cand
	walk(t, func(o *object) {
		ps := o.ptrs
		if o.list && o.es == 6 {
			ps = o.elems
		}
		n := 0
		for _, c := range ps {
			if c != nil {
				n++
			}
		}
		if n >= 2 {
			cs = append(cs, cand{o, ps})
		}
		if o.list && o.es == 7 {
			// elements whose pointees come out in another element order
			n := 0
			for _, e := range o.elems {
				for _, c := range e.ptrs {
					if c != nil {
						n++
						break
					}
				}
			}
			if n >= 2 {
				cs = append(cs, cand{o, nil})
			}
		}
	})
	if len(cs) == 0 {
		return nil
	}
	c := cs[m.R.IntN(len(cs))]
	n := len(c.ps)
	if c.ps == nil {
		n = len(c.o.elems)
	}
	order := seq(n)
	var nn []int
	for _, i := range order {
		if c.ps == nil || c.ps[i] != nil {
			nn = append(nn, i)
		}
	}
	a := m.R.IntN(len(nn))
	b := m.R.IntN(len(nn) - 1)
	if b >= a {
		b++
	}
	order[nn[a]], order[nn[b]] = order[nn[b]], order[nn[a]]
	c.o.order = order
	return write(t)
}

func opGap(m *Mutator, _ []byte, t *object) []byte {
	o := m.pick(t, func(o *object) bool { return o.list || (sized(o) && len(o.data)+len(o.ptrs) > 0) })
	if o == nil {
		return nil
	}
	o.gap = 1
	return write(t)
}

func opFar(m *Mutator, _ []byte, t *object) []byte {
	o := m.pick(t, func(o *object) bool { return !o.elem })
	o.far = true
	return write(t)
}

// texts returns the byte lists that end in a NUL (texts, and some data).
func texts(t *object) []*object {
	var out []*object
	walk(t, func(o *object) {
		if isBytes(o) && o.raw[o.n-1] == 0 {
			out = append(out, o)
		}
	})
	return out
}

func (m *Mutator) text(t *object) *object {
	ts := texts(t)
	if len(ts) == 0 {
		return nil
	}
	return ts[m.R.IntN(len(ts))]
}

// opTextDropNUL shortens a text by its NUL (the last byte becomes
// padding): a Data-shaped Text.
func opTextDropNUL(m *Mutator, _ []byte, t *object) []byte {
	o := m.text(t)
	if o == nil || o.n < 2 {
		return nil
	}
	o.n--
	o.raw = o.raw[:padded(o.n)]
	return write(t)
}

func opTextNULInside(m *Mutator, _ []byte, t *object) []byte {
	o := m.text(t)
	if o == nil || o.n < 2 {
		return nil
	}
	o.raw[m.R.IntN(o.n-1)] = 0
	return write(t)
}

func opTextNULFlip(m *Mutator, _ []byte, t *object) []byte {
	o := m.text(t)
	if o == nil {
		return nil
	}
	o.raw[o.n-1] = byte(1 + m.R.IntN(255))
	return write(t)
}

// opTextByteFlip flips a bit of a text's content: often invalid UTF-8.
func opTextByteFlip(m *Mutator, _ []byte, t *object) []byte {
	o := m.text(t)
	if o == nil || o.n < 2 {
		return nil
	}
	o.raw[m.R.IntN(o.n-1)] ^= 1 << m.R.IntN(8)
	return write(t)
}

// opDataBitFlip flips a bit of a struct's data section: a field's value,
// an enum's, or a bit no field of the schema uses.
func opDataBitFlip(m *Mutator, _ []byte, t *object) []byte {
	o := m.pick(t, func(o *object) bool { return !o.list && len(o.data) > 0 })
	if o == nil {
		return nil
	}
	bit := m.R.IntN(8 * len(o.data))
	o.data[bit/8] ^= 1 << (bit % 8)
	return write(t)
}

// opPaddingFlip sets a bit in the padding of a list of scalars or bytes.
func opPaddingFlip(m *Mutator, _ []byte, t *object) []byte {
	o := m.pick(t, func(o *object) bool {
		return o.list && o.es >= 1 && o.es <= 5 && (o.n*elemBitsOf[o.es])%64 != 0
	})
	if o == nil {
		return nil
	}
	used := o.n * elemBitsOf[o.es]
	bit := used + m.R.IntN(len(o.raw)*8-used)
	o.raw[bit/8] |= 1 << (bit % 8)
	return write(t)
}

// Word operators: on the canonical bytes.

type ptrSite struct {
	pos int
	w   uint64
}

// pointers returns the non-null pointer words of b (and composite tags).
func pointers(b []byte, t *object, tags bool) []ptrSite {
	var out []ptrSite
	var visit func(pos int)
	visit = func(pos int) {
		w := le.Uint64(b[pos:])
		if w == 0 || w&3 > 1 {
			return
		}
		out = append(out, ptrSite{pos, w})
		tgt := pos + 8 + 8*int(int32(uint32(w))>>2)
		if w&3 == 0 {
			dw, pc := int(uint16(w>>32)), int(uint16(w>>48))
			for i := 0; i < pc; i++ {
				visit(tgt + 8*dw + 8*i)
			}
			return
		}
		es, n := int(w>>32)&7, int(w>>35)
		switch es {
		case 6:
			for i := 0; i < n; i++ {
				visit(tgt + 8*i)
			}
		case 7:
			tag := le.Uint64(b[tgt:])
			if tags {
				out = append(out, ptrSite{tgt, tag})
			}
			cnt, dw, pc := int(uint32(tag)>>2), int(uint16(tag>>32)), int(uint16(tag>>48))
			for e := 0; e < cnt; e++ {
				for i := 0; i < pc; i++ {
					visit(tgt + 8 + 8*e*(dw+pc) + 8*dw + 8*i)
				}
			}
		}
	}
	visit(0)
	return out
}

func (m *Mutator) ptrOf(b []byte, t *object, kind int) (int, uint64) {
	var c []ptrSite
	for _, p := range pointers(b, t, false) {
		if kind < 0 || int(p.w&3) == kind {
			c = append(c, p)
		}
	}
	if len(c) == 0 {
		return -1, 0
	}
	p := c[m.R.IntN(len(c))]
	return p.pos, p.w
}

func (m *Mutator) pm1() int64 { return int64(2*m.R.IntN(2) - 1) }

func opZeroWord(m *Mutator, b []byte, _ *object) []byte {
	b = clone(b)
	clear(b[8*m.R.IntN(len(b)/8):][:8])
	return b
}

func opPtrOffset(m *Mutator, b []byte, t *object) []byte {
	pos, w := m.ptrOf(b, t, -1)
	if pos < 0 {
		return nil
	}
	b = clone(b)
	off := int32(uint32(w)) >> 2
	off += int32(m.pm1())
	le.PutUint64(b[pos:], w&^0xffffffff|uint64(uint32(off<<2))|w&3)
	return b
}

func opStructSize(m *Mutator, b []byte, t *object) []byte {
	pos, w := m.ptrOf(b, t, 0)
	if pos < 0 {
		return nil
	}
	b = clone(b)
	shift := uint(32 + 16*m.R.IntN(2))
	f := uint16(w>>shift) + uint16(m.pm1())
	le.PutUint64(b[pos:], w&^(0xffff<<shift)|uint64(f)<<shift)
	return b
}

func opListCount(m *Mutator, b []byte, t *object) []byte {
	pos, w := m.ptrOf(b, t, 1)
	if pos < 0 {
		return nil
	}
	b = clone(b)
	n := uint32(w>>35) + uint32(m.pm1())
	le.PutUint64(b[pos:], w&(1<<35-1)|uint64(n&(1<<29-1))<<35)
	return b
}

func opListElemSize(m *Mutator, b []byte, t *object) []byte {
	pos, w := m.ptrOf(b, t, 1)
	if pos < 0 {
		return nil
	}
	b = clone(b)
	es := (uint64(w>>32)&7 + 1 + uint64(m.R.IntN(7))) & 7
	le.PutUint64(b[pos:], w&^(7<<32)|es<<32)
	return b
}

// opTagField changes the element count or a section size of a composite
// list's tag word.
func opTagField(m *Mutator, b []byte, t *object) []byte {
	tags := compositeTags(b, t)
	if len(tags) == 0 {
		return nil
	}
	p := tags[m.R.IntN(len(tags))]
	b = clone(b)
	w := p.w
	switch m.R.IntN(3) {
	case 0:
		n := uint32(w)>>2 + uint32(m.pm1())
		w = w&^0xffffffff | uint64(n<<2)
	default:
		shift := uint(32 + 16*m.R.IntN(2))
		f := uint16(w>>shift) + uint16(m.pm1())
		w = w&^(0xffff<<shift) | uint64(f)<<shift
	}
	le.PutUint64(b[p.pos:], w)
	return b
}

// compositeTags returns the tag words of the composite lists of b.
func compositeTags(b []byte, t *object) []ptrSite {
	var tags []ptrSite
	ps := pointers(b, t, true)
	for i, p := range ps {
		if i > 0 && ps[i-1].w&3 == 1 && int(ps[i-1].w>>32)&7 == 7 && p.w&3 == 0 {
			tags = append(tags, p)
		}
	}
	return tags
}

// opEmptiesCount sets the count of a list of zero-sized structs (no words
// whatever the count) around the bound of one element per message word
// (capnpwire.MaxEmptyElems), or far beyond it.
func opEmptiesCount(m *Mutator, b []byte, t *object) []byte {
	var c []ptrSite
	for _, p := range compositeTags(b, t) {
		if p.w>>32 == 0 {
			c = append(c, p)
		}
	}
	if len(c) == 0 {
		return nil
	}
	p := c[m.R.IntN(len(c))]
	n := []uint64{uint64(len(b) / 8), uint64(len(b)/8 + 1), uint64(len(b)/8 - 1), 1 << 22}[m.R.IntN(4)]
	b = clone(b)
	le.PutUint64(b[p.pos:], n<<2)
	return b
}

// opListCountHuge gives a list a count far past the message's end.
func opListCountHuge(m *Mutator, b []byte, t *object) []byte {
	pos, w := m.ptrOf(b, t, 1)
	if pos < 0 {
		return nil
	}
	b = clone(b)
	n := []uint64{1<<29 - 1, 1 << 28, uint64(8*len(b) + 1)}[m.R.IntN(3)]
	le.PutUint64(b[pos:], w&(1<<35-1)|n<<35)
	return b
}

// opAlias points a pointer at the object of another pointer of the same
// kind and size (two pointers to one object; the first object is left
// unreferenced).
func opAlias(m *Mutator, b []byte, t *object) []byte {
	ps := pointers(b, t, false)
	if len(ps) < 2 {
		return nil
	}
	a, c := ps[m.R.IntN(len(ps))], ps[m.R.IntN(len(ps))]
	if a.pos == c.pos {
		return nil
	}
	tgt := c.pos + 8 + 8*int(int32(uint32(c.w))>>2)
	b = clone(b)
	putPtr(b, a.pos, tgt, c.w&3, c.w>>32)
	return b
}

func opTrailing(m *Mutator, b []byte, _ *object) []byte {
	w := make([]byte, 8)
	if m.R.IntN(2) == 0 {
		w[m.R.IntN(8)] = byte(1 + m.R.IntN(255))
	}
	return append(clone(b), w...)
}

func opDropLast(m *Mutator, b []byte, _ *object) []byte {
	if len(b) <= 8 {
		return nil
	}
	return clone(b[:len(b)-8])
}

func opSegmentTable(m *Mutator, b []byte, _ *object) []byte {
	h := make([]byte, 8)
	le.PutUint32(h[4:], uint32(len(b)/8))
	return append(h, b...)
}

func opByteFlip(m *Mutator, b []byte, _ *object) []byte {
	b = clone(b)
	for k := 1 + m.R.IntN(2); k > 0; k-- {
		b[m.R.IntN(len(b))] ^= 1 << m.R.IntN(8)
	}
	return b
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }

// Apply runs operator op on the canonical message b and returns the
// mutant, or nil when op does not apply to b.
func (m *Mutator) Apply(op Op, b []byte) []byte {
	t, err := parse(b)
	if err != nil || t == nil {
		return nil
	}
	return op.Fn(m, b, t)
}

// Rewrite parses b and writes it back canonically: b itself for every
// canonical message the parser reads. A test of the mutator.
func Rewrite(b []byte) ([]byte, error) {
	t, err := parse(b)
	if err != nil {
		return nil, err
	}
	if t == nil {
		return nil, errShape
	}
	return write(t), nil
}
