package checkpoint

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"testing"

	"golang.org/x/mod/sumdb/tlog"
)

// recHash is a deterministic stand-in for the record hash of seq i+1.
func recHash(i int) [32]byte { return sha256.Sum256(fmt.Appendf(nil, "record %d", i)) }

func buildTree(n int) *Tree {
	t := NewTree()
	for i := range n {
		if got := t.Append(recHash(i)); got != int64(i) {
			panic(fmt.Sprintf("Append #%d returned index %d", i, got))
		}
	}
	return t
}

func TestLeafHash(t *testing.T) {
	h := recHash(0)
	if got, want := LeafHash(h), oLeaf(h[:]); got != want {
		t.Fatalf("LeafHash = %x, want SHA-256(0x00||h) = %x", got, want)
	}
}

func TestTreeRootsMatchTlog(t *testing.T) {
	// Independent stored hashes, computed by tlog.StoredHashes into a
	// separate slice.
	var stored []tlog.Hash
	reader := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			out[i] = stored[x]
		}
		return out, nil
	})
	tr := NewTree()
	if tr.Size() != 0 || tr.Root() != sha256.Sum256(nil) {
		t.Fatalf("empty tree: size %d root %x, want 0 and SHA-256()", tr.Size(), tr.Root())
	}
	const n = 300
	for i := range n {
		h := recHash(i)
		hs, err := tlog.StoredHashes(int64(i), h[:], reader)
		if err != nil {
			t.Fatal(err)
		}
		stored = append(stored, hs...)
		tr.Append(h)
		want, err := tlog.TreeHash(int64(i+1), reader)
		if err != nil {
			t.Fatal(err)
		}
		if got := tr.Root(); got != want {
			t.Fatalf("size %d: Root = %x, tlog.TreeHash = %x", i+1, got, want)
		}
	}
	if int64(len(stored)) != tlog.StoredHashCount(n) {
		t.Fatalf("oracle holds %d stored hashes, want %d", len(stored), tlog.StoredHashCount(n))
	}
	// Every earlier root stays available.
	for size := int64(0); size <= n; size++ {
		got, err := tr.RootAt(size)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := tlog.TreeHash(size, reader)
		if got != want {
			t.Fatalf("RootAt(%d) = %x, want %x", size, got, want)
		}
	}
	for _, bad := range []int64{-1, n + 1} {
		if _, err := tr.RootAt(bad); !errors.Is(err, ErrRange) {
			t.Fatalf("RootAt(%d) error %v, want ErrRange", bad, err)
		}
	}
}

func TestTreeRootsMatchRFC6962(t *testing.T) {
	tr := NewTree()
	var leaves []tlog.Hash
	for size := 1; size <= 9; size++ {
		h := recHash(size - 1)
		tr.Append(h)
		leaves = append(leaves, oLeaf(h[:]))
		if got, want := tr.Root(), oMTH(leaves); got != want {
			t.Fatalf("size %d: Root = %x, RFC 6962 MTH = %x", size, got, want)
		}
	}
	// Spot-check the oracle itself against a fully written-out size 3:
	// MTH = H(1 || H(1 || l0 || l1) || l2).
	if got, want := oMTH(leaves[:3]), oNode(oNode(leaves[0], leaves[1]), leaves[2]); got != want {
		t.Fatal("oracle MTH of 3 leaves is wrong")
	}
}

func TestTreeMemory(t *testing.T) {
	tr := buildTree(1000)
	if got, want := int64(len(tr.hashes)), tlog.StoredHashCount(1000); got != want || got >= 2*1000 {
		t.Fatalf("stored hashes %d, want %d (< 2 per leaf)", got, want)
	}
}

// flip returns h with one bit changed.
func flip(h tlog.Hash) tlog.Hash { h[7] ^= 0x10; return h }

