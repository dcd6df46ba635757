package metrics

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/checkpoint"
	"github.com/rustyonions/ron-audit-go/sdk/export"
	"github.com/rustyonions/ron-audit-go/sdk/wal"
)

func testSigner(t testing.TB) *sdk.Ed25519Signer {
	t.Helper()
	seed := make([]byte, ed25519.SeedSize)
	copy(seed, "ron-audit metrics test key")
	s, err := sdk.NewEd25519Signer(ed25519.NewKeyFromSeed(seed))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func testRecord(i int, kind canonical.Kind, stream string) canonical.AuditRecord {
	return canonical.AuditRecord{
		Kind: kind, TsMs: 1764201600000 + uint64(i),
		WriterID: "svc-gateway@inst-1", Stream: stream,
		Actor:  canonical.Actor{CapID: "cap-" + fmt.Sprint(i%7)},
		Reason: "served", Attrs: []canonical.Attr{{Key: "n", Value: fmt.Sprint(i)}},
	}
}

func newMetrics(t testing.TB) (*Metrics, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	m, err := New(reg)
	if err != nil {
		t.Fatal(err)
	}
	return m, reg
}

// gateSigner blocks every Sign until gate is closed; it fails every Sign
// when fail is set.
type gateSigner struct {
	sdk.Signer
	gate  chan struct{}
	calls atomic.Int64
	fail  bool
}

func (g *gateSigner) Sign(msg []byte, sig *sdk.Signature) error {
	g.calls.Add(1)
	<-g.gate
	if g.fail {
		return errors.New("HSM unavailable")
	}
	return g.Signer.Sign(msg, sig)
}

func newGate(t testing.TB) *gateSigner {
	return &gateSigner{Signer: testSigner(t), gate: make(chan struct{})}
}

// workloadEmitter starts an emitter on a new log of signer and store that
// reports to m; OnDurable adds each record's size to bytes.
func workloadEmitter(t testing.TB, m *Metrics, l *sdk.Log, depth int, bytes *atomic.Int64) *sdk.Emitter {
	t.Helper()
	e, err := sdk.NewEmitter(l, sdk.EmitterOptions{Depth: depth, Workers: 1, Metrics: m,
		OnDurable: func(a sdk.EmitAck) {
			if !a.Duplicate {
				bytes.Add(int64(a.Bytes))
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// emitOK emits rec, which must be accepted: with Emit, which waits for
// its chain's lock, since TryEmit sheds a record whose chain's lock a
// worker has held for 10 ms, as a loaded host's OS sometimes makes it.
func emitOK(t testing.TB, e *sdk.Emitter, rec canonical.AuditRecord) {
	t.Helper()
	if err := e.Emit(context.Background(), &rec); err != nil {
		t.Fatal(err)
	}
}

func waitIdle(t testing.TB, e *sdk.Emitter) {
	t.Helper()
	for e.Stats().InFlight > 0 {
		time.Sleep(time.Millisecond)
	}
}

func histogram(t testing.TB, reg prometheus.Gatherer, name string) *dto.Histogram {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetHistogram()
		}
	}
	t.Fatalf("%s not gathered", name)
	return nil
}

// TestZeroSeries: every label value the design lists is a series at zero
// from New on, and nothing registers globally.
func TestZeroSeries(t *testing.T) {
	_, reg := newMetrics(t)
	want := `
# HELP audit_drop_total Audit records dropped (shed, not blocked), by reason.
# TYPE audit_drop_total counter
audit_drop_total{reason="audit_backpressure"} 0
audit_drop_total{reason="bounds_exceeded"} 0
audit_drop_total{reason="closed"} 0
audit_drop_total{reason="invalid"} 0
audit_drop_total{reason="io_backpressure"} 0
audit_drop_total{reason="other"} 0
audit_drop_total{reason="shutdown"} 0
audit_drop_total{reason="sink_error"} 0
# HELP busy_rejections_total Requests rejected busy (queue full), by endpoint.
# TYPE busy_rejections_total counter
busy_rejections_total{endpoint="emit"} 0
# HELP audit_queue_depth Records the emitter holds (queued, signing or waiting to be durable); it sheds at its Depth.
# TYPE audit_queue_depth gauge
audit_queue_depth 0
# HELP audit_export_fail_total Failures to write a signed checkpoint or export a bundle, by stage.
# TYPE audit_export_fail_total counter
audit_export_fail_total{stage="bundle"} 0
audit_export_fail_total{stage="checkpoint"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), NameDrop, NameBusy, NameQueueDepth, NameExportFail); err != nil {
		t.Fatal(err)
	}
	if n, err := testutil.GatherAndCount(reg, NameVerifyFail); err != nil || n != len(VerifyReasons) {
		t.Fatalf("%d verify series (%v), want %d", n, err, len(VerifyReasons))
	}
	if n, err := testutil.GatherAndCount(prometheus.DefaultGatherer, NameAppended, NameDrop, NameFsync); err != nil || n != 0 {
		t.Fatalf("default registry has %d audit series (%v): New must not register globally", n, err)
	}
}

// TestWorkload runs a known workload through real SDK components (the
// Emitter reports to the metrics itself) and the adapters, and checks
// every metric's value.
func TestWorkload(t *testing.T) {
	m, reg := newMetrics(t)
	var wantBytes atomic.Int64
	closeOK := func(e *sdk.Emitter) {
		t.Helper()
		if err := e.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
	}

	// In-memory log behind an emitter of 4 slots and one worker, whose
	// signer holds the first record until the gate opens.
	g := newGate(t)
	l, err := sdk.New(sdk.Config{Signer: g, Store: sdk.NewMemStore(0)})
	if err != nil {
		t.Fatal(err)
	}
	e := workloadEmitter(t, m, l, 4, &wantBytes)
	// Bad records: one too large, one with seq set.
	big := testRecord(60, canonical.KindGetServed, "reads")
	big.Attrs = []canonical.Attr{{Key: "k", Value: strings.Repeat("v", 2000)}}
	if err := e.TryEmit(&big); !errors.Is(err, canonical.ErrTooLarge) {
		t.Fatalf("oversize: %v", err)
	}
	bad := testRecord(61, canonical.KindGetServed, "reads")
	bad.Seq = 9
	if err := e.TryEmit(&bad); !errors.Is(err, canonical.ErrInvalid) {
		t.Fatalf("seq set: %v", err)
	}
	emitOK(t, e, testRecord(0, canonical.KindGetServed, "reads"))
	for g.calls.Load() == 0 { // the worker holds record 0
		time.Sleep(time.Millisecond)
	}
	for i := 1; i < 4; i++ {
		emitOK(t, e, testRecord(i, canonical.KindGetServed, "reads"))
	}
	if got := testutil.ToFloat64(m.queueDepth); got != 4 {
		t.Fatalf("%s = %v with every slot of 4 held (1 signing, 3 queued behind it)", NameQueueDepth, got)
	}
	// Full: two TryEmit and one Emit past its deadline are shed.
	for i := 0; i < 2; i++ {
		rec := testRecord(50+i, canonical.KindGetServed, "reads")
		if err := e.TryEmit(&rec); !errors.Is(err, sdk.ErrBusy) {
			t.Fatalf("TryEmit on a full emitter: %v", err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	rec := testRecord(52, canonical.KindGetServed, "reads")
	if err := e.Emit(ctx, &rec); !errors.Is(err, sdk.ErrBusy) {
		t.Fatalf("Emit past its deadline: %v", err)
	}
	cancel()
	close(g.gate)
	waitIdle(t, e)
	emitOK(t, e, testRecord(4, canonical.KindGetServed, "reads"))
	emitOK(t, e, testRecord(100, canonical.KindPolicyChanged, "admin"))
	emitOK(t, e, testRecord(101, canonical.KindPolicyChanged, "admin"))
	emitOK(t, e, testRecord(3, canonical.KindGetServed, "reads")) // a replay: a dedupe hit
	closeOK(e)
	if err := e.TryEmit(&rec); !errors.Is(err, sdk.ErrEmitterClosed) {
		t.Fatalf("after Close: %v", err)
	}

	// A signer that fails: the record is lost to a sink error.
	fg := newGate(t)
	fg.fail = true
	close(fg.gate)
	fl, err := sdk.New(sdk.Config{Signer: fg})
	if err != nil {
		t.Fatal(err)
	}
	fe := workloadEmitter(t, m, fl, 4, &wantBytes)
	emitOK(t, fe, testRecord(300, canonical.KindGetServed, "failing"))
	if err := fe.Close(context.Background()); !errors.Is(err, sdk.ErrRecordsLost) {
		t.Fatalf("Close after the signer lost an accepted record: %v, want ErrRecordsLost", err)
	}

	// Close past its deadline: the record being signed lands, the one
	// waiting for the signer is dropped at shutdown.
	sg := newGate(t)
	sl, err := sdk.New(sdk.Config{Signer: sg})
	if err != nil {
		t.Fatal(err)
	}
	se := workloadEmitter(t, m, sl, 4, &wantBytes)
	emitOK(t, se, testRecord(400, canonical.KindCapIssued, "shut"))
	for sg.calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	emitOK(t, se, testRecord(401, canonical.KindCapIssued, "shut"))
	expired, cancel := context.WithCancel(context.Background())
	cancel()
	if err := se.Close(expired); !errors.Is(err, context.Canceled) {
		t.Fatalf("Close past its deadline: %v", err)
	}
	close(sg.gate)
	<-se.Done()

	// A real tampered chain: its *sdk.VerifyError's reason is counted,
	// and a non-VerifyError is "other".
	recs := chainRecords(t, 10)
	recs[4].Bytes[len(recs[4].Bytes)/2] ^= 1
	_, verr := sdk.VerifyChain(sdk.NewSliceIterator(recs), l.Keys(), sdk.VerifyOptions{})
	var ve *sdk.VerifyError
	if !errors.As(verr, &ve) {
		t.Fatalf("tampered chain: %v", verr)
	}
	e.ReportVerifyFailure(fmt.Errorf("host: %w", verr))
	e.ReportVerifyFailure(errors.New("disk on fire"))
	e.ReportVerifyFailure(nil)

	// Durable log with a checkpoint keeper: every fsync that made frames
	// durable observed, a checkpoint every 2 durable records.
	dir := filepath.Join(t.TempDir(), "wal") // the WAL makes it 0700
	var checkpoints int
	var fsyncs, otherFsyncs atomic.Int64
	keeper, err := checkpoint.NewKeeper(t.TempDir(), testSigner(t), checkpoint.KeeperOptions{
		Every: 2, Interval: -1,
		OnCheckpoint: func(cp checkpoint.Checkpoint, took time.Duration) { checkpoints++; m.OnCheckpoint(cp, took) },
	})
	if err != nil {
		t.Fatal(err)
	}
	dl, _, err := sdk.OpenDurable(dir, sdk.Config{Signer: testSigner(t), Observer: keeper},
		sdk.DurableOptions{WAL: wal.Options{Fsync: wal.FsyncAlways, OnFsync: func(d time.Duration, frames int) {
			if frames > 0 {
				fsyncs.Add(1)
			} else {
				otherFsyncs.Add(1) // the first segment's header, at least
			}
			m.OnFsync(d, frames)
		}}})
	if err != nil {
		t.Fatal(err)
	}
	de := workloadEmitter(t, m, dl, 8, &wantBytes)
	for i := 0; i < 4; i++ {
		emitOK(t, de, testRecord(200+i, canonical.KindIndexWrite, "durable"))
	}
	closeOK(de)
	if err := dl.Close(); err != nil {
		t.Fatal(err)
	}
	if err := keeper.Close(); err != nil {
		t.Fatal(err)
	}
	if err := keeper.Err(); err != nil {
		t.Fatal(err)
	}

	// One export bundle of the durable chain.
	ex := &export.Exporter{Sink: &export.FileSink{Dir: t.TempDir()}, Signer: testSigner(t), OnExport: m.OnExport}
	if _, err := ex.Export(dir, "svc-gateway@inst-1", "durable", nil); err != nil {
		t.Fatal(err)
	}

	want := fmt.Sprintf(`
# HELP audit_appended_total Audit records appended, by kind and stream.
# TYPE audit_appended_total counter
audit_appended_total{kind="cap_issued",stream="shut"} 1
audit_appended_total{kind="get_served",stream="reads"} 5
audit_appended_total{kind="index_write",stream="durable"} 4
audit_appended_total{kind="policy_changed",stream="admin"} 2
# HELP audit_bytes_total Canonical bytes of the audit records appended.
# TYPE audit_bytes_total counter
audit_bytes_total %d
# HELP audit_dedupe_hits_total Appends that matched a recent record's dedupe key (idempotent replay).
# TYPE audit_dedupe_hits_total counter
audit_dedupe_hits_total 1
# HELP audit_drop_total Audit records dropped (shed, not blocked), by reason.
# TYPE audit_drop_total counter
audit_drop_total{reason="audit_backpressure"} 3
audit_drop_total{reason="bounds_exceeded"} 1
audit_drop_total{reason="closed"} 1
audit_drop_total{reason="invalid"} 1
audit_drop_total{reason="io_backpressure"} 0
audit_drop_total{reason="other"} 0
audit_drop_total{reason="shutdown"} 1
audit_drop_total{reason="sink_error"} 1
# HELP audit_queue_depth Records the emitter holds (queued, signing or waiting to be durable); it sheds at its Depth.
# TYPE audit_queue_depth gauge
audit_queue_depth 0
# HELP busy_rejections_total Requests rejected busy (queue full), by endpoint.
# TYPE busy_rejections_total counter
busy_rejections_total{endpoint="emit"} 3
`, wantBytes.Load())
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		NameAppended, NameBytes, NameDedupeHits, NameDrop, NameQueueDepth, NameBusy); err != nil {
		t.Fatal(err)
	}
	if wantBytes.Load() <= 0 {
		t.Fatal("no bytes")
	}

	for _, r := range VerifyReasons {
		want := 0.0
		switch r {
		case ve.Reason, VerifyOther:
			want = 1
		}
		if got := testutil.ToFloat64(m.verifyFail.WithLabelValues(string(r))); got != want {
			t.Errorf("%s{reason=%q} = %v, want %v", NameVerifyFail, r, got, want)
		}
	}
	if ve.Reason != sdk.ReasonHashMismatch {
		t.Errorf("tampered byte gave reason %s, want %s", ve.Reason, sdk.ReasonHashMismatch)
	}

	if checkpoints < 2 {
		t.Fatalf("keeper wrote %d checkpoints for 4 records at Every 2", checkpoints)
	}
	if got := testutil.ToFloat64(m.checkpoints); got != float64(checkpoints) {
		t.Errorf("%s = %v, want %d", NameCheckpoints, got, checkpoints)
	}
	// Every fsync of frames observed (the emitter's records may share
	// one), and none of the WAL's others (a segment header's): they would
	// skew the p95 the AuditWalFsyncSlow alert reads.
	if otherFsyncs.Load() == 0 {
		t.Error("the WAL reported no fsync without frames: the test no longer checks they are left out")
	}
	if h := histogram(t, reg, NameFsync); h.GetSampleCount() != uint64(fsyncs.Load()) || fsyncs.Load() == 0 || h.GetSampleSum() <= 0 {
		t.Errorf("%s: %d samples, sum %v; the WAL fsynced frames %d times (and %d other fsyncs)",
			NameFsync, h.GetSampleCount(), h.GetSampleSum(), fsyncs.Load(), otherFsyncs.Load())
	}
	if h := histogram(t, reg, NameExportBatch); h.GetSampleCount() != 1 || h.GetSampleSum() <= 0 {
		t.Errorf("%s: %d samples, sum %v; want 1, sum > 0", NameExportBatch, h.GetSampleCount(), h.GetSampleSum())
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) != 0 {
		t.Errorf("promlint: %v %+v", err, problems)
	}
}

// chainRecords returns copies of the n records of a fresh signed chain.
func chainRecords(t testing.TB, n int) []sdk.Sealed {
	t.Helper()
	l, err := sdk.New(sdk.Config{Signer: testSigner(t)})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		rec := testRecord(i, canonical.KindGetServed, "tamper")
		if _, err := l.Append(&rec); err != nil {
			t.Fatal(err)
		}
	}
	var recs []sdk.Sealed
	it := l.Store().Iter("svc-gateway@inst-1", "tamper")
	for it.Next() {
		r := it.Entry()
		r.Bytes = bytes.Clone(r.Bytes)
		recs = append(recs, r)
	}
	if len(recs) != n {
		t.Fatalf("%d records", len(recs))
	}
	return recs
}

func TestNewTwiceOnOneRegistry(t *testing.T) {
	_, reg := newMetrics(t)
	before, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	m2, err := New(reg)
	if err == nil || m2 != nil {
		t.Fatalf("second New on one registry: %v, %v; want an error", m2, err)
	}
	var re *RegistrationError
	if !errors.As(err, &re) || re.Metric != NameAppended {
		t.Fatalf("error %v (%T) is not a *RegistrationError for %s", err, err, NameAppended)
	}
	if !errors.Is(err, ErrAlreadyRegistered) {
		t.Fatalf("%v is not ErrAlreadyRegistered", err)
	}
	var are prometheus.AlreadyRegisteredError
	if !errors.As(err, &are) {
		t.Fatalf("%v does not unwrap to prometheus.AlreadyRegisteredError", err)
	}
	after, err := reg.Gather()
	if err != nil || len(after) != len(before) {
		t.Fatalf("registry changed by the failed New: %d families, was %d (%v)", len(after), len(before), err)
	}
	// A collision mid-way unregisters what New had registered.
	reg2 := prometheus.NewRegistry()
	reg2.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{Name: NameFsync, Help: "squatter"}))
	// (Another help string: a conflict, but not "already registered".)
	if _, err := New(reg2); !errors.As(err, &re) || re.Metric != NameFsync || errors.Is(err, ErrAlreadyRegistered) {
		t.Fatalf("New over a squatted %s: %v", NameFsync, err)
	}
	if n, err := testutil.GatherAndCount(reg2, NameDrop, NameQueueDepth); err != nil || n != 0 {
		t.Fatalf("failed New left %d series registered (%v)", n, err)
	}
	if _, err := New(nil); !errors.Is(err, ErrNilRegisterer) {
		t.Fatalf("New(nil): %v", err)
	}
	// Two registries: independent.
	if _, err := New(prometheus.NewRegistry()); err != nil {
		t.Fatal(err)
	}
}

func TestKindLabels(t *testing.T) {
	for k := canonical.Kind(0); k.IsKnown(); k++ {
		if KindLabel(k) == "" {
			t.Fatalf("kind %s has no label", k)
		}
	}
	if KindLabel(canonical.Kind(999)) != "unknown" {
		t.Fatal("unknown kind")
	}
}

func TestAdaptersAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	m, _ := newMetrics(t)
	m.Appended(canonical.KindGetServed, "reads", 100) // creates the series
	m.Busy("/object")
	ve := &sdk.VerifyError{Reason: sdk.ReasonPrevMismatch}
	for name, f := range map[string]func(){
		"Appended":            func() { m.Appended(canonical.KindGetServed, "reads", 100) },
		"Dropped":             func() { m.Dropped(DropAuditBackpressure) },
		"Busy":                func() { m.Busy(EndpointEmit) },
		"Busy(host endpoint)": func() { m.Busy("/object") },
		"DedupeHit":           func() { m.DedupeHit() },
		"Queued":              func() { m.Queued(1) },
		"OnFsync":             func() { m.OnFsync(time.Millisecond, 8) },
		"OnExport":            func() { m.OnExport(time.Millisecond, 8) },
		"OnCheckpointFailure": func() { m.OnCheckpointFailure(errDiskFull) },
		"OnExportFailure":     func() { m.OnExportFailure(errDiskFull) },
		"VerifyFailed":        func() { m.VerifyFailed(ve) },
	} {
		if a := testing.AllocsPerRun(200, f); a != 0 {
			t.Errorf("%s: %v allocs/op", name, a)
		}
	}
}

func TestAppendedConcurrent(t *testing.T) {
	m, _ := newMetrics(t)
	const goroutines, each = 8, 500
	done := make(chan struct{})
	for g := 0; g < goroutines; g++ {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := 0; i < each; i++ {
				m.Appended(canonical.Kind(i%9), fmt.Sprint("s", i%5), 1)
			}
		}()
	}
	for g := 0; g < goroutines; g++ {
		<-done
	}
	if got := testutil.ToFloat64(m.bytes); got != goroutines*each {
		t.Fatalf("bytes %v", got)
	}
	var total float64
	for s := 0; s < 5; s++ {
		for k := 0; k < numKinds; k++ {
			total += testutil.ToFloat64(m.appended.WithLabelValues(kindLabels[k], fmt.Sprint("s", s)))
		}
	}
	if total != goroutines*each {
		t.Fatalf("appended %v, want %d", total, goroutines*each)
	}
}

// TestDropReasonsCoverSDK: every drop reason the emitter counts
// (Stats.Dropped has one key per reason) is a series here, so none is
// folded into DropOther.
func TestDropReasonsCoverSDK(t *testing.T) {
	l, err := sdk.New(sdk.Config{Signer: newGate(t), Store: sdk.NewMemStore(0)})
	if err != nil {
		t.Fatal(err)
	}
	e, err := sdk.NewEmitter(l, sdk.EmitterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(context.Background())
	reasons := e.Stats().Dropped
	if len(reasons) == 0 {
		t.Fatal("Stats.Dropped has no reasons")
	}
	for r := range reasons {
		if !slices.Contains(DropReasons, r) {
			t.Errorf("sdk drop reason %q is not in DropReasons", r)
		}
	}
}

// TestStreamCardinality: the stream label stops growing at MaxStreams;
// records of later streams count under StreamOverflow, and none is lost.
func TestStreamCardinality(t *testing.T) {
	m, _ := newMetrics(t)
	const streams = MaxStreams + 500
	for i := 0; i < streams; i++ {
		m.Appended(canonical.KindCapIssued, fmt.Sprint("s", i), 1)
	}
	m.Appended(canonical.KindCapIssued, "s0", 1) // a stream seen before the cap keeps its series
	m.Appended(canonical.KindCapIssued, fmt.Sprint("s", streams+1), 1)
	if n := testutil.CollectAndCount(m.appended); n != MaxStreams+1 {
		t.Fatalf("%d series of %s, want %d", n, NameAppended, MaxStreams+1)
	}
	if got := testutil.ToFloat64(m.appended.WithLabelValues(kindLabels[canonical.KindCapIssued], "s0")); got != 2 {
		t.Fatalf("s0: %v", got)
	}
	if got := testutil.ToFloat64(m.appended.WithLabelValues(kindLabels[canonical.KindCapIssued], StreamOverflow)); got != 501 {
		t.Fatalf("%s: %v, want 501", StreamOverflow, got)
	}
}

// TestQueueDepthSettles: once the emitter is idle, audit_queue_depth is 0,
// whatever order the emit calls and the workers updated it in (both set it
// to the queue's length, and the later write could be the stale one).
func TestQueueDepthSettles(t *testing.T) {
	m, _ := newMetrics(t)
	l, err := sdk.New(sdk.Config{Signer: testSigner(t), DedupeWindow: -1})
	if err != nil {
		t.Fatal(err)
	}
	e, err := sdk.NewEmitter(l, sdk.EmitterOptions{Metrics: m, Workers: 8, Depth: 64})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(context.Background())
	for round := range 100 {
		var wg sync.WaitGroup
		for p := range 8 {
			wg.Go(func() {
				for i := range 8 {
					rec := testRecord(round*1000+p*10+i, canonical.KindGetServed, "s"+strconv.Itoa(p))
					e.TryEmit(&rec)
				}
			})
		}
		wg.Wait()
		waitIdle(t, e)
		if d := testutil.ToFloat64(m.queueDepth); d != 0 {
			t.Fatalf("round %d: idle, with audit_queue_depth %v", round, d)
		}
	}
}

// TestTwoLogsOneRegistry: the package doc's two ways for two logs (two
// node.Nodes, two Emitters) of one process on one registry: one Metrics
// shared, or one New per log on a registerer wrapped with a label of its
// own; a second New on the same registerer is the typed error, not a
// panic.
func TestTwoLogsOneRegistry(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	a, err := New(prometheus.WrapRegistererWith(prometheus.Labels{"log": "a"}, reg))
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(prometheus.WrapRegistererWith(prometheus.Labels{"log": "b"}, reg))
	if err != nil {
		t.Fatalf("a second log's New under its own label: %v", err)
	}
	if _, err := New(prometheus.WrapRegistererWith(prometheus.Labels{"log": "a"}, reg)); !errors.Is(err, ErrAlreadyRegistered) {
		t.Fatalf("New twice under one label: %v, want ErrAlreadyRegistered", err)
	}
	a.Dropped(DropAuditBackpressure)
	b.Dropped(DropAuditBackpressure)
	b.Dropped(DropAuditBackpressure)
	want := `
# HELP busy_rejections_total Requests rejected busy (queue full), by endpoint.
# TYPE busy_rejections_total counter
busy_rejections_total{endpoint="emit",log="a"} 0
busy_rejections_total{endpoint="emit",log="b"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), NameBusy); err != nil {
		t.Fatal(err)
	}
	if got := sumFamily(t, reg, NameDrop); got != 3 {
		t.Fatalf("%s summed over both logs = %v, want 3", NameDrop, got)
	}
}
