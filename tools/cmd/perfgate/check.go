package main

import (
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/rustyonions/ron-audit-go/internal/benchfmt"
)

// The gate's limits, from issue 7.
const (
	maxRatioDrop = 0.10 // a gated ratio may fall by at most 10%
	maxAllocRise = 2    // allocs/op may rise by at most 2 (the target is 0)
	maxFsyncRise = 0.20 // WAL fsync p95 may rise by at most 20%
	maxBusyRise  = 0.5  // busy-% at design load may rise by at most 0.5 points
	// The design-load p99 may grow at most 3x (with -latency): it moved
	// 58 to 169 us between runs of one binary here, and the tail it
	// guards against, a stalled signer holding up its chain, is ms.
	maxP99Factor = 3.0
)

// Metric names of the gate's rows, which waivers name.
const (
	mRatio  = "ratio"
	mAllocs = "allocs/op"
	mFsync  = "fsync-p95-ms" // the unit sdk/wal's benches report
	mBusy   = "busy-%"       // the unit BenchmarkEmitterDesignLoad reports
	mP99    = "p99-us"       // ditto: TryEmit to durable, at design load
)

// gateMetrics are the metrics the gate holds (and a waiver may name).
var gateMetrics = []string{mRatio, mAllocs, mFsync, mBusy, mP99}

// rigWALSteady is the row name of the wal_steady rig snapshot's fsync p95.
const rigWALSteady = "rig/wal_steady"

// gatedRatios are the benchmarks whose ratio to their calibration the
// gate holds: the append and verify paths, and the emitter's append path
// (one signer against raw signing; two against one). On the 2-vCPU
// machine of the v1 baseline, two more short runs (-count 3, -benchtime
// 300ms) moved them by 0.3 to 4.5% on a quiet machine. EmitterWorkers2
// needs both cores, so a neighbour's compile during it halved it (-51%):
// it is gated in the full run, and the short CI form leaves it out.
// Not gated: DurableAppendBatch and EmitterDurable, whose cost is the disk's fsync rather
// than CPU, so its ratio to an in-RAM calibration neither holds across
// machines nor between runs; the canonical and signature benches, which
// are not append or verify paths; and the calibrations themselves.
var gatedRatios = map[string]bool{
	"AppendHot":       true,
	"AppendSealed":    true,
	"VerifyHot":       true,
	"VerifyChain":     true,
	"EmitterWorkers1": true,
	"EmitterWorkers2": true,
}

type verdict string

const (
	vOK     verdict = "ok"
	vRed    verdict = "RED"
	vWaived verdict = "WAIVED"
	vWarn   verdict = "WARN" // passes, but loudly: an allocation where there were none
	vSkip   verdict = "skip" // gated, but not measurable from this input
	vInfo   verdict = "-"    // shown, not gated
)

type row struct {
	bench, metric string
	base, cur     string
	change        string
	limit         string
	verdict       verdict
	note          string
}

// report is the outcome of one check.
type report struct {
	rows       []row
	notes      []string
	loud       []string // allocations where the baseline had none
	foreignCPU bool     // the baseline is of another CPU model: ratios not gated
}

func (r *report) count(v verdict) int {
	n := 0
	for _, x := range r.rows {
		if x.verdict == v {
			n++
		}
	}
	return n
}

// gated is how many rows the gate actually judged.
func (r *report) gated() int {
	return r.count(vOK) + r.count(vRed) + r.count(vWaived) + r.count(vWarn)
}

