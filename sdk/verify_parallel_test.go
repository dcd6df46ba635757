package sdk_test

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/sdk"
)

// verdict is everything a verification reports, for comparing two.
func verdict(res sdk.Result, err error) string {
	var ve *sdk.VerifyError
	if errors.As(err, &ve) {
		return fmt.Sprintf("%s/%s seq %d %s expected %q got %q, %d verified; %d records",
			ve.WriterID, ve.Stream, ve.Seq, ve.Reason, ve.Expected, ve.Got, ve.Verified, res.Records)
	}
	if err != nil {
		return "error " + err.Error()
	}
	return fmt.Sprintf("ok: %d records, head %+v", res.Records, res.Head)
}

// chainCase is a chain to verify: a slice of a genuine chain with up to
// three faults, and the trusted start it is verified from.
type chainCase struct {
	recs   []sdk.Sealed
	keys   *sdk.KeySet
	start  *sdk.Head
	base   []sdk.Sealed // the genuine chain recs was cut from, at from
	from   int
	faults []string
}

// newChainCase cuts and damages a chain with choices from pick (pick(n)
// is in [0, n)): rng.IntN in the test, the fuzzer's bytes in the fuzz
// target. every is signed at every record, sealed every 8th.
func newChainCase(t testing.TB, pick func(n int) int, every, sealed []sdk.Sealed, everyKeys, sealedKeys *sdk.KeySet) chainCase {
	c := chainCase{base: every, keys: everyKeys}
	if pick(2) == 1 {
		c.base, c.keys = sealed, sealedKeys
	}
	if pick(3) == 2 { // from a trusted head at seq 10
		v, _ := canonical.Open(c.base[9].Bytes)
		c.start = &sdk.Head{WriterID: string(v.WriterID()), Stream: string(v.Stream()), Seq: 10, Hash: c.base[9].Hash, SealedSeq: uint64(pick(11))}
		c.from = 10
	}
	size := []int{0, 1, 2, 3, 7, 16, 17, 33, 100}[pick(9)]
	recs := cloneRecs(c.base[c.from : c.from+size])
	for f := pick(4); f > 0 && len(recs) > 0; f-- {
		i := pick(len(recs))
		if pick(3) == 0 { // the first or the last record
			i = []int{0, len(recs) - 1}[pick(2)]
		}
		kind := pick(9)
		c.faults = append(c.faults, fmt.Sprintf("%d@%d", kind, i))
		switch kind {
		case 0:
			recs[i].Bytes[pick(len(recs[i].Bytes))] ^= byte(1 + pick(255))
		case 1:
			recs = append(recs[:i], recs[i+1:]...)
		case 2:
			recs = append(recs[:i+1], append([]sdk.Sealed{recs[i]}, recs[i+1:]...)...)
		case 3:
			j := pick(len(recs))
			recs[i], recs[j] = recs[j], recs[i]
		case 4:
			recs[i].Sig[pick(64)] ^= 1
		case 5:
			recs[i].Signed = !recs[i].Signed
		case 6:
			recs[i].KeyID[0] ^= 1
		case 7:
			recs[i].Hash[0] ^= 1
		case 8: // the same record in another stream, rehashed, unsigned
			v, err := canonical.Open(recs[i].Bytes)
			if err != nil { // an earlier fault changed its bytes
				continue
			}
			r := v.Decode()
			r.Stream = "other"
			b, err := canonical.AppendRecord(nil, &r, canonical.DefaultLimits)
			if err != nil {
				t.Fatal(err)
			}
			recs[i] = sdk.Sealed{Bytes: b, Hash: canonical.RecordHash(b)}
		}
	}
	c.recs = recs
	return c
}

// check verifies c with VerifyChain and VerifyChainParallel on each of
// workers, with and without an unsealed tail allowed, and fails unless
// they report the same, and unless what they accept is genuine: every
// record up to the last signed one it verified has the bytes of the
// genuine chain's record at that place.
func (c chainCase) check(t *testing.T, name string, workers []int) {
	t.Helper()
	for _, allow := range []bool{false, true} {
		opts := sdk.VerifyOptions{AllowUnsealedTail: allow, Start: c.start}
		res, err := sdk.VerifyChain(sdk.NewSliceIterator(c.recs), c.keys, opts)
		want := verdict(res, err)
		for _, w := range workers {
			if got := verdict(sdk.VerifyChainParallel(c.recs, c.keys, opts, w)); got != want {
				t.Fatalf("%s (%d records, faults %v, start %v, unsealed tail allowed %v), %d workers:\nsequential: %s\nparallel:   %s",
					name, len(c.recs), c.faults, c.start != nil, allow, w, want, got)
			}
		}
		if err != nil {
			continue
		}
		for k, r := range c.recs {
			seq := uint64(c.from + k + 1)
			if seq > res.Head.SealedSeq {
				break
			}
			if !bytes.Equal(r.Bytes, c.base[c.from+k].Bytes) {
				t.Fatalf("%s (faults %v, unsealed tail allowed %v): accepted, sealed to seq %d, but the record at seq %d is not the genuine one",
					name, c.faults, allow, res.Head.SealedSeq, seq)
			}
		}
	}
}

// TestParallelMatchesSequential: on chains of 0 to 100 records with up to
// three faults of every kind (a changed byte, a record deleted, repeated,
// swapped, a signature changed or dropped, another key id, a wrong stored
// hash, a record of another stream), from genesis or from a trusted
// start, every-record signed or sealed every 8, VerifyChainParallel on 2
// to 8 workers reports exactly what VerifyChain reports: the first
// failure, its seq, reason, evidence and count, or the same result. And
// nothing accepted differs from the genuine chain where a signature
// vouches for it.
func TestParallelMatchesSequential(t *testing.T) {
	every, everyKeys := tamperChain(t, 1)
	sealed, sealedKeys := tamperChain(t, 8)
	rng := rand.New(rand.NewPCG(7, 9))
	iters := 600
	if testing.Short() || raceEnabled { // about 100 s under the race detector
		iters = 60
	}
	for iter := 0; iter < iters; iter++ {
		c := newChainCase(t, rng.IntN, every, sealed, everyKeys, sealedKeys)
		c.check(t, fmt.Sprintf("iteration %d", iter), []int{2, 3, 4, 5, 6, 7, 8})
	}
}

// FuzzVerifyChain is TestParallelMatchesSequential with the fuzzer
// choosing the cut, the start and the faults: two bytes per choice.
func FuzzVerifyChain(f *testing.F) {
	every, everyKeys := tamperChain(f, 1)
	sealed, sealedKeys := tamperChain(f, 8)
	f.Add([]byte{})
	f.Add([]byte{0, 0, 0, 1, 0, 0, 0, 8, 0, 3, 0, 50, 0, 1, 0, 0, 0, 5, 0, 0})
	f.Fuzz(func(t *testing.T, choices []byte) {
		pick := func(n int) int {
			if len(choices) < 2 {
				return 0
			}
			v := int(choices[0])<<8 | int(choices[1])
			choices = choices[2:]
			return v % n
		}
		c := newChainCase(t, pick, every, sealed, everyKeys, sealedKeys)
		c.check(t, "fuzz case", []int{2, 5})
	})
}
