package checkpoint

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strconv"
	"sync"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/rustyonions/ron-audit-go/internal/names"
)

// LeafHash returns the RFC 6962 leaf hash of the record with record hash
// recordHash: SHA-256(0x00 || recordHash). It is tlog.RecordHash of the
// 32 hash bytes.
func LeafHash(recordHash [32]byte) tlog.Hash { return tlog.RecordHash(recordHash[:]) }

// Tree is the RFC 6962 Merkle tree of one chain: leaf i (0-based) is the
// record with seq i+1, and its leaf data is that record's 32-byte record
// hash (see the package documentation). It keeps every stored hash of the
// tlog layout in memory, tlog.StoredHashCount(n) < 2n hashes for n leaves:
// about 64 bytes per record, 640 KB per 10,000 records. Roots and proofs
// for any earlier size stay available, since stored hashes are only ever
// appended.
//
// A Tree is safe for concurrent use; proofs can be made while another
// goroutine appends. It implements tlog.HashReader over its stored hashes,
// so the tlog functions can read it directly. The zero value is an empty
// tree.
type Tree struct {
	mu     sync.RWMutex
	n      int64     // leaves
	hashes hashSlice // stored hashes, tlog.StoredHashIndex order
}

// NewTree returns an empty tree.
func NewTree() *Tree { return new(Tree) }

// hashSlice is a tlog.HashReader over stored hashes held in a slice. The
// caller holds the tree's lock.
type hashSlice []tlog.Hash

func (h hashSlice) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x < 0 || x >= int64(len(h)) {
			return nil, fmt.Errorf("checkpoint: stored hash %d not in tree of %d stored hashes", x, len(h))
		}
		out[i] = h[x]
	}
	return out, nil
}

// Append adds the record with record hash recordHash as the next leaf and
// returns its leaf index (its seq minus one).
func (t *Tree) Append(recordHash [32]byte) (index int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	// What tlog.StoredHashes computes, without its allocations: the leaf
	// hash, then one node hash per subtree the leaf completes (a trailing
	// 1 bit of n), each over the stored hash of its left sibling.
	var buf [1 + 2*tlog.HashSize]byte
	copy(buf[1:], recordHash[:])
	h := tlog.Hash(sha256.Sum256(buf[:1+tlog.HashSize])) // tlog.RecordHash: SHA-256(0x00 || data)
	t.hashes = append(t.hashes, h)
	buf[0] = 0x01
	for level, m := 0, t.n; m&1 == 1; level, m = level+1, m>>1 {
		left := t.hashes[tlog.StoredHashIndex(level, m-1)]
		copy(buf[1:], left[:])
		copy(buf[1+tlog.HashSize:], h[:])
		h = tlog.Hash(sha256.Sum256(buf[:])) // tlog.NodeHash(left, h)
		t.hashes = append(t.hashes, h)
	}
	index = t.n
	t.n++
	return index
}

// Size returns the number of leaves.
func (t *Tree) Size() int64 {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.n
}

// Root returns the root hash of the whole tree. The root of the empty
// tree is SHA-256 of no bytes (RFC 6962, section 2.1).
func (t *Tree) Root() tlog.Hash {
	t.mu.RLock()
	defer t.mu.RUnlock()
	h, err := tlog.TreeHash(t.n, t.hashes)
	if err != nil {
		panic("checkpoint: internal error: " + err.Error())
	}
	return h
}

// RootAt returns the root hash of the tree's first size leaves, for 0 <=
// size <= Size(); otherwise an *Error with ReasonRange.
func (t *Tree) RootAt(size int64) (tlog.Hash, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if size < 0 || size > t.n {
		return tlog.Hash{}, newErr(ReasonRange, "tree size "+strconv.FormatInt(size, 10)+" not in [0, "+strconv.FormatInt(t.n, 10)+"]", nil)
	}
	return tlog.TreeHash(size, t.hashes)
}

// InclusionProof returns the proof that leaf index is in the tree of the
// first treeSize leaves (tlog.ProveRecord), for 0 <= index < treeSize <=
// Size(); otherwise an *Error with ReasonRange. tlog.CheckRecord or
// VerifyInclusion checks it.
func (t *Tree) InclusionProof(index, treeSize int64) (tlog.RecordProof, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if index < 0 || index >= treeSize || treeSize > t.n {
		return nil, newErr(ReasonRange, "leaf "+strconv.FormatInt(index, 10)+" in tree size "+strconv.FormatInt(treeSize, 10)+
			" (tree has "+strconv.FormatInt(t.n, 10)+" leaves)", nil)
	}
	return tlog.ProveRecord(treeSize, index, t.hashes)
}

// ConsistencyProof returns the proof that the tree of the first oldSize
// leaves is a prefix of the tree of the first newSize leaves
// (tlog.ProveTree), for 0 <= oldSize <= newSize <= Size(); otherwise an
// *Error with ReasonRange. For oldSize 0 the proof is empty: every tree
// extends the empty tree (tlog has no proof from size 0; VerifyConsistency
// accepts the empty proof). tlog.CheckTree or VerifyConsistency checks it.
func (t *Tree) ConsistencyProof(oldSize, newSize int64) (tlog.TreeProof, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if oldSize == 0 && newSize >= 0 && newSize <= t.n {
		return tlog.TreeProof{}, nil
	}
	if oldSize < 1 || oldSize > newSize || newSize > t.n {
		return nil, newErr(ReasonRange, "sizes "+strconv.FormatInt(oldSize, 10)+" -> "+strconv.FormatInt(newSize, 10)+
			" (tree has "+strconv.FormatInt(t.n, 10)+" leaves)", nil)
	}
	return tlog.ProveTree(newSize, oldSize, t.hashes)
}

// ReadHashes implements tlog.HashReader over the tree's stored hashes
// (tlog.StoredHashIndex order).
func (t *Tree) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.hashes.ReadHashes(indexes)
}

var _ tlog.HashReader = (*Tree)(nil)

// Extends reports whether the tree holds the tree a checkpoint signs: at
// least cp.Size leaves, and the same root at that size. Otherwise the log
// behind the tree was cut or rolled back (ReasonRollback) or rewritten
// (ReasonFork) since the checkpoint.
func (t *Tree) Extends(cp Checkpoint) error {
	return extends(cp, t.Size(), t.RootAt)
}

// extends is Tree.Extends of a tree of n leaves whose root at a size
// rootAt gives.
func extends(cp Checkpoint, n int64, rootAt func(size int64) (tlog.Hash, error)) error {
	if n < cp.Size {
		return newErr(ReasonRollback, fmt.Sprintf("the log has %d records of %s, the checkpoint vouches for %d", n, names.Chain(cp.WriterID, cp.Stream), cp.Size), nil)
	}
	root, err := rootAt(cp.Size)
	if err != nil {
		return err
	}
	if root != cp.Root {
		return newErr(ReasonFork, fmt.Sprintf("the log's first %d records of %s hash to root %s, the checkpoint says %s",
			cp.Size, names.Chain(cp.WriterID, cp.Stream), base64.StdEncoding.EncodeToString(root[:]), base64.StdEncoding.EncodeToString(cp.Root[:])), nil)
	}
	return nil
}
