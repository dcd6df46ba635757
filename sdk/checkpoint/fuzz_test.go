package checkpoint

import (
	"errors"
	"slices"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// FuzzOpenCheckpoint: Open never panics, every error is an *Error, and
// what it accepts is exactly a checkpoint text Sign would write for the
// values it returns. The seed corpus (testdata/fuzz/FuzzOpenCheckpoint)
// holds valid checkpoints and the refused cases of TestOpenRefuses; the
// fuzzer can sign nothing, so mutations mostly exercise the refusals.
func FuzzOpenCheckpoint(f *testing.F) {
	s := testSigner(f, "ron-audit checkpoint vectors v1")
	vs := testVerifiers(f, s, testKeyName)
	good, err := Sign(Origin("svc-index@inst-2", "index"), 7, testRoot(), NewNoteSigner(s, testKeyName))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Fuzz(func(t *testing.T, msg []byte) {
		cp, err := Open(msg, vs)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || reasonErrs[e.Reason] == nil {
				t.Fatalf("error %v (%T) is not an *Error with a known reason", err, err)
			}
			return
		}
		if cp.Note == nil || cp.Note.Text != Text(cp.Origin, cp.Size, cp.Root) {
			t.Fatalf("accepted a text that is not Text(values): %q", cp.Note.Text)
		}
		if Origin(cp.WriterID, cp.Stream) != cp.Origin {
			t.Fatalf("origin %q does not round-trip", cp.Origin)
		}
		if _, err := note.Open(msg, vs); err != nil {
			t.Fatalf("Open accepted what note.Open refuses: %v", err)
		}
	})
}

// FuzzVerifyProofs: VerifyInclusion and VerifyConsistency never panic,
// every error is an *Error with a known reason, and what they accept is
// the truth: the leaf at that index of that tree, or an old tree that is
// a prefix of the newer one, with the one proof Tree would give (a root
// binds its proof). The fuzzer picks the sizes, the index, the leaf, and
// how the proof is damaged: hashes flipped, dropped or added.
func FuzzVerifyProofs(f *testing.F) {
	const leaves = 40
	var hashes [leaves][32]byte
	tree := NewTree()
	for i := range hashes {
		hashes[i][0], hashes[i][1] = byte(i), 0xa5
		tree.Append(hashes[i])
	}
	cpAt := func(size int64) Checkpoint {
		root, err := tree.RootAt(size)
		if err != nil {
			f.Fatal(err)
		}
		return Checkpoint{Origin: "o", Size: size, Root: root}
	}
	cps := make([]Checkpoint, leaves+1)
	for n := range cps {
		cps[n] = cpAt(int64(n))
	}
	f.Add(uint8(17), uint8(5), uint8(5), uint8(9), []byte{})
	f.Add(uint8(17), uint8(5), uint8(6), uint8(9), []byte{0, 1, 2})
	f.Add(uint8(40), uint8(0), uint8(0), uint8(40), []byte{9, 0, 0})
	f.Add(uint8(1), uint8(0), uint8(0), uint8(1), []byte{1})
	f.Fuzz(func(t *testing.T, size, index, leaf, old uint8, damage []byte) {
		n, o := int64(size)%(leaves+1), int64(old)%(leaves+1)
		idx := int64(int8(index)) // negative ones too
		cp := cps[n]
		damaged := func(proof []tlog.Hash) []tlog.Hash {
			proof = slices.Clone(proof)
			for i := 0; i+2 < len(damage); i += 3 {
				op, at, x := damage[i]%4, int(damage[i+1]), damage[i+2]
				switch {
				case op == 0 && len(proof) > 0:
					proof[at%len(proof)][x%32] ^= 1 | x
				case op == 1 && len(proof) > 0:
					proof = slices.Delete(proof, at%len(proof), at%len(proof)+1)
				case op == 2:
					var h tlog.Hash
					h[0] = x
					proof = slices.Insert(proof, at%(len(proof)+1), h)
				case op == 3 && len(proof) > 0: // a hash of the proof, repeated
					proof = slices.Insert(proof, at%(len(proof)+1), proof[int(x)%len(proof)])
				}
			}
			return proof
		}
		typed := func(what string, err error) {
			var e *Error
			if !errors.As(err, &e) || reasonErrs[e.Reason] == nil {
				t.Fatalf("%s: error %v (%T) is not an *Error with a known reason", what, err, err)
			}
		}

		var genuine tlog.RecordProof
		if idx >= 0 && idx < n {
			p, err := tree.InclusionProof(idx, n)
			if err != nil {
				t.Fatal(err)
			}
			genuine = p
		}
		proof := damaged(genuine)
		err := VerifyInclusion(cp, idx, hashes[int(leaf)%leaves], tlog.RecordProof(proof))
		if err != nil {
			typed("VerifyInclusion", err)
		} else if idx < 0 || idx >= n || int(leaf)%leaves != int(idx) || !slices.Equal(proof, genuine) {
			t.Fatalf("VerifyInclusion accepted leaf %d at index %d of %d with a proof of %d hashes (genuine %d)",
				int(leaf)%leaves, idx, n, len(proof), len(genuine))
		}

		var genuineTree tlog.TreeProof
		if o <= n && o > 0 {
			p, err := tree.ConsistencyProof(o, n)
			if err != nil {
				t.Fatal(err)
			}
			genuineTree = p
		}
		tproof := damaged(genuineTree)
		older := cps[o]
		if len(damage)%2 == 1 { // an old tree that is no prefix: another root
			older.Root[int(leaf)%32] ^= 1
		}
		err = VerifyConsistency(older, cp, tlog.TreeProof(tproof))
		if err != nil {
			typed("VerifyConsistency", err)
		} else if o > n || older.Root != cps[o].Root || !slices.Equal(tproof, genuineTree) {
			t.Fatalf("VerifyConsistency accepted %d -> %d (root genuine %v) with a proof of %d hashes (genuine %d)",
				o, n, older.Root == cps[o].Root, len(tproof), len(genuineTree))
		}
	})
}
