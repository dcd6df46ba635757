package sdk_test

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/sdk"
)

// The tamper matrix: on a 1,000-record chain, every kind of tampering is
// caught at the exact first bad seq with the right reason, by the
// sequential verifier and the parallel one alike.

func tamperChain(t testing.TB, sealEvery int) ([]sdk.Sealed, *sdk.KeySet) {
	t.Helper()
	l := coreLog(t, sdk.Config{SealEvery: sealEvery})
	as := coreAppend(t, l, 1000)
	if sealEvery > 1 {
		if _, err := l.Seal(as[0].Head.WriterID, as[0].Head.Stream); err != nil {
			t.Fatal(err)
		}
	}
	var recs []sdk.Sealed
	it := l.Store().Iter(as[0].Head.WriterID, as[0].Head.Stream)
	for it.Next() {
		r := it.Entry()
		r.Bytes = bytes.Clone(r.Bytes)
		recs = append(recs, r)
	}
	if len(recs) != 1000 {
		t.Fatalf("%d records", len(recs))
	}
	return recs, l.Keys()
}

func cloneRecs(recs []sdk.Sealed) []sdk.Sealed {
	out := make([]sdk.Sealed, len(recs))
	for i, r := range recs {
		r.Bytes = bytes.Clone(r.Bytes)
		out[i] = r
	}
	return out
}

// expectFailure runs both verifiers and checks the first failure.
func expectFailure(t *testing.T, name string, recs []sdk.Sealed, keys *sdk.KeySet, seq uint64, reason sdk.Reason) {
	t.Helper()
	for _, parallel := range []bool{false, true} {
		var err error
		if parallel {
			_, err = sdk.VerifyChainParallel(recs, keys, sdk.VerifyOptions{}, 4)
		} else {
			_, err = sdk.VerifyChain(sdk.NewSliceIterator(recs), keys, sdk.VerifyOptions{})
		}
		var ve *sdk.VerifyError
		if !errors.As(err, &ve) {
			t.Fatalf("%s (parallel=%v): got %v, want a *VerifyError", name, parallel, err)
		}
		if ve.Seq != seq || ve.Reason != reason {
			t.Fatalf("%s (parallel=%v): failed at seq %d with %s, want seq %d with %s: %v", name, parallel, ve.Seq, ve.Reason, seq, reason, err)
		}
		if ve.Verified != int(seq-1) && reason != sdk.ReasonUnsealedTail {
			t.Fatalf("%s (parallel=%v): %d verified before seq %d", name, parallel, ve.Verified, seq)
		}
		if !errors.Is(err, map[sdk.Reason]error{sdk.ReasonHashMismatch: sdk.ErrHashMismatch, sdk.ReasonSeqGap: sdk.ErrSeqGap,
			sdk.ReasonBadSignature: sdk.ErrBadSignature, sdk.ReasonUnsealedTail: sdk.ErrUnsealedTail,
			sdk.ReasonPrevMismatch: sdk.ErrPrevMismatch, sdk.ReasonUnknownKey: sdk.ErrUnknownKey}[reason]) {
			t.Fatalf("%s: errors.Is does not match %s", name, reason)
		}
	}
}

