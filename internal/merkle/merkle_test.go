package merkle

import (
	"crypto/sha256"
	"encoding/binary"
	"math/bits"
	"testing"

	"golang.org/x/mod/sumdb/tlog"
)

// TestRangeRoots: grown leaf by leaf, from empty or from the compact
// range of any earlier size, Root is tlog's root of the same leaves, and
// the range holds one hash per 1 bit of its size.
func TestRangeRoots(t *testing.T) {
	const n = 130
	var leaves, stored []tlog.Hash
	for i := range n {
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], uint64(i))
		s := sha256.Sum256(b[:])
		leaves = append(leaves, tlog.RecordHash(s[:]))
		hs, err := tlog.StoredHashes(int64(i), s[:], tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
			out := make([]tlog.Hash, len(idx))
			for j, x := range idx {
				out[j] = stored[x]
			}
			return out, nil
		}))
		if err != nil {
			t.Fatal(err)
		}
		stored = append(stored, hs...)
	}
	read := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for j, x := range idx {
			out[j] = stored[x]
		}
		return out, nil
	})
	want := func(size int64) tlog.Hash {
		h, err := tlog.TreeHash(size, read)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	for start := int64(0); start <= n; start += 13 {
		// The compact range of start leaves, built from empty.
		r := NewRange(0, nil)
		for _, l := range leaves[:start] {
			r.Push(l)
		}
		r2 := NewRange(start, r.hashes)
		for size := start; ; size++ {
			if got := r2.Root(); got != want(size) || r2.Size() != size || r2.Len() != bits.OnesCount64(uint64(size)) {
				t.Fatalf("from %d, size %d: root %x, want %x; %d hashes", start, size, got, want(size), r2.Len())
			}
			if size == n {
				break
			}
			r2.Push(leaves[size])
		}
	}
}