// compare holds cur against base under the gate's rules, then lets the
// waivers pass exactly the red rows they name.
// latency says whether to hold the design-load p99 (the full gate; the
// short CI form runs too briefly, on any machine, for a p99 to hold).
// foreignCPU says the baseline is of another CPU model: ratios are then
// shown against it, not gated.
// sel, when the run says what it selected, makes a benchmark of the
// baseline that the run selected but lacks, or has in fewer rounds, red.
func compare(base *Baseline, cur map[string]BenchResult, sel *selection, curWAL *RigFsync, waivers []Waiver, latency, foreignCPU bool) *report {
	r := &report{foreignCPU: foreignCPU}
	names := make([]string, 0, len(base.Benchmarks))
	for n := range base.Benchmarks {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, name := range names {
		b := base.Benchmarks[name]
		c, ok := cur[name]
		if !ok && sel.selects(name, b.Pkg) {
			r.rows = append(r.rows, row{bench: name, metric: "-", verdict: vRed,
				note: "selected by the run's -bench pattern, but not in the run (skipped, renamed, its result lost?): gone for good wants `make rebaseline`"})
			continue
		}
		if !ok {
			note := "not in this run: not checked"
			if gatedRatios[name] {
				note = "not in this run: its gated ratio is NOT checked"
			}
			r.rows = append(r.rows, row{bench: name, metric: "-", verdict: vSkip, note: note})
			continue
		}
		if sel.selects(name, b.Pkg) && sel.rounds > 0 && c.Runs != sel.rounds {
			note := fmt.Sprintf("in %d of %d rounds: a median of the others is not this run's", c.Runs, sel.rounds)
			if c.Runs > sel.rounds {
				note = fmt.Sprintf("%d results in %d rounds, each of which runs it once: two benchmarks under one name?", c.Runs, sel.rounds)
			}
			r.rows = append(r.rows, row{bench: name, metric: "-", verdict: vRed, note: note})
		}
		r.ratioRow(name, b, c, cur)
		r.allocRow(name, b, c)
		selected := sel.selects(name, b.Pkg)
		r.metricRow(name, mFsync, b, c, selected)
		r.metricRow(name, mBusy, b, c, selected)
		if latency {
			r.metricRow(name, mP99, b, c, selected)
		}
	}
	var added []string
	for name := range cur {
		if _, ok := base.Benchmarks[name]; !ok {
			added = append(added, name)
		}
	}
	if len(added) > 0 {
		slices.Sort(added)
		r.notes = append(r.notes, fmt.Sprintf("not in the baseline, so not gated: %s (run `make rebaseline` to include them)", strings.Join(added, ", ")))
	}
	switch {
	case base.WALSteady != nil && curWAL != nil:
		bm, cm := 1e3*base.WALSteady.FsyncP95Seconds, 1e3*curWAL.FsyncP95Seconds
		r.rows = append(r.rows, relRise(rigWALSteady, mFsync, bm, cm))
	case base.WALSteady != nil:
		r.notes = append(r.notes, "the baseline has the wal_steady rig's fsync p95; pass -wal-snapshot to check it")
	case curWAL != nil:
		r.notes = append(r.notes, "-wal-snapshot given, but the baseline has no wal_steady fsync p95 to compare with")
	}
	r.applyWaivers(waivers)
	return r
}

// selection is what a run set out to measure, from the lines
// testing/performance/bench_rounds.sh heads its output with: the -bench
// pattern (selectionPattern) and the number of rounds (selectionRounds).
// Without it (plain go test output), a benchmark the run lacks can only
// be skipped: nothing says whether it was meant to run.
type selection struct {
	pattern *regexp.Regexp
	rounds  int             // 0: not said
	pkgs    map[string]bool // the packages the run measured
}

// The configuration keys of the selection (benchfmt keeps "key: value"
// lines as configuration).
const (
	selectionPattern = "bench-pattern"
	selectionRounds  = "bench-rounds"
)

// selectionOf reads the run's selection; nil when it has none, or a
// pattern with sub-benchmark levels ("X/Y"), which runs a top-level
// benchmark only for its sub-benchmarks.
func selectionOf(set *benchfmt.Set) (*selection, error) {
	p, ok := set.Config[selectionPattern]
	if !ok || strings.Contains(p, "/") {
		return nil, nil
	}
	re, err := regexp.Compile(p)
	if err != nil {
		return nil, fmt.Errorf("%s %q: %w", selectionPattern, p, err)
	}
	sel := &selection{pattern: re, pkgs: map[string]bool{}}
	if v, ok := set.Config[selectionRounds]; ok {
		if sel.rounds, err = strconv.Atoi(v); err != nil || sel.rounds < 1 {
			return nil, fmt.Errorf("%s %q is not a positive count", selectionRounds, v)
		}
	}
	for _, b := range set.Benchmarks {
		sel.pkgs[b.Pkg] = true
	}
	return sel, nil
}

// selects reports whether the run selected the benchmark name of package
// pkg, as go test matches -bench against a top-level benchmark's name.
func (s *selection) selects(name, pkg string) bool {
	return s != nil && s.pkgs[pkg] && s.pattern.MatchString("Benchmark"+name)
}

func (r *report) ratioRow(name string, b, c BenchResult, cur map[string]BenchResult) {
	gated := gatedRatios[name]
	switch {
	case b.Ratio <= 0 && !gated:
		return
	case b.Ratio <= 0:
		// Red, not skipped: skipped, it would stay unchecked in every run
		// until someone reads the table. baseline refuses to write such a
		// file, so it is an old or hand-edited one.
		r.rows = append(r.rows, row{bench: name, metric: mRatio, verdict: vRed, note: "the baseline has no ratio for this gated benchmark (an old or hand-edited baseline: perfgate baseline no longer writes one): run `make rebaseline`"})
		return
	case c.Ratio <= 0:
		v, note := vInfo, "calibration "+b.Calibration+" not in this run"
		if gated {
			v, note = vSkip, note+": NOT checked"
		}
		r.rows = append(r.rows, row{bench: name, metric: mRatio, base: f3(b.Ratio), verdict: v, note: note})
		return
	case c.Calibration != b.Calibration:
		// No comparable ratio. Red when gated, as for a baseline without
		// one: skipped, it would stay unchecked until a rebaseline.
		v := vInfo
		if gated {
			v = vRed
		}
		r.rows = append(r.rows, row{bench: name, metric: mRatio, verdict: v, note: fmt.Sprintf("calibration changed from %s to %s: run `make rebaseline`", b.Calibration, c.Calibration)})
		return
	}
	change := c.Ratio/b.Ratio - 1
	x := row{bench: name, metric: mRatio, base: f3(b.Ratio), cur: f3(c.Ratio), change: pct(change), note: "vs " + c.Calibration}
	if !gated {
		x.verdict, x.note = vInfo, x.note+", not gated"
		r.rows = append(r.rows, x)
		return
	}
	if r.foreignCPU {
		x.verdict, x.note = vInfo, x.note+", baseline of another CPU: not gated"
		r.rows = append(r.rows, x)
		return
	}
	x.limit = fmt.Sprintf(">= -%.0f%%", 100*maxRatioDrop)
	x.verdict = vOK
	if change < -maxRatioDrop-1e-9 { // a drop of exactly 10% is within
		x.verdict = vRed
	}
	r.rows = append(r.rows, x)
}

func (r *report) allocRow(name string, b, c BenchResult) {
	rise := c.AllocsPerOp - b.AllocsPerOp
	x := row{bench: name, metric: mAllocs, base: fmt.Sprintf("%g", b.AllocsPerOp), cur: fmt.Sprintf("%g", c.AllocsPerOp),
		change: fmt.Sprintf("%+g", rise), limit: fmt.Sprintf("<= +%d", maxAllocRise), verdict: vOK}
	if rise > maxAllocRise {
		x.verdict = vRed
	}
	// Our target is 0: an allocation where there was none passes the
	// limit of 2 but is said loudly, before it becomes three. Above 0,
	// not at 1: the median of an even number of runs is fractional, and
	// 0.5 is half the runs allocating.
	if b.AllocsPerOp == 0 && c.AllocsPerOp > 0 {
		if x.verdict == vOK {
			x.verdict = vWarn
		}
		x.note = "ALLOCATES: target is 0 allocs/op"
		r.loud = append(r.loud, fmt.Sprintf("%s now allocates %g times per op; its baseline allocated none, and the target is 0 allocs/op", name, c.AllocsPerOp))
	}
	r.rows = append(r.rows, x)
}

// metricRow holds one b.ReportMetric unit when the baseline has it.
// selected says the run selected the benchmark (selection): then the
// unit missing from its results is red, as the benchmark ran and no
// longer reports what the gate holds it to.
func (r *report) metricRow(name, unit string, b, c BenchResult, selected bool) {
	bv, ok := b.Metrics[unit]
	if !ok {
		return
	}
	cv, ok := c.Metrics[unit]
	if !ok {
		x := row{bench: name, metric: unit, base: fmt.Sprintf("%g", bv), verdict: vSkip, note: "not reported in this run: NOT checked"}
		if selected {
			x.verdict, x.note = vRed, "the benchmark ran, but no longer reports it"
		}
		r.rows = append(r.rows, x)
		return
	}
	switch unit {
	case mFsync:
		r.rows = append(r.rows, relRise(name, unit, bv, cv))
	case mBusy:
		rise := cv - bv
		x := row{bench: name, metric: unit, base: fmt.Sprintf("%.2f", bv), cur: fmt.Sprintf("%.2f", cv),
			change: fmt.Sprintf("%+.2f pt", rise), limit: fmt.Sprintf("<= +%.1f pt", maxBusyRise), verdict: vOK}
		if rise > maxBusyRise+1e-9 { // the points are decimals: 0.5 exactly is within
			x.verdict = vRed
		}
		r.rows = append(r.rows, x)
	case mP99:
		x := row{bench: name, metric: unit, base: fmt.Sprintf("%g", bv), cur: fmt.Sprintf("%g", cv),
			limit: fmt.Sprintf("<= %gx", maxP99Factor), verdict: vOK}
		if bv > 0 {
			x.change = fmt.Sprintf("%.2fx", cv/bv)
		}
		if cv > maxP99Factor*bv {
			x.verdict = vRed
		}
		r.rows = append(r.rows, x)
	}
}

// relRise is the fsync p95 rule: a rise of more than 20%.
func relRise(name, metric string, bv, cv float64) row {
	x := row{bench: name, metric: metric, base: f3(bv), cur: f3(cv),
		limit: fmt.Sprintf("<= +%.0f%%", 100*maxFsyncRise), verdict: vOK}
	if bv <= 0 {
		// No relative rise from zero (a p95 under the metric's 1 us
		// resolution): shown, not judged.
		x.verdict, x.note = vSkip, "baseline is 0: no relative change, NOT checked"
		return x
	}
	change := cv/bv - 1
	x.change = pct(change)
	if change > maxFsyncRise+1e-9 { // exactly 20% is within
		x.verdict = vRed
	}
	return x
}

func (r *report) applyWaivers(ws []Waiver) {
	used := map[string]bool{}
	byKey := map[string]Waiver{}
	for _, w := range ws {
		byKey[w.key()] = w
	}
	for i, x := range r.rows {
		if x.verdict != vRed {
			continue
		}
		w, ok := byKey[Waiver{Benchmark: x.bench, Metric: x.metric}.key()]
		if !ok {
			continue
		}
		used[w.key()] = true
		r.rows[i].verdict = vWaived
		r.rows[i].note = strings.TrimSpace(x.note + " waived until " + w.Until + ": " + w.Reason)
	}
	for _, w := range ws {
		if !used[w.key()] {
			r.notes = append(r.notes, fmt.Sprintf("waiver for %s %s is unused (nothing red there): remove it", w.Benchmark, w.Metric))
		}
	}
}

func f3(x float64) string { return fmt.Sprintf("%.3f", x) }

func pct(x float64) string { return fmt.Sprintf("%+.1f%%", 100*x) }

func (r *report) print(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "benchmark\tmetric\tbaseline\tnow\tchange\tlimit\tverdict\tnote")
	for _, x := range r.rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", x.bench, x.metric, dash(x.base), dash(x.cur), dash(x.change), dash(x.limit), x.verdict, x.note)
	}
	tw.Flush()
	for _, n := range r.notes {
		fmt.Fprintln(w, "note:", n)
	}
	if len(r.loud) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "!!!!!!!! ALLOCATIONS ON A ZERO-ALLOCATION PATH !!!!!!!!")
		for _, l := range r.loud {
			fmt.Fprintln(w, "!!! "+l)
		}
		fmt.Fprintln(w, "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!")
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
