package sdk_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/sdk"
)

// A Signer, Store or Clock is the host's code (an HSM or KMS client, a
// store of its own), and a panic in it reaches the Log's caller, who may
// recover (net/http recovers a handler's panic). The chain must then be
// as it was before that append, its lock free: AppendPending took the
// chain's lock without defer, so one panicking signature left it held and
// every later append to the chain waited forever (the audit plane hung,
// silently).

// panicAt panics at its call number at (1-based), once; other calls do
// nothing. The hooks below call it first.
type panicAt struct {
	at    int64
	calls atomic.Int64
}

func (p *panicAt) hit(what string) {
	if p.calls.Add(1) == p.at {
		panic("test: " + what + " panics")
	}
}

type panicSigner struct {
	sdk.Signer
	p *panicAt
}

func (s panicSigner) Sign(msg []byte, sig *sdk.Signature) error {
	s.p.hit("Signer.Sign")
	return s.Signer.Sign(msg, sig)
}

type panicPutStore struct {
	*sdk.MemStore
	p *panicAt
}

func (s panicPutStore) Put(writer, stream string, seq uint64, rec sdk.Sealed) (sdk.Sealed, sdk.Ticket, error) {
	s.p.hit("Store.Put")
	return s.MemStore.Put(writer, stream, seq, rec)
}

type panicWaitStore struct {
	*sdk.MemStore
	p *panicAt
}

func (s panicWaitStore) Wait(t sdk.Ticket) error {
	s.p.hit("Store.Wait")
	return s.MemStore.Wait(t)
}

// recovered runs f and returns what it panicked with (nil: it did not).
func recovered(f func()) (v any) {
	defer func() { v = recover() }()
	f()
	return nil
}

// noHang runs f in a goroutine and fails the test if it has not returned
// within 30 s: a chain lock a panic left held makes it wait forever.
// The timeout only tells a hang from a return; nothing is timed.
func noHang(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("%s never returned: a panic left a lock held", what)
	}
}

func TestAppendPanicLeavesChainAsItWas(t *testing.T) {
	const writer, stream = "svc-gateway@inst-1", "reads"
	clockAt := &panicAt{at: 3} // the third record's tsMs
	clock := func() time.Time {
		clockAt.hit("Clock")
		return time.UnixMilli(1764201600000)
	}
	for _, tc := range []struct {
		name string
		cfg  func(p *panicAt) sdk.Config
	}{
		{"Signer.Sign", func(p *panicAt) sdk.Config {
			return sdk.Config{Signer: panicSigner{coreSigner(t), p}}
		}},
		{"Store.Put", func(p *panicAt) sdk.Config {
			return sdk.Config{Store: panicPutStore{sdk.NewMemStore(0), p}}
		}},
		{"Clock", func(p *panicAt) sdk.Config {
			*clockAt = panicAt{at: p.at}
			return sdk.Config{Clock: clock}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A window of 2: a fingerprint the panicking append left in it
			// would push out seq 1, and its retry would be appended again.
			cfg := tc.cfg(&panicAt{at: 3})
			cfg.DedupeWindow = 2
			if cfg.Clock == nil {
				// One instant: a retry carries the same tsMs, as dedupe needs.
				cfg.Clock = func() time.Time { return time.UnixMilli(1764201600000) }
			}
			l := coreLog(t, cfg)
			recs := []canonical.AuditRecord{coreRecord(0), coreRecord(1), coreRecord(2)}
			for i := range recs {
				recs[i].TsMs = 0 // the Clock fills it
			}
			for i := range 2 {
				if _, err := l.Append(&recs[i]); err != nil {
					t.Fatal(err)
				}
			}
			before, _ := l.Head(writer, stream)

			v := recovered(func() { _, _ = l.Append(&recs[2]) })
			if v == nil {
				t.Fatalf("Append with a panicking %s did not panic: the panic must reach the caller", tc.name)
			}
			if r := recs[2]; r.Seq != 0 || r.Prev != nil || r.TsMs != 0 {
				t.Errorf("after the panic the record keeps what Append filled: seq %d prev %x tsMs %d", r.Seq, r.Prev, r.TsMs)
			}
			noHang(t, "Head after the panic", func() {
				if h, _ := l.Head(writer, stream); h != before {
					t.Errorf("head after the panic %+v, before it %+v", h, before)
				}
			})
			noHang(t, "Append after the panic", func() {
				a, err := l.Append(&recs[0]) // seq 1: still in the window of 2
				if err != nil || !a.Duplicate || a.Seq != 1 {
					t.Errorf("retry of seq 1 after the panic: %+v, %v; want the original (the dedupe window moved)", a, err)
				}
				a, err = l.Append(&recs[2])
				if err != nil || a.Duplicate || a.Seq != 3 {
					t.Errorf("the record whose append panicked, again: %+v, %v; want seq 3", a, err)
				}
			})
			res, err := coreVerify(t, l, writer, stream, sdk.VerifyOptions{})
			if err != nil || res.Records != 3 {
				t.Fatalf("VerifyChain after the panic: %+v, %v; want 3 records", res, err)
			}
		})
	}
}

// TestSealPanicFreesChain: SealAll and Close sign (or wait for the store)
// under each chain's lock, as Append does; a panic there must leave the
// lock free too.
func TestSealPanicFreesChain(t *testing.T) {
	const writer, stream = "svc-gateway@inst-1", "reads"
	p := &panicAt{at: 1} // the first signature: SealAll's
	l := coreLog(t, sdk.Config{Signer: panicSigner{coreSigner(t), p}, SealEvery: 100})
	coreAppend(t, l, 2)
	if v := recovered(func() { _ = l.SealAll() }); v == nil {
		t.Fatal("SealAll with a panicking Signer did not panic")
	}
	noHang(t, "Append after SealAll panicked", func() {
		coreAppendFrom(t, l, 2, 1)
		if h, err := l.Seal(writer, stream); err != nil || h.SealedSeq != 3 {
			t.Errorf("Seal: %+v, %v; want sealed to seq 3", h, err)
		}
	})
	if _, err := coreVerify(t, l, writer, stream, sdk.VerifyOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestCloseStoreWaitPanicFreesChain(t *testing.T) {
	const writer, stream = "svc-gateway@inst-1", "reads"
	p := &panicAt{at: 1 << 62} // armed after the appends
	l := coreLog(t, sdk.Config{Store: panicWaitStore{sdk.NewMemStore(0), p}, Observer: &countObserver{}})
	rec := coreRecord(0)
	if _, err := l.AppendPending(&rec); err != nil { // not waited for: Close waits
		t.Fatal(err)
	}
	p.at = p.calls.Load() + 1
	if v := recovered(func() { _ = l.Close() }); v == nil {
		t.Fatal("Close with a panicking Store.Wait did not panic")
	}
	noHang(t, "Head after Close panicked", func() {
		if h, ok := l.Head(writer, stream); !ok || h.Seq != 1 {
			t.Errorf("head %+v, %v; want seq 1", h, ok)
		}
	})
}
