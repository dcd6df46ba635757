package main

import (
	"runtime"
	"slices"
	"time"
)

// machine describes where a snapshot was taken.
type machine struct {
	GOOS   string `json:"goos"`
	GOARCH string `json:"goarch"`
	CPUs   int    `json:"cpus"`
	Go     string `json:"go"`
	// Stalls is what the stall probe saw in its 250 ms: just before the
	// storm for the shed rig, just after the run for the others.
	Stalls stalls `json:"stalls"`
}

// stalls are the moments a thread that only reads the clock stops making
// progress for more than stallThreshold: interrupts, and on a VM the host
// taking the vCPU away. A call of d microseconds meets one with
// probability about d * PerSecond / 1e6, and is then slower by about the
// stall's length: on the 2-vCPU VM these rigs were written on, 12,000 a
// second of 2.8 us (median) put a 1 us call's p99 at 4-5 us whatever the
// code does.
type stalls struct {
	PerSecond float64 `json:"per_second"`
	P50       float64 `json:"p50_seconds"`
	P90       float64 `json:"p90_seconds"`
	LostShare float64 `json:"lost_share"` // share of the probe's time lost to them
}

const (
	stallThreshold = 2 * time.Microsecond
	stallProbeTime = 250 * time.Millisecond
)

func thisMachine() machine {
	return machine{GOOS: runtime.GOOS, GOARCH: runtime.GOARCH, CPUs: runtime.NumCPU(), Go: runtime.Version(),
		Stalls: probeStalls(stallProbeTime)}
}

// probeStalls reads the clock in a loop for d and reports the gaps
// between consecutive reads longer than stallThreshold (a read takes tens
// of nanoseconds).
func probeStalls(d time.Duration) stalls {
	gaps := make([]time.Duration, 0, 1<<16)
	start := time.Now()
	prev := start
	var lost time.Duration
	for prev.Sub(start) < d {
		t := time.Now()
		if g := t.Sub(prev); g > stallThreshold {
			lost += g
			if len(gaps) < cap(gaps) {
				gaps = append(gaps, g)
			}
		}
		prev = t
	}
	elapsed := prev.Sub(start)
	s := stalls{PerSecond: float64(len(gaps)) / elapsed.Seconds(), LostShare: float64(lost) / float64(elapsed)}
	if len(gaps) > 0 {
		slices.Sort(gaps)
		s.P50 = gaps[len(gaps)/2].Seconds()
		s.P90 = gaps[len(gaps)*9/10].Seconds()
	}
	return s
}
