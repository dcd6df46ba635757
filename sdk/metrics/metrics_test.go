package metrics

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
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

// appendReported appends rec and reports it as a host does.
func appendReported(t testing.TB, m *Metrics, l *sdk.Log, rec canonical.AuditRecord) sdk.Appended {
	t.Helper()
	a, err := l.Append(&rec)
	if err != nil {
		t.Fatal(err)
	}
	if a.Duplicate {
		m.DedupeHit()
	} else {
		m.Appended(rec.Kind, rec.Stream, len(a.Record.Bytes))
	}
	return a
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
audit_drop_total{reason="io_backpressure"} 0
audit_drop_total{reason="other"} 0
audit_drop_total{reason="shutdown"} 0
# HELP busy_rejections_total Requests rejected busy (queue full), by endpoint.
# TYPE busy_rejections_total counter
busy_rejections_total{endpoint="emit"} 0
# HELP audit_queue_depth Records waiting in the emitter's queue.
# TYPE audit_queue_depth gauge
audit_queue_depth 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), NameDrop, NameBusy, NameQueueDepth); err != nil {
		t.Fatal(err)
	}
	if n, err := testutil.GatherAndCount(reg, NameVerifyFail); err != nil || n != len(VerifyReasons) {
		t.Fatalf("%d verify series (%v), want %d", n, err, len(VerifyReasons))
	}
	if n, err := testutil.GatherAndCount(prometheus.DefaultGatherer, NameAppended, NameDrop, NameFsync); err != nil || n != 0 {
		t.Fatalf("default registry has %d audit series (%v): New must not register globally", n, err)
	}
}

// TestWorkload runs a known workload through real SDK components and the
// adapters and checks every metric's value.
func TestWorkload(t *testing.T) {
	m, reg := newMetrics(t)

	// In-memory log: 5 get_served to "reads", 2 policy_changed to "admin",
	// then 1 replay of an earlier event (a dedupe hit).
	l, err := sdk.New(sdk.Config{Signer: testSigner(t), Store: sdk.NewMemStore(0)})
	if err != nil {
		t.Fatal(err)
	}
	var wantBytes int
	for i := 0; i < 5; i++ {
		wantBytes += len(appendReported(t, m, l, testRecord(i, canonical.KindGetServed, "reads")).Record.Bytes)
	}
	for i := 0; i < 2; i++ {
		wantBytes += len(appendReported(t, m, l, testRecord(100+i, canonical.KindPolicyChanged, "admin")).Record.Bytes)
	}
	if a := appendReported(t, m, l, testRecord(3, canonical.KindGetServed, "reads")); !a.Duplicate {
		t.Fatal("replayed record was not a duplicate")
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	// Emitter-side events.
	for _, r := range []string{DropAuditBackpressure, DropAuditBackpressure, DropShutdown, DropClosed, "mystery"} {
		m.Dropped(r)
	}
	m.Busy(EndpointEmit)
	m.Busy(EndpointEmit)
	m.Busy(EndpointEmit)
	m.QueueDepth(17)

	// A real tampered chain: its *sdk.VerifyError's reason is counted,
	// and a non-VerifyError is "other".
	recs := chainRecords(t, 10)
	recs[4].Bytes[len(recs[4].Bytes)/2] ^= 1
	_, verr := sdk.VerifyChain(sdk.NewSliceIterator(recs), l.Keys(), sdk.VerifyOptions{})
	var ve *sdk.VerifyError
	if !errors.As(verr, &ve) {
		t.Fatalf("tampered chain: %v", verr)
	}
	m.VerifyFailed(fmt.Errorf("host: %w", verr))
	m.VerifyFailed(errors.New("disk on fire"))
	m.VerifyFailed(nil)

	// Durable log with a checkpoint keeper: every fsync observed, a
	// checkpoint every 2 durable records.
	dir := filepath.Join(t.TempDir(), "wal") // the WAL makes it 0700
	var checkpoints int
	keeper, err := checkpoint.NewKeeper(t.TempDir(), testSigner(t), checkpoint.KeeperOptions{
		Every: 2, Interval: -1,
		OnCheckpoint: func(cp checkpoint.Checkpoint, took time.Duration) { checkpoints++; m.OnCheckpoint(cp, took) },
	})
	if err != nil {
		t.Fatal(err)
	}
	dl, _, err := sdk.OpenDurable(dir, sdk.Config{Signer: testSigner(t), Observer: keeper},
		sdk.DurableOptions{WAL: wal.Options{Fsync: wal.FsyncAlways, OnFsync: m.OnFsync}})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 4; i++ {
		wantBytes += len(appendReported(t, m, dl, testRecord(200+i, canonical.KindIndexWrite, "durable")).Record.Bytes)
	}
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
audit_drop_total{reason="audit_backpressure"} 2
audit_drop_total{reason="bounds_exceeded"} 0
audit_drop_total{reason="closed"} 1
audit_drop_total{reason="io_backpressure"} 0
audit_drop_total{reason="other"} 1
audit_drop_total{reason="shutdown"} 1
# HELP audit_queue_depth Records waiting in the emitter's queue.
# TYPE audit_queue_depth gauge
audit_queue_depth 17
# HELP busy_rejections_total Requests rejected busy (queue full), by endpoint.
# TYPE busy_rejections_total counter
busy_rejections_total{endpoint="emit"} 3
`, wantBytes)
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		NameAppended, NameBytes, NameDedupeHits, NameDrop, NameQueueDepth, NameBusy); err != nil {
		t.Fatal(err)
	}
	if wantBytes <= 0 {
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
	// FsyncAlways: at least one fsync per appended record, each observed.
	if h := histogram(t, reg, NameFsync); h.GetSampleCount() < 4 || h.GetSampleSum() <= 0 {
		t.Errorf("%s: %d samples, sum %v; want >= 4 samples, sum > 0", NameFsync, h.GetSampleCount(), h.GetSampleSum())
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
	ve := &sdk.VerifyError{Reason: sdk.ReasonPrevMismatch}
	for name, f := range map[string]func(){
		"Appended":     func() { m.Appended(canonical.KindGetServed, "reads", 100) },
		"Dropped":      func() { m.Dropped(DropAuditBackpressure) },
		"Busy":         func() { m.Busy(EndpointEmit) },
		"DedupeHit":    func() { m.DedupeHit() },
		"QueueDepth":   func() { m.QueueDepth(3) },
		"OnFsync":      func() { m.OnFsync(time.Millisecond, 8) },
		"OnExport":     func() { m.OnExport(time.Millisecond, 8) },
		"VerifyFailed": func() { m.VerifyFailed(ve) },
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
