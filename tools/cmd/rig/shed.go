package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/internal/pace"
	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/metrics"
	"github.com/rustyonions/ron-audit-go/sdk/wal"
)

// tryEmitTargetP99 is the bound on TryEmit's p99 during the storm.
const tryEmitTargetP99 = 5 * time.Microsecond

// ShedSnapshot is the JSON rig shed-storm writes.
type ShedSnapshot struct {
	Rig             string  `json:"rig"`
	Time            string  `json:"time"`
	DurationSeconds float64 `json:"duration_seconds"`
	Depth           int     `json:"queue_depth"`
	Workers         int     `json:"workers"`
	Store           string  `json:"store"`          // "memory", or "wal" (batch fsync)
	CapacityHz      float64 `json:"capacity_hz"`    // saturated throughput, measured first
	OfferedLoad     float64 `json:"offered_load"`   // share of capacity offered
	OfferedHz       float64 `json:"offered_hz"`     // achieved
	Offered         uint64  `json:"offered"`        // TryEmit calls
	Appended        uint64  `json:"appended"`       // audit_appended_total
	Dropped         uint64  `json:"dropped"`        // sum of audit_drop_total
	Busy            uint64  `json:"busy"`           // busy_rejections_total{endpoint="emit"}
	ShedRate        float64 `json:"shed_rate"`      // dropped / offered
	Accounted       bool    `json:"accounted"`      // appended + dropped == offered, in metrics and Stats
	ShedAlertFires  bool    `json:"shed_alert"`     // AuditShedAboveBudget's expression over the storm
	ReadyDegraded   bool    `json:"ready_degraded"` // Emitter.Ready during the storm
	TryEmitSeconds  struct {
		quantiles
		P999 float64 `json:"p999"`
	} `json:"tryemit_seconds"`
	TryEmitTargetP99 float64   `json:"tryemit_target_p99_seconds"`
	DurableSeconds   quantiles `json:"emit_to_durable_seconds"`
	QueueDepthMax    int       `json:"audit_queue_depth_max"` // the largest audit_queue_depth sampled: slots taken (sampleDepth)
	QueuedMax        int       `json:"queued_max"`            // the largest number of records sampled waiting for a worker
	HeapBytes        struct {
		Before          uint64  `json:"before"`            // live after a GC, before the storm
		AfterStorm      uint64  `json:"after_storm"`       // live after a GC, right after the storm
		Bound           uint64  `json:"bound"`             // before + Depth x MaxRecord + 8 MiB
		PeakInUse       uint64  `json:"peak_in_use"`       // sampled every 20 ms: live data and garbage
		AllocPerOffered float64 `json:"alloc_per_offered"` // bytes allocated in the storm per TryEmit
	} `json:"heap_bytes"`
	Goroutines struct {
		Before int `json:"before"`
		After  int `json:"after_close"`
	} `json:"goroutines"`
	RecordBytes int      `json:"record_bytes"`
	Pass        bool     `json:"pass"`
	Failures    []string `json:"failures,omitempty"`
	Machine     machine  `json:"machine"`
}

func shedStormMain(args []string) int {
	fs := flag.NewFlagSet("shed-storm", flag.ExitOnError)
	duration := fs.Duration("duration", 5*time.Second, "how long to storm")
	load := fs.Float64("load", 1.1, "offered load, as a share of the capacity measured first")
	out := fs.String("out", "", "write the JSON snapshot here (default: stdout)")
	walDir := fs.String("wal", "", "storm a durable log in this new directory (batch fsync) instead of RAM")
	fs.Parse(args)
	if *duration <= 0 || *load <= 0 {
		fmt.Fprintln(os.Stderr, "rig: -duration and -load must be positive")
		return 2
	}
	snap, err := shedStorm(*duration, *load, sdk.DefaultDepth, *walDir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "rig:", err)
		return 1
	}
	if err := writeSnapshot(*out, snap); err != nil {
		fmt.Fprintln(os.Stderr, "rig:", err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "rig shed-storm: offered %d at %.0f Hz (%.0f%% of %.0f), appended %d, dropped %d, TryEmit p99 %.2f us, pass %v\n",
		snap.Offered, snap.OfferedHz, 100*snap.OfferedLoad, snap.CapacityHz, snap.Appended, snap.Dropped,
		snap.TryEmitSeconds.P99*1e6, snap.Pass)
	if !snap.Pass {
		for _, f := range snap.Failures {
			fmt.Fprintln(os.Stderr, "rig shed-storm: FAIL:", f)
		}
		return 1
	}
	return 0
}

