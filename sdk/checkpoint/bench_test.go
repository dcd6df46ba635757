package checkpoint

import "testing"

func BenchmarkTreeAppend(b *testing.B) {
	hashes := make([][32]byte, 1<<16)
	for i := range hashes {
		hashes[i] = recHash(i)
	}
	b.ReportAllocs()
	tr := NewTree()
	for i := 0; b.Loop(); i++ {
		if i == len(hashes) {
			i, tr = 0, NewTree()
		}
		tr.Append(hashes[i])
	}
}

func BenchmarkCheckpointSign(b *testing.B) {
	s := NewNoteSigner(testSigner(b, "key A"), testKeyName)
	origin := Origin("svc-index@inst-2", "index")
	root := testRoot()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Sign(origin, 10000, root, s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCheckpointOpen(b *testing.B) {
	s := testSigner(b, "key A")
	vs := testVerifiers(b, s, testKeyName)
	msg, err := Sign(Origin("svc-index@inst-2", "index"), 10000, testRoot(), NewNoteSigner(s, testKeyName))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Open(msg, vs); err != nil {
			b.Fatal(err)
		}
	}
}

// A 10,000-record chain: the default checkpoint interval.
const benchSize = 10000

func benchTree(b *testing.B) (*Tree, Checkpoint) {
	tr := buildTree(benchSize)
	return tr, Checkpoint{Origin: Origin("w", "s"), Size: benchSize, Root: tr.Root()}
}

func BenchmarkInclusionProve(b *testing.B) {
	tr, _ := benchTree(b)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := tr.InclusionProof(int64(i%benchSize), benchSize); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkInclusionVerify(b *testing.B) {
	tr, cp := benchTree(b)
	const idx = 4321
	p, err := tr.InclusionProof(idx, benchSize)
	if err != nil {
		b.Fatal(err)
	}
	h := recHash(idx)
	b.ReportAllocs()
	for b.Loop() {
		if err := VerifyInclusion(cp, idx, h, p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkConsistencyVerify(b *testing.B) {
	tr, cp := benchTree(b)
	const oldSize = 6543
	oldRoot, _ := tr.RootAt(oldSize)
	old := Checkpoint{Origin: cp.Origin, Size: oldSize, Root: oldRoot}
	p, err := tr.ConsistencyProof(oldSize, benchSize)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := VerifyConsistency(old, cp, p); err != nil {
			b.Fatal(err)
		}
	}
}
