package metrics

import (
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/sdk/checkpoint"
)

// TestNilMetricsCountsNothing: a host with metrics turned off holds a
// nil *Metrics, and the package doc's wiring passes its method values
// as hooks (wal.Options{OnFsync: m.OnFsync}, KeeperOptions{OnCheckpoint:
// m.OnCheckpoint}, export.Auto{OnFailure: m.OnExportFailure}). A method
// value of a nil pointer is a non-nil func, so no constructor can see
// it, and each call panicked with a nil pointer: on the WAL's fsync
// path, under the Log's lock, on an Auto's export goroutine, where
// nothing recovers and the host's process ends. A nil *Metrics must
// count nothing, every method.
func TestNilMetricsCountsNothing(t *testing.T) {
	var m *Metrics
	for name, call := range map[string]func(){
		"Appended":            func() { m.Appended(canonical.KindCapIssued, "s", 10) },
		"Dropped":             func() { m.Dropped(DropShutdown) },
		"Busy":                func() { m.Busy("route") },
		"DedupeHit":           func() { m.DedupeHit() },
		"Queued":              func() { m.Queued(1) },
		"VerifyFailed":        func() { m.VerifyFailed(errors.New("x")) },
		"OnFsync":             func() { m.OnFsync(time.Millisecond, 1) },
		"OnCheckpoint":        func() { m.OnCheckpoint(checkpoint.Checkpoint{}, time.Millisecond) },
		"OnExport":            func() { m.OnExport(time.Millisecond, 1) },
		"OnCheckpointFailure": func() { m.OnCheckpointFailure(errors.New("x")) },
		"OnExportFailure":     func() { m.OnExportFailure(errors.New("x")) },
	} {
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("(*Metrics)(nil).%s: panic %v", name, r)
				}
			}()
			call()
		}()
	}
}

// TestNewNilRegistererPointer: a nil *prometheus.Registry is no nil
// Registerer: New took it and panicked in Register. It is
// ErrNilRegisterer, as a nil Registerer is.
func TestNewNilRegistererPointer(t *testing.T) {
	var err error
	func() {
		defer func() {
			if r := recover(); r != nil {
				err = errors.New("panic")
				t.Errorf("New((*prometheus.Registry)(nil)): panic %v", r)
			}
		}()
		_, err = New((*prometheus.Registry)(nil))
	}()
	if !errors.Is(err, ErrNilRegisterer) {
		t.Errorf("New((*prometheus.Registry)(nil)) = %v, want ErrNilRegisterer", err)
	}
}
