package bench

import (
	"context"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rustyonions/ron-audit-go/internal/pace"
	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/wal"
)

// The emitter benches run the 1 KiB record through sdk.Emitter, every
// record signed, on one chain (the case where order is hardest to keep
// while signing in parallel), in RAM (EmitterDurable: on a WAL). In the
// throughput benches each op is one record from TryEmit to durable, so
// ns/op is the inverse of throughput.

func emitterThroughput(b *testing.B, workers int, signer sdk.Signer) {
	l, err := sdk.New(sdk.Config{Signer: signer, Store: sdk.NewMemStore(4 << 20)})
	if err != nil {
		b.Fatal(err)
	}
	emitToDurable(b, l, workers)
}

// emitToDurable runs b.N records through an emitter on l, each op one
// record from TryEmit to OnDurable.
func emitToDurable(b *testing.B, l *sdk.Log, workers int) {
	rec, _ := record1KiB(b)
	rec.Seq, rec.Prev = 0, nil
	var acked atomic.Int64
	e, err := sdk.NewEmitter(l, sdk.EmitterOptions{Workers: workers, Shed: sdk.ShedBlock,
		OnDurable: func(sdk.EmitAck) { acked.Add(1) }})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close(context.Background())
	emitN := func(n int) {
		want := acked.Load() + int64(n)
		for range n {
			rec.TsMs++ // a new event each time: no dedupe hit
			if err := e.TryEmit(&rec); err != nil {
				b.Fatal(err)
			}
		}
		for acked.Load() < want {
			time.Sleep(10 * time.Microsecond)
		}
	}
	emitN(3000) // steady state: every slot used, the store at its bound
	b.SetBytes(1024)
	b.ReportAllocs()
	b.ResetTimer()
	h0 := e.Stats().Hedged
	emitN(b.N)
	b.StopTimer()
	b.ReportMetric(float64(e.Stats().Hedged-h0)/float64(b.N)*100, "hedged-%")
}

func benchSigner(b *testing.B) *sdk.Ed25519Signer {
	s, err := sdk.NewEd25519Signer(benchKey(b))
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkEmitterWorkers1: the emitter's throughput with one signer.
func BenchmarkEmitterWorkers1(b *testing.B) { emitterThroughput(b, 1, benchSigner(b)) }

// BenchmarkEmitterWorkers2: two signers; on 2 cores the target is >= 1.8x
// Workers1's throughput.
func BenchmarkEmitterWorkers2(b *testing.B) { emitterThroughput(b, 2, benchSigner(b)) }

// nopSigner signs nothing: for BenchmarkEmitterOverhead only.
type nopSigner struct{ *sdk.Ed25519Signer }

func (nopSigner) Sign([]byte, *sdk.Signature) error { return nil }

// BenchmarkEmitterDurable: EmitterWorkers2 on a WAL with group commit
// (batches of up to 64 records or 2 ms), each record acknowledged once
// durable: the pipelined durable path, against EmitterWorkers2 in RAM.
// DurableAppendBatch is the same question asked of synchronous Appends.
func BenchmarkEmitterDurable(b *testing.B) {
	var fsyncs, frames atomic.Int64
	l, _, err := sdk.OpenDurable(filepath.Join(b.TempDir(), "wal"), sdk.Config{Signer: benchSigner(b)}, sdk.DurableOptions{
		CacheBytes: 4 << 20,
		WAL: wal.Options{Fsync: wal.FsyncBatch, MaxBatch: 64, OnFsync: func(_ time.Duration, n int) {
			if n > 0 {
				fsyncs.Add(1)
				frames.Add(int64(n))
			}
		}},
	})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	emitToDurable(b, l, 2)
	if f := fsyncs.Load(); f > 0 {
		b.ReportMetric(float64(frames.Load())/float64(f), "records/fsync")
	}
}

// BenchmarkEmitterOverhead: Workers2 with a signer that does nothing: the
// CPU the pipeline itself costs per record (encode, link and hash,
// hand-off, commit, acknowledge), which on 2 cores competes with signing
// and bounds Workers2/Workers1.
func BenchmarkEmitterOverhead(b *testing.B) {
	emitterThroughput(b, 2, nopSigner{benchSigner(b)})
}

// BenchmarkEmitterDesignLoad: a steady 70% of the capacity the bench
// measures first (Workers2, saturated), offered with TryEmit (shedding,
// as a request path does). It reports the p99 latency from TryEmit to
// durable (p99-us, target <= 100), the p99 of TryEmit itself, the share
// of busy rejections (busy-%, target <= 0.5), and how often the OS
// preempted one of the process's threads meanwhile (os-preemptions): on
// this 2-vCPU VM each can stall a signer for a 4 ms scheduler slice, and
// every record of its chain behind it waits too.
func BenchmarkEmitterDesignLoad(b *testing.B) {
	rec, _ := record1KiB(b)
	rec.Seq, rec.Prev = 0, nil
	l := benchLog(b, sdk.Config{Store: sdk.NewMemStore(4 << 20)})
	var (
		mu    sync.Mutex
		lat   []time.Duration
		acked atomic.Int64
	)
	e, err := sdk.NewEmitter(l, sdk.EmitterOptions{Workers: 2, OnDurable: func(a sdk.EmitAck) {
		mu.Lock()
		lat = append(lat, a.Latency)
		mu.Unlock()
		acked.Add(1)
	}})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close(context.Background())

	// Capacity: a saturated burst, Emit waiting for slots.
	const calib = 20000
	start := time.Now()
	r := rec
	for range calib {
		r.TsMs++
		if err := e.Emit(context.Background(), &r); err != nil {
			b.Fatal(err)
		}
	}
	for acked.Load() < calib {
		time.Sleep(10 * time.Microsecond)
	}
	capacity := calib / time.Since(start).Seconds()
	mu.Lock()
	lat = make([]time.Duration, 0, b.N)
	mu.Unlock()
	tryLat := make([]time.Duration, 0, b.N)
	before := e.Stats()

	// A steady 70% of capacity from one pacer: each period's records are
	// emitted when the pacer wakes (catching up if it woke late), and the
	// pacer yields after each, as a request handler returns to its loop.
	p, err := pace.New(time.Duration(float64(time.Second) / (0.7 * capacity)))
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	b.SetBytes(1024)
	preempted := pace.InvoluntarySwitches()
	b.ResetTimer()
	for i := 0; i < b.N; {
		n, err := p.Wait()
		if err != nil {
			b.Fatal(err)
		}
		for ; n > 0 && i < b.N; n-- {
			r.TsMs++
			t := time.Now()
			e.TryEmit(&r)
			tryLat = append(tryLat, time.Since(t))
			i++
			runtime.Gosched()
		}
	}
	if n := pace.InvoluntarySwitches(); n >= 0 {
		b.ReportMetric(float64(n-preempted), "os-preemptions")
	}
	after := e.Stats()
	for acked.Load() < int64(calib+after.Appended-before.Appended) {
		time.Sleep(10 * time.Microsecond)
	}
	b.StopTimer()
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(lat)
	slices.Sort(tryLat)
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-us")
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-us")
	}
	b.ReportMetric(float64(tryLat[len(tryLat)*99/100].Nanoseconds()), "tryemit-p99-ns")
	b.ReportMetric(100*float64(after.Busy-before.Busy)/float64(b.N), "busy-%")
	b.ReportMetric(capacity, "capacity-rec/s")
	b.ReportMetric(float64(after.Hedged-before.Hedged), "hedged")
}
