package shapes

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/rustyonions/ron-audit-go/internal/capnpwire"
)

// Element counts that bytes do not bound: a list of zero-sized structs
// takes no bytes per element, and a bit list one bit. The encoder must
// refuse what its wire fields cannot hold (or the count wraps and the
// bytes say another value), and the checker must not let a few words
// claim a billion elements for Decode to allocate.

// emptiesMessage encodes a Shapes holding only n empty structs in Empties.
func emptiesMessage(t *testing.T, n int) ([]byte, error) {
	t.Helper()
	v := Shapes{Empties: make([]Empty, n)}
	return v.AppendCanonical(nil)
}

func TestEmptyElemsBound(t *testing.T) {
	// Zero-sized elements take no bytes: the message has the same words
	// (root pointer, the root's pointers up to Empties, the tag) for any
	// count, and that many elements fit.
	one, err := emptiesMessage(t, 1)
	if err != nil {
		t.Fatal(err)
	}
	words := len(one) / 8
	b, err := emptiesMessage(t, words)
	if err != nil {
		t.Fatalf("%d empty structs in a %d-word message: %v", words, words, err)
	}
	if len(b) != len(one) {
		t.Fatalf("message of %d bytes, want %d", len(b), len(one))
	}
	v, err := OpenShapes(b)
	if err != nil {
		t.Fatalf("the checker refuses what the encoder wrote: %v", err)
	}
	if v.Empties().Len() != words {
		t.Fatalf("Empties().Len() = %d", v.Empties().Len())
	}

	for _, n := range []int{words + 1, 1 << 20, 1<<30 + 1} { // 2^30+1 wrapped to 1 before
		_, err := emptiesMessage(t, n)
		var ee *capnpwire.EncodeError
		if !errors.As(err, &ee) || !strings.Contains(ee.Reason, "elements of lists of empty structs") {
			t.Errorf("%d empty structs: got %v, want an EncodeError", n, err)
		}
	}

	// One more element written by hand: the checker refuses it too.
	b[len(b)-8] = byte(words+1) << 2 // the tag's count
	if _, err := OpenShapes(b); err == nil || !strings.Contains(err.Error(), "holds at most as many elements") {
		t.Errorf("%d empty structs in %d words: got %v", words+1, words, err)
	}
}

// TestEmptyElemsAmplification: a 5-word message whose one list of structs
// claims 2^30-1 zero-sized elements was canonical, and its Decode tried to
// allocate ~24 GiB (found by FuzzOpenShapes; its input is in the corpus).
func TestEmptyElemsAmplification(t *testing.T) {
	b := encode(t, &Shapes{Leaves: []Leaf{{}}})
	tag := []byte{1 << 2, 0, 0, 0, 0, 0, 0, 0} // 1 element, no data, no pointers
	i := bytes.LastIndex(b, tag)
	if i < 0 || i%8 != 0 {
		t.Fatalf("no tag in %x", b)
	}
	binary.LittleEndian.PutUint64(b[i:], uint64(uint32((1<<30-1)<<2)))
	_, err := OpenShapes(b)
	var nc *capnpwire.NonCanonicalError
	if !errors.As(err, &nc) || nc.Offset != i {
		t.Fatalf("OpenShapes: %v, want a NonCanonicalError at offset %d", err, i)
	}
}

// TestEmptyElemsNested: the allowance is the message's, not each list's.
func TestEmptyElemsNested(t *testing.T) {
	v := Shapes{Empties: make([]Empty, 20), Nested: Shapes_Nested{Leaves: []Leaf{{}, {}, {}, {}, {}, {}, {}, {}, {}, {}}}}
	b, err := v.AppendCanonical(nil)
	if err == nil {
		t.Fatalf("30 empty elements in a %d-word message were written", len(b)/8)
	}
	v.Empties = v.Empties[:10]
	b = encode(t, &v)
	if got := len(b) / 8; got < 20 {
		t.Fatalf("message of %d words; the test wants at least 20", got)
	}
	if _, err := OpenShapes(b); err != nil {
		t.Fatal(err)
	}
}

func TestBoolListLen(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates 512 MiB of bools")
	}
	// 2^29+1 bits is 64 MiB, under MaxMessageBytes, but the count has 29
	// bits: it used to wrap to 1.
	v := Shapes{Bools: make([]bool, capnpwire.MaxListLen+2)}
	_, err := v.AppendCanonical(nil)
	var ee *capnpwire.EncodeError
	if !errors.As(err, &ee) || ee.Field != "Shapes.bools" {
		t.Fatalf("got %v, want an EncodeError for Shapes.bools", err)
	}
}

// TestSizeSumsSaturate: the encoder adds up a message's size before it
// writes it, and 2^20 references to one 4 KiB text are 4 GiB of message.
// Where int has 32 bits (GOARCH=386) the sum wrapped to 16 or 25 MiB,
// passed the MaxMessageBytes check, and the encoder wrote past the buffer
// it had grown: a panic, not an EncodeError.
func TestSizeSumsSaturate(t *testing.T) {
	s := strings.Repeat("x", 4096)
	d := []byte(s)
	texts, datas, leaves := make([]string, 1<<20), make([][]byte, 1<<20), make([]Leaf, 1<<20)
	for i := range texts {
		texts[i], datas[i], leaves[i].Name = s, d, s
	}
	for _, c := range []struct {
		name string
		v    Shapes
	}{
		{"texts", Shapes{Texts: texts}},
		{"datas", Shapes{Datas: datas}},
		{"leaves", Shapes{Leaves: leaves}},
		{"nested leaves", Shapes{Nested: Shapes_Nested{Leaves: leaves}}},
	} {
		_, err := c.v.AppendCanonical(nil)
		var ee *capnpwire.EncodeError
		if !errors.As(err, &ee) || ee.Field != "Shapes" || !strings.Contains(ee.Reason, "more than") {
			t.Errorf("%s: got %v, want an EncodeError: message too large", c.name, err)
		}
	}
}
