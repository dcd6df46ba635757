package export

import (
	"sync"
	"testing"
	"time"

	"github.com/rustyonions/ron-audit-go/internal/leakcheck"
	"github.com/rustyonions/ron-audit-go/sdk/checkpoint"
)

// TestAutoCheckpointedAfterClose: a checkpoint reported after Close (a
// Keeper closed after the Auto) must not start an export goroutine no
// one waits for. Checkpointed and Start after Close do nothing: the
// export is not attempted (Prev is not asked) and no goroutine is left.
func TestAutoCheckpointedAfterClose(t *testing.T) {
	check := leakcheck.Check(t)
	called := make(chan struct{}, 4)
	release := make(chan struct{})
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	defer unblock() // lets a (wrongly) started export end
	log, keeper := autoDeps(t)
	auto := &Auto{
		Exporter: &Exporter{Sink: &memSink{}, Signer: newSigner(t, 1)},
		Log:      log, Keeper: keeper,
		// Blocks until the test ends, then says the chain is exported up
		// to the checkpoint: an export that starts is seen, and never
		// reaches Log.
		Prev: func(string, string) (*State, error) {
			called <- struct{}{}
			<-release
			return &State{Size: 1 << 40}, nil
		},
	}
	auto.Start()
	if err := auto.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	cp := checkpoint.Checkpoint{Origin: checkpoint.Origin("w", "s"), WriterID: "w", Stream: "s", Size: 3}
	auto.Checkpointed(cp, time.Millisecond)
	auto.Start()
	auto.Checkpointed(cp, time.Millisecond)
	select {
	case <-called:
		t.Error("an export ran after Close (Prev was asked)")
	case <-time.After(200 * time.Millisecond):
	}
	check()
	unblock()
	if err := auto.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}
