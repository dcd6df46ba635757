package sdk_test

import (
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

// TestParallelMatchesSequential: on chains of 0 to 100 records with up to
// three faults of every kind (a changed byte, a record deleted, repeated,
// swapped, a signature changed or dropped, another key id, a wrong stored
// hash, a record of another stream), from genesis or from a trusted
// start, every-record signed or sealed every 8, VerifyChainParallel on 2
// to 8 workers reports exactly what VerifyChain reports: the first
// failure, its seq, reason, evidence and count, or the same result.
func TestParallelMatchesSequential(t *testing.T) {
	every, everyKeys := tamperChain(t, 1)
	sealed, sealedKeys := tamperChain(t, 8)
	rng := rand.New(rand.NewPCG(7, 9))
	iters := 600
	if testing.Short() || raceEnabled { // about 100 s under the race detector
		iters = 60
	}
	for iter := 0; iter < iters; iter++ {
		base, keys := every, everyKeys
		if iter%2 == 1 {
			base, keys = sealed, sealedKeys
		}
		var start *sdk.Head
		from := 0
		if iter%3 == 2 { // from a trusted head at seq 10
			v, _ := canonical.Open(base[9].Bytes)
			start = &sdk.Head{WriterID: string(v.WriterID()), Stream: string(v.Stream()), Seq: 10, Hash: base[9].Hash, SealedSeq: uint64(rng.IntN(11))}
			from = 10
		}
		size := []int{0, 1, 2, 3, 7, 16, 17, 33, 100}[rng.IntN(9)]
		recs := cloneRecs(base[from : from+size])
		faults := []string{}
		for f := rng.IntN(4); f > 0 && len(recs) > 0; f-- {
			i := rng.IntN(len(recs))
			if rng.IntN(3) == 0 { // the first or the last record
				i = []int{0, len(recs) - 1}[rng.IntN(2)]
			}
			kind := rng.IntN(9)
			faults = append(faults, fmt.Sprintf("%d@%d", kind, i))
			switch kind {
			case 0:
				recs[i].Bytes[rng.IntN(len(recs[i].Bytes))] ^= byte(1 + rng.IntN(255))
			case 1:
				recs = append(recs[:i], recs[i+1:]...)
			case 2:
				recs = append(recs[:i+1], append([]sdk.Sealed{recs[i]}, recs[i+1:]...)...)
			case 3:
				j := rng.IntN(len(recs))
				recs[i], recs[j] = recs[j], recs[i]
			case 4:
				recs[i].Sig[rng.IntN(64)] ^= 1
			case 5:
				recs[i].Signed = !recs[i].Signed
			case 6:
				recs[i].KeyID[0] ^= 1
			case 7:
				recs[i].Hash[0] ^= 1
			case 8: // the same record in another stream, rehashed, unsigned
				v, _ := canonical.Open(recs[i].Bytes)
				r := v.Decode()
				r.Stream = "other"
				b, err := canonical.AppendRecord(nil, &r, canonical.DefaultLimits)
				if err != nil {
					t.Fatal(err)
				}
				recs[i] = sdk.Sealed{Bytes: b, Hash: canonical.RecordHash(b)}
			}
		}
		for _, allow := range []bool{false, true} {
			opts := sdk.VerifyOptions{AllowUnsealedTail: allow, Start: start}
			want := verdict(sdk.VerifyChain(sdk.NewSliceIterator(recs), keys, opts))
			for w := 2; w <= 8; w++ {
				if got := verdict(sdk.VerifyChainParallel(recs, keys, opts, w)); got != want {
					t.Fatalf("iteration %d (%d records, faults %v, start %v, unsealed tail allowed %v), %d workers:\nsequential: %s\nparallel:   %s",
						iter, len(recs), faults, start != nil, allow, w, want, got)
				}
			}
		}
	}
}
