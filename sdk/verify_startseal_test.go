package sdk_test

import (
	"errors"
	"testing"

	"github.com/rustyonions/ron-audit-go/sdk"
)

// TestVerifyStartSealedSeqPastStart: Start.SealedSeq counts as a
// signature before the records read (VerifyOptions.Start), so a head
// that claims one past its own seq vouches for no record read: unsigned
// records after Start are an unsealed tail from Start.Seq+1.
func TestVerifyStartSealedSeqPastStart(t *testing.T) {
	base, keys := tamperChain(t, 1)
	recs := cloneRecs(base[10:60])
	for i := range recs {
		recs[i].Signed, recs[i].Sig, recs[i].KeyID = false, sdk.Signature{}, sdk.KeyID{}
	}
	start := &sdk.Head{WriterID: "svc-gateway@inst-1", Stream: "reads", Seq: 10, Hash: base[9].Hash, SealedSeq: 50}
	for _, workers := range []int{0, 4} {
		verify := func(opts sdk.VerifyOptions) (sdk.Result, error) {
			if workers == 0 {
				return sdk.VerifyChain(sdk.NewSliceIterator(recs), keys, opts)
			}
			return sdk.VerifyChainParallel(recs, keys, opts, workers)
		}
		_, err := verify(sdk.VerifyOptions{Start: start})
		var ve *sdk.VerifyError
		if !errors.As(err, &ve) || ve.Reason != sdk.ReasonUnsealedTail || ve.Seq != 11 || ve.Verified != 0 {
			t.Errorf("%d workers: %v, want unsealed_tail at seq 11 after 0", workers, err)
		}
		res, err := verify(sdk.VerifyOptions{Start: start, AllowUnsealedTail: true})
		if err != nil || res.Head.SealedSeq != 10 {
			t.Errorf("%d workers, tail allowed: sealed to %d (%v), want 10: Start's own seq", workers, res.Head.SealedSeq, err)
		}
	}
}
