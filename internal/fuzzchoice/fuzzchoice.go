// Package fuzzchoice reads a fuzz target's input as a sequence of
// choices, one byte each, for the targets that damage a known-good tree
// or message (which file, where, how) rather than parse the input
// itself. For tests only.
package fuzzchoice

// Reader hands out the bytes of a fuzz input one choice at a time. Past
// the end every choice is 0, so that any input, the empty one too, is a
// whole run: the fuzzer's mutations stay meaningful at any length.
type Reader struct{ b []byte }

// New returns a Reader of input.
func New(input []byte) *Reader { return &Reader{b: input} }

// Next returns the next choice, 0 to 255, or 0 once none is left.
func (r *Reader) Next() int {
	if len(r.b) == 0 {
		return 0
	}
	c := int(r.b[0])
	r.b = r.b[1:]
	return c
}

// Len is the number of choices left.
func (r *Reader) Len() int { return len(r.b) }
