package metrics

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/checkpoint"
	"github.com/rustyonions/ron-audit-go/sdk/export"
)

// breakDir replaces dir with a regular file: nothing can be created
// under it any more, as when a volume is full or unwritable. (A chmod
// would not do: the tests may run as root, whom it does not stop.)
func breakDir(t *testing.T, dir string) {
	t.Helper()
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir, []byte("not a directory\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestKeeperFailureDegradesReady: a checkpoint Keeper, the Log's
// Observer, that can no longer write its checkpoints makes the emitter's
// Ready report the audit plane degraded, naming the Keeper's failure, and
// is counted in audit_export_fail_total{stage="checkpoint"}; before the
// failure Ready is nil and the counter 0. Records are still appended: the
// Log has not failed, only the evidence that would show it cut stopped.
func TestKeeperFailureDegradesReady(t *testing.T) {
	m, reg := newMetrics(t)
	dir := filepath.Join(t.TempDir(), "cp")
	var failures atomic.Int64
	keeper, err := checkpoint.NewKeeper(dir, testSigner(t), checkpoint.KeeperOptions{
		Every: 2, Interval: -1, OnCheckpoint: m.OnCheckpoint,
		OnFailure: func(err error) { failures.Add(1); m.OnCheckpointFailure(err) },
	})
	if err != nil {
		t.Fatal(err)
	}
	l, err := sdk.New(sdk.Config{Signer: testSigner(t), Observer: keeper})
	if err != nil {
		t.Fatal(err)
	}
	acks := make(chan sdk.EmitAck, 8)
	e, err := sdk.NewEmitter(l, sdk.EmitterOptions{Metrics: m, Shed: sdk.ShedBlock, Workers: 1,
		OnDurable: func(a sdk.EmitAck) { acks <- a }})
	if err != nil {
		t.Fatal(err)
	}
	emitDurable := func(i int) {
		t.Helper()
		emitOK(t, e, testRecord(i, canonical.KindCapIssued, "caps"))
		select {
		case <-acks:
		case <-time.After(10 * time.Second):
			t.Fatalf("record %d not durable", i)
		}
	}
	emitDurable(0)
	emitDurable(1) // checkpoint of size 2
	if got := testutil.ToFloat64(m.checkpoints); got != 1 {
		t.Fatalf("%s = %v before the failure, want 1", NameCheckpoints, got)
	}
	if err := e.Ready(); err != nil {
		t.Fatalf("Ready with a healthy Keeper: %v", err)
	}
	if got := testutil.ToFloat64(m.cpFailC); got != 0 {
		t.Fatalf("%s{stage=checkpoint} = %v before the failure", NameExportFail, got)
	}

	breakDir(t, dir)
	emitDurable(2)
	emitDurable(3) // checkpoint of size 4 due: it cannot be written

	err = e.Ready()
	var d *sdk.DegradedError
	if !errors.As(err, &d) || !errors.Is(err, sdk.ErrDegraded) {
		t.Fatalf("Ready after the Keeper failed: %v, want a *sdk.DegradedError", err)
	}
	if d.ObserverFailed == nil || d.ObserverFailed != keeper.Err() {
		t.Errorf("DegradedError.ObserverFailed = %v, want the Keeper's Err %v", d.ObserverFailed, keeper.Err())
	}
	if !errors.Is(d.ObserverFailed, checkpoint.ErrSign) {
		t.Errorf("ObserverFailed = %v, want checkpoint.ErrSign (a checkpoint not written)", d.ObserverFailed)
	}
	if msg := err.Error(); !strings.Contains(msg, "log observer failed (checkpoints or exports stopped)") ||
		!strings.Contains(msg, filepath.Join(dir, "svc-gateway@inst-1", "caps")) {
		t.Errorf("Ready's message %q does not name the Keeper's failure and its directory", msg)
	}
	// Only the Keeper failed: the log takes records, none was lost.
	if d.LogFailed != nil || d.Closed || d.SinkErrors != 0 || d.VerifyFailures != 0 {
		t.Errorf("DegradedError %+v: only ObserverFailed should be set", d)
	}
	n := failures.Load()
	if n < 1 {
		t.Fatal("OnFailure was not called")
	}
	if got := testutil.ToFloat64(m.cpFailC); got != float64(n) {
		t.Errorf("%s{stage=checkpoint} = %v, the Keeper failed %d times", NameExportFail, got, n)
	}
	if got := testutil.ToFloat64(m.exFailC); got != 0 {
		t.Errorf("%s{stage=bundle} = %v, no export ran", NameExportFail, got)
	}
	if got := testutil.ToFloat64(m.checkpoints); got != 1 {
		t.Errorf("%s = %v, want 1 (the one before the failure)", NameCheckpoints, got)
	}
	if problems, err := testutil.GatherAndLint(reg, NameExportFail); err != nil || len(problems) != 0 {
		t.Errorf("promlint: %v %+v", err, problems)
	}

	if err := e.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := keeper.Close(); !errors.Is(err, checkpoint.ErrSign) {
		t.Fatalf("Keeper.Close = %v, want its failure", err)
	}
}

// TestAutoFailureCounted: an export.Auto whose export fails counts the
// failure that stopped it in audit_export_fail_total{stage="bundle"}.
func TestAutoFailureCounted(t *testing.T) {
	m, _ := newMetrics(t)
	errPrev := errors.New("export directory unreadable (simulated)")
	auto := &export.Auto{
		Exporter:  &export.Exporter{Sink: &export.FileSink{Dir: t.TempDir()}, Signer: testSigner(t), OnExport: m.OnExport},
		Prev:      func(writer, stream string) (*export.State, error) { return nil, errPrev },
		OnFailure: m.OnExportFailure,
	}
	keeper, err := checkpoint.NewKeeper(t.TempDir(), testSigner(t), checkpoint.KeeperOptions{
		Every: 2, Interval: -1, OnFailure: m.OnCheckpointFailure,
		OnCheckpoint: func(cp checkpoint.Checkpoint, took time.Duration) {
			m.OnCheckpoint(cp, took)
			auto.Checkpointed(cp, took)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	l, err := sdk.New(sdk.Config{Signer: testSigner(t), Observer: keeper})
	if err != nil {
		t.Fatal(err)
	}
	auto.Log, auto.Keeper = l, keeper
	auto.Start()
	for i := 0; i < 4; i++ { // two checkpoints, two exports queued
		rec := testRecord(i, canonical.KindCapIssued, "caps")
		if _, err := l.Append(&rec); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := keeper.Close(); err != nil {
		t.Fatal(err)
	}
	if err := auto.Close(); !errors.Is(err, errPrev) {
		t.Fatalf("Auto.Close = %v, want the Prev failure", err)
	}
	// The first failure stops the exports: one counted.
	if got := testutil.ToFloat64(m.exFailC); got != 1 {
		t.Errorf("%s{stage=bundle} = %v, want 1", NameExportFail, got)
	}
	if got := testutil.ToFloat64(m.cpFailC); got != 0 {
		t.Errorf("%s{stage=checkpoint} = %v, the Keeper did not fail", NameExportFail, got)
	}
	if got := testutil.ToFloat64(m.checkpoints); got != 2 {
		t.Errorf("%s = %v, want 2", NameCheckpoints, got)
	}
}
