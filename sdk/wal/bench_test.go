package wal

import (
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"
)

// benchAppenders is how many goroutines append at once in the WAL
// benchmarks: enough to fill the largest batch.
const benchAppenders = 64

// benchAppend measures AppendDurable of 1 KiB payloads from
// benchAppenders goroutines (ns/op is per durable frame, all goroutines
// together) and reports the latency percentiles of the fsyncs that made
// frames durable, from OnFsync.
func benchAppend(b *testing.B, opts Options) {
	var (
		mu     sync.Mutex
		durs   []time.Duration
		frames int
	)
	opts.OnFsync = func(d time.Duration, n int) {
		if n == 0 {
			return // a segment header's fsync: no append waits on it (as wal_fsync_seconds)
		}
		mu.Lock()
		durs = append(durs, d)
		frames += n
		mu.Unlock()
	}
	l, _ := mustOpen(b, logDir(b), opts)
	payload := payloadOfSize(1, 1024)
	mu.Lock()
	durs, frames = durs[:0], 0
	mu.Unlock()
	b.SetBytes(int64(len(payload)))
	b.SetParallelism((benchAppenders + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := l.AppendDurable(payload); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	if err := l.Close(); err != nil {
		b.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(durs) == 0 {
		return
	}
	slices.Sort(durs)
	pct := func(p float64) float64 {
		return float64(durs[min(len(durs)-1, int(p*float64(len(durs))))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "fsync-p50-ms")
	b.ReportMetric(pct(0.95), "fsync-p95-ms")
	b.ReportMetric(pct(0.99), "fsync-p99-ms")
	b.ReportMetric(float64(frames)/float64(len(durs)), "frames/fsync")
}

func BenchmarkWALAppendAlways(b *testing.B) { benchAppend(b, Options{Fsync: FsyncAlways}) }

func BenchmarkWALAppendBatch8(b *testing.B) {
	benchAppend(b, Options{Fsync: FsyncBatch, MaxBatch: 8})
}

func BenchmarkWALAppendBatch64(b *testing.B) {
	benchAppend(b, Options{Fsync: FsyncBatch, MaxBatch: 64})
}
