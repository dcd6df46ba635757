package sdk_test

import (
	"testing"

	"github.com/rustyonions/ron-audit-go/sdk"
)

// TestParallelStopsAfterFailure: once a segment has failed, the segments
// after it read no more records: the failure reported is at a lower seq,
// and nothing they would find changes it. Run in order (segment 0 to the
// end first), the records read are exactly those up to the failing one;
// every segment read to its end before.
func TestParallelStopsAfterFailure(t *testing.T) {
	recs, keys := tamperChain(t, 8)
	for _, c := range []struct {
		name string
		at   int // index of the record made bad
	}{{"first record", 0}, {"in the second segment", 300}, {"the last record", 999}} {
		bad := cloneRecs(recs)
		bad[c.at].Hash[0] ^= 1
		want := verdict(sdk.VerifyChain(sdk.NewSliceIterator(bad), keys, sdk.VerifyOptions{}))
		read, res, err := sdk.VerifyChainParallelInOrder(bad, keys, sdk.VerifyOptions{}, 4)
		if got := verdict(res, err); got != want {
			t.Errorf("%s: %s, want %s", c.name, got, want)
		}
		if read != c.at+1 {
			t.Errorf("%s (index %d) bad, 4 segments of 250: %d records read, want %d", c.name, c.at, read, c.at+1)
		}
	}
	// Without a failure every segment reads to its end.
	if read, _, err := sdk.VerifyChainParallelInOrder(recs, keys, sdk.VerifyOptions{}, 4); err != nil || read != len(recs) {
		t.Errorf("intact chain: %d records read, %v; want %d, nil", read, err, len(recs))
	}
}
