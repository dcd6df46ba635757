package sdk_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/rustyonions/ron-audit-go/sdk"
)

// TestVerifyDirChainCountsToFailure: a bad signature, which the durable
// verifier finds in a batch after reading on, leaves VerifyDirChain's
// Result where VerifyChain's would be: Records counts the chain's
// records verified before the failure (its VerifyError.Verified), and
// Head is the last of them, not the last record read past it.
func TestVerifyDirChainCountsToFailure(t *testing.T) {
	dir, frames, _, keys := interleavedLog(t)
	// reads seq 5 (frame 8) with the signature of reads seq 6 (frame 10).
	p := bytes.Clone(frames[8].Payload)
	copy(p[10:74], frames[10].Payload[10:74])
	rewriteFrame(t, frames[8], p)

	var seq4 sdk.Sealed
	n := 0
	res, err := sdk.VerifyDirChain(dir, "svc-gateway@inst-1", "reads", keys, false, func(rec sdk.Sealed) {
		if n++; n == 4 {
			seq4 = rec
		}
	})
	var ve *sdk.VerifyError
	if !errors.As(err, &ve) || ve.Reason != sdk.ReasonBadSignature || ve.Seq != 5 || ve.Verified != 4 {
		t.Fatalf("VerifyDirChain: %v, want bad_signature at seq 5 after 4", err)
	}
	want := sdk.Head{WriterID: "svc-gateway@inst-1", Stream: "reads", Seq: 4, Hash: seq4.Hash, SealedSeq: 4}
	if res.Records != 4 || res.Head != want {
		t.Errorf("VerifyDirChain's Result after the failure: %d records, head %+v; want 4 records, head %+v", res.Records, res.Head, want)
	}
}
