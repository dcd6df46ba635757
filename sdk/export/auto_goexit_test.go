package export

import (
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/rustyonions/ron-audit-go/internal/leakcheck"
	"github.com/rustyonions/ron-audit-go/sdk/checkpoint"
)

// TestAutoCloseAfterGoexit: a host's Prev (or Sink, signer, OnExport,
// OnFailure) that ends the export goroutine without returning, as
// t.Fatal in a test's fake does (runtime.Goexit), left the Auto
// "running" for good: Close waited forever, and so did node.Close. Close
// must return, with a failure naming the export that did not finish.
func TestAutoCloseAfterGoexit(t *testing.T) {
	check := leakcheck.Check(t)
	cp := checkpoint.Checkpoint{Origin: checkpoint.Origin("w", "s"), WriterID: "w", Stream: "s", Size: 3}
	log, keeper := autoDeps(t)
	a := &Auto{Exporter: &Exporter{Sink: &memSink{}}, Log: log, Keeper: keeper, Prev: func(string, string) (*State, error) {
		runtime.Goexit()
		return nil, nil
	}}
	a.Checkpointed(cp, 0)
	a.Start()
	closed := make(chan error, 1)
	go func() { closed <- a.Close() }()
	var err error
	select {
	case err = <-closed:
	case <-time.After(10 * time.Second): // a hang, not a speed: Close returns at once once the goroutine is gone
		t.Fatal("Close still waits for an export goroutine that ended by runtime.Goexit")
	}
	if err == nil || !strings.Contains(err.Error(), cp.Origin) || !strings.Contains(err.Error(), "seq 3") {
		t.Fatalf("Close: %v; want a failure naming %s and seq 3", err, cp.Origin)
	}
	if a.Err() == nil {
		t.Error("Err nil after the export did not finish")
	}
	a.Checkpointed(cp, 0) // after Close: nothing runs
	check()
}