func TestInclusionProofsAllSizes(t *testing.T) {
	const maxN = 70
	tr := buildTree(maxN + 1)
	for n := int64(1); n <= maxN; n++ {
		root, err := tr.RootAt(n)
		if err != nil {
			t.Fatal(err)
		}
		cp := Checkpoint{Origin: Origin("w", "s"), Size: n, Root: root}
		rootNext, _ := tr.RootAt(n + 1)
		for i := int64(0); i < n; i++ {
			h := recHash(int(i))
			p, err := tr.InclusionProof(i, n)
			if err != nil {
				t.Fatalf("InclusionProof(%d, %d): %v", i, n, err)
			}
			if err := VerifyInclusion(cp, i, h, p); err != nil {
				t.Fatalf("size %d index %d: %v", n, i, err)
			}
			if !oCheckInclusion(i, n, oLeaf(h[:]), p, root) {
				t.Fatalf("size %d index %d: RFC 9162 oracle refuses the proof", n, i)
			}
			mustReason(t, VerifyInclusion(cp, i, flip(h), p), ErrNotIncluded, "wrong hash")
			if n > 1 {
				j := (i + 1) % n
				mustReason(t, VerifyInclusion(cp, j, h, p), ErrNotIncluded, "wrong index")
			}
			mustReason(t, VerifyInclusion(cp, n, h, p), ErrRange, "index = size")
			mustReason(t, VerifyInclusion(cp, -1, h, p), ErrRange, "negative index")
			// A wrong size is a checkpoint of another size with its own
			// root. (The same root under another size can verify: the proof
			// of leaf 0 of 3 leaves, [l1, l2], also gives H(H(l0,l1), l2)
			// read as a tree of 4 leaves whose right subtree hash is l2.
			// Only a signed (size, root) pair is evidence, and the log
			// never signs root(3) with size 4.)
			bigger := Checkpoint{Origin: cp.Origin, Size: n + 1, Root: rootNext}
			mustReason(t, VerifyInclusion(bigger, i, h, p), ErrNotIncluded, "proof for a smaller size")
			if i < n-1 {
				rootPrev, _ := tr.RootAt(n - 1)
				smaller := Checkpoint{Origin: cp.Origin, Size: n - 1, Root: rootPrev}
				mustReason(t, VerifyInclusion(smaller, i, h, p), ErrNotIncluded, "proof for a bigger size")
			}
			altRoot := cp
			altRoot.Root = flip(root)
			mustReason(t, VerifyInclusion(altRoot, i, h, p), ErrNotIncluded, "altered root")
			for k := range p {
				q := append(tlog.RecordProof(nil), p...)
				q[k] = flip(q[k])
				mustReason(t, VerifyInclusion(cp, i, h, q), ErrNotIncluded, "altered proof")
			}
			if len(p) > 0 {
				mustReason(t, VerifyInclusion(cp, i, h, p[:len(p)-1]), ErrNotIncluded, "short proof")
			}
			mustReason(t, VerifyInclusion(cp, i, h, append(p, root)), ErrNotIncluded, "long proof")
		}
	}
	for _, c := range [][2]int64{{-1, 3}, {3, 3}, {0, 0}, {0, maxN + 2}} {
		if _, err := tr.InclusionProof(c[0], c[1]); !errors.Is(err, ErrRange) {
			t.Errorf("InclusionProof(%d, %d) error %v, want ErrRange", c[0], c[1], err)
		}
	}
}

