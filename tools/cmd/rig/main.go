// Command rig runs the performance rigs of ron-audit and writes their
// metrics snapshots as JSON (testing/performance/baselines/ron-audit/).
//
//	rig wal-steady [-rate HZ] [-duration D] [-dir DIR] [-out FILE]
//	rig export-batch [-runs N] [-records N] [-out FILE]
//	rig shed-storm [-duration D] [-load X] [-wal DIR] [-out FILE]
//
// wal-steady appends at a fixed rate (1 to 5 kHz) to a durable log with
// batched fsync for a fixed time and records fsync latency (what
// wal_fsync_seconds exports), append-to-durable latency, and the depth of
// the queue of appended but not yet durable records. export-batch times
// export plus checkpoint of 10k-record batches (export_batch_seconds) and
// fails when their p95 is over 25 ms.
// shed-storm offers an emitter 110% of the capacity it measures first and
// checks that it sheds instead of blocking or growing: every record
// appended or counted dropped, no goroutine left after Close, the heap
// within its bound, and TryEmit's p99 under 5 us.
package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/wal"
)

func main() {
	if len(os.Args) >= 2 && os.Args[1] == "export-batch" {
		os.Exit(exportBatchMain(os.Args[2:]))
	}
	if len(os.Args) >= 2 && os.Args[1] == "shed-storm" {
		os.Exit(shedStormMain(os.Args[2:]))
	}
	if len(os.Args) < 2 || os.Args[1] != "wal-steady" {
		fmt.Fprintln(os.Stderr, "usage: rig wal-steady [-rate HZ] [-duration D] [-dir DIR] [-out FILE]\n       rig export-batch [-runs N] [-records N] [-out FILE]\n       rig shed-storm [-duration D] [-load X] [-wal DIR] [-out FILE]")
		os.Exit(2)
	}
	fs := flag.NewFlagSet("wal-steady", flag.ExitOnError)
	rate := fs.Int("rate", 2000, "appends per second, 1000 to 5000")
	duration := fs.Duration("duration", 10*time.Second, "how long to append")
	dir := fs.String("dir", "", "log directory (default: a new temporary one, removed after)")
	out := fs.String("out", "", "write the JSON snapshot here (default: stdout)")
	fs.Parse(os.Args[2:])
	if *rate < 1000 || *rate > 5000 || *duration <= 0 {
		fmt.Fprintln(os.Stderr, "rig: -rate is 1000..5000 and -duration positive")
		os.Exit(2)
	}
	snap, err := walSteady(*rate, *duration, *dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "rig:", err)
		os.Exit(1)
	}
	if err := writeSnapshot(*out, snap); err != nil {
		fmt.Fprintln(os.Stderr, "rig:", err)
		os.Exit(1)
	}
	if *out == "" {
		return
	}
	fmt.Printf("rig wal-steady: %d appended at %d Hz, fsync p95 %.3f ms -> %s\n", snap.Appended, *rate, snap.FsyncSeconds.P95*1e3, *out)
}