func TestTamperMatrix(t *testing.T) {
	recs, keys := tamperChain(t, 1)
	if res, err := sdk.VerifyChainParallel(recs, keys, sdk.VerifyOptions{}, 4); err != nil || res.Records != 1000 {
		t.Fatalf("untouched chain: %+v %v", res, err)
	}
	rng := rand.New(rand.NewPCG(1, 2))

	// Flip any byte of any record: a random sample, plus every byte of the
	// first, a middle and the last record.
	type flip struct{ rec, at int }
	var flips []flip
	for i := 0; i < 200; i++ {
		r := rng.IntN(len(recs))
		flips = append(flips, flip{r, rng.IntN(len(recs[r].Bytes))})
	}
	for _, r := range []int{0, 500, 999} {
		for at := range recs[r].Bytes {
			flips = append(flips, flip{r, at})
		}
	}
	// The chain before the flipped record is untouched and verified above,
	// so most flips verify from the head before it (the verifier's trusted
	// start); every 50th verifies the whole chain, which must give the same
	// failure and count every record before it.
	heads := make([]sdk.Head, len(recs)+1)
	if _, err := sdk.VerifyChain(sdk.NewSliceIterator(recs), keys, sdk.VerifyOptions{}); err != nil {
		t.Fatal(err)
	}
	for i := range recs {
		v, _ := canonical.Open(recs[i].Bytes)
		heads[i+1] = sdk.Head{WriterID: string(v.WriterID()), Stream: string(v.Stream()), Seq: v.Seq(), Hash: recs[i].Hash, SealedSeq: v.Seq()}
	}
	heads[0] = sdk.Head{WriterID: heads[1].WriterID, Stream: heads[1].Stream}
	for n, f := range flips {
		recs[f.rec].Bytes[f.at] ^= 0x20
		from, opts, before := f.rec, sdk.VerifyOptions{Start: &heads[f.rec]}, 0
		if n%50 == 0 {
			from, opts, before = 0, sdk.VerifyOptions{}, f.rec
		}
		_, err := sdk.VerifyChain(sdk.NewSliceIterator(recs[from:]), keys, opts)
		var ve *sdk.VerifyError
		if !errors.As(err, &ve) || ve.Seq != uint64(f.rec+1) || ve.Reason != sdk.ReasonHashMismatch || ve.Verified != before {
			t.Fatalf("flip record %d byte %d: %v", f.rec+1, f.at, err)
		}
		recs[f.rec].Bytes[f.at] ^= 0x20
	}
	expectFailureOnce := func(name string, mut func([]sdk.Sealed) []sdk.Sealed, seq uint64, reason sdk.Reason) {
		expectFailure(t, name, mut(cloneRecs(recs)), keys, seq, reason)
	}
	expectFailureOnce("flip a stored hash", func(r []sdk.Sealed) []sdk.Sealed { r[41].Hash[3] ^= 1; return r }, 42, sdk.ReasonHashMismatch)
	expectFailureOnce("flip a signature", func(r []sdk.Sealed) []sdk.Sealed { r[700].Sig[10] ^= 1; return r }, 701, sdk.ReasonBadSignature)
	expectFailureOnce("delete one", func(r []sdk.Sealed) []sdk.Sealed { return append(r[:300], r[301:]...) }, 301, sdk.ReasonSeqGap)
	expectFailureOnce("duplicate one", func(r []sdk.Sealed) []sdk.Sealed {
		return append(r[:601], append([]sdk.Sealed{r[600]}, r[601:]...)...)
	}, 602, sdk.ReasonSeqGap)
	expectFailureOnce("swap two", func(r []sdk.Sealed) []sdk.Sealed { r[100], r[900] = r[900], r[100]; return r }, 101, sdk.ReasonSeqGap)
	expectFailureOnce("swap neighbours", func(r []sdk.Sealed) []sdk.Sealed { r[10], r[11] = r[11], r[10]; return r }, 11, sdk.ReasonSeqGap)
	expectFailureOnce("replace a signature", func(r []sdk.Sealed) []sdk.Sealed { r[250].Sig = r[251].Sig; return r }, 251, sdk.ReasonBadSignature)
	expectFailureOnce("unknown key", func(r []sdk.Sealed) []sdk.Sealed { r[5].KeyID[0] ^= 1; return r }, 6, sdk.ReasonUnknownKey)
	expectFailureOnce("drop the first", func(r []sdk.Sealed) []sdk.Sealed { return r[1:] }, 1, sdk.ReasonSeqGap)
	expectFailureOnce("unsign a record", func(r []sdk.Sealed) []sdk.Sealed { r[999].Signed = false; return r }, 1000, sdk.ReasonUnsealedTail)

	// A rewritten record with a recomputed hash: the link to the next one
	// breaks.
	expectFailureOnce("rewrite with new hash", func(r []sdk.Sealed) []sdk.Sealed {
		v, _ := canonical.Open(r[400].Bytes)
		rec := v.Decode()
		rec.Reason = "nothing happened"
		b, err := canonical.AppendRecord(nil, &rec, canonical.DefaultLimits)
		if err != nil {
			t.Fatal(err)
		}
		r[400].Bytes, r[400].Hash = b, canonical.RecordHash(b)
		return r
	}, 401, sdk.ReasonBadSignature)
}

// TestTamperSealed: under the checkpoint-sealed policy, cutting the tail
// after the last signed head leaves records nothing vouches for.
func TestTamperSealed(t *testing.T) {
	recs, keys := tamperChain(t, 64)
	if _, err := sdk.VerifyChainParallel(recs, keys, sdk.VerifyOptions{}, 4); err != nil {
		t.Fatal(err)
	}
	// The log ends at seq 1000, sealed; cut it after 970: the last signed
	// head is 960 (64*15), so 961-970 are an unsealed tail.
	expectFailure(t, "cut tail", cloneRecs(recs[:970]), keys, 961, sdk.ReasonUnsealedTail)
	expectFailure(t, "flip unsigned record", func() []sdk.Sealed {
		r := cloneRecs(recs)
		r[500].Bytes[30] ^= 4
		return r
	}(), keys, 501, sdk.ReasonHashMismatch)
	// An attacker who rewrites an unsigned record and every hash up to the
	// next seal is caught at the seal.
	r := cloneRecs(recs)
	for i := 500; i < 512; i++ {
		v, _ := canonical.Open(r[i].Bytes)
		rec := v.Decode()
		if i == 500 {
			rec.Reason = "forged"
		} else {
			rec.Prev = r[i-1].Hash[:]
		}
		b, _ := canonical.AppendRecord(nil, &rec, canonical.DefaultLimits)
		r[i].Bytes, r[i].Hash = b, canonical.RecordHash(b)
	}
	expectFailure(t, "rewrite up to the seal", r, keys, 512, sdk.ReasonBadSignature)
}

