package checkpoint

import (
	"bytes"
	"errors"
	"strconv"
	"testing"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/internal/fuzzchoice"
	"github.com/rustyonions/ron-audit-go/sdk"
)

// chainFuzzNote is a signed checkpoint of history h (0 genuine, 1 fork,
// -1 another chain) at size.
type chainFuzzNote struct {
	h    int
	size int
	msg  []byte
}

// FuzzVerifyChainCheckpoints: VerifyChain over a checkpoint-sealed chain
// (no record signed; only checkpoints seal it). The fuzzer picks how many
// records of the genuine chain the log holds (0..20), maybe one spliced
// in from a fork the same key signed from seq 11 or one dropped, which of
// seven signed checkpoints to give (of the chain at 5, 10, 15 and 20, of
// the fork at 15 and 20, of another chain at 5), and whether an unsealed
// tail is allowed. VerifyChain never panics, fails only with a *Error of
// a known Reason or an *sdk.VerifyError, and what it accepts is the
// truth: the records are the first n of one history the key signed; every
// checkpoint given is of that chain, at most n, and of a history whose
// first records are those; and, with no unsealed tail allowed, the
// largest checkpoint seals the last record (nothing unvouched-for is
// accepted). Seeds: testdata/fuzz/FuzzVerifyChainCheckpoints.
func FuzzVerifyChainCheckpoints(f *testing.F) {
	const n = 20
	signer := testSigner(f, "fuzz checkpoint-sealed chain")
	vs := testVerifiers(f, signer, KeyName("svc@inst-1"))
	chain := func(stream string, reason func(i int) string) []sdk.Sealed {
		l, err := sdk.New(sdk.Config{Signer: signer, SealEvery: 1000, DedupeWindow: -1})
		if err != nil {
			f.Fatal(err)
		}
		var out []sdk.Sealed
		for i := range n {
			r := canonical.AuditRecord{WriterID: "svc@inst-1", Stream: stream, TsMs: uint64(1000 + i), Reason: reason(i)}
			a, err := l.Append(&r)
			if err != nil {
				f.Fatal(err)
			}
			rec := a.Record
			rec.Bytes = bytes.Clone(rec.Bytes)
			if rec.Signed {
				f.Fatalf("record %d is signed: the chain should be sealed by checkpoints only", i+1)
			}
			out = append(out, rec)
		}
		return out
	}
	plain := func(i int) string { return "r" + strconv.Itoa(i) }
	hist := [][]sdk.Sealed{
		chain("caps", plain),
		chain("caps", func(i int) string {
			if i >= 10 {
				return "forked " + strconv.Itoa(i)
			}
			return plain(i)
		}),
	}
	other := chain("other", plain)
	sign := func(recs []sdk.Sealed, stream string, size int) []byte {
		tree := NewTree()
		for _, r := range recs[:size] {
			tree.Append(r.Hash)
		}
		msg, err := Sign(Origin("svc@inst-1", stream), int64(size), tree.Root(), NewNoteSigner(signer, KeyName("svc@inst-1")))
		if err != nil {
			f.Fatal(err)
		}
		return msg
	}
	var notes []chainFuzzNote
	for _, c := range []struct{ h, size int }{{0, 5}, {0, 10}, {0, 15}, {0, 20}, {1, 15}, {1, 20}} {
		notes = append(notes, chainFuzzNote{c.h, c.size, sign(hist[c.h], "caps", c.size)})
	}
	notes = append(notes, chainFuzzNote{-1, 5, sign(other, "other", 5)})

	f.Fuzz(func(t *testing.T, choices []byte) {
		next := fuzzchoice.New(choices).Next
		recs := append([]sdk.Sealed(nil), hist[0][:next()%(n+1)]...)
		switch op, at := next()%3, next(); {
		case op == 1 && len(recs) > 0:
			recs[at%len(recs)] = hist[1][at%len(recs)]
		case op == 2 && len(recs) > 0:
			recs = append(recs[:at%len(recs)], recs[at%len(recs)+1:]...)
		}
		var given []chainFuzzNote
		var msgs [][]byte
		for i, mask := 0, next(); i < len(notes); i++ {
			if mask&(1<<i) != 0 {
				given = append(given, notes[i])
				msgs = append(msgs, notes[i].msg)
			}
		}
		allow := next()%2 == 1
		res, err := VerifyChain(sdk.NewSliceIterator(recs), nil, vs, msgs, sdk.VerifyOptions{AllowUnsealedTail: allow})
		if err != nil {
			var e *Error
			var ve *sdk.VerifyError
			if !(errors.As(err, &e) && reasonErrs[e.Reason] != nil) && !errors.As(err, &ve) {
				t.Fatalf("error %v (%T) is neither an *Error with a known reason nor an *sdk.VerifyError", err, err)
			}
			return
		}
		prefixOf := func(h []sdk.Sealed, k int) bool {
			if k > len(recs) || k > len(h) {
				return false
			}
			for i := range k {
				if !bytes.Equal(recs[i].Bytes, h[i].Bytes) || recs[i].Hash != h[i].Hash {
					return false
				}
			}
			return true
		}
		if !prefixOf(hist[0], len(recs)) && !prefixOf(hist[1], len(recs)) {
			t.Fatalf("accepted %d records that are no history the key signed", len(recs))
		}
		sealed := 0
		for _, g := range given {
			if g.h < 0 || g.size > len(recs) || !prefixOf(hist[g.h], g.size) {
				t.Fatalf("accepted %d records with a checkpoint at %d of history %d they do not extend", len(recs), g.size, g.h)
			}
			sealed = max(sealed, g.size)
		}
		if !allow && sealed < len(recs) {
			t.Fatalf("accepted %d unsigned records, the checkpoints seal %d", len(recs), sealed)
		}
		if res.Records != len(recs) || res.Head.SealedSeq != uint64(sealed) {
			t.Fatalf("result: %d records, sealed %d; want %d, %d", res.Records, res.Head.SealedSeq, len(recs), sealed)
		}
	})
}
