package sdk_test

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rustyonions/ron-audit-go/sdk"
)

// TestReadyShedRateAtMostOne: Ready's shed rate, measured while every
// offer is shed, is a share: never above 1. It was: a record offered
// before the baseline sample and shed after it (in transit between its
// offer and its shed when the baseline was read) counts as shed in the
// window but not as offered in it, and rates like 1.0047 came out, so
// Ready reported the emitter degraded with ShedBudget 1, the budget that
// allows any share shed.
func TestReadyShedRateAtMostOne(t *testing.T) {
	s := newCmdSigner(t)
	release, entered := s.gateAt(1)
	// A ReadyWindow of 1ns: every Ready samples, and the one before it is
	// its baseline.
	e := newEmitter(t, coreLog(t, sdk.Config{Signer: s}), sdk.EmitterOptions{Workers: 1, Depth: 1, ReadyWindow: time.Nanosecond, ShedBudget: 1})
	t.Cleanup(s.releaseAll)
	t.Cleanup(release)
	first := emitRecord(0, 0, "s")
	if err := e.TryEmit(&first); err != nil {
		t.Fatal(err)
	}
	<-entered // the only slot is held: every TryEmit now sheds
	var stop atomic.Bool
	var offered atomic.Uint64
	var wg sync.WaitGroup
	t.Cleanup(func() { stop.Store(true); wg.Wait() })
	for p := range 2 {
		wg.Go(func() {
			for n := 1; !stop.Load(); n++ {
				rec := emitRecord(p, n, "s")
				e.TryEmit(&rec)
				offered.Add(1)
			}
		})
	}
	for range 2000 {
		from := offered.Load()
		for offered.Load()-from < 210 { // past minShedSample
		}
		err := e.Ready()
		var d *sdk.DegradedError
		if errors.As(err, &d) && d.ShedRate > 1 {
			t.Fatalf("Ready's shed rate %v: more records shed than offered", d.ShedRate)
		}
		if err != nil {
			t.Fatalf("Ready with ShedBudget 1 (any share may be shed): %v", err)
		}
	}
}
