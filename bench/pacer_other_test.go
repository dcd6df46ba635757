//go:build !linux

package bench

import (
	"testing"
	"time"
)

// pacer paces a load generator with a time.Ticker (coarser than the
// timerfd pacer of Linux).
type pacer struct {
	t      *time.Ticker
	period time.Duration
	last   time.Time
}

func newPacer(tb testing.TB, period time.Duration) *pacer {
	p := &pacer{t: time.NewTicker(period), period: period, last: time.Now()}
	tb.Cleanup(p.t.Stop)
	return p
}

func (p *pacer) wait(tb testing.TB) int {
	now := <-p.t.C
	n := max(1, int(now.Sub(p.last)/p.period))
	p.last = p.last.Add(time.Duration(n) * p.period)
	return n
}
