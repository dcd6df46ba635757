package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// fake is one benchmark of a synthetic run: three identical result lines.
type fake struct {
	ns, allocs float64
	extra      string // more "value unit" pairs, as b.ReportMetric adds
}

// run is a synthetic `go test -bench -benchmem` output by benchmark name;
// names starting with WAL are printed under sdk/wal's package line.
type run map[string]*fake

func defaultRun() run {
	return run{
		"RawEd25519Sign":     {ns: 15000},
		"RawBLAKE3_1KiB":     {ns: 1000},
		"AppendHot":          {ns: 17000},
		"AppendSealed":       {ns: 1700},
		"VerifyHot":          {ns: 950},
		"VerifyChain":        {ns: 1450},
		"AppendHotParallel":  {ns: 9000},
		"DurableAppendBatch": {ns: 17000},
		"EmitterWorkers1":    {ns: 17000},
		"EmitterWorkers2":    {ns: 10000},
		"EmitterDesignLoad":  {ns: 14000, extra: "0.10 busy-%\t3800 p99-us"},
		"ColdStart":          {ns: 95000, allocs: 63},
		"WALAppendBatch64":   {ns: 100000, extra: "2.000 fsync-p95-ms"},
	}
}

func (r run) String() string {
	names := make([]string, 0, len(r))
	for n := range r {
		names = append(names, n)
	}
	slices.Sort(names)
	var b strings.Builder
	b.WriteString("goos: linux\ngoarch: amd64\n")
	for _, pkg := range []string{"bench", "sdk/wal"} {
		fmt.Fprintf(&b, "pkg: github.com/rustyonions/ron-audit-go/%s\ncpu: Test CPU\n", pkg)
		for _, n := range names {
			if strings.HasPrefix(n, "WAL") != (pkg == "sdk/wal") {
				continue
			}
			f := r[n]
			for range 3 {
				extra := ""
				if f.extra != "" {
					extra = "\t" + f.extra
				}
				fmt.Fprintf(&b, "Benchmark%s-2\t 10000\t %g ns/op%s\t 0 B/op\t %g allocs/op\n", n, f.ns, extra, f.allocs)
			}
		}
		b.WriteString("PASS\nok\n")
	}
	return b.String()
}

// with returns a copy of the default run changed by fn.
func with(fn func(run)) run {
	r := defaultRun()
	fn(r)
	return r
}

type env struct {
	t       *testing.T
	dir     string
	baseDir string
	vector  string
	now     time.Time
}

func newEnv(t *testing.T) *env {
	e := &env{t: t, dir: t.TempDir(), now: time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)}
	e.baseDir = filepath.Join(e.dir, "baselines")
	e.setRecord(1024)
	return e
}

// setRecord writes the record vector with canonical bytes of size n.
func (e *env) setRecord(n int) {
	e.vector = e.write(fmt.Sprintf("record-%d.json", n), fmt.Sprintf(`{"records":[{"canonical":%q}]}`, hex.EncodeToString(make([]byte, n))))
}

func (e *env) write(name, content string) string {
	e.t.Helper()
	p := filepath.Join(e.dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		e.t.Fatal(err)
	}
	return p
}

var seq int

func (e *env) input(r run) string {
	seq++
	return e.write(fmt.Sprintf("bench-%d.out", seq), r.String())
}

func (e *env) run(version int, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	a := &app{version: version, now: e.now, stdout: &out, stderr: &errb}
	code := a.run(args)
	return code, out.String(), errb.String()
}

// baseline writes the baseline of version from r, failing the test if it
// cannot.
func (e *env) baseline(version int, r run, extra ...string) {
	e.t.Helper()
	args := append([]string{"baseline", "-in", e.input(r), "-baseline-dir", e.baseDir, "-record-vector", e.vector}, extra...)
	if code, out, errs := e.run(version, args...); code != 0 {
		e.t.Fatalf("baseline: exit %d\n%s%s", code, out, errs)
	}
}

// editBaseline rewrites benchmark name's entry of the version 1 baseline
// with edit, as a hand edit (or an older perfgate) would leave it.
func (e *env) editBaseline(name string, edit func(*BenchResult)) {
	e.t.Helper()
	path := filepath.Join(e.baseDir, "v1", baselineName)
	b, err := loadBaseline(path)
	if err != nil {
		e.t.Fatal(err)
	}
	r := b.Benchmarks[name]
	edit(&r)
	b.Benchmarks[name] = r
	if err := b.write(path); err != nil {
		e.t.Fatal(err)
	}
}

// check runs check of version 1 unless told otherwise by checkV.
func (e *env) check(r run, extra ...string) (int, string, string) {
	return e.checkV(1, r, extra...)
}

func (e *env) checkV(version int, r run, extra ...string) (int, string, string) {
	args := append([]string{"check", "-in", e.input(r), "-baseline-dir", e.baseDir, "-record-vector", e.vector,
		"-waivers", filepath.Join(e.dir, "waivers.json")}, extra...)
	return e.run(version, args...)
}

// rowRe matches the table row of bench and metric with the verdict.
func hasRow(out, bench, metric string, v verdict) bool {
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(bench) + `\s+` + regexp.QuoteMeta(metric) + `\s.*\s` + regexp.QuoteMeta(string(v)) + `(\s|$)`)
	return re.MatchString(out)
}

func mustCode(t *testing.T, want, got int, out, errs string) {
	t.Helper()
	if got != want {
		t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", got, want, out, errs)
	}
}

