//go:build linux

package pace

import (
	"encoding/binary"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// A Pacer ticks every period.
type Pacer struct{ f *os.File }

// New starts a Pacer; Close stops it.
func New(period time.Duration) (*Pacer, error) {
	if period <= 0 {
		return nil, fmt.Errorf("pace: period %v", period)
	}
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("pace: timerfd_create: %w", err)
	}
	ts := unix.NsecToTimespec(int64(period))
	if err := unix.TimerfdSettime(fd, 0, &unix.ItimerSpec{Interval: ts, Value: ts}, nil); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("pace: timerfd_settime: %w", err)
	}
	return &Pacer{os.NewFile(uintptr(fd), "timerfd")}, nil
}

// Wait blocks until the next tick and returns how many periods have passed
// since the last call (at least 1): a generator that woke late emits that
// many to keep its rate.
func (p *Pacer) Wait() (int, error) {
	var b [8]byte
	if _, err := p.f.Read(b[:]); err != nil {
		return 0, fmt.Errorf("pace: read timerfd: %w", err)
	}
	return int(binary.LittleEndian.Uint64(b[:])), nil
}

// Close stops the Pacer.
func (p *Pacer) Close() error { return p.f.Close() }
