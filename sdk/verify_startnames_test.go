package sdk_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/rustyonions/ron-audit-go/sdk"
)

// countingIter counts the records asked of it.
type countingIter struct {
	sdk.Iterator
	next int
}

func (c *countingIter) Next() bool { c.next++; return c.Iterator.Next() }

// TestVerifyStartWithoutNames: a Start that names no chain (a writer or a
// stream empty, which no record has) is refused as a configuration error
// before any record is read. It failed every record instead, each as a
// prev_mismatch that "expected a record of "/"" (no chain named)".
func TestVerifyStartWithoutNames(t *testing.T) {
	recs, keys := tamperChain(t, 1)
	for _, start := range []sdk.Head{
		{Seq: 10, Hash: recs[9].Hash},
		{WriterID: "svc-gateway@inst-1", Seq: 10, Hash: recs[9].Hash},
		{Stream: "reads", Seq: 10, Hash: recs[9].Hash},
		{}, // not "from genesis": that is no Start
	} {
		it := &countingIter{Iterator: sdk.NewSliceIterator(recs[10:20])}
		res, err := sdk.VerifyChain(it, keys, sdk.VerifyOptions{Start: &start})
		if !errors.Is(err, sdk.ErrConfig) || !strings.Contains(err.Error(), "Start") || it.next != 0 || res.Records != 0 {
			t.Errorf("VerifyChain from %+v: %v, %d records asked, %d verified; want ErrConfig naming Start, none read", start, err, it.next, res.Records)
		}
		for _, w := range []int{1, 2, 4} {
			if _, err := sdk.VerifyChainParallel(recs[10:], keys, sdk.VerifyOptions{Start: &start}, w); !errors.Is(err, sdk.ErrConfig) {
				t.Errorf("VerifyChainParallel from %+v, %d workers: %v, want ErrConfig", start, w, err)
			}
		}
	}
	// Named, as checkpoint.VerifyChain is given an empty chain's names:
	// still accepted.
	named := sdk.Head{WriterID: "svc-gateway@inst-1", Stream: "reads"}
	if res, err := sdk.VerifyChain(sdk.NewSliceIterator(nil), keys, sdk.VerifyOptions{Start: &named}); err != nil || res.Records != 0 {
		t.Errorf("an empty chain from a named seq 0: %+v, %v", res, err)
	}
}
