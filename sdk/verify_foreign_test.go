package sdk_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/sdk"
)

// foreignRecord is rec as a record of stream, rehashed and unsigned: a
// record that holds on its own, of another chain.
func foreignRecord(t *testing.T, rec sdk.Sealed, stream string) sdk.Sealed {
	t.Helper()
	v, err := canonical.Open(rec.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	r := v.Decode()
	r.Stream = stream
	b, err := canonical.AppendRecord(nil, &r, canonical.DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	return sdk.Sealed{Bytes: b, Hash: canonical.RecordHash(b)}
}

// TestVerifyChainForeignRecordNamesChain: a record of another stream in
// the chain verified (streams interleaved in one iterator) fails
// prev_mismatch at the place it holds in the chain, and the error names
// the chain verified, as for every other failure at that place: not the
// other stream, at a seq that is not its own.
func TestVerifyChainForeignRecordNamesChain(t *testing.T) {
	base, keys := tamperChain(t, 1)
	recs := cloneRecs(base[:40])
	recs[24] = foreignRecord(t, recs[24], "other")
	v, _ := canonical.Open(base[9].Bytes)
	start := &sdk.Head{WriterID: string(v.WriterID()), Stream: string(v.Stream()), Seq: 10, Hash: base[9].Hash, SealedSeq: 10}
	fromStart := cloneRecs(base[10:20])
	fromStart[0] = foreignRecord(t, fromStart[0], "other")
	for _, c := range []struct {
		name     string
		recs     []sdk.Sealed
		start    *sdk.Head
		seq      uint64
		verified int
	}{
		{"from genesis", recs, nil, 25, 24},
		{"first read after a start", fromStart, start, 11, 0},
	} {
		for _, workers := range []int{0, 4} {
			var err error
			if workers == 0 {
				_, err = sdk.VerifyChain(sdk.NewSliceIterator(c.recs), keys, sdk.VerifyOptions{Start: c.start})
			} else {
				_, err = sdk.VerifyChainParallel(c.recs, keys, sdk.VerifyOptions{Start: c.start}, workers)
			}
			var ve *sdk.VerifyError
			if !errors.As(err, &ve) || ve.Reason != sdk.ReasonPrevMismatch {
				t.Fatalf("%s, %d workers: %v, want prev_mismatch", c.name, workers, err)
			}
			if ve.WriterID != "svc-gateway@inst-1" || ve.Stream != "reads" || ve.Seq != c.seq || ve.Verified != c.verified {
				t.Errorf("%s, %d workers: failure at %s/%s seq %d after %d, want svc-gateway@inst-1/reads seq %d after %d: %v",
					c.name, workers, ve.WriterID, ve.Stream, ve.Seq, ve.Verified, c.seq, c.verified, err)
			}
			if !strings.Contains(ve.Expected, "/reads") || !strings.Contains(ve.Got, "/other") {
				t.Errorf("%s: expected %q, got %q: want the chain verified and the record's", c.name, ve.Expected, ve.Got)
			}
		}
	}
}