func TestConsistencyProofsAllPairs(t *testing.T) {
	const maxN = 40
	tr := buildTree(maxN)
	roots := make([]tlog.Hash, maxN+1)
	for n := range roots {
		roots[n], _ = tr.RootAt(int64(n))
	}
	origin := Origin("w", "s")
	cpAt := func(n int64) Checkpoint { return Checkpoint{Origin: origin, Size: n, Root: roots[n]} }
	for m := int64(0); m <= maxN; m++ {
		for n := m; n <= maxN; n++ {
			p, err := tr.ConsistencyProof(m, n)
			if err != nil {
				t.Fatalf("ConsistencyProof(%d, %d): %v", m, n, err)
			}
			old, newer := cpAt(m), cpAt(n)
			if err := VerifyConsistency(old, newer, p); err != nil {
				t.Fatalf("%d -> %d: %v", m, n, err)
			}
			if m > 0 && !oCheckConsistency(m, n, roots[m], roots[n], p) {
				t.Fatalf("%d -> %d: RFC 9162 oracle refuses the proof", m, n)
			}
			if m > 0 {
				if err := tlog.CheckTree(p, n, roots[n], m, roots[m]); err != nil {
					t.Fatalf("%d -> %d: tlog.CheckTree: %v", m, n, err)
				}
			}
			altOld := old
			altOld.Root = flip(old.Root)
			mustReason(t, VerifyConsistency(altOld, newer, p), ErrFork, "altered old root")
			altNew := newer
			altNew.Root = flip(newer.Root)
			if m > 0 || n == 0 {
				mustReason(t, VerifyConsistency(old, altNew, p), ErrFork, "altered new root")
			}
			for k := range p {
				q := append(tlog.TreeProof(nil), p...)
				q[k] = flip(q[k])
				mustReason(t, VerifyConsistency(old, newer, q), ErrFork, "altered proof")
			}
			if m < n {
				mustReason(t, VerifyConsistency(newer, old, p), ErrRollback, "swapped")
				if m > 0 {
					wrong := newer
					wrong.Size = n - 1
					wrong.Root = roots[n-1]
					if len(p) > 0 || m != n-1 {
						mustReason(t, VerifyConsistency(old, wrong, p), ErrFork, "proof for another size")
					}
				}
			}
			other := newer
			other.Origin = Origin("w", "other")
			mustReason(t, VerifyConsistency(old, other, p), ErrOriginMismatch, "other origin")
		}
	}
	for _, c := range [][2]int64{{-1, 3}, {4, 3}, {1, maxN + 1}, {0, maxN + 1}} {
		if _, err := tr.ConsistencyProof(c[0], c[1]); !errors.Is(err, ErrRange) {
			t.Errorf("ConsistencyProof(%d, %d) error %v, want ErrRange", c[0], c[1], err)
		}
	}
}

// TestFork: two logs that agree on their first k records and then
// differ; a checkpoint of one and a later one of the other are refused
// as a fork, whichever proof is offered.
func TestFork(t *testing.T) {
	a, b := buildTree(5), buildTree(5)
	for i := 5; i < 12; i++ {
		a.Append(recHash(i))
		b.Append(recHash(1000 + i))
	}
	origin := Origin("w", "s")
	rootA8, _ := a.RootAt(8)
	old := Checkpoint{Origin: origin, Size: 8, Root: rootA8}
	newer := Checkpoint{Origin: origin, Size: 12, Root: b.Root()}
	for _, tr := range []*Tree{a, b} {
		p, err := tr.ConsistencyProof(8, 12)
		if err != nil {
			t.Fatal(err)
		}
		mustReason(t, VerifyConsistency(old, newer, p), ErrFork, "fork")
	}
	// Up to where they agree, they are consistent.
	rootA5, _ := a.RootAt(5)
	p, _ := b.ConsistencyProof(5, 12)
	if err := VerifyConsistency(Checkpoint{Origin: origin, Size: 5, Root: rootA5}, newer, p); err != nil {
		t.Fatal(err)
	}
	// Equal sizes, different roots.
	rootB8, _ := b.RootAt(8)
	mustReason(t, VerifyConsistency(old, Checkpoint{Origin: origin, Size: 8, Root: rootB8}, nil), ErrFork, "same size fork")
}

func TestTreeConcurrent(t *testing.T) {
	tr := NewTree()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 500 {
			tr.Append(recHash(i))
		}
	}()
	for {
		select {
		case <-done:
			if tr.Size() != 500 {
				t.Fatalf("size %d", tr.Size())
			}
			return
		default:
		}
		n := tr.Size()
		if n == 0 {
			continue
		}
		root, err := tr.RootAt(n)
		if err != nil {
			t.Fatal(err)
		}
		p, err := tr.InclusionProof(n-1, n)
		if err != nil {
			t.Fatal(err)
		}
		if err := VerifyInclusion(Checkpoint{Size: n, Root: root}, n-1, recHash(int(n-1)), p); err != nil {
			t.Fatal(err)
		}
	}
}

// mustReason fails unless err is an *Error matching want.
func mustReason(t testing.TB, err, want error, what string) {
	t.Helper()
	var e *Error
	if !errors.Is(err, want) || !errors.As(err, &e) {
		t.Fatalf("%s: error %v, want *Error matching %v", what, err, want)
	}
}
