package node_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"path/filepath"

	"github.com/rustyonions/ron-audit-go/internal/leakcheck"
	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/node"
)

// TestEmitterCloseDeadlineThenNodeClose: emitters' goroutines keep
// TryEmit-ing while the host closes its Emitter with a deadline that
// passes (records still queued are dropped, reason shutdown), waits for
// Done, then closes the Node. Every record acknowledged (OnDurable) is in
// the log, under its chain's last checkpoint and in a bundle; the log
// holds no record that was not acknowledged; the counts add up (Offered
// = Appended + Dedupe + Dropped); nothing is left running.
func TestEmitterCloseDeadlineThenNodeClose(t *testing.T) {
	check := leakcheck.Check(t)
	dir, exports := filepath.Join(t.TempDir(), "wal"), t.TempDir()
	signer := testSigner(t)
	n, _, err := node.Open(dir, signer, node.Options{Every: 5, ExportDir: exports})
	if err != nil {
		t.Fatal(err)
	}
	var acked [2]atomic.Uint64
	em, err := sdk.NewEmitter(n.Log(), sdk.EmitterOptions{Depth: 64, OnDurable: func(a sdk.EmitAck) {
		if a.Stream == "a" {
			acked[0].Add(1)
		} else {
			acked[1].Add(1)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, s := range []string{"a", "b"} {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				em.TryEmit(record("w", s, i))
			}
		})
	}
	for acked[0].Load() < 30 || acked[1].Load() < 30 {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	cerr := em.Close(ctx) // emits go on meanwhile: after Close they are refused
	close(stop)
	wg.Wait()
	<-em.Done()
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	st := em.Stats()
	var dropped uint64
	for _, d := range st.Dropped {
		dropped += d
	}
	if st.Offered != st.Appended+st.Dedupe+dropped {
		t.Errorf("Close: %v; offered %d != appended %d + dedupe %d + dropped %d (%v)", cerr, st.Offered, st.Appended, st.Dedupe, dropped, st.Dropped)
	}
	if st.Appended != acked[0].Load()+acked[1].Load() {
		t.Errorf("appended %d, acknowledged %d", st.Appended, acked[0].Load()+acked[1].Load())
	}
	check()
	verifyAll(t, dir, exports, signer.Public(), map[string]uint64{"a": acked[0].Load(), "b": acked[1].Load()})
}
