package sdk_test

import (
	"testing"

	"github.com/rustyonions/ron-audit-go/sdk"
)

// Append and verify allocate nothing in steady state (a MemStore at its
// bound, the dedupe window full): asserted here, measured in bench/.

func TestAllocsAppend(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under -race")
	}
	for _, cfg := range []sdk.Config{{}, {SealEvery: 100}} {
		cfg.Store = sdk.NewMemStore(256 << 10)
		l := coreLog(t, cfg)
		rec := coreRecord(1)
		for i := 0; i < 3000; i++ { // past the store bound and the dedupe window
			rec.TsMs++
			if _, err := l.Append(&rec); err != nil {
				t.Fatal(err)
			}
		}
		if a := testing.AllocsPerRun(500, func() {
			rec.TsMs++
			if _, err := l.Append(&rec); err != nil {
				t.Fatal(err)
			}
		}); a != 0 {
			t.Fatalf("Append (SealEvery %d): %v allocs/op", cfg.SealEvery, a)
		}
	}
}

func TestAllocsVerify(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under -race")
	}
	recs, keys := tamperChain(t, 1)
	if a := testing.AllocsPerRun(100, func() {
		if _, err := sdk.VerifyRecord(recs[7], keys); err != nil {
			t.Fatal(err)
		}
		if err := sdk.VerifyHash(recs[7]); err != nil {
			t.Fatal(err)
		}
	}); a != 0 {
		t.Fatalf("VerifyRecord: %v allocs/op", a)
	}
	// VerifyChain allocates per call (the head's names; its hasher comes
	// from a pool), never per record.
	chain := func(n int) float64 {
		return testing.AllocsPerRun(5, func() {
			if _, err := sdk.VerifyChain(sdk.NewSliceIterator(recs[:n]), keys, sdk.VerifyOptions{}); err != nil {
				t.Fatal(err)
			}
		})
	}
	if one, many := chain(1), chain(500); many != one {
		t.Fatalf("VerifyChain: %v allocs for 1 record, %v for 500", one, many)
	}
}