func TestCheckPass(t *testing.T) {
	e := newEnv(t)
	e.baseline(1, defaultRun())
	// Noise within the limits: AppendHot's ratio 9% down, exactly 10%
	// down for VerifyHot, a non-gated ratio far down, allocs +2 on
	// ColdStart, fsync +20%, busy +0.5 points.
	r := with(func(r run) {
		r["AppendHot"].ns = 17000 / 0.91
		r["VerifyHot"].ns = 950 / 0.90
		r["DurableAppendBatch"].ns = 40000
		r["ColdStart"].allocs = 65
		r["WALAppendBatch64"].extra = "2.400 fsync-p95-ms"
		r["EmitterDesignLoad"].extra = "0.60 busy-%"
	})
	code, out, errs := e.check(r)
	mustCode(t, 0, code, out, errs)
	for _, want := range [][2]string{{"AppendHot", mRatio}, {"VerifyHot", mRatio}, {"ColdStart", mAllocs}, {"WALAppendBatch64", mFsync}, {"EmitterDesignLoad", mBusy}} {
		if !hasRow(out, want[0], want[1], vOK) {
			t.Errorf("no ok row for %s %s:\n%s", want[0], want[1], out)
		}
	}
	if !hasRow(out, "DurableAppendBatch", mRatio, vInfo) || !strings.Contains(out, "not gated") {
		t.Errorf("DurableAppendBatch's ratio is shown as gated:\n%s", out)
	}
	if !strings.Contains(out, "perf gate: green") || strings.Contains(out, "!!!") {
		t.Errorf("no green summary, or a loud warning:\n%s", out)
	}
}

// Ratios, not times: a machine twice as slow at everything passes.
func TestCheckRatiosHoldAcrossMachines(t *testing.T) {
	e := newEnv(t)
	e.baseline(1, defaultRun())
	r := defaultRun()
	for _, f := range r {
		f.ns *= 2
	}
	code, out, errs := e.check(r)
	mustCode(t, 0, code, out, errs)
}

func TestCheckRatioDropRed(t *testing.T) {
	for name, fn := range map[string]func(run){
		"AppendHot slower":         func(r run) { r["AppendHot"].ns = 17000 * 1.12 },
		"calibration faster":       func(r run) { r["RawBLAKE3_1KiB"].ns = 850 }, // VerifyHot etc. now 15% worse relative to it
		"emitter scaling dropped":  func(r run) { r["EmitterWorkers2"].ns = 12000 },
		"VerifyChain 10.5% slower": func(r run) { r["VerifyChain"].ns = 1450 / 0.895 },
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			e.baseline(1, defaultRun())
			code, out, errs := e.check(with(fn))
			mustCode(t, 1, code, out, errs)
			if !strings.Contains(out, "perf gate: RED") || !regexp.MustCompile(`(?m)\sratio\s.*\sRED\s`).MatchString(out) {
				t.Fatalf("no red ratio row:\n%s", out)
			}
		})
	}
}

func TestCheckAllocs(t *testing.T) {
	t.Run("rise of 3 is red", func(t *testing.T) {
		e := newEnv(t)
		e.baseline(1, defaultRun())
		code, out, errs := e.check(with(func(r run) { r["ColdStart"].allocs = 66 }))
		mustCode(t, 1, code, out, errs)
		if !hasRow(out, "ColdStart", mAllocs, vRed) {
			t.Fatalf("no red allocs row:\n%s", out)
		}
	})
	t.Run("0 to 3 is red and loud", func(t *testing.T) {
		e := newEnv(t)
		e.baseline(1, defaultRun())
		code, out, errs := e.check(with(func(r run) { r["AppendHot"].allocs = 3 }))
		mustCode(t, 1, code, out, errs)
		if !hasRow(out, "AppendHot", mAllocs, vRed) || !strings.Contains(out, "!!! AppendHot now allocates 3 times per op") {
			t.Fatalf("not red and loud:\n%s", out)
		}
	})
	t.Run("0 to 1 passes loudly", func(t *testing.T) {
		e := newEnv(t)
		e.baseline(1, defaultRun())
		code, out, errs := e.check(with(func(r run) { r["VerifyChain"].allocs = 1 }))
		mustCode(t, 0, code, out, errs)
		if !hasRow(out, "VerifyChain", mAllocs, vWarn) || !strings.Contains(out, "ALLOCATIONS ON A ZERO-ALLOCATION PATH") ||
			!strings.Contains(out, "target is 0 allocs/op") || !strings.Contains(out, "1 warned") {
			t.Fatalf("no loud warning:\n%s", out)
		}
	})
}

func TestCheckFsync(t *testing.T) {
	t.Run("bench metric +25% is red", func(t *testing.T) {
		e := newEnv(t)
		e.baseline(1, defaultRun())
		code, out, errs := e.check(with(func(r run) { r["WALAppendBatch64"].extra = "2.500 fsync-p95-ms" }))
		mustCode(t, 1, code, out, errs)
		if !hasRow(out, "WALAppendBatch64", mFsync, vRed) {
			t.Fatalf("no red fsync row:\n%s", out)
		}
	})
	t.Run("rig snapshot +30% is red", func(t *testing.T) {
		e := newEnv(t)
		snap := e.write("wal_steady.json", `{"rig":"wal_steady","time":"t0","wal_fsync_seconds":{"p50":0.0003,"p95":0.0005}}`)
		e.baseline(1, defaultRun(), "-wal-snapshot", snap)
		// Without a snapshot the rig row is not checked, and says so.
		code, out, errs := e.check(defaultRun())
		mustCode(t, 0, code, out, errs)
		if !strings.Contains(out, "pass -wal-snapshot to check it") {
			t.Fatalf("no note on the unchecked snapshot:\n%s", out)
		}
		worse := e.write("wal_steady2.json", `{"wal_fsync_seconds":{"p95":0.00065}}`)
		code, out, errs = e.check(defaultRun(), "-wal-snapshot", worse)
		mustCode(t, 1, code, out, errs)
		if !hasRow(out, rigWALSteady, mFsync, vRed) {
			t.Fatalf("no red rig row:\n%s", out)
		}
	})
	t.Run("absent from the run is skipped, not passed", func(t *testing.T) {
		e := newEnv(t)
		e.baseline(1, defaultRun())
		code, out, errs := e.check(with(func(r run) { delete(r, "WALAppendBatch64") }))
		mustCode(t, 0, code, out, errs)
		if !hasRow(out, "WALAppendBatch64", "-", vSkip) || hasRow(out, "WALAppendBatch64", mFsync, vOK) {
			t.Fatalf("missing WAL bench not skipped:\n%s", out)
		}
	})
}

