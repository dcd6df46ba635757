package export

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/rustyonions/ron-audit-go/internal/fuzzchoice"
	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/checkpoint"
)

// seqFuzzPool is what FuzzVerifySequence picks from: bundles of two
// histories the test key signed (the genuine chain of 7 records, and a
// fork of it from seq 5: an equivocating writer) and signed checkpoints
// of both, to trust.
type seqFuzzPool struct {
	histories [2][]sdk.Sealed // genuine, fork
	bundles   [][]byte
	notes     []seqFuzzNote
}

type seqFuzzNote struct {
	history int
	size    int64
	msg     []byte
}

func newSeqFuzzPool(t testing.TB) *seqFuzzPool {
	signer := newSigner(t, 1)
	p := &seqFuzzPool{}
	p.histories[0] = genRecords(t, signer, 7, plain)
	p.histories[1] = genRecords(t, signer, 7, func(i int) string {
		if i >= 4 {
			return "rewritten"
		}
		return plain(i)
	})
	gen, fork := p.histories[0], p.histories[1]
	p.bundles = append(p.bundles, exportSplits(t, signer, gen, 1, 4, 7)...) // 0: 1..1, 1: 2..4, 2: 5..7
	p.bundles = append(p.bundles, exportSplits(t, signer, gen, 2, 7)...)    // 3: 1..2, 4: 3..7
	p.bundles = append(p.bundles, exportSplits(t, signer, gen, 7)...)       // 5: 1..7
	fb := exportSplits(t, signer, fork, 4, 7)
	p.bundles = append(p.bundles, fb[1], exportSplits(t, signer, fork, 7)[0]) // 6: fork 5..7, 7: fork 1..7
	for _, n := range []struct {
		h    int
		size int64
	}{{0, 1}, {0, 5}, {0, 7}, {1, 5}, {1, 7}} {
		root, err := treeOf(p.histories[n.h]).RootAt(n.size)
		if err != nil {
			t.Fatal(err)
		}
		msg, err := checkpoint.Sign(checkpoint.Origin(testWriter, testStream), n.size, root, checkpoint.NewNoteSigner(signer, checkpoint.KeyName(testWriter)))
		if err != nil {
			t.Fatal(err)
		}
		p.notes = append(p.notes, seqFuzzNote{n.h, n.size, msg})
	}
	return p
}

// FuzzVerifySequence: the fuzzer picks up to four bundles from the pool,
// in any order, maybe a checkpoint to trust, and maybe a byte to damage.
// VerifySequence and VerifySequenceTrusted never panic, agree, and fail
// only with an *Error with a known Reason naming the bundle; and what
// they accept is the truth: the bundles' records, in order, are records
// 1..S of one history the key signed, byte for byte, and a trusted
// checkpoint of size T is at most S and of a history whose first T
// records are those. (A fork the key signed verifies without a trusted
// checkpoint: equivocation is what the trusted one catches.)
//
// The input is a byte per choice: the count of bundles (1 + c%4), each
// bundle (c%8 into the pool), the checkpoint to trust (c%6: none, or one
// of the five notes), then optionally which bundle to damage, where (two
// bytes) and how (an xor byte). Seeds: testdata/fuzz/FuzzVerifySequence.
func FuzzVerifySequence(f *testing.F) {
	p := newSeqFuzzPool(f)
	signer := newSigner(f, 1)
	vs, keys := verifiersOf(signer)
	f.Fuzz(func(t *testing.T, choices []byte) {
		in := fuzzchoice.New(choices)
		next := in.Next
		k := next()%4 + 1
		named := make([]Named, k)
		for i := range named {
			named[i] = Named{Name: fmt.Sprintf("b%d", i+1), Data: bytes.Clone(p.bundles[next()%len(p.bundles)])}
		}
		var trusted *seqFuzzNote
		if n := next() % (len(p.notes) + 1); n > 0 {
			trusted = &p.notes[n-1]
		}
		if in.Len() >= 4 {
			d := named[next()%k].Data
			pos := (next()<<8 | next()) % len(d)
			d[pos] ^= byte(next())
		}

		var note []byte
		var cp *checkpoint.Checkpoint
		if trusted != nil {
			note = trusted.msg
			c, err := checkpoint.Open(note, vs)
			if err != nil {
				t.Fatal(err)
			}
			cp = &c
		}
		s, err := VerifySequenceTrusted(named, vs, keys, note)
		s2, err2 := VerifySequence(named, vs, keys, cp)
		if (err == nil) != (err2 == nil) || err == nil && s.Records != s2.Records {
			t.Fatalf("VerifySequenceTrusted: %v; VerifySequence: %v", err, err2)
		}
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || reasonErrs[e.Reason] == nil || e.Bundle == "" {
				t.Fatalf("error %v (%T) is not an *Error with a known reason naming a bundle", err, err)
			}
			return
		}

		var recs []sdk.Sealed
		for _, nb := range named {
			b, err := Parse(nb.Data)
			if err != nil {
				t.Fatalf("verified a bundle Parse refuses: %v", err)
			}
			recs = append(recs, b.Records...)
		}
		if int64(len(recs)) != s.Records || len(s.Bundles) != k || s.Head.Seq != uint64(s.Records) {
			t.Fatalf("summary: %d records, %d bundles, head %d; the bundles hold %d records in %d", s.Records, len(s.Bundles), s.Head.Seq, len(recs), k)
		}
		match := func(h []sdk.Sealed, n int) bool {
			if n > len(h) || n > len(recs) {
				return false
			}
			for i := range n {
				if !bytes.Equal(recs[i].Bytes, h[i].Bytes) || recs[i].Hash != h[i].Hash {
					return false
				}
			}
			return true
		}
		if !match(p.histories[0], len(recs)) && !match(p.histories[1], len(recs)) {
			t.Fatalf("verified %d records that are no history the key signed", len(recs))
		}
		if trusted != nil && (s.Trusted == nil || trusted.size > s.Records || !match(p.histories[trusted.history], int(trusted.size))) {
			t.Fatalf("verified %d records against a trusted checkpoint at %d of history %d they do not extend", len(recs), trusted.size, trusted.history)
		}
	})
}
