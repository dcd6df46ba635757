package schemacheck

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"capnproto.org/go/capnp/v3"
	"capnproto.org/go/capnp/v3/std/capnp/schema"

	"github.com/rustyonions/ron-audit-go/gen"
)

// TestCanonicalizeCxx: the rendering of pointer defaults is the C++
// reference's canonical form (`capnp convert binary:canonical`) of the
// same holder message, for every list and struct default of the test
// schemas and for values of every pointer shape built here. Skipped
// without capnp.
func TestCanonicalizeCxx(t *testing.T) {
	bin, err := exec.LookPath("capnp")
	if err != nil {
		t.Skip("capnp not installed (Debian package capnproto)")
	}
	holder := filepath.Join(t.TempDir(), "holder.capnp")
	if err := os.WriteFile(holder, []byte("@0xd7c5a1e4b3f2a190;\nstruct Holder { p @0 :AnyPointer; }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	values := testdataDefaults(t)
	values = append(values, builtValues(t)...)
	if len(values) < 12 {
		t.Fatalf("only %d values", len(values))
	}
	for i, p := range values {
		seg, err := holderSegment(p)
		if err != nil {
			t.Fatal(err)
		}
		got, err := canonicalize(seg)
		if err != nil {
			t.Fatalf("value %d: %v", i, err)
		}
		framed := binary.LittleEndian.AppendUint32(nil, 0)
		framed = binary.LittleEndian.AppendUint32(framed, uint32(len(seg)/8))
		cmd := exec.Command(bin, "convert", "binary:canonical", holder, "Holder")
		cmd.Stdin = bytes.NewReader(append(framed, seg...))
		want, err := cmd.Output()
		if err != nil {
			t.Fatalf("value %d: capnp convert: %v", i, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("value %d:\n got %x\nwant %x (C++)\n  of %x", i, got, want, seg)
		}
	}
}

// testdataDefaults returns every list and struct default of the schemas
// in testdata.
func testdataDefaults(t *testing.T) []capnp.Ptr {
	reqs, err := filepath.Glob("testdata/*.req")
	if err != nil {
		t.Fatal(err)
	}
	var out []capnp.Ptr
	for _, path := range reqs {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		_, nodes, err := gen.ReadRequest(b)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range nodes {
			if n.Which() != schema.Node_Which_structNode {
				continue
			}
			fields, _ := n.StructNode().Fields()
			for i := 0; i < fields.Len(); i++ {
				f := fields.At(i)
				if f.Which() != schema.Field_Which_slot || !f.Slot().HadExplicitDefault() {
					continue
				}
				v, err := f.Slot().DefaultValue()
				if err != nil {
					t.Fatal(err)
				}
				var p capnp.Ptr
				switch v.Which() {
				case schema.Value_Which_list:
					p, err = v.List()
				case schema.Value_Which_structValue:
					p, err = v.StructValue()
				default:
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				if p.IsValid() {
					out = append(out, p)
				}
			}
		}
	}
	return out
}

// builtValues returns values of the pointer shapes the test schemas lack:
// structs with zero words and null pointers to cut, zero-sized structs
// in and out of lists, struct lists whose elements differ in width and
// point to texts, empty lists, bit, void and nested lists.
func builtValues(t *testing.T) []capnp.Ptr {
	_, seg, err := capnp.NewMessage(capnp.SingleSegment(nil))
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	var out []capnp.Ptr

	s, err := capnp.NewStruct(seg, capnp.ObjectSize{DataSize: 24, PointerCount: 4})
	must(err)
	s.SetUint32(0, 7) // data word 1 and 2 zero: cut
	l, err := capnp.NewCompositeList(seg, capnp.ObjectSize{DataSize: 16, PointerCount: 2}, 3)
	must(err)
	l.Struct(0).SetUint64(0, 1)
	txt, err := capnp.NewText(seg, "hello")
	must(err)
	must(l.Struct(1).SetPtr(0, txt.ToPtr()))
	l.Struct(2).SetUint64(8, 2) // the widest data; element 1 the widest pointers
	must(s.SetPtr(0, l.ToPtr()))
	empty, err := capnp.NewStruct(seg, capnp.ObjectSize{DataSize: 8, PointerCount: 1})
	must(err)
	must(s.SetPtr(2, empty.ToPtr())) // all zero: offset -1; pointer 3 null: cut
	out = append(out, s.ToPtr())

	empties, err := capnp.NewCompositeList(seg, capnp.ObjectSize{DataSize: 8}, 3)
	must(err)
	out = append(out, empties.ToPtr())

	noElems, err := capnp.NewInt32List(seg, 0)
	must(err)
	out = append(out, noElems.ToPtr())

	bits, err := capnp.NewBitList(seg, 11)
	must(err)
	bits.Set(0, true)
	bits.Set(10, true)
	out = append(out, bits.ToPtr())

	out = append(out, capnp.NewVoidList(seg, 5).ToPtr())

	outer, err := capnp.NewPointerList(seg, 3)
	must(err)
	inner, err := capnp.NewUInt16List(seg, 3)
	must(err)
	inner.Set(2, 9)
	must(outer.Set(0, inner.ToPtr()))
	must(outer.Set(2, empty.ToPtr()))
	out = append(out, outer.ToPtr())
	return out
}

// TestCanonicalizeRefuses: what a default cannot hold is an error, not a
// rendering: a pointer outside the segment, a far pointer, a capability.
func TestCanonicalizeRefuses(t *testing.T) {
	word := func(w uint64) []byte { return binary.LittleEndian.AppendUint64(nil, w) }
	for name, seg := range map[string][]byte{
		"outside":    word(0x0000000100000000), // struct of 1 data word at +0, past the end
		"far":        word(2),
		"capability": word(3),
		"short":      {0, 0, 0},
	} {
		if _, err := canonicalize(seg); !errors.Is(err, errNotCanonicalizable) {
			t.Errorf("%s: %v, want errNotCanonicalizable", name, err)
		}
	}
}

// TestCanonicalizeManyEmptyStructs: a list of zero-sized structs keeps its
// count, however large, without a step per element (2^29 of them fit in
// two words).
func TestCanonicalizeManyEmptyStructs(t *testing.T) {
	seg := binary.LittleEndian.AppendUint64(nil, 1|7<<32) // list at +0, composite, 0 words
	seg = binary.LittleEndian.AppendUint64(seg, 1<<29<<2) // tag: 2^29 elements of 0 words
	got, err := canonicalize(seg)
	if err != nil || !bytes.Equal(got, seg) {
		t.Fatalf("got %x, %v; want %x", got, err, seg)
	}
}
