package sdk_test

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rustyonions/ron-audit-go/internal/leakcheck"
	"github.com/rustyonions/ron-audit-go/sdk"
)

// waitBlockedOnMutex waits until a goroutine whose stack holds fn (as
// runtime.Stack prints it, "sdk.NewEmitter(" say) waits for a
// sync.Mutex, and fails t if none does within 5s.
func waitBlockedOnMutex(t *testing.T, fn string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	buf := make([]byte, 1<<20)
	for time.Now().Before(deadline) {
		n := runtime.Stack(buf, true)
		for g := range strings.SplitSeq(string(buf[:n]), "\n\n") {
			header, _, _ := strings.Cut(g, "\n")
			if strings.Contains(header, "[sync.Mutex.Lock") && strings.Contains(g, fn) {
				return
			}
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("no goroutine in %s waits for a mutex after 5s", fn)
}

// TestNewEmitterOnClosedLog: NewEmitter on a closed log fails with
// ErrClosed, wrapped, and starts nothing.
func TestNewEmitterOnClosedLog(t *testing.T) {
	defer leakcheck.Check(t)()
	l := coreLog(t, sdk.Config{})
	coreAppend(t, l, 2)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	e, err := sdk.NewEmitter(l, sdk.EmitterOptions{Depth: 4, Workers: 2})
	if e != nil || !errors.Is(err, sdk.ErrClosed) || err == sdk.ErrClosed || !strings.Contains(err.Error(), "NewEmitter") {
		t.Fatalf("NewEmitter after Close: %v, %v; want nil and ErrClosed wrapped, naming NewEmitter", e, err)
	}
}

// TestNewEmitterWhileClosing: a NewEmitter that checked the log before
// a Close began, and then waited for a rotation under way (as Close
// does), used to start its emitter on the closing log once the rotation
// ended: every record it then accepted failed with ErrClosed. It now
// checks, under the lock Close stops the log with, whether Close has
// begun, and fails with ErrClosed. The NewEmitter waits for the
// rotation's lock first, so it is woken first.
func TestNewEmitterWhileClosing(t *testing.T) {
	defer leakcheck.Check(t)()
	store := &putHookStore{MemStore: sdk.NewMemStore(0)}
	l := coreLog(t, sdk.Config{Store: store})
	r := emitRecord(0, 0, "a")
	if _, err := l.Append(&r); err != nil {
		t.Fatal(err)
	}
	type result struct {
		e   *sdk.Emitter
		err error
	}
	newEm := make(chan result, 1)
	closed := make(chan error, 1)
	var once sync.Once
	store.onPut = func(_, _ string, seq uint64, _ sdk.Sealed) {
		if seq != 2 {
			return
		}
		once.Do(func() {
			// RotateKey writes its transition, holding the lock NewEmitter
			// and Close wait for: NewEmitter first, then Close.
			go func() {
				e, err := sdk.NewEmitter(l, sdk.EmitterOptions{Depth: 4, Workers: 1})
				newEm <- result{e, err}
			}()
			waitBlockedOnMutex(t, "sdk.NewEmitter(")
			go func() { closed <- l.Close() }()
			waitBlockedOnMutex(t, "sdk.(*Log).Close(")
		})
	}
	var rerr error
	within(t, 5*time.Second, "RotateKey", func() { _, rerr = l.RotateKey(rotateSigner(t, "while closing next")) })
	if rerr != nil {
		t.Fatalf("RotateKey: %v", rerr)
	}
	res := <-newEm
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
	if res.e != nil {
		if err := res.e.Close(context.Background()); err != nil {
			t.Error(err)
		}
	}
	if res.e != nil || !errors.Is(res.err, sdk.ErrClosed) {
		t.Fatalf("NewEmitter begun before a Close that began before it returned: emitter started %v, %v; want none and ErrClosed", res.e != nil, res.err)
	}
}

// TestNewEmitterRacesClose races NewEmitter with the log's Close: either
// NewEmitter fails with ErrClosed, or it returns an emitter every record
// of which is accounted for (acknowledged, or dropped with a reason and
// an error that says the log closed) and whose Close returns.
func TestNewEmitterRacesClose(t *testing.T) {
	defer leakcheck.Check(t)()
	budget := time.Second
	if testing.Short() {
		budget = 300 * time.Millisecond
	}
	var refused, started int
	for start := time.Now(); time.Since(start) < budget && !t.Failed(); {
		l := coreLog(t, sdk.Config{})
		coreAppend(t, l, 1)
		var acks, drops atomic.Int64
		var badDrop atomic.Value
		opts := sdk.EmitterOptions{Depth: 8, Workers: 2,
			OnDurable: func(sdk.EmitAck) { acks.Add(1) },
			OnDrop: func(_, _ string, reason string, err error) {
				drops.Add(1)
				if reason != sdk.DropSinkError && reason != sdk.DropShutdown || !errors.Is(err, sdk.ErrClosed) {
					badDrop.Store(reason + ": " + err.Error())
				}
			}}
		closed := make(chan error, 1)
		ready := make(chan struct{})
		go func() {
			<-ready
			closed <- l.Close()
		}()
		close(ready)
		e, err := sdk.NewEmitter(l, opts)
		if err != nil {
			if !errors.Is(err, sdk.ErrClosed) {
				t.Fatalf("NewEmitter racing Close: %v, want ErrClosed", err)
			}
			refused++
			if err := <-closed; err != nil {
				t.Fatal(err)
			}
			continue
		}
		started++
		var accepted int64
		for i := range 20 {
			r := emitRecord(1, i, "race")
			switch err := e.TryEmit(&r); {
			case err == nil:
				accepted++
			case errors.Is(err, sdk.ErrClosed), errors.Is(err, sdk.ErrBusy):
			default:
				t.Fatalf("TryEmit: %v", err)
			}
		}
		var cerr error
		within(t, 5*time.Second, "the emitter's Close", func() { cerr = e.Close(context.Background()) })
		if err := <-closed; err != nil {
			t.Fatal(err)
		}
		// Nil when every accepted record was appended, else it says the
		// log's Close lost the rest (ErrRecordsLost wrapping ErrClosed).
		switch lost := drops.Load(); {
		case lost == 0 && cerr != nil:
			t.Errorf("emitter Close: %v, want nil (nothing lost)", cerr)
		case lost > 0 && (!errors.Is(cerr, sdk.ErrRecordsLost) || !errors.Is(cerr, sdk.ErrClosed)):
			t.Errorf("emitter Close with %d accepted records lost to the log's Close: %v, want ErrRecordsLost wrapping ErrClosed", lost, cerr)
		}
		st := e.Stats()
		var dropped uint64
		for _, n := range st.Dropped {
			dropped += n
		}
		if st.Offered != 20 || st.Offered != st.Appended+st.Dedupe+dropped || acks.Load()+drops.Load() != accepted {
			t.Fatalf("records unaccounted: %+v; %d accepted, %d acknowledged, %d dropped after acceptance", st, accepted, acks.Load(), drops.Load())
		}
		if v := badDrop.Load(); v != nil {
			t.Fatalf("a record dropped for another reason than the log's Close: %v", v)
		}
	}
	t.Logf("NewEmitter refused %d times, started %d times", refused, started)
}

// TestOnDurableMayCloseLog: the Emitter calls OnDurable holding no lock of
// the Log, so OnDurable may close the log: later records are dropped
// with ErrClosed, and the emitter's Close returns.
func TestOnDurableMayCloseLog(t *testing.T) {
	defer leakcheck.Check(t)()
	l := coreLog(t, sdk.Config{})
	var once sync.Once
	closed := make(chan error, 1)
	var acks, drops atomic.Int64
	e, err := sdk.NewEmitter(l, sdk.EmitterOptions{Depth: 16, Workers: 2, Shed: sdk.ShedBlock,
		OnDurable: func(sdk.EmitAck) {
			acks.Add(1)
			once.Do(func() { closed <- l.Close() })
		},
		OnDrop: func(string, string, string, error) { drops.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	accepted := int64(0)
	for i := range 50 {
		r := emitRecord(2, i, "ondurable")
		if e.TryEmit(&r) == nil {
			accepted++
		}
	}
	var cerr error
	within(t, 5*time.Second, "the emitter's Close", func() { cerr = e.Close(context.Background()) })
	if err := <-closed; err != nil {
		t.Fatalf("Log.Close from OnDurable: %v", err)
	}
	if acks.Load() == 0 || acks.Load()+drops.Load() != accepted {
		t.Fatalf("%d accepted, %d acknowledged, %d dropped", accepted, acks.Load(), drops.Load())
	}
	// The records accepted after the log closed are lost, and Close says so.
	if n := drops.Load(); (n == 0) != (cerr == nil) || (n > 0 && (!errors.Is(cerr, sdk.ErrRecordsLost) || !errors.Is(cerr, sdk.ErrClosed))) {
		t.Errorf("emitter Close with %d accepted records dropped: %v; want nil for none, else ErrRecordsLost wrapping ErrClosed", n, cerr)
	}
}
