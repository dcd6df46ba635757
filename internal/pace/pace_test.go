package pace

import (
	"testing"
	"time"
)

// TestRate: over 100 ms a 100 us Pacer reports 1000 periods, give or take
// the last one, however late Wait was called.
func TestRate(t *testing.T) {
	// start is read before the timer is armed: periods count from New,
	// and a loaded machine can delay a start read after it past a period
	// (it once gave 1002 ticks in 100.05 ms).
	start := time.Now()
	p, err := New(100 * time.Microsecond)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ticks, waits := 0, 0
	var last time.Time
	for last.Sub(start) < 100*time.Millisecond {
		n, err := p.Wait()
		last = time.Now()
		if err != nil || n < 1 {
			t.Fatalf("Wait: %d, %v", n, err)
		}
		ticks += n
		if waits++; waits%50 == 0 {
			time.Sleep(2 * time.Millisecond) // late: the next Wait catches up
		}
	}
	want := int(last.Sub(start) / (100 * time.Microsecond))
	if ticks < want-20 || ticks > want+1 {
		t.Fatalf("%d ticks in %v, want about %d", ticks, last.Sub(start), want)
	}
	if _, err := New(0); err == nil {
		t.Fatal("New(0) accepted")
	}
}