type quantiles struct {
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

func quantilesOf(ds []time.Duration) quantiles {
	if len(ds) == 0 {
		return quantiles{}
	}
	slices.Sort(ds)
	at := func(p float64) float64 { return ds[min(len(ds)-1, int(p*float64(len(ds))))].Seconds() }
	return quantiles{P50: at(0.50), P95: at(0.95), P99: at(0.99), Max: ds[len(ds)-1].Seconds()}
}

// Snapshot is the JSON the rig writes.
type Snapshot struct {
	Rig             string    `json:"rig"`
	Time            string    `json:"time"`
	RateHz          int       `json:"rate_hz"`
	DurationSeconds float64   `json:"duration_seconds"`
	Appended        int64     `json:"appended"`
	AchievedHz      float64   `json:"achieved_hz"`
	Fsyncs          int       `json:"fsyncs"`
	RecordsPerFsync float64   `json:"records_per_fsync"`
	FsyncSeconds    quantiles `json:"wal_fsync_seconds"`
	DurableSeconds  quantiles `json:"append_to_durable_seconds"`
	QueueDepth      struct {
		Max  int64   `json:"max"`
		Mean float64 `json:"mean"`
	} `json:"audit_queue_depth"`
	RecordBytes int     `json:"record_bytes"`
	Machine     machine `json:"machine"`
}

func walSteady(rate int, duration time.Duration, dir string) (*Snapshot, error) {
	if dir == "" {
		tmp, err := os.MkdirTemp("", "rig-wal-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		dir = filepath.Join(tmp, "wal")
	}
	signer, err := newSigner()
	if err != nil {
		return nil, err
	}
	var mu sync.Mutex
	var fsyncs []time.Duration
	var framesSynced int
	log, _, err := sdk.OpenDurable(dir, sdk.Config{Signer: signer}, sdk.DurableOptions{WAL: wal.Options{
		Fsync: wal.FsyncBatch, MaxBatch: 32, OnFsync: func(d time.Duration, frames int) {
			if frames > 0 {
				mu.Lock()
				fsyncs = append(fsyncs, d)
				framesSynced += frames
				mu.Unlock()
			}
		}}})
	if err != nil {
		return nil, err
	}

	type item struct {
		p  sdk.Pending
		at time.Time
	}
	queue := make(chan item, 1<<16)
	var depth, depthSum, depthMax, samples atomic.Int64
	var waits []time.Duration
	var wmu sync.Mutex
	var wg sync.WaitGroup
	var firstErr atomic.Value
	for w := 0; w < 64; w++ { // waiters: acknowledge records as they become durable
		wg.Add(1)
		go func() {
			defer wg.Done()
			for it := range queue {
				if err := it.p.Wait(); err != nil {
					firstErr.CompareAndSwap(nil, err)
				}
				d := time.Since(it.at)
				depth.Add(-1)
				wmu.Lock()
				waits = append(waits, d)
				wmu.Unlock()
			}
		}()
	}

	rec := canonical.AuditRecord{Kind: canonical.KindGetServed, WriterID: "svc-gateway@rig", Stream: "reads",
		Actor: canonical.Actor{CapID: "cap:rig"}, Subject: canonical.Subject{Name: "bucket/object"},
		Reason: "served object to authorized reader"}
	interval := time.Second / time.Duration(rate)
	start := time.Now()
	var appended int64
	var size int
	for next := start; time.Since(start) < duration; next = next.Add(interval) {
		if d := time.Until(next); d > 0 {
			time.Sleep(d)
		}
		rec.TsMs = uint64(time.Now().UnixMilli())
		rec.Attrs = append(rec.Attrs[:0], canonical.Attr{Key: "n", Value: strconv.FormatInt(appended, 10)})
		p, err := log.AppendPending(&rec)
		if err != nil {
			return nil, err
		}
		size = len(p.Record.Bytes)
		n := depth.Add(1)
		depthSum.Add(n)
		samples.Add(1)
		if n > depthMax.Load() {
			depthMax.Store(n)
		}
		queue <- item{p, time.Now()}
		appended++
	}
	elapsed := time.Since(start)
	close(queue)
	wg.Wait()
	if err := log.Close(); err != nil {
		return nil, err
	}
	if err, _ := firstErr.Load().(error); err != nil {
		return nil, err
	}
	s := &Snapshot{Rig: "wal_steady", Time: time.Now().UTC().Format(time.RFC3339), RateHz: rate,
		DurationSeconds: elapsed.Seconds(), Appended: appended, AchievedHz: float64(appended) / elapsed.Seconds(),
		Fsyncs: len(fsyncs), FsyncSeconds: quantilesOf(fsyncs), DurableSeconds: quantilesOf(waits), RecordBytes: size,
		Machine: thisMachine()}
	if len(fsyncs) > 0 {
		s.RecordsPerFsync = float64(framesSynced) / float64(len(fsyncs))
	}
	s.QueueDepth.Max = depthMax.Load()
	if n := samples.Load(); n > 0 {
		s.QueueDepth.Mean = float64(depthSum.Load()) / float64(n)
	}
	return s, nil
}

// newSigner is a fresh Ed25519 signer for a rig run.
func newSigner() (*sdk.Ed25519Signer, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	return sdk.NewEd25519Signer(priv)
}

// writeSnapshot writes snap as indented JSON to out, or to stdout when out
// is "".
func writeSnapshot(out string, snap any) error {
	b, err := json.MarshalIndent(snap, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if out == "" {
		_, err = os.Stdout.Write(b)
		return err
	}
	return os.WriteFile(out, b, 0o644)
}
