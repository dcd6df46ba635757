package metrics

import (
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/sdk"
)

// errDiskFull is what failStore's Put and Wait return once failing.
var errDiskFull = errors.New("no space left on device (simulated)")

// failStore is a MemStore that stops being durable: once fail is set, Put
// refuses (putFails) or Wait fails for every ticket from then on (a disk
// that filled, an fsync that failed). It keeps the Store contract: a chain
// is durable as a prefix, so once a Wait fails, every later one does.
type failStore struct {
	*sdk.MemStore
	putFails bool
	fail     atomic.Bool
	firstBad atomic.Uint64 // the first ticket Put handed out after fail was set, + 1
	puts     atomic.Int64
	okWaits  atomic.Int64 // Waits that returned nil: records durable
}

func (s *failStore) Put(writer, stream string, seq uint64, rec sdk.Sealed) (sdk.Sealed, sdk.Ticket, error) {
	if s.fail.Load() && s.putFails {
		return sdk.Sealed{}, 0, errDiskFull
	}
	kept, t, err := s.MemStore.Put(writer, stream, seq, rec)
	s.puts.Add(1)
	if s.fail.Load() {
		s.firstBad.CompareAndSwap(0, uint64(t)+1)
	}
	return kept, t, err
}

func (s *failStore) Wait(t sdk.Ticket) error {
	if b := s.firstBad.Load(); b != 0 && uint64(t)+1 >= b {
		return errDiskFull
	}
	if s.fail.Load() && !s.putFails {
		// Failed before any Put since: this ticket was handed out
		// before the disk filled but is waited for after.
		s.firstBad.CompareAndSwap(0, uint64(t)+1)
		return errDiskFull
	}
	err := s.MemStore.Wait(t)
	if err == nil {
		s.okWaits.Add(1)
	}
	return err
}

