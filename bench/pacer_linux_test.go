//go:build linux

package bench

import (
	"encoding/binary"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// pacer paces a load generator: a periodic timerfd read through the
// netpoller, as network requests arrive. time.Sleep wakes at 1 ms
// granularity on an idle machine here, which turns a steady rate into
// bursts once a millisecond; a spinning pacer takes a P from the workers.
type pacer struct{ f *os.File }

func newPacer(tb testing.TB, period time.Duration) *pacer {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		tb.Fatal(err)
	}
	ts := unix.NsecToTimespec(int64(period))
	if err := unix.TimerfdSettime(fd, 0, &unix.ItimerSpec{Interval: ts, Value: ts}, nil); err != nil {
		tb.Fatal(err)
	}
	p := &pacer{os.NewFile(uintptr(fd), "timerfd")}
	tb.Cleanup(func() { p.f.Close() })
	return p
}

// wait blocks until the next period and returns how many have passed
// since the last call (at least 1).
func (p *pacer) wait(tb testing.TB) int {
	var b [8]byte
	if _, err := p.f.Read(b[:]); err != nil {
		tb.Fatal(err)
	}
	return int(binary.LittleEndian.Uint64(b[:]))
}