// shedStorm drives an emitter (defaults: depth 1024, workers from
// GOMAXPROCS, every record signed, MemStore, or a WAL with batch fsync in
// walDir) past its capacity and checks that it sheds instead of blocking
// or growing, and counts every record.
func shedStorm(duration time.Duration, load float64, depth int, walDir string) (*ShedSnapshot, error) {
	signer, err := newSigner()
	if err != nil {
		return nil, err
	}
	const storeBytes = 8 << 20
	store := "memory"
	var log *sdk.Log
	if walDir == "" {
		log, err = sdk.New(sdk.Config{Signer: signer, Store: sdk.NewMemStore(storeBytes)})
	} else {
		store = "wal"
		// The WAL keeps the records; its RAM cache (reads only) is kept
		// small, so the capacity second fills it and the storm measures
		// the steady state, not the cache's growth.
		log, _, err = sdk.OpenDurable(walDir, sdk.Config{Signer: signer},
			sdk.DurableOptions{CacheBytes: 1 << 20, WAL: wal.Options{Fsync: wal.FsyncBatch}})
	}
	if err != nil {
		return nil, err
	}
	defer log.Close()
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg)
	if err != nil {
		return nil, err
	}
	runtime.GC()
	s := &ShedSnapshot{Rig: "shed_storm", Time: time.Now().UTC().Format(time.RFC3339), OfferedLoad: load,
		TryEmitTargetP99: tryEmitTargetP99.Seconds(), Store: store,
		Machine: thisMachine()}
	s.Goroutines.Before = runtime.NumGoroutine()

	var (
		mu       sync.Mutex
		durable  []time.Duration
		appended atomic.Uint64
		storming atomic.Bool
	)
	var recordBytes atomic.Int64
	e, err := sdk.NewEmitter(log, sdk.EmitterOptions{Depth: depth, Metrics: m, OnDurable: func(a sdk.EmitAck) {
		appended.Add(1)
		recordBytes.Store(int64(a.Bytes))
		if storming.Load() {
			mu.Lock()
			durable = append(durable, a.Latency)
			mu.Unlock()
		}
	}})
	if err != nil {
		return nil, err
	}
	s.Depth, s.Workers = depth, min(runtime.GOMAXPROCS(0), sdk.MaxWorkers)

	rec := canonical.AuditRecord{Kind: canonical.KindGetServed, WriterID: "svc-gateway@rig", Stream: "reads",
		Actor: canonical.Actor{CapID: "cap:rig"}, Subject: canonical.Subject{Name: "bucket/object"},
		Reason: "served object to authorized reader", Attrs: []canonical.Attr{{Key: "n", Value: ""}}}
	// Distinct events without garbage per record: 4,096 attr values in
	// turn, tsMs stamped by the emitter (a value recurs 4,096 records
	// later, which is a later millisecond at these rates).
	var values [4096]string
	for i := range values {
		values[i] = strconv.Itoa(i)
	}
	var n uint64
	next := func() *canonical.AuditRecord {
		n++
		rec.TsMs = 0
		rec.Attrs[0].Value = values[n%uint64(len(values))]
		return &rec
	}

	// Capacity: a saturated second, Emit waiting for slots.
	const calib = time.Second
	start := time.Now()
	var calibN uint64
	for time.Since(start) < calib {
		if err := e.Emit(context.Background(), next()); err != nil {
			return nil, err
		}
		calibN++
	}
	for appended.Load() < calibN {
		time.Sleep(100 * time.Microsecond)
	}
	s.CapacityHz = float64(calibN) / time.Since(start).Seconds()
	base := e.Stats()
	baseApp, baseDrop, baseBusy, err := gathered(reg)
	if err != nil {
		return nil, err
	}

	// The storm.
	offered := uint64(float64(duration.Seconds())*load*s.CapacityHz) + 1
	tryLat := make([]time.Duration, 0, offered+offered/10)
	mu.Lock()
	durable = make([]time.Duration, 0, offered)
	mu.Unlock()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	s.HeapBytes.Before = ms.HeapAlloc
	s.HeapBytes.Bound = ms.HeapAlloc + uint64(depth)*uint64(canonical.DefaultLimits.MaxRecord) + 8<<20
	totalBefore := ms.TotalAlloc
	peak := atomic.Uint64{}
	peak.Store(ms.HeapInuse)
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() { // peak heap in use, every 20 ms (queue depth: in the storm loop)
		defer close(sampled)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		var ms runtime.MemStats
		for {
			select {
			case <-stopSampling:
				return
			case <-t.C:
				runtime.ReadMemStats(&ms)
				if ms.HeapInuse > peak.Load() {
					peak.Store(ms.HeapInuse)
				}
			}
		}
	}()
	// Ten records a tick: a timer at the full rate (100 kHz here) costs
	// the machine enough CPU (55k local-timer interrupts a run against
	// 4.3k) that the emitter sheds a third of a 110% storm instead of a
	// tenth.
	const perTick = 10
	p, err := pace.New(time.Duration(perTick * float64(time.Second) / (load * s.CapacityHz)))
	if err != nil {
		return nil, err
	}
	defer p.Close()
	storming.Store(true)
	start = time.Now()
	var sent uint64
	for sent < offered {
		k, err := p.Wait()
		if err != nil {
			return nil, err
		}
		k *= perTick
		for ; k > 0 && sent < offered; k-- {
			r := next()
			t := time.Now()
			err := e.TryEmit(r)
			tryLat = append(tryLat, time.Since(t))
			sent++
			if err != nil && err != sdk.ErrBusy {
				return nil, fmt.Errorf("TryEmit: %w", err)
			}
			if sent%256 == 0 {
				s.sampleDepth(e)
			}
		}
	}
	elapsed := time.Since(start)
	s.ReadyDegraded = e.Ready() != nil
	storming.Store(false)
	close(stopSampling)
	<-sampled
	runtime.ReadMemStats(&ms)
	s.HeapBytes.AllocPerOffered = float64(ms.TotalAlloc-totalBefore) / float64(sent)
	runtime.GC()
	runtime.ReadMemStats(&ms)
	s.HeapBytes.AfterStorm = ms.HeapAlloc

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.Close(ctx); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > s.Goroutines.Before && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	s.Goroutines.After = runtime.NumGoroutine()

	st := e.Stats()
	app, drop, busy, err := gathered(reg)
	if err != nil {
		return nil, err
	}
	s.DurationSeconds = elapsed.Seconds()
	s.Offered = sent
	s.OfferedHz = float64(sent) / elapsed.Seconds()
	s.Appended, s.Dropped, s.Busy = app-baseApp, drop-baseDrop, busy-baseBusy
	s.ShedRate = float64(s.Dropped) / float64(s.Offered)
	var statDrops uint64
	for r, v := range st.Dropped {
		statDrops += v - base.Dropped[r]
	}
	s.Accounted = s.Appended+s.Dropped == s.Offered &&
		st.Appended-base.Appended == s.Appended && statDrops == s.Dropped && st.Offered-base.Offered == s.Offered
	// AuditShedAboveBudget: backpressure drops / (appended + drops +
	// dedupe hits, none here) > 0.005.
	s.ShedAlertFires = float64(s.Busy)/float64(s.Appended+s.Dropped) > 0.005
	tq := quantilesOf(tryLat)
	s.TryEmitSeconds.quantiles = tq
	s.TryEmitSeconds.P999 = tryLat[min(len(tryLat)-1, len(tryLat)*999/1000)].Seconds()
	mu.Lock()
	s.DurableSeconds = quantilesOf(durable)
	mu.Unlock()
	s.HeapBytes.PeakInUse = peak.Load()
	s.RecordBytes = int(recordBytes.Load())

	if !s.Accounted {
		s.Failures = append(s.Failures, fmt.Sprintf("appended %d + dropped %d != offered %d (Stats %+v)", s.Appended, s.Dropped, s.Offered, st))
	}
	if load > 1 && s.Dropped == 0 {
		s.Failures = append(s.Failures, "nothing shed above capacity")
	}
	if s.Goroutines.After > s.Goroutines.Before {
		s.Failures = append(s.Failures, fmt.Sprintf("goroutines: %d before, %d after Close", s.Goroutines.Before, s.Goroutines.After))
	}
	// Bounded: what the storm leaves live is within the emitter's slots,
	// and it allocates next to nothing per record (what it does allocate
	// is the rig's own sampling), so memory cannot grow with the load.
	if s.HeapBytes.AfterStorm > s.HeapBytes.Bound || s.HeapBytes.AllocPerOffered > 16 {
		s.Failures = append(s.Failures, fmt.Sprintf("heap: %d bytes live after the storm (bound %d), %.1f bytes allocated per TryEmit",
			s.HeapBytes.AfterStorm, s.HeapBytes.Bound, s.HeapBytes.AllocPerOffered))
	}
	if tq.P99 > tryEmitTargetP99.Seconds() {
		st := s.Machine.Stalls
		s.Failures = append(s.Failures, fmt.Sprintf("TryEmit p99 %.2f us, target %.0f us (p50 %.2f us; this machine stalls %.0f times a second for %.1f us, median: see machine.stalls)",
			tq.P99*1e6, tryEmitTargetP99.Seconds()*1e6, tq.P50*1e6, st.PerSecond, st.P50*1e6))
	}
	s.Pass = len(s.Failures) == 0
	return s, nil
}