// TestStoreFailureEndToEnd: an emitter whose store stops being durable
// part way (Wait fails: an fsync error; or Put refuses: a full disk)
// reports the failure to callers, acknowledges no record that is not
// durable, closes without deadlock, and its metrics say what happened:
// audit_appended_total counts exactly the records acknowledged,
// audit_drop_total{reason="sink_error"} every record lost, and offered =
// appended + dropped.
func TestStoreFailureEndToEnd(t *testing.T) {
	for _, putFails := range []bool{false, true} {
		t.Run(fmt.Sprintf("putFails=%v", putFails), func(t *testing.T) {
			m, reg := newMetrics(t)
			st := &failStore{MemStore: sdk.NewMemStore(0), putFails: putFails}
			l, err := sdk.New(sdk.Config{Signer: testSigner(t), Store: st})
			if err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			acked := map[[2]string]uint64{} // chain -> highest seq acknowledged
			var acks, ondrop atomic.Int64
			e, err := sdk.NewEmitter(l, sdk.EmitterOptions{Depth: 64, Workers: 2, Metrics: m,
				OnDurable: func(a sdk.EmitAck) {
					acks.Add(1)
					mu.Lock()
					k := [2]string{a.WriterID, a.Stream}
					if a.Seq <= acked[k] {
						t.Errorf("ack of %v seq %d after seq %d", k, a.Seq, acked[k])
					}
					acked[k] = a.Seq
					mu.Unlock()
				},
				OnDrop: func(_, _ string, reason string, err error) {
					ondrop.Add(1)
					if reason != sdk.DropSinkError || !errors.Is(err, sdk.ErrStore) {
						t.Errorf("OnDrop %s: %v", reason, err)
					}
				}})
			if err != nil {
				t.Fatal(err)
			}
			var callerErrs, busy int
			for i := 0; i < 600; i++ {
				if i == 200 {
					st.fail.Store(true)
				}
				rec := testRecord(i, canonical.KindGetServed, fmt.Sprint("s", i%3))
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				err := e.Emit(ctx, &rec)
				cancel()
				switch {
				case err == nil:
				case errors.Is(err, sdk.ErrBusy):
					busy++
				case errors.Is(err, sdk.ErrStore):
					callerErrs++
				default:
					t.Fatalf("TryEmit %d: %v", i, err)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			// Accepted records lost to the store (OnDrop saw each): Close
			// says so; none lost, nil.
			if err := e.Close(ctx); ondrop.Load() > 0 && (!errors.Is(err, sdk.ErrRecordsLost) || !errors.Is(err, sdk.ErrStore)) {
				t.Fatalf("Close after %d accepted records were lost: %v, want ErrRecordsLost wrapping ErrStore", ondrop.Load(), err)
			} else if ondrop.Load() == 0 && err != nil {
				t.Fatalf("Close with no accepted record lost: %v", err)
			}
			// Each Emit ended one way: refused to its caller (the store's
			// error or busy), or accepted and then acknowledged
			// (OnDurable) or dropped (OnDrop). Whether the failure
			// reaches a caller or OnDrop depends on timing (a broken
			// chain takes records again once nothing of it is in
			// flight); that one of them hears of it does not.
			if callerErrs+int(ondrop.Load()) == 0 {
				t.Error("neither a caller nor OnDrop saw the store's failure")
			}
			if n := callerErrs + busy + int(acks.Load()+ondrop.Load()); n != 600 {
				t.Errorf("%d refused to callers + %d busy + %d acknowledged + %d dropped (OnDrop) = %d, want the 600 offered",
					callerErrs, busy, acks.Load(), ondrop.Load(), n)
			}
			stats := e.Stats()
			var dropped uint64
			for _, n := range stats.Dropped {
				dropped += n
			}
			if stats.Offered != stats.Appended+stats.Dedupe+dropped {
				t.Errorf("offered %d != appended %d + dedupe %d + dropped %d", stats.Offered, stats.Appended, stats.Dedupe, dropped)
			}
			if uint64(acks.Load()) != stats.Appended {
				t.Errorf("%d OnDurable, Stats.Appended %d", acks.Load(), stats.Appended)
			}
			// Every acknowledged record is durable: one Wait of the
			// store returned nil for each (the records are distinct, no
			// retry), and none of those Put after the failure.
			if int64(stats.Appended) != st.okWaits.Load() {
				t.Errorf("%d records acknowledged, the store made %d durable", stats.Appended, st.okWaits.Load())
			}
			if stats.Appended > 200 || stats.Appended == 0 {
				t.Errorf("%d records acknowledged; the store was durable for the first 200 only", stats.Appended)
			}
			var appendedMetric float64
			for _, s := range []string{"s0", "s1", "s2"} {
				appendedMetric += testutil.ToFloat64(m.appended.WithLabelValues("get_served", s))
			}
			if appendedMetric != float64(stats.Appended) {
				t.Errorf("%s = %v, emitter appended %d", NameAppended, appendedMetric, stats.Appended)
			}
			if got := testutil.ToFloat64(m.dropC[DropSinkError]); got != float64(stats.Dropped[sdk.DropSinkError]) || got == 0 {
				t.Errorf("%s{sink_error} = %v, emitter %d", NameDrop, got, stats.Dropped[sdk.DropSinkError])
			}
			if got := testutil.ToFloat64(m.dropC[DropAuditBackpressure]); got != float64(busy) {
				t.Errorf("%s{audit_backpressure} = %v, %d busy", NameDrop, got, busy)
			}
			if got := testutil.ToFloat64(m.queueDepth); got != 0 {
				t.Errorf("%s = %v after Close", NameQueueDepth, got)
			}
			if err := e.Ready(); !errors.Is(err, sdk.ErrDegraded) || !strings.Contains(err.Error(), "sink error") {
				t.Errorf("Ready after a store failure: %v", err)
			}
			// Nothing else moved.
			for _, name := range []string{NameVerifyFail, NameCheckpoints, NameDedupeHits, NameExportFail} {
				if n := sumFamily(t, reg, name); n != 0 {
					t.Errorf("%s = %v, nothing of that happened", name, n)
				}
			}
		})
	}
}

// sumFamily sums every series of a counter family.
func sumFamily(t testing.TB, reg prometheus.Gatherer, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			switch {
			case m.Counter != nil:
				sum += m.GetCounter().GetValue()
			case m.Gauge != nil:
				sum += m.GetGauge().GetValue()
			case m.Histogram != nil:
				sum += float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return sum
}

// TestNothingMovesWhenIdle: an emitter that is started, asked for
// readiness and closed without a record moves no metric.
func TestNothingMovesWhenIdle(t *testing.T) {
	m, reg := newMetrics(t)
	l, err := sdk.New(sdk.Config{Signer: testSigner(t)})
	if err != nil {
		t.Fatal(err)
	}
	e, err := sdk.NewEmitter(l, sdk.EmitterOptions{Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Ready(); err != nil {
		t.Fatal(err)
	}
	e.ReportVerifyFailure(nil)
	if err := e.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{NameAppended, NameDrop, NameQueueDepth, NameBytes, NameVerifyFail,
		NameFsync, NameExportBatch, NameBusy, NameCheckpoints, NameDedupeHits, NameExportFail} {
		if n := sumFamily(t, reg, name); n != 0 {
			t.Errorf("%s = %v with no record", name, n)
		}
	}
}

// TestTwoEmittersTwoRegistries: two logs and emitters in one process, each
// with the metrics of its own registry, count only their own records.
func TestTwoEmittersTwoRegistries(t *testing.T) {
	ma, rega := newMetrics(t)
	mb, regb := newMetrics(t)
	run := func(m *Metrics, n int, stream string) {
		l, err := sdk.New(sdk.Config{Signer: testSigner(t)})
		if err != nil {
			t.Fatal(err)
		}
		e, err := sdk.NewEmitter(l, sdk.EmitterOptions{Metrics: m, Shed: sdk.ShedBlock})
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < n; i++ {
			emitOK(t, e, testRecord(i, canonical.KindCapIssued, stream))
		}
		if err := e.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		e.ReportVerifyFailure(errors.New("x"))
	}
	var wg sync.WaitGroup
	wg.Go(func() { run(ma, 30, "same") })
	wg.Go(func() { run(mb, 70, "same") })
	wg.Wait()
	if a, b := sumFamily(t, rega, NameAppended), sumFamily(t, regb, NameAppended); a != 30 || b != 70 {
		t.Errorf("appended: %v and %v, want 30 and 70", a, b)
	}
	if a, b := sumFamily(t, rega, NameVerifyFail), sumFamily(t, regb, NameVerifyFail); a != 1 || b != 1 {
		t.Errorf("verify failures: %v and %v, want 1 and 1", a, b)
	}
}

// TestManyStreamsThroughEmitter: records of many distinct streams (and
// seqs) through a real emitter create at most MaxStreams+1 series of
// audit_appended_total and one of everything else; none is per record.
func TestManyStreamsThroughEmitter(t *testing.T) {
	m, reg := newMetrics(t)
	l, err := sdk.New(sdk.Config{Signer: testSigner(t), Store: sdk.NewMemStore(1 << 12)})
	if err != nil {
		t.Fatal(err)
	}
	e, err := sdk.NewEmitter(l, sdk.EmitterOptions{Metrics: m, Shed: sdk.ShedBlock})
	if err != nil {
		t.Fatal(err)
	}
	const streams = MaxStreams + 300
	for i := 0; i < streams; i++ {
		emitOK(t, e, testRecord(i, canonical.KindGetServed, fmt.Sprint("tenant-", i)))
	}
	if err := e.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, mf := range mfs {
		total += len(mf.GetMetric())
		if mf.GetName() == NameAppended && len(mf.GetMetric()) != MaxStreams+1 {
			t.Errorf("%s: %d series for %d streams, want %d", NameAppended, len(mf.GetMetric()), streams, MaxStreams+1)
		}
	}
	if want := MaxStreams + 1 + len(DropReasons) + 1 + len(VerifyReasons) + 1 /*busy*/ + len(ExportFailStages) + 6; total > want {
		t.Errorf("%d series in all, want at most %d", total, want)
	}
	if got := sumFamily(t, reg, NameAppended); got != streams {
		t.Errorf("appended %v, want %d", got, streams)
	}
}

// TestVerifyReasonCardinality: audit_verify_fail_total's reason label
// takes only the values VerifyReasons lists: a *sdk.VerifyError a host
// built with a reason of its own (say, one per failing file) counts as
// VerifyOther, or every distinct reason would be a series for good.
func TestVerifyReasonCardinality(t *testing.T) {
	m, reg := newMetrics(t)
	for i := 0; i < 100; i++ {
		m.VerifyFailed(&sdk.VerifyError{Reason: sdk.Reason(fmt.Sprint("host_reason_", i))})
	}
	m.VerifyFailed(fmt.Errorf("wrapped: %w", &sdk.VerifyError{Reason: "host_reason_wrapped"}))
	if n, err := testutil.GatherAndCount(reg, NameVerifyFail); err != nil || n != len(VerifyReasons) {
		t.Fatalf("%d series of %s (%v), want %d", n, NameVerifyFail, err, len(VerifyReasons))
	}
	if got := testutil.ToFloat64(m.verifyC[VerifyOther]); got != 101 {
		t.Fatalf("%s{reason=%q} = %v, want 101", NameVerifyFail, VerifyOther, got)
	}
}

// TestVerifyReasonsCoverSDK: every Reason constant packages sdk,
// checkpoint and export declare has its label in VerifyReasons ("checkpoint_"
// and "export_" before those of checkpoint and export; export's gap is
// VerifyManifestGap), so none is counted as VerifyOther.
func TestVerifyReasonsCoverSDK(t *testing.T) {
	for _, pkg := range []struct {
		dir, prefix string
		min         int
	}{{"..", "", 9}, {"../checkpoint", "checkpoint_", 10}, {"../export", "export_", 8}} {
		rs := reasonConstants(t, pkg.dir)
		if len(rs) < pkg.min {
			t.Fatalf("found %d Reason constants in %s, want at least %d", len(rs), pkg.dir, pkg.min)
		}
		for _, r := range rs {
			label := sdk.Reason(pkg.prefix + r)
			if label == "export_gap" {
				label = VerifyManifestGap
			}
			if !slices.Contains(VerifyReasons, label) {
				t.Errorf("%s: Reason %q: %q is not in VerifyReasons", pkg.dir, r, label)
			}
		}
	}
}

// reasonConstants returns the values of the constants of type Reason that
// the non-test Go files of dir declare.
func reasonConstants(t *testing.T, dir string) []string {
	t.Helper()
	fset := token.NewFileSet()
	names, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "Reason" {
					continue
				}
				for _, v := range vs.Values {
					lit, ok := v.(*ast.BasicLit)
					if !ok {
						t.Fatalf("%s: a Reason constant that is not a literal: %v", name, v)
					}
					r, _ := strconv.Unquote(lit.Value)
					out = append(out, r)
				}
			}
		}
	}
	return out
}
