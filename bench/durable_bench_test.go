package bench

import (
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/wal"
)

// The durable benches append the 1 KiB record from 256 goroutines (128 per
// core here) over 4 streams, every record signed, and compare the durable
// log with batch fsync against the same load in RAM in the same run.

func parallelAppend(b *testing.B, l *sdk.Log) {
	rec, _ := record1KiB(b)
	rec.Seq, rec.Prev = 0, nil
	var g atomic.Int64
	b.SetBytes(1024)
	b.ReportAllocs()
	b.SetParallelism(128)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		r := rec
		id := g.Add(1)
		r.Stream = "reads-" + strconv.Itoa(int(id%64))
		r.TsMs += uint64(id) << 32 // distinct events per goroutine: no dedupe hits
		for pb.Next() {
			r.TsMs++
			if _, err := l.Append(&r); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkAppendHotParallel: the in-RAM calibration of the durable bench.
func BenchmarkAppendHotParallel(b *testing.B) {
	parallelAppend(b, benchLog(b, sdk.Config{Store: sdk.NewMemStore(4 << 20)}))
}

// BenchmarkDurableAppendBatch: the same load on a WAL with group commit
// (batches of up to 64 records or 2 ms); Append returns once durable.
func BenchmarkDurableAppendBatch(b *testing.B) {
	signer, err := sdk.NewEd25519Signer(benchKey(b))
	if err != nil {
		b.Fatal(err)
	}
	var fsyncs, frames, fsyncNs atomic.Int64
	l, _, err := sdk.OpenDurable(filepath.Join(b.TempDir(), "wal"), sdk.Config{Signer: signer}, sdk.DurableOptions{
		CacheBytes: 4 << 20,
		WAL: wal.Options{Fsync: wal.FsyncBatch, MaxBatch: 64, OnFsync: func(d time.Duration, n int) {
			if n > 0 {
				fsyncNs.Add(int64(d))
				fsyncs.Add(1)
				frames.Add(int64(n))
			}
		}},
	})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	parallelAppend(b, l)
	if f := fsyncs.Load(); f > 0 {
		b.ReportMetric(float64(frames.Load())/float64(f), "records/fsync")
		// The fsync's own time under this load: it is several times the
		// idle figure (about 250 us for 100 KiB here) and sets the pace.
		b.ReportMetric(float64(fsyncNs.Load())/float64(f)/1e3, "fsync-us")
	}
}
