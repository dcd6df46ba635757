package sdk_test

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/rustyonions/ron-audit-go/sdk"
)

// TestRotateKeyLockOrderStress: rotateLocked takes each chain's lock while
// it holds l.mu (the size check over every chain, and moving the chains
// with no record to the new key). Every other path that takes both must
// take them in that order: a path holding a chain's lock that waited for
// l.mu (even a read lock, behind the rotation's pending write lock) would
// deadlock with it. The paths that take both run here beside a stream of
// rotations: appends that start chains (l.chain takes l.mu), appends that
// fail and leave chains with no record, Head, Heads, Seal, SealAll, Keys.
// A deadlock shows as the test binary's timeout; the race detector checks
// the fields the rotation moves (signer of chains with no record).
func TestRotateKeyLockOrderStress(t *testing.T) {
	rounds := 30
	if testing.Short() {
		rounds = 10
	}
	l := coreLog(t, sdk.Config{Signer: rotateSigner(t, "lock order 0")})
	var stop atomic.Bool
	var wg sync.WaitGroup
	var appended, refused atomic.Int64
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				r := coreRecord(i)
				r.Stream = fmt.Sprintf("s%d-%d", w, i%17)
				if i%5 == 0 {
					// Too large: a chain with no record if it is new.
					r.Stream = fmt.Sprintf("empty%d-%d", w, i%23)
					r.Reason = strings.Repeat("x", 5000)
				}
				if _, err := l.Append(&r); err != nil {
					if !errors.Is(err, sdk.ErrConfig) && !strings.Contains(err.Error(), "limit") {
						t.Errorf("Append: %v", err)
						return
					}
					refused.Add(1)
					continue
				}
				appended.Add(1)
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; !stop.Load(); i++ {
			_ = l.Heads()
			_, _ = l.Head("svc-gateway@inst-1", fmt.Sprintf("empty0-%d", i%23))
			_, _ = l.Seal("svc-gateway@inst-1", fmt.Sprintf("s1-%d", i%17))
			_ = l.SealAll()
			_ = l.Keys().Len()
		}
	}()
	// The rotations must run beside appends of both kinds: on a loaded
	// machine the appenders were not yet scheduled when all the
	// rotations had run, and the check below failed.
	for (appended.Load() == 0 || refused.Load() == 0) && !t.Failed() {
		runtime.Gosched()
	}
	for n := 1; n <= rounds; n++ {
		if _, err := l.RotateKey(rotateSigner(t, fmt.Sprintf("lock order %d", n))); err != nil {
			t.Errorf("RotateKey %d: %v", n, err)
		}
	}
	stop.Store(true)
	wg.Wait()
	if appended.Load() == 0 || refused.Load() == 0 {
		t.Fatalf("the stress ran no append (%d) or no refused one (%d)", appended.Load(), refused.Load())
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}