func TestCheckBusy(t *testing.T) {
	e := newEnv(t)
	e.baseline(1, defaultRun())
	code, out, errs := e.check(with(func(r run) { r["EmitterDesignLoad"].extra = "0.70 busy-%" }))
	mustCode(t, 1, code, out, errs)
	if !hasRow(out, "EmitterDesignLoad", mBusy, vRed) {
		t.Fatalf("no red busy row:\n%s", out)
	}
	code, out, errs = e.check(with(func(r run) { r["EmitterDesignLoad"].extra = "3800 p99-us" }))
	mustCode(t, 0, code, out, errs)
	if !hasRow(out, "EmitterDesignLoad", mBusy, vSkip) {
		t.Fatalf("busy-%% missing from the run not skipped:\n%s", out)
	}
}

func TestCheckMissingBenchmarks(t *testing.T) {
	e := newEnv(t)
	e.baseline(1, defaultRun())
	code, out, errs := e.check(with(func(r run) {
		delete(r, "VerifyHot")
		delete(r, "RawEd25519Sign") // AppendHot's and EmitterWorkers1's calibration
		r["NewBench"] = &fake{ns: 5}
	}))
	mustCode(t, 0, code, out, errs)
	for _, want := range []string{"VerifyHot", "AppendHot", "EmitterWorkers1"} {
		if !regexp.MustCompile(`(?m)^` + want + `\s.*skip\s.*NOT checked`).MatchString(out) {
			t.Errorf("%s not skipped with a note:\n%s", want, out)
		}
	}
	if !strings.Contains(out, "not in the baseline, so not gated: NewBench") || !strings.Contains(out, "skipped)") {
		t.Errorf("no note on the new bench or skip count:\n%s", out)
	}

	code, out, errs = e.check(run{"Unrelated": {ns: 5}})
	mustCode(t, 1, code, out, errs)
	if !strings.Contains(out, "NOTHING GATED") {
		t.Fatalf("a run with nothing to compare passed:\n%s", out)
	}
}

func TestCheckWaivers(t *testing.T) {
	red := with(func(r run) { r["AppendHot"].ns = 17000 * 1.2 })
	waiver := func(e *env, ws ...Waiver) {
		raw, _ := json.Marshal(ws)
		e.write("waivers.json", string(raw))
	}
	t.Run("accepted", func(t *testing.T) {
		e := newEnv(t)
		e.baseline(1, defaultRun())
		waiver(e, Waiver{Benchmark: "AppendHot", Metric: mRatio, Reason: "signing moved into Append (#42)", Until: "2026-11-27"})
		code, out, errs := e.check(red)
		mustCode(t, 0, code, out, errs)
		if !hasRow(out, "AppendHot", mRatio, vWaived) || !strings.Contains(out, "signing moved into Append (#42)") || !strings.Contains(out, "1 waived") {
			t.Fatalf("not waived with its reason:\n%s", out)
		}
	})
	t.Run("waives only its metric", func(t *testing.T) {
		e := newEnv(t)
		e.baseline(1, defaultRun())
		waiver(e, Waiver{Benchmark: "AppendHot", Metric: mRatio, Reason: "known", Until: "2027-01-01"})
		code, out, errs := e.check(with(func(r run) { r["AppendHot"].allocs = 3 }))
		mustCode(t, 1, code, out, errs)
		if !hasRow(out, "AppendHot", mAllocs, vRed) || !strings.Contains(out, "waiver for AppendHot ratio is unused") {
			t.Fatalf("a ratio waiver let allocs pass, or no unused note:\n%s", out)
		}
	})
	for name, w := range map[string]Waiver{
		"expired":        {Benchmark: "AppendHot", Metric: mRatio, Reason: "known", Until: "2026-11-26"},
		"no reason":      {Benchmark: "AppendHot", Metric: mRatio, Reason: "  ", Until: "2027-01-01"},
		"unknown metric": {Benchmark: "AppendHot", Metric: "speed", Reason: "known", Until: "2027-01-01"},
		"bad date":       {Benchmark: "AppendHot", Metric: mRatio, Reason: "known", Until: "soon"},
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			e.baseline(1, defaultRun())
			waiver(e, w)
			// The waiver does not let the red pass...
			code, out, errs := e.check(red)
			mustCode(t, 1, code, out, errs)
			if !hasRow(out, "AppendHot", mRatio, vRed) || !strings.Contains(errs, "waiver 0 (AppendHot") {
				t.Fatalf("invalid waiver waived, or was not reported:\n%s%s", out, errs)
			}
			// ...and is an error even with nothing red.
			code, out, errs = e.check(defaultRun())
			mustCode(t, 1, code, out, errs)
			if !strings.Contains(out, "waiver file is invalid") {
				t.Fatalf("no red summary for the invalid waiver:\n%s", out)
			}
		})
	}
	t.Run("misspelt field", func(t *testing.T) {
		e := newEnv(t)
		e.baseline(1, defaultRun())
		e.write("waivers.json", `[{"benchmark":"AppendHot","metric":"ratio","reson":"x","until":"2027-01-01"}]`)
		code, out, errs := e.check(red)
		mustCode(t, 1, code, out, errs)
		if !strings.Contains(errs, `unknown field "reson"`) {
			t.Fatalf("misspelt field accepted:\n%s", errs)
		}
	})
}

