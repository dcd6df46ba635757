package sdk_test

import (
	"fmt"
	"math"
	"runtime"
	"testing"

	"github.com/rustyonions/ron-audit-go/sdk"
)

// TestParallelAbsurdWorkers: any worker count gives VerifyChain's verdict.
// math.MaxInt panicked (2*workers overflowed past the "fewer than 2
// records a segment" check, then make([]failure, workers)); 0 and
// negative counts mean GOMAXPROCS.
func TestParallelAbsurdWorkers(t *testing.T) {
	recs, keys := tamperChain(t, 8)
	bad := cloneRecs(recs[:100])
	bad[63].Sig[0] ^= 1 // seq 64 is signed: a failure for a segment to report
	for _, c := range []struct {
		name string
		recs []sdk.Sealed
	}{{"intact", recs[:100]}, {"bad signature at seq 64", bad}} {
		want := verdict(sdk.VerifyChain(sdk.NewSliceIterator(c.recs), keys, sdk.VerifyOptions{}))
		for _, w := range []int{math.MinInt, -1, 0, 1, 1 << 40, math.MaxInt/2 + 1, math.MaxInt} {
			got := func() (s string) {
				defer func() {
					if p := recover(); p != nil {
						s = fmt.Sprint("panic: ", p)
					}
				}()
				return verdict(sdk.VerifyChainParallel(c.recs, keys, sdk.VerifyOptions{}, w))
			}()
			if got != want {
				t.Errorf("%s, %d workers: %s, want %s", c.name, w, got, want)
			}
		}
	}
}

// TestParallelWorkersCapped: a worker count far past the cores the
// verification can use (here one segment per 2 records) runs no more
// segments than 4 * GOMAXPROCS does: it allocated a segment, a goroutine
// and a 24 KiB hasher per 2 records.
func TestParallelWorkersCapped(t *testing.T) {
	recs, keys := tamperChain(t, 8)
	limit := 4 * runtime.GOMAXPROCS(0)
	allocs := func(workers int) float64 {
		return testing.AllocsPerRun(5, func() {
			if _, err := sdk.VerifyChainParallel(recs, keys, sdk.VerifyOptions{}, workers); err != nil {
				t.Fatal(err)
			}
		})
	}
	capped, huge := allocs(limit), allocs(len(recs)/2)
	if huge > 2*capped+20 {
		t.Errorf("%d workers: %.0f allocations a verification, %d workers (4 * GOMAXPROCS): %.0f", len(recs)/2, huge, limit, capped)
	}
}
