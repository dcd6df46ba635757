package sdk_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/rustyonions/ron-audit-go/sdk"
)

// TestDegradedSinkErrorsNotLost: DegradedError.SinkErrors counts every
// record dropped for a sink error, those refused to their caller
// included (its docs say so), but Ready's message called them "records
// lost": here the one record was refused (TryEmit returned the error),
// Close reports nothing lost, and Ready said "1 records lost to sink
// errors".
func TestDegradedSinkErrorsNotLost(t *testing.T) {
	l := coreLog(t, sdk.Config{})
	e := newEmitter(t, l, sdk.EmitterOptions{Shed: sdk.ShedBlock})
	emitSettled(t, e, 1)
	l.Close() // under the emitter: it refuses records from here on
	r := emitRecord(0, 2, "s")
	if err := e.TryEmit(&r); !errors.Is(err, sdk.ErrClosed) {
		t.Fatalf("TryEmit after the log's Close: %v, want ErrClosed", err)
	}
	var d *sdk.DegradedError
	if err := e.Ready(); !errors.As(err, &d) || d.SinkErrors != 1 {
		t.Fatalf("Ready: %v, want a DegradedError counting 1 sink error", err)
	}
	if msg := d.Error(); strings.Contains(msg, "lost") || !strings.Contains(msg, "1 record dropped for sink errors") {
		t.Errorf("Ready: %q; want the refused record named dropped, not lost", msg)
	}
	if err := e.Close(context.Background()); err != nil {
		t.Errorf("Close: %v; want nil: no accepted record was lost", err)
	}
}