func TestLoadWaiversTyped(t *testing.T) {
	p := filepath.Join(t.TempDir(), "w.json")
	if err := os.WriteFile(p, []byte(`[{"benchmark":"A","metric":"ratio","reason":"r","until":"2020-01-01"},{"benchmark":"B","metric":"busy-%","reason":"r","until":"2030-01-01"}]`), 0o644); err != nil {
		t.Fatal(err)
	}
	ws, err := loadWaivers(p, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	var we *WaiverError
	if !errors.As(err, &we) || we.Waiver.Benchmark != "A" || len(ws) != 1 || ws[0].Benchmark != "B" {
		t.Fatalf("waivers %v, err %v", ws, err)
	}
	if ws, err := loadWaivers(filepath.Join(t.TempDir(), "absent.json"), time.Now()); ws != nil || err != nil {
		t.Fatalf("absent file: %v %v", ws, err)
	}
}

func TestCheckRebaseline(t *testing.T) {
	t.Run("schema changed", func(t *testing.T) {
		e := newEnv(t)
		e.baseline(1, defaultRun())
		code, out, errs := e.checkV(2, defaultRun())
		mustCode(t, 1, code, out, errs)
		if !strings.Contains(errs, "no usable baseline for schema version 2") || !strings.Contains(errs, "versions [1]") || !strings.Contains(errs, "make rebaseline") {
			t.Fatalf("no rebaseline message:\n%s", errs)
		}
	})
	t.Run("no baseline at all", func(t *testing.T) {
		e := newEnv(t)
		code, out, errs := e.check(defaultRun())
		mustCode(t, 1, code, out, errs)
		if !strings.Contains(errs, "make rebaseline") {
			t.Fatalf("no rebaseline message:\n%s", errs)
		}
	})
	t.Run("record size changed", func(t *testing.T) {
		e := newEnv(t)
		e.baseline(1, defaultRun())
		e.setRecord(1100)
		code, out, errs := e.check(defaultRun())
		mustCode(t, 1, code, out, errs)
		if !strings.Contains(errs, "1100 bytes, the baseline's was 1024") || !strings.Contains(errs, "make rebaseline") {
			t.Fatalf("no rebaseline message:\n%s", errs)
		}
	})
}

func TestRebaselineRecordsChange(t *testing.T) {
	e := newEnv(t)
	e.baseline(1, defaultRun())
	// Version 2: a bigger record, AppendHot 10% slower relative to
	// signing, VerifyHot now allocating.
	e.setRecord(1100)
	v2 := with(func(r run) {
		r["AppendHot"].ns = 17000 / 0.9
		r["VerifyHot"].allocs = 1
	})
	e.baseline(2, v2)
	b, err := loadBaseline(filepath.Join(e.baseDir, "v2", baselineName))
	if err != nil {
		t.Fatal(err)
	}
	if b.SchemaVersion != 2 || b.RecordBytes != 1100 || b.Previous == nil {
		t.Fatalf("baseline %+v", b)
	}
	p := b.Previous
	if p.SchemaVersion != 1 || p.RecordBytes != 1024 || p.RecordBytesChange != 76 {
		t.Fatalf("previous %+v", p)
	}
	ah := p.Benchmarks["AppendHot"]
	if ah.Calibration != "RawEd25519Sign" || ah.RatioChangePct != -10 || ah.PreviousRatio != round(15000.0/17000, 4) {
		t.Fatalf("AppendHot change %+v", ah)
	}
	if vh := p.Benchmarks["VerifyHot"]; vh.PreviousAllocs != 0 || vh.AllocsPerOp != 1 {
		t.Fatalf("VerifyHot change %+v", vh)
	}
	if _, ok := p.Benchmarks["ColdStart"]; ok {
		t.Fatal("a benchmark without a ratio in the change")
	}
	// v1 is untouched, and v2 gates its own run.
	if _, err := loadBaseline(filepath.Join(e.baseDir, "v1", baselineName)); err != nil {
		t.Fatal(err)
	}
	code, out, errs := e.checkV(2, v2)
	mustCode(t, 0, code, out, errs)
}

func TestBaselineContents(t *testing.T) {
	e := newEnv(t)
	snap := e.write("wal_steady.json", `{"time":"t0","wal_fsync_seconds":{"p95":0.000457877}}`)
	e.baseline(1, defaultRun(), "-wal-snapshot", snap)
	b, err := loadBaseline(filepath.Join(e.baseDir, "v1", baselineName))
	if err != nil {
		t.Fatal(err)
	}
	if b.Previous != nil || b.RecordBytes != 1024 || b.Date != "2026-11-27T12:00:00Z" || b.Machine.GOMAXPROCS != 2 || b.Machine.CPUs < 1 || b.Machine.Go == "" || b.Machine.CPUModel == "" {
		t.Fatalf("baseline %+v", b)
	}
	if b.WALSteady == nil || b.WALSteady.FsyncP95Seconds != 0.000457877 {
		t.Fatalf("wal steady %+v", b.WALSteady)
	}
	vc := b.Benchmarks["VerifyChain"]
	if vc.Calibration != "RawBLAKE3_1KiB" || vc.Ratio != round(1000.0/1450, 4) || vc.Runs != 3 || vc.NsPerOp != 1450 {
		t.Fatalf("VerifyChain %+v", vc)
	}
	if dl := b.Benchmarks["EmitterDesignLoad"]; dl.Metrics[mBusy] != 0.1 || dl.Ratio != 0 {
		t.Fatalf("EmitterDesignLoad %+v", dl)
	}
	if w := b.Benchmarks["WALAppendBatch64"]; w.Pkg != "github.com/rustyonions/ron-audit-go/sdk/wal" || w.Metrics[mFsync] != 2 {
		t.Fatalf("WAL bench %+v", w)
	}
}

func TestBadInput(t *testing.T) {
	e := newEnv(t)
	e.baseline(1, defaultRun())
	// A failed run, whatever its figures.
	failed := e.write("failed.out", defaultRun().String()+"--- FAIL: BenchmarkVerifyChain\nFAIL\n")
	code, out, errs := e.run(1, "check", "-in", failed, "-baseline-dir", e.baseDir, "-record-vector", e.vector)
	mustCode(t, 1, code, out, errs)
	if !strings.Contains(errs, "the benchmark run failed") {
		t.Fatalf("failed run accepted:\n%s", errs)
	}
	// No -benchmem: the allocation rule could not be held.
	nomem := e.write("nomem.out", "BenchmarkAppendHot-2\t 10\t 17000 ns/op\n")
	code, out, errs = e.run(1, "check", "-in", nomem, "-baseline-dir", e.baseDir, "-record-vector", e.vector)
	mustCode(t, 1, code, out, errs)
	if !strings.Contains(errs, "-benchmem") {
		t.Fatalf("run without -benchmem accepted:\n%s", errs)
	}
	// A baseline written under another version's directory.
	code, out, errs = e.run(1, "baseline", "-in", e.input(defaultRun()), "-record-vector", e.vector, "-out", filepath.Join(e.dir, "v2", baselineName))
	mustCode(t, 2, code, out, errs)
	if code, _, _ := e.run(1, "nonsense"); code != 2 {
		t.Fatal("unknown subcommand accepted")
	}
}

// TestCheckP99: with -latency the design-load p99 may grow to 3x the
// baseline's and no more; without it, it is not a row.
func TestCheckP99(t *testing.T) {
	e := newEnv(t)
	e.baseline(1, defaultRun()) // p99 3800 us
	p99 := func(v string) run {
		return with(func(r run) { r["EmitterDesignLoad"].extra = "0.10 busy-%\t" + v + " p99-us" })
	}
	code, out, errs := e.check(p99("11500"), "-latency")
	mustCode(t, 1, code, out, errs)
	if !hasRow(out, "EmitterDesignLoad", mP99, vRed) {
		t.Fatalf("no red p99 row:\n%s", out)
	}
	code, out, errs = e.check(p99("11400"), "-latency")
	mustCode(t, 0, code, out, errs)
	if !hasRow(out, "EmitterDesignLoad", mP99, vOK) {
		t.Fatalf("p99 at 3x not ok:\n%s", out)
	}
	code, out, errs = e.check(p99("11500"))
	mustCode(t, 0, code, out, errs)
	if strings.Contains(out, mP99) {
		t.Fatalf("p99 judged without -latency:\n%s", out)
	}
}

// TestRecordVectorIsTheBenchRecord: by default the gate reads the record
// size from the vector the benchmarks load (bench/record_test.go), whatever
// the schema version: a baseline of schema v2 measures the same benches
// on the same record until the bench record is changed, and then both
// read the new one. (It looked for testing/vectors/v<N>/record-1kib.json,
// which no version after v1 has: make rebaseline failed after a schema
// bump, or, given such a file, labelled figures of the v1 record with
// another record's size.)
func TestRecordVectorIsTheBenchRecord(t *testing.T) {
	e := newEnv(t)
	src, err := os.ReadFile("../../../bench/record_test.go")
	if err != nil || !bytes.Contains(src, []byte("benchfmt.RecordVector")) {
		t.Fatalf("bench/record_test.go does not load benchfmt.RecordVector (%v)", err)
	}
	in := e.input(defaultRun())
	t.Chdir("../../..") // the repository root, where make runs the gate
	out := filepath.Join(e.dir, "v2", baselineName)
	code, stdout, stderr := e.run(2, "baseline", "-in", in, "-baseline-dir", e.baseDir, "-out", out)
	if code != 0 || !strings.Contains(stdout, "schema v2") || !strings.Contains(stdout, "record 1024 bytes") {
		t.Fatalf("baseline of v2 with the default record vector: exit %d\n%s%s", code, stdout, stderr)
	}
}

// onCPU returns r's output as if run on another CPU model.
func (e *env) inputOn(r run, cpu string) string {
	seq++
	return e.write(fmt.Sprintf("bench-%d.out", seq), strings.ReplaceAll(r.String(), "cpu: Test CPU", "cpu: "+cpu))
}

// TestCheckForeignCPU: ratios to a calibration move across CPU models
// (AppendSealed to BLAKE3: 0.54 on the baseline's Intel Xeon, 0.38 on an
// AMD EPYC, the same code), so against a baseline of another CPU a ratio
// drop is shown, not red; an allocation is still red. A baseline of the
// run's own CPU (baseline -cpu) is preferred, and holds ratios again.
func TestCheckForeignCPU(t *testing.T) {
	e := newEnv(t)
	e.baseline(1, defaultRun())
	slow := with(func(r run) {
		r["AppendSealed"].ns = 1700 / 0.70
		r["VerifyChain"].ns = 1450 / 0.78
	})
	args := func(in string) []string {
		return []string{"check", "-in", in, "-baseline-dir", e.baseDir, "-record-vector", e.vector, "-waivers", filepath.Join(e.dir, "waivers.json")}
	}
	code, out, errs := e.run(1, args(e.inputOn(slow, "AMD EPYC"))...)
	mustCode(t, 0, code, out, errs)
	if !hasRow(out, "AppendSealed", mRatio, vInfo) || !strings.Contains(out, "another CPU") {
		t.Errorf("a ratio drop against another CPU's baseline is not shown as ungated:\n%s", out)
	}
	code, out, errs = e.run(1, args(e.inputOn(with(func(r run) { r["AppendHot"].allocs = 3 }), "AMD EPYC"))...)
	mustCode(t, 1, code, out, errs)
	if !hasRow(out, "AppendHot", mAllocs, vRed) {
		t.Errorf("allocations on another CPU are not gated:\n%s", out)
	}
	// The same run on the baseline's own CPU is red.
	code, out, errs = e.check(slow)
	mustCode(t, 1, code, out, errs)

	// A baseline of this CPU: chosen, and it gates ratios.
	if code, out, errs := e.run(1, "baseline", "-cpu", "-in", e.inputOn(slow, "AMD EPYC"), "-baseline-dir", e.baseDir, "-record-vector", e.vector); code != 0 {
		t.Fatalf("baseline -cpu: exit %d\n%s%s", code, out, errs)
	}
	if _, err := os.Stat(filepath.Join(e.baseDir, "v1", "bench-amd-epyc.json")); err != nil {
		t.Fatal(err)
	}
	code, out, errs = e.run(1, args(e.inputOn(slow, "AMD EPYC"))...)
	mustCode(t, 0, code, out, errs)
	if !strings.Contains(out, "bench-amd-epyc.json") || !hasRow(out, "AppendSealed", mRatio, vOK) {
		t.Errorf("the CPU's own baseline is not the one used:\n%s", out)
	}
	slower := with(func(r run) {
		r["AppendSealed"].ns = 1700 / 0.70 / 0.85
		r["VerifyChain"].ns = 1450 / 0.78
	})
	code, out, errs = e.run(1, args(e.inputOn(slower, "AMD EPYC"))...)
	mustCode(t, 1, code, out, errs)
	if !hasRow(out, "AppendSealed", mRatio, vRed) {
		t.Errorf("a 15%% drop against the CPU's own baseline is not red:\n%s", out)
	}
}

func TestCPUBaselineName(t *testing.T) {
	for in, want := range map[string]string{
		"AMD EPYC":                   "bench-amd-epyc.json",
		"Intel(R) Xeon(R) Processor": "bench-intel-r-xeon-r-processor.json",
		"  x86/64 ":                  "bench-x86-64.json",
	} {
		if got := cpuBaselineName(in); got != want {
			t.Errorf("cpuBaselineName(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestCheckRefusesNonMeasurements: a value that is not a measurement (NaN
// or Inf, which go test prints for a b.ReportMetric of 0/0 or x/0, and an
// ns/op of 0 or below) refuses the run. A NaN busy-% compared as no rise
// and an Inf calibration as an infinite ratio, both green; a zero or
// negative calibration left its benchmarks' ratios unchecked, green.
func TestCheckRefusesNonMeasurements(t *testing.T) {
	for name, fn := range map[string]func(run){
		"NaN busy-%":           func(r run) { r["EmitterDesignLoad"].extra = "NaN busy-%\t3800 p99-us" },
		"+Inf calibration":     func(r run) { r["RawBLAKE3_1KiB"].ns = math.Inf(1) },
		"zero calibration":     func(r run) { r["RawEd25519Sign"].ns = 0 },
		"negative calibration": func(r run) { r["RawBLAKE3_1KiB"].ns = -1000 },
		"zero ns/op":           func(r run) { r["AppendHot"].ns = 0 },
		"NaN allocs/op":        func(r run) { r["VerifyHot"].allocs = math.NaN() },
		"-Inf fsync p95":       func(r run) { r["WALAppendBatch64"].extra = "-Inf fsync-p95-ms" },
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			e.baseline(1, defaultRun())
			code, out, errs := e.check(with(fn))
			mustCode(t, 1, code, out, errs)
			if !strings.Contains(errs, "not a measurement") {
				t.Fatalf("no refusal naming the value:\n%s%s", out, errs)
			}
		})
	}
	// Nor is such a run written as a baseline.
	e := newEnv(t)
	args := []string{"baseline", "-in", e.input(with(func(r run) { r["RawEd25519Sign"].ns = 0 })), "-baseline-dir", e.baseDir, "-record-vector", e.vector}
	if code, out, errs := e.run(1, args...); code == 0 || !strings.Contains(errs, "not a measurement") {
		t.Fatalf("baseline of a zero calibration: exit %d\n%s%s", code, out, errs)
	}
}

// TestCheckFractionalAllocsLoud: with an even number of runs the median
// of allocs/op can be fractional; half the runs allocating on a path whose
// baseline allocated none is said as loudly as one allocation. (The loud
// warning asked for >= 1, so 0 -> 0.5 passed as a quiet ok.)
func TestCheckFractionalAllocsLoud(t *testing.T) {
	e := newEnv(t)
	e.baseline(1, defaultRun())
	in := defaultRun().String() + "pkg: github.com/rustyonions/ron-audit-go/bench\n"
	// VerifyChain's fourth run allocates: its runs 0, 0, 0, 1... and 1.
	in = strings.Replace(in, "BenchmarkVerifyChain-2\t 10000\t 1450 ns/op\t 0 B/op\t 0 allocs/op\n",
		"BenchmarkVerifyChain-2\t 10000\t 1450 ns/op\t 0 B/op\t 1 allocs/op\n", 2)
	in += "BenchmarkVerifyChain-2\t 10000\t 1450 ns/op\t 0 B/op\t 0 allocs/op\n"
	p := e.write("even.out", in)
	code, out, errs := e.run(1, "check", "-in", p, "-baseline-dir", e.baseDir, "-record-vector", e.vector, "-waivers", filepath.Join(e.dir, "waivers.json"))
	mustCode(t, 0, code, out, errs)
	if !hasRow(out, "VerifyChain", mAllocs, vWarn) || !strings.Contains(out, "!!! VerifyChain now allocates 0.5 times per op") {
		t.Fatalf("half the runs allocating on a zero-allocation path is not loud:\n%s", out)
	}
}

// TestCheckRefusesCrashedRun: bench_rounds.sh runs the test binary
// itself, which prints no FAIL line when a benchmark panics: the gate
// read the benchmarks before the panic as a whole run, green.
func TestCheckRefusesCrashedRun(t *testing.T) {
	e := newEnv(t)
	e.baseline(1, defaultRun())
	crashed := strings.Replace(defaultRun().String(), "BenchmarkVerifyChain-2",
		"BenchmarkVerifyHot-2\t panic: runtime error: index out of range [3] with length 3\n\ngoroutine 7 [running]:\nBenchmarkVerifyChain-2", 1)
	p := e.write("crashed.out", crashed)
	code, out, errs := e.run(1, "check", "-in", p, "-baseline-dir", e.baseDir, "-record-vector", e.vector, "-waivers", filepath.Join(e.dir, "waivers.json"))
	mustCode(t, 1, code, out, errs)
	if !strings.Contains(errs, "the benchmark run failed") || !strings.Contains(errs, "panic: runtime error") {
		t.Fatalf("a crashed run was not refused:\n%s%s", out, errs)
	}
}

// TestWaiverFileTrailingData: the decoder read the first JSON value and
// ignored the rest, so a waiver after a stray "]" (or a second list) was
// dropped without a word and the file passed as valid.
func TestWaiverFileTrailingData(t *testing.T) {
	e := newEnv(t)
	e.baseline(1, defaultRun())
	for _, tail := range []string{
		`,{"benchmark":"AppendHot","metric":"ratio","reason":"signing moved (#42)","until":"2027-01-01"}]`,
		"]", "}", `[{"benchmark":"AppendHot","metric":"ratio","reason":"x","until":"2027-01-01"}]`,
	} {
		e.write("waivers.json", `[{"benchmark":"VerifyHot","metric":"ratio","reason":"known","until":"2027-01-01"}]`+"\n"+tail+"\n")
		code, out, errs := e.check(defaultRun())
		mustCode(t, 1, code, out, errs)
		if !strings.Contains(out, "waiver file is invalid") || !strings.Contains(errs, "after the waiver list") {
			t.Fatalf("trailing %q in the waiver file accepted:\n%s%s", tail, out, errs)
		}
	}
	// Trailing white space is not data.
	e.write("waivers.json", "[]\n\n  \n")
	if code, out, errs := e.check(defaultRun()); code != 0 {
		t.Fatalf("trailing white space refused: exit %d\n%s%s", code, out, errs)
	}
}

// inputSelected returns r's output as bench_rounds.sh writes it: headed by
// the -bench pattern it ran and its number of rounds (3, the runs of a
// fake).
func (e *env) inputSelected(r run, pattern string) string {
	seq++
	return e.write(fmt.Sprintf("bench-%d.out", seq), "bench-pattern: "+pattern+"\nbench-rounds: 3\n"+r.String())
}

// TestCheckSelectedButMissing: a benchmark of the baseline that the run's
// -bench pattern selected but that is not in the run (renamed, b.Skip,
// its result lost) is red, not skipped: the short gate stayed green with
// AppendHot, or a calibration, absent, and its rows merely "skip". So is
// one in fewer rounds than the run had. Benchmarks the pattern did not
// select (the short gate leaves EmitterWorkers2 out) are still skipped.
func TestCheckSelectedButMissing(t *testing.T) {
	const short = `RawEd25519Sign$|RawBLAKE3_1KiB$|AppendHot$|AppendSealed$|VerifyHot$|VerifyChain$|EmitterWorkers1$|EmitterDesignLoad$`
	shortRun := func(fn func(run)) run {
		r := run{}
		for n, f := range defaultRun() {
			if regexp.MustCompile(short).MatchString("Benchmark" + n) {
				r[n] = f
			}
		}
		if fn != nil {
			fn(r)
		}
		return r
	}
	args := func(e *env, in string) []string {
		return []string{"check", "-in", in, "-baseline-dir", e.baseDir, "-record-vector", e.vector, "-waivers", filepath.Join(e.dir, "waivers.json")}
	}
	e := newEnv(t)
	e.baseline(1, defaultRun())

	code, out, errs := e.run(1, args(e, e.inputSelected(shortRun(nil), short))...)
	mustCode(t, 0, code, out, errs)
	if !hasRow(out, "EmitterWorkers2", "-", vSkip) {
		t.Fatalf("a benchmark the pattern left out is not skipped:\n%s", out)
	}
	for name, missing := range map[string]string{
		"benchmark":   "AppendHot",
		"calibration": "RawBLAKE3_1KiB",
	} {
		t.Run(name, func(t *testing.T) {
			code, out, errs := e.run(1, args(e, e.inputSelected(shortRun(func(r run) { delete(r, missing) }), short))...)
			mustCode(t, 1, code, out, errs)
			if !hasRow(out, missing, "-", vRed) || !strings.Contains(out, "selected") {
				t.Fatalf("%s selected but missing is not red:\n%s", missing, out)
			}
		})
	}
	// A gated metric the baseline has and a selected benchmark no longer
	// reports (its b.ReportMetric removed or renamed) is red too: skipped,
	// it would be green, and the busy-% rule gone without a word.
	t.Run("gated metric not reported", func(t *testing.T) {
		code, out, errs := e.run(1, args(e, e.inputSelected(shortRun(func(r run) { r["EmitterDesignLoad"].extra = "0.10 busy-pct\t3800 p99-us" }), short))...)
		mustCode(t, 1, code, out, errs)
		if !hasRow(out, "EmitterDesignLoad", mBusy, vRed) {
			t.Fatalf("busy-%% no longer reported by a selected benchmark is not red:\n%s", out)
		}
		code, out, errs = e.run(1, append(args(e, e.inputSelected(shortRun(func(r run) { r["EmitterDesignLoad"].extra = "0.10 busy-%" }), short)), "-latency")...)
		mustCode(t, 1, code, out, errs)
		if !hasRow(out, "EmitterDesignLoad", mP99, vRed) {
			t.Fatalf("p99-us no longer reported under -latency is not red:\n%s", out)
		}
	})
	t.Run("in some rounds only", func(t *testing.T) {
		raw, err := os.ReadFile(e.inputSelected(shortRun(nil), short))
		if err != nil {
			t.Fatal(err)
		}
		in := strings.Replace(string(raw), "BenchmarkVerifyHot-2\t 10000\t 950 ns/op\t 0 B/op\t 0 allocs/op\n", "", 1)
		p := e.write("partial.out", in)
		code, out, errs := e.run(1, args(e, p)...)
		mustCode(t, 1, code, out, errs)
		if !hasRow(out, "VerifyHot", "-", vRed) || !strings.Contains(out, "in 2 of 3 rounds") {
			t.Fatalf("a benchmark in 2 of 3 rounds is not red:\n%s", out)
		}
	})
}

// TestCheckGOMAXPROCSNoted: the baseline records the GOMAXPROCS its
// benchmarks ran at (their -N suffix), but check never read it: a run at
// another GOMAXPROCS was compared without a word, and a parallel
// benchmark's ratio moving with it (EmitterWorkers2 at GOMAXPROCS 1) read
// as a regression of the code.
func TestCheckGOMAXPROCSNoted(t *testing.T) {
	e := newEnv(t)
	e.baseline(1, defaultRun())
	in := strings.ReplaceAll(with(func(r run) { r["EmitterWorkers2"].ns = 17000 }).String(), "-2\t", "\t")
	p := e.write("procs1.out", in)
	code, out, errs := e.run(1, "check", "-in", p, "-baseline-dir", e.baseDir, "-record-vector", e.vector, "-waivers", filepath.Join(e.dir, "waivers.json"))
	mustCode(t, 1, code, out, errs)
	if !strings.Contains(out, "GOMAXPROCS 1, the baseline's at 2") {
		t.Fatalf("a run at another GOMAXPROCS is not said:\n%s", out)
	}
}

// TestBaselineHoldsEveryGatedRatio: a baseline is what the gate holds
// runs to, so one without a gated benchmark, or without its ratio (its
// calibration not in the run), would leave that ratio unchecked, skipped
// or not a row at all, in every gate after it. baseline only warned, and
// wrote it.
func TestBaselineHoldsEveryGatedRatio(t *testing.T) {
	for name, fn := range map[string]func(run){
		"gated benchmark missing": func(r run) { delete(r, "EmitterWorkers2") },
		"calibration missing":     func(r run) { delete(r, "RawEd25519Sign") },
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			args := []string{"baseline", "-in", e.input(with(fn)), "-baseline-dir", e.baseDir, "-record-vector", e.vector}
			code, out, errs := e.run(1, args...)
			if code == 0 || !strings.Contains(errs, "gated") {
				t.Fatalf("baseline without a gated ratio written: exit %d\n%s%s", code, out, errs)
			}
			if _, err := os.Stat(filepath.Join(e.baseDir, "v1", baselineName)); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("the baseline was written anyway (%v)", err)
			}
		})
	}
}

