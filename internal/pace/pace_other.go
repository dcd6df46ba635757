//go:build !linux

package pace

import (
	"fmt"
	"time"
)

// A Pacer ticks every period (a time.Ticker here: coarser than Linux's).
type Pacer struct {
	t      *time.Ticker
	period time.Duration
	last   time.Time
}

// New starts a Pacer; Close stops it.
func New(period time.Duration) (*Pacer, error) {
	if period <= 0 {
		return nil, fmt.Errorf("pace: period %v", period)
	}
	return &Pacer{t: time.NewTicker(period), period: period, last: time.Now()}, nil
}

// Wait blocks until the next tick and returns how many periods have passed
// since the last call (at least 1).
func (p *Pacer) Wait() (int, error) {
	now := <-p.t.C
	n := max(1, int(now.Sub(p.last)/p.period))
	p.last = p.last.Add(time.Duration(n) * p.period)
	return n, nil
}

// Close stops the Pacer.
func (p *Pacer) Close() error {
	p.t.Stop()
	return nil
}
