// Package merkle holds the RFC 6962 compact range that both the
// checkpoint verifier (a log's roots in one pass) and the bundle verifier
// (a bundle's root from its previous checkpoint's range) grow leaf by
// leaf.
package merkle

import "golang.org/x/mod/sumdb/tlog"

// EmptyRoot is the root of the empty tree, SHA-256 of no bytes.
var EmptyRoot, _ = tlog.TreeHash(0, nil)

// Range is the compact range [0, n) of a tree: the roots of its maximal
// perfect subtrees, largest first, one per 1 bit of n (at most 63), so a
// tree is followed without memory per leaf.
type Range struct {
	n      int64
	hashes []tlog.Hash
}

// NewRange starts from the compact range of the tree of n leaves: hashes
// holds one hash per 1 bit of n, largest subtree first (a caller checks
// the count; the bundle format does). It copies hashes.
func NewRange(n int64, hashes []tlog.Hash) *Range {
	return &Range{n: n, hashes: append(make([]tlog.Hash, 0, len(hashes)+64), hashes...)}
}

// Push appends a leaf hash (tlog.RecordHash of the leaf's data).
func (r *Range) Push(h tlog.Hash) {
	for m := r.n; m&1 == 1; m >>= 1 { // the subtrees this leaf completes
		h = tlog.NodeHash(r.hashes[len(r.hashes)-1], h)
		r.hashes = r.hashes[:len(r.hashes)-1]
	}
	r.hashes = append(r.hashes, h)
	r.n++
}

// Size is the number of leaves.
func (r *Range) Size() int64 { return r.n }

// Len is the number of hashes the range holds.
func (r *Range) Len() int { return len(r.hashes) }

// Root is the tree's root: the subtrees folded from the right.
func (r *Range) Root() tlog.Hash {
	if len(r.hashes) == 0 {
		return EmptyRoot
	}
	h := r.hashes[len(r.hashes)-1]
	for i := len(r.hashes) - 2; i >= 0; i-- {
		h = tlog.NodeHash(r.hashes[i], h)
	}
	return h
}
