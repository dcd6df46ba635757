package sdk_test

import (
	"testing"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/sdk"
)

// quietFollower is an Observer that is a KeyFollower and a
// RetireObserver, as the checkpoint Keeper is, and does nothing: what an
// append costs with one beside it is the Log's own.
type quietFollower struct{ retired int }

func (*quietFollower) Committed(string, string, uint64, canonical.Hash, bool) {}
func (*quietFollower) Durable(string, string, uint64, bool)                   {}
func (*quietFollower) FollowKey(sdk.Signer)                                   {}
func (o *quietFollower) Retired(string, string, sdk.KeyID, uint64)            { o.retired++ }

// TestAllocsAppendFollower: the Log tells a KeyFollower and
// RetireObserver of a chain's first record (Log.started); the steady-state
// Append of a chain with records must stay free of allocations with one
// as Observer, after a rotation too (the followed key moved on).
func TestAllocsAppendFollower(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under -race")
	}
	for _, cfg := range []sdk.Config{{}, {SealEvery: 100}} {
		cfg.Store = sdk.NewMemStore(256 << 10)
		o := &quietFollower{}
		cfg.Observer = o
		l := coreLog(t, cfg)
		rec := coreRecord(1)
		for i := 0; i < 3000; i++ { // past the store bound and the dedupe window
			rec.TsMs++
			if _, err := l.Append(&rec); err != nil {
				t.Fatal(err)
			}
			if i == 1000 {
				if _, err := l.RotateKey(rotateSigner(t, "allocs follower next")); err != nil {
					t.Fatal(err)
				}
			}
		}
		if a := testing.AllocsPerRun(500, func() {
			rec.TsMs++
			if _, err := l.Append(&rec); err != nil {
				t.Fatal(err)
			}
		}); a != 0 {
			t.Fatalf("Append (SealEvery %d) with a KeyFollower: %v allocs/op", cfg.SealEvery, a)
		}
		if o.retired != 1 {
			t.Errorf("the follower heard %d retirements, want 1 (the rotation's transition; no chain started with another key)", o.retired)
		}
	}
}
