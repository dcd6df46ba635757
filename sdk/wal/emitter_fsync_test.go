package wal_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/metrics"
	"github.com/rustyonions/ron-audit-go/sdk/wal"
)

// TestEmitterOnFailingFsync drives the hosting path end to end on a WAL
// whose fsyncs start failing (EIO) part way: an Emitter with the
// Prometheus metrics of its own registry. Callers get the failure,
// OnDurable acknowledges only records a reopen finds on disk, Close does
// not hang, the log's Close reports the failure, and the metrics say
// what happened: audit_drop_total{reason="sink_error"} counts every
// record lost, audit_appended_total the records acknowledged, and
// wal_fsync_seconds observes no failed fsync.
func TestEmitterOnFailingFsync(t *testing.T) {
	seed := make([]byte, ed25519.SeedSize)
	signer, err := sdk.NewEd25519Signer(ed25519.NewKeyFromSeed(seed))
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewPedanticRegistry()
	m, err := metrics.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "wal")
	l, _, err := sdk.OpenDurable(dir, sdk.Config{Signer: signer},
		sdk.DurableOptions{WAL: wal.Options{Fsync: wal.FsyncBatch, OnFsync: m.OnFsync}})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	acked := map[string]uint64{} // stream -> highest seq acknowledged
	var lost int
	e, err := sdk.NewEmitter(l, sdk.EmitterOptions{Depth: 64, Workers: 2, Metrics: m,
		OnDurable: func(a sdk.EmitAck) {
			mu.Lock()
			defer mu.Unlock()
			acked[a.Stream] = max(acked[a.Stream], a.Seq)
		},
		OnDrop: func(_, _, reason string, err error) {
			mu.Lock()
			defer mu.Unlock()
			lost++
			if reason != sdk.DropSinkError || !errors.Is(err, syscall.EIO) {
				t.Errorf("OnDrop %s: %v", reason, err)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	emit := func(i int) error {
		rec := canonical.AuditRecord{Kind: canonical.KindIndexWrite, TsMs: 1764201600000 + uint64(i),
			WriterID: "svc@1", Stream: fmt.Sprint("s", i%3), Reason: "write",
			Attrs: []canonical.Attr{{Key: "n", Value: fmt.Sprint(i)}}}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return e.Emit(ctx, &rec)
	}
	for i := 0; i < 60; i++ {
		if err := emit(i); err != nil {
			t.Fatal(err)
		}
	}
	for deadline := time.Now().Add(10 * time.Second); e.Stats().InFlight > 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("records still in flight 10 s after the disk worked: %+v", e.Stats())
		}
	}
	fsyncsBefore := sampleCount(t, reg, metrics.NameFsync)
	if fsyncsBefore == 0 {
		t.Fatal("no fsync observed while the disk worked")
	}

	wal.FailSegmentFsyncs(t)
	var refused int
	for i := 60; i < 300; i++ {
		switch err := emit(i); {
		case err == nil:
		case errors.Is(err, sdk.ErrStore) && errors.Is(err, syscall.EIO):
			refused++
		default:
			t.Fatalf("emit %d: %v", i, err)
		}
	}
	if refused == 0 {
		t.Error("no caller was told the WAL failed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// The records accepted before the fsync failed are lost (OnDrop saw
	// each): Close says so, wrapping the WAL's failure.
	cerr := e.Close(ctx)
	mu.Lock()
	nlost := lost
	mu.Unlock()
	if nlost > 0 && (!errors.Is(cerr, sdk.ErrRecordsLost) || !errors.Is(cerr, syscall.EIO)) {
		t.Fatalf("emitter Close after %d accepted records were lost: %v, want ErrRecordsLost wrapping EIO", nlost, cerr)
	} else if nlost == 0 && cerr != nil {
		t.Fatalf("emitter Close with no accepted record lost: %v", cerr)
	}
	if err := l.Close(); !errors.Is(err, wal.ErrPoisoned) || !errors.Is(err, syscall.EIO) {
		t.Errorf("log Close after a failed fsync: %v", err)
	}
	if got := sampleCount(t, reg, metrics.NameFsync); got != fsyncsBefore {
		t.Errorf("%s: %d samples after the fsyncs failed, %d before: a failed fsync was observed", metrics.NameFsync, got, fsyncsBefore)
	}
	st := e.Stats()
	if got := counter(t, reg, metrics.NameDrop, "reason", sdk.DropSinkError); got != float64(st.Dropped[sdk.DropSinkError]) || got == 0 {
		t.Errorf("%s{sink_error} = %v, emitter dropped %d", metrics.NameDrop, got, st.Dropped[sdk.DropSinkError])
	}
	if got := counter(t, reg, metrics.NameAppended, "", ""); got != float64(st.Appended) {
		t.Errorf("%s = %v, emitter appended %d", metrics.NameAppended, got, st.Appended)
	}
	if int(st.Dropped[sdk.DropSinkError]) != lost+refused {
		t.Errorf("sink_error %d, OnDrop %d + refused %d", st.Dropped[sdk.DropSinkError], lost, refused)
	}
	if err := e.Ready(); !errors.Is(err, sdk.ErrDegraded) {
		t.Errorf("Ready: %v", err)
	}

	// Every record acknowledged is on disk.
	wal.RestoreFsyncs()
	l2, rec, err := sdk.OpenDurable(dir, sdk.Config{Signer: signer}, sdk.DurableOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	var onDisk uint64
	for _, h := range rec.Heads {
		onDisk += h.Seq
		if h.Seq < acked[h.Stream] {
			t.Errorf("stream %s: seq %d acknowledged, %d on disk", h.Stream, acked[h.Stream], h.Seq)
		}
	}
	if onDisk < st.Appended || st.Appended < 60 {
		t.Errorf("%d records on disk, %d acknowledged", onDisk, st.Appended)
	}
}

func family(t *testing.T, reg prometheus.Gatherer, name string) *dto.MetricFamily {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf
		}
	}
	return nil
}

func sampleCount(t *testing.T, reg prometheus.Gatherer, name string) uint64 {
	t.Helper()
	mf := family(t, reg, name)
	if mf == nil {
		t.Fatalf("%s not gathered", name)
	}
	return mf.GetMetric()[0].GetHistogram().GetSampleCount()
}

// counter sums the series of a counter family whose label has value
// (every series if label is "").
func counter(t *testing.T, reg prometheus.Gatherer, name, label, value string) float64 {
	t.Helper()
	var sum float64
	mf := family(t, reg, name)
	if mf == nil {
		return 0
	}
	for _, m := range mf.GetMetric() {
		ok := label == ""
		for _, lp := range m.GetLabel() {
			if lp.GetName() == label && lp.GetValue() == value {
				ok = true
			}
		}
		if ok {
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}