// FuzzVerifyRecord: arbitrary bytes never panic, fail only with a
// *VerifyError, and are never accepted under a hash they do not have;
// what is accepted is canonical, and a signature accepted is the one the
// chain's signer made for those very bytes (the fuzzer cannot sign: any
// other pair of bytes and signature accepted would be a forgery). The
// seeds are the chain's records with their signatures, and one record
// with another's signature.
func FuzzVerifyRecord(f *testing.F) {
	recs, keys := tamperChain(f, 1)
	for _, r := range recs[:5] {
		f.Add(r.Bytes, r.Sig[:])
	}
	f.Add(recs[1].Bytes, recs[0].Sig[:])
	f.Fuzz(func(t *testing.T, b, sig []byte) {
		rec := sdk.Sealed{Bytes: b, Hash: canonical.RecordHash(b), Signed: len(sig) == 64, KeyID: recs[0].KeyID}
		copy(rec.Sig[:], sig)
		_, err := sdk.VerifyRecord(rec, keys)
		if err == nil {
			if _, err := canonical.Open(b); err != nil {
				t.Fatalf("accepted non-canonical bytes: %v", err)
			}
			if rec.Signed && !slices.ContainsFunc(recs, func(r sdk.Sealed) bool {
				return bytes.Equal(r.Bytes, b) && bytes.Equal(r.Sig[:], sig)
			}) {
				t.Fatal("accepted a signature the signer did not make for these bytes")
			}
		}
		var ve *sdk.VerifyError
		if err != nil && !errors.As(err, &ve) {
			t.Fatalf("untyped error %T: %v", err, err)
		}
		rec.Hash[0] ^= 1
		if _, err := sdk.VerifyRecord(rec, keys); !errors.Is(err, sdk.ErrHashMismatch) {
			t.Fatalf("wrong hash accepted: %v", err)
		}
	})
}

// TestVerifyNilKeys: a nil key set holds no key. VerifyRecord of a signed
// record says unknown_key (it panicked), and an unsealed tail after a
// Start whose SealedSeq is below it reports a count of 0, not a wrapped
// negative one.
func TestVerifyNilKeys(t *testing.T) {
	l := coreLog(t, sdk.Config{})
	as := coreAppend(t, l, 3)
	if _, err := sdk.VerifyRecord(as[0].Record, nil); !errors.Is(err, sdk.ErrUnknownKey) {
		t.Fatalf("VerifyRecord with nil keys: %v", err)
	}
	unsigned := []sdk.Sealed{as[2].Record}
	unsigned[0].Signed, unsigned[0].Sig, unsigned[0].KeyID = false, sdk.Signature{}, sdk.KeyID{}
	start := as[1].Head
	start.SealedSeq = 0
	_, err := sdk.VerifyChain(sdk.NewSliceIterator(unsigned), nil, sdk.VerifyOptions{Start: &start})
	var ve *sdk.VerifyError
	if !errors.As(err, &ve) || ve.Reason != sdk.ReasonUnsealedTail || ve.Verified < 0 {
		t.Fatalf("unsealed tail after a start: %+v", err)
	}
}

// TestNotCanonicalNamesChain: a record that is Cap'n Proto canonical and
// correctly hashed but breaks the format (attrs out of order) is
// not_canonical, named by its chain and seq as far as its bytes give them,
// alone (VerifyRecord) and first in a chain (VerifyChain).
func TestNotCanonicalNamesChain(t *testing.T) {
	r := coreRecord(7)
	r.V, r.Seq, r.Prev = 1, 1, canonical.Genesis[:]
	r.Attrs = []canonical.Attr{{Key: "z", Value: "1"}, {Key: "a", Value: "2"}}
	b, err := r.AppendCanonical(nil) // no Normalize: the order is the point
	if err != nil {
		t.Fatal(err)
	}
	rec := sdk.Sealed{Bytes: b, Hash: canonical.RecordHash(b)}
	_, err1 := sdk.VerifyRecord(rec, nil)
	_, err2 := sdk.VerifyChain(sdk.NewSliceIterator([]sdk.Sealed{rec}), nil, sdk.VerifyOptions{})
	for i, err := range []error{err1, err2} {
		var ve *sdk.VerifyError
		if !errors.As(err, &ve) || ve.Reason != sdk.ReasonNotCanonical || !errors.Is(err, canonical.ErrInvalid) {
			t.Fatalf("%d: %v, want not_canonical wrapping the FieldError", i, err)
		}
		if ve.WriterID != r.WriterID || ve.Stream != r.Stream || ve.Seq != 1 {
			t.Errorf("%d: names %s/%s seq %d: %v", i, ve.WriterID, ve.Stream, ve.Seq, err)
		}
	}
}