// sampleDepth records e's depths now in the snapshot's maxima: the slots
// taken (queued, signing or waiting to be durable: EmitterStats.InFlight,
// at most Depth), which is what audit_queue_depth reports, and the records
// waiting for a worker (EmitterStats.QueueDepth). Snapshots written before
// 2026-11-28 hold the second under audit_queue_depth_max, from when the
// gauge counted only the queue.
func (s *ShedSnapshot) sampleDepth(e *sdk.Emitter) {
	st := e.Stats()
	s.QueueDepthMax = max(s.QueueDepthMax, st.InFlight)
	s.QueuedMax = max(s.QueuedMax, st.QueueDepth)
}

// gathered reads the emitter's counters from the registry, as Prometheus
// would scrape them.
func gathered(reg prometheus.Gatherer) (appended, dropped, busy uint64, err error) {
	mfs, err := reg.Gather()
	if err != nil {
		return 0, 0, 0, err
	}
	sum := func(ms []*dto.Metric) (n uint64) {
		for _, m := range ms {
			n += uint64(m.GetCounter().GetValue())
		}
		return n
	}
	for _, mf := range mfs {
		switch mf.GetName() {
		case metrics.NameAppended:
			appended = sum(mf.GetMetric())
		case metrics.NameDrop:
			dropped = sum(mf.GetMetric())
		case metrics.NameBusy:
			busy = sum(mf.GetMetric())
		}
	}
	return appended, dropped, busy, nil
}
