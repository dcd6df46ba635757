package sdk_test

import (
	"errors"
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
	var offered atomic.Uint64
	// A ReadyWindow of 1ns: every Ready samples, and the one before it is
	// its baseline.
	e, _, _ := shedStorm(t, sdk.EmitterOptions{Workers: 1, Depth: 1, ReadyWindow: time.Nanosecond, ShedBudget: 1}, func() { offered.Add(1) })
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
