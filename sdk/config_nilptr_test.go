package sdk

import (
	"errors"
	"strings"
	"testing"

	"github.com/rustyonions/ron-audit-go/canonical"
)

// countingObserver and countingMetrics are a host's hooks with pointer
// receivers: a nil one in the interface is not a nil interface.
type countingObserver struct{ committed, durable int }

func (o *countingObserver) Committed(string, string, uint64, canonical.Hash, bool) { o.committed++ }
func (o *countingObserver) Durable(string, string, uint64, bool)                   { o.durable++ }

type countingMetrics struct{ n int }

func (m *countingMetrics) Appended(canonical.Kind, string, int) { m.n++ }
func (m *countingMetrics) Dropped(string)                       { m.n++ }
func (m *countingMetrics) Busy(string)                          { m.n++ }
func (m *countingMetrics) DedupeHit()                           { m.n++ }
func (m *countingMetrics) Queued(int)                           { m.n++ }
func (m *countingMetrics) VerifyFailed(error)                   { m.n++ }

// configErr runs f, turning a panic into a failure: a nil pointer the
// host put in a configuration must be ErrConfig naming the field.
func configErr(t *testing.T, what, field string, f func() error) {
	t.Helper()
	var err error
	panicked := true
	func() {
		defer func() {
			if r := recover(); r != nil {
				t.Errorf("%s: panic %v, want ErrConfig naming %s", what, r, field)
			}
		}()
		err = f()
		panicked = false
	}()
	if panicked {
		return
	}
	if err != nil && (!errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), field)) {
		t.Errorf("%s: %v, want ErrConfig naming %s", what, err, field)
	}
	if err == nil {
		t.Errorf("%s: accepted, want ErrConfig naming %s", what, field)
	}
}

// TestConfigNilPointerIsErrConfig: a nil pointer in a Signer, Store,
// Observer or EmitterMetrics (sdk.LoadSigner's result with its error
// dropped, a *checkpoint.Keeper or *metrics.Metrics declared and made
// only on some path) is not a nil interface, so New and NewEmitter took
// it, and the first record panicked with a nil pointer: New itself for
// the Signer, Append for the Store and the Observer, TryEmit for the
// metrics, and, behind an Emitter, its worker goroutine, which no caller
// can recover and which ends the host's process (the Observer's
// Committed, the metrics' Appended). Each must be ErrConfig at New,
// RotateKey or NewEmitter.
func TestConfigNilPointerIsErrConfig(t *testing.T) {
	signer := newTestSigner(t)
	rec := func() *canonical.AuditRecord {
		return &canonical.AuditRecord{WriterID: "w", Stream: "s", Reason: "r"}
	}
	configErr(t, "New with a nil *Ed25519Signer", "Signer", func() error {
		_, err := New(Config{Signer: (*Ed25519Signer)(nil)})
		return err
	})
	configErr(t, "New with a nil *MemStore", "Store", func() error {
		l, err := New(Config{Signer: signer, Store: (*MemStore)(nil)})
		if err == nil {
			_, err = l.Append(rec())
		}
		return err
	})
	configErr(t, "New with a nil Observer pointer", "Observer", func() error {
		l, err := New(Config{Signer: signer, Observer: (*countingObserver)(nil)})
		if err == nil {
			_, err = l.Append(rec())
		}
		return err
	})
	configErr(t, "RotateKey to a nil *Ed25519Signer", "RotateKey", func() error {
		l, err := New(Config{Signer: signer})
		if err != nil {
			t.Fatal(err)
		}
		_, err = l.RotateKey((*Ed25519Signer)(nil))
		return err
	})
	configErr(t, "NewEmitter with nil Metrics pointer", "Metrics", func() error {
		l, err := New(Config{Signer: signer})
		if err != nil {
			t.Fatal(err)
		}
		e, err := NewEmitter(l, EmitterOptions{Metrics: (*countingMetrics)(nil), Workers: 1})
		if err == nil {
			defer e.Close(t.Context())
			err = e.TryEmit(rec())
		}
		return err
	})
}