// TestCheckBaselineLacksGatedRatio: a baseline written before baseline
// refused them, or edited by hand, without a ratio for a gated benchmark
// is red with a call to rebaseline, not a skip in every run after it.
func TestCheckBaselineLacksGatedRatio(t *testing.T) {
	e := newEnv(t)
	e.baseline(1, defaultRun())
	e.editBaseline("AppendHot", func(r *BenchResult) { r.Ratio, r.Calibration = 0, "" })
	code, out, errs := e.check(defaultRun())
	mustCode(t, 1, code, out, errs)
	if !hasRow(out, "AppendHot", mRatio, vRed) || !regexp.MustCompile(`(?m)^AppendHot\s+ratio\s.*rebaseline`).MatchString(out) {
		t.Errorf("no red AppendHot ratio row saying to rebaseline:\n%s", out)
	}
}

// TestCheckCalibrationChanged: a gated benchmark whose calibration is not
// the baseline's (benchfmt's mapping changed) has no comparable ratio;
// skipped, it would stay unchecked in every run until someone reads the
// table, so it is red and says to rebaseline.
func TestCheckCalibrationChanged(t *testing.T) {
	e := newEnv(t)
	e.baseline(1, defaultRun())
	e.editBaseline("AppendHot", func(r *BenchResult) { r.Calibration = "RawBLAKE3_1KiB" })
	code, out, errs := e.check(defaultRun())
	mustCode(t, 1, code, out, errs)
	if !hasRow(out, "AppendHot", mRatio, vRed) || !regexp.MustCompile(`(?m)^AppendHot\s+ratio\s.*calibration changed.*rebaseline`).MatchString(out) {
		t.Errorf("no red AppendHot ratio row saying its calibration changed:\n%s", out)
	}
}
