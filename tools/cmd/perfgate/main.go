// Command perfgate is the performance gate of ron-audit: it writes the
// benchmark baseline of a schema version, and checks a benchmark run
// against it.
//
//	perfgate baseline -in bench.out [-wal-snapshot FILE] [-baseline-dir DIR] [-out FILE | -cpu]
//	perfgate check    -in bench.out [-wal-snapshot FILE] [-baseline-dir DIR] [-waivers FILE] [-latency]
//
// The input is `go test -bench -benchmem` output (./bench, and ./sdk/wal
// for the fsync p95 its WAL benches report). A baseline,
// <baseline-dir>/v<N>/bench.json with N the schema version
// (canonical.SchemaVersion), holds each benchmark's medians (ns/op, B/op,
// allocs/op, its b.ReportMetric units), its ratio to its calibration bench
// of the same run (calibration ns/op / its ns/op), the canonical size of
// the benchmark record (benchfmt.RecordVector, the one the benches load),
// the machine, and, when a baseline of an earlier schema version
// exists, the size and ratio change against it. With -cpu it is written
// as <baseline-dir>/v<N>/bench-<cpu model>.json instead (cpuBaselineName).
// A run without a ratio for every gated benchmark (gatedRatios: the
// benchmark or its calibration missing) is refused: every gate after such
// a baseline would skip that ratio.
//
// check compares with the baseline of the current schema version, the
// one of the run's CPU model where there is one, and fails (exit 1) when:
//   - a gated ratio (see gatedRatios) drops by more than 10%: ratios, not
//     times, so the gate holds across machines of one CPU model; against
//     another model's baseline ratios are shown, not gated (they move:
//     AppendSealed/BLAKE3 was 0.54 on an Intel Xeon, 0.38 on an AMD EPYC,
//     the same code); at another GOMAXPROCS than the baseline's (the
//     benchmarks' -N suffix) they are gated with a note, as the ratios
//     of parallel benchmarks (EmitterWorkers2) move with it;
//   - allocs/op rise by more than 2 (any rise from 0 is printed loudly,
//     since the target is 0: at 1, or at 0.5, the median of an even
//     number of runs of which half allocated);
//   - fsync-p95-ms (a WAL bench) or the wal_steady rig's fsync p95
//     (-wal-snapshot) rises by more than 20%;
//   - busy-% at design load rises by more than 0.5 points;
//   - with -latency (make perf-gate), the design-load p99 (p99-us) grows
//     to more than 3x the baseline's;
//   - the baseline has no ratio for a gated benchmark of the run (an old
//     or hand-edited one: baseline refuses to write it), or its ratio
//     is to another calibration than the run's: rebaseline.
//
// A run whose output says it failed, or that holds a value no benchmark
// measures (NaN or ±Inf, an ns/op of 0 or below, a negative B/op or
// allocs/op), is refused (exit 1), and not written as a baseline: compared,
// such values passed green. Benchmarks or metrics the run lacks are
// listed as skipped, never passed, except that a benchmark of the
// baseline which the run selected but lacks is red: the output of
// testing/performance/bench_rounds.sh starts with the -bench pattern and
// rounds it ran ("bench-pattern: ...", "bench-rounds: N"), so a benchmark
// the pattern matches but which is not in the run (skipped, renamed, its
// result lost) or is in fewer rounds than the run had is red (a row no
// waiver names: rebaseline if it is gone for good), and a gated metric
// (busy-%, ...) its baseline has and it no longer reports is red too; a
// benchmark the pattern leaves out (the short gate's EmitterWorkers2) is
// skipped. Plain go test output says no selection: there they are
// skipped.
//
// When there is no baseline for the current schema version it fails and
// asks for `make rebaseline`: figures are not compared across schema
// versions. The only way past a red row is a waiver in the waiver file:
//
//	[{"benchmark": "AppendHot", "metric": "ratio",
//	  "reason": "signing moved into Append, see #42", "until": "2026-12-31"}]
//
// metric is ratio, allocs/op, fsync-p95-ms, busy-% or p99-us (benchmark
// "rig/wal_steady" for the rig's fsync p95). A waiver without a reason or
// past its date fails the gate itself, and so does a waiver file that is
// not exactly one JSON list (an unknown field, or text after the list).
//
// Exit status: 0 green, 1 red or refused, 2 bad usage or unreadable input.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/internal/benchfmt"
)

func main() {
	a := &app{version: canonical.SchemaVersion, now: time.Now(), stdout: os.Stdout, stderr: os.Stderr}
	os.Exit(a.run(os.Args[1:]))
}

// app is the command with what it depends on, so tests run it whole with
// another schema version and date.
type app struct {
	version        int
	now            time.Time
	stdout, stderr io.Writer
}

const (
	exitOK    = 0
	exitRed   = 1
	exitUsage = 2
)

func (a *app) run(args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(a.stderr, "usage: perfgate baseline|check -in bench.out [flags]")
		return exitUsage
	}
	switch args[0] {
	case "baseline":
		return a.baseline(args[1:])
	case "check":
		return a.check(args[1:])
	}
	fmt.Fprintf(a.stderr, "perfgate: unknown subcommand %q (baseline, check)\n", args[0])
	return exitUsage
}

// common flags of both subcommands.
type common struct {
	in, walSnapshot, dir, vector string
}

func (a *app) flags(name string, c *common) *flag.FlagSet {
	fs := flag.NewFlagSet("perfgate "+name, flag.ContinueOnError)
	fs.SetOutput(a.stderr)
	fs.StringVar(&c.in, "in", "", "go test -bench -benchmem output (required)")
	fs.StringVar(&c.walSnapshot, "wal-snapshot", "", "wal_steady rig snapshot whose fsync p95 to include")
	fs.StringVar(&c.dir, "baseline-dir", defaultBaselineDir, "directory holding v<N>/"+baselineName)
	fs.StringVar(&c.vector, "record-vector", "", "vector with the benchmark record (default "+benchfmt.RecordVector+", the one the benches load)")
	return fs
}

func (a *app) readInput(c *common) (*benchfmt.Set, *RigFsync, error) {
	if c.in == "" {
		return nil, nil, errors.New("-in is required")
	}
	f, err := os.Open(c.in)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	set, err := benchfmt.Parse(f)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", c.in, err)
	}
	var wal *RigFsync
	if c.walSnapshot != "" {
		if wal, err = readWALSnapshot(c.walSnapshot); err != nil {
			return nil, nil, err
		}
	}
	return set, wal, nil
}

func (a *app) vectorPath(c *common) string {
	if c.vector != "" {
		return c.vector
	}
	return filepath.FromSlash(benchfmt.RecordVector)
}

func (a *app) fail(code int, err error) int {
	fmt.Fprintln(a.stderr, "perfgate:", err)
	return code
}

func (a *app) baseline(args []string) int {
	var c common
	var out string
	fs := a.flags("baseline", &c)
	var forCPU bool
	fs.StringVar(&out, "out", "", "baseline to write (default <baseline-dir>/v<N>/"+baselineName+")")
	fs.BoolVar(&forCPU, "cpu", false, "write the baseline of this run's CPU model (<baseline-dir>/v<N>/bench-<cpu>.json), which check prefers on that CPU")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if forCPU && out != "" {
		return a.fail(exitUsage, errors.New("-cpu and -out: give one"))
	}
	if out == "" {
		out = filepath.Join(c.dir, "v"+strconv.Itoa(a.version), baselineName)
	}
	// A baseline written under another version's directory would be
	// compared as that version's: refuse, rather than mislabel it.
	if m := versionDir.FindStringSubmatch(filepath.Base(filepath.Dir(out))); m != nil && m[1] != strconv.Itoa(a.version) {
		return a.fail(exitUsage, fmt.Errorf("-out %s is under v%s, but the schema version is %d", out, m[1], a.version))
	}
	set, wal, err := a.readInput(&c)
	if err != nil {
		return a.fail(exitUsage, err)
	}
	if forCPU {
		out = filepath.Join(filepath.Dir(out), cpuBaselineName(machineOf(set).CPUModel))
	}
	size, err := recordBytes(a.vectorPath(&c))
	if err != nil {
		return a.fail(exitUsage, fmt.Errorf("record size: %w", err))
	}
	b, err := makeBaseline(set, a.version, size, wal, c.dir, a.now)
	if err != nil {
		return a.fail(exitUsage, err)
	}
	// The gate skips a gated ratio its baseline lacks, in every run after
	// it: refuse such a baseline rather than write one that gates less.
	var lacking []string
	for name := range gatedRatios {
		if b.Benchmarks[name].Ratio <= 0 {
			lacking = append(lacking, name)
		}
	}
	if len(lacking) > 0 {
		slices.Sort(lacking)
		return a.fail(exitUsage, fmt.Errorf("%s: no ratio for the gated %s (the benchmark or its calibration is not in the run): a baseline without them would leave them unchecked", c.in, strings.Join(lacking, ", ")))
	}
	for _, name := range set.Order {
		if calib, ok := benchfmt.Calibrations[name]; ok && b.Benchmarks[name].Ratio == 0 {
			fmt.Fprintf(a.stderr, "perfgate: warning: %s has no ratio: its calibration %s was not in the run\n", name, calib)
		}
	}
	if err := b.write(out); err != nil {
		return a.fail(exitUsage, err)
	}
	fmt.Fprintf(a.stdout, "wrote %s: schema v%d, %d benchmarks, record %d bytes\n", out, b.SchemaVersion, len(b.Benchmarks), b.RecordBytes)
	if p := b.Previous; p != nil {
		fmt.Fprintf(a.stdout, "against v%d: record %d -> %d bytes (%+d)\n", p.SchemaVersion, p.RecordBytes, b.RecordBytes, p.RecordBytesChange)
		for _, name := range set.Order {
			if ch, ok := p.Benchmarks[name]; ok {
				fmt.Fprintf(a.stdout, "  %-20s ratio %.3f -> %.3f (%+.1f%%), allocs/op %g -> %g\n", name, ch.PreviousRatio, ch.Ratio, ch.RatioChangePct, ch.PreviousAllocs, ch.AllocsPerOp)
			}
		}
	}
	return exitOK
}

func (a *app) check(args []string) int {
	var c common
	var waiverPath string
	var latency bool
	fs := a.flags("check", &c)
	fs.StringVar(&waiverPath, "waivers", defaultWaivers, "waiver file (absent: no waivers)")
	fs.BoolVar(&latency, "latency", false, "also hold the design-load p99 (at most 3x the baseline's)")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	set, curWAL, err := a.readInput(&c)
	if err != nil {
		return a.fail(exitUsage, err)
	}
	cur, err := summarize(set)
	if err != nil {
		return a.fail(exitRed, err)
	}
	sel, err := selectionOf(set)
	if err != nil {
		return a.fail(exitUsage, fmt.Errorf("%s: %w", c.in, err))
	}
	have, err := baselines(c.dir)
	if err != nil {
		return a.fail(exitUsage, err)
	}
	path, ok := have[a.version]
	if !ok {
		reason := "there is none in " + c.dir
		if vs := sortedVersions(have); len(vs) > 0 {
			reason = fmt.Sprintf("the baselines in %s are of schema versions %v, and figures are not compared across schema versions", c.dir, vs)
		}
		return a.fail(exitRed, &RebaselineError{Version: a.version, Reason: reason})
	}
	// Ratios to a calibration move across CPU models (AppendSealed to
	// BLAKE3: 0.54 on the Intel Xeon of the baseline, 0.38 on an AMD EPYC
	// of this workplace, the same code): a baseline of this run's CPU
	// model, where there is one, is the one to hold it to.
	m := machineOf(set)
	if p := filepath.Join(filepath.Dir(path), cpuBaselineName(m.CPUModel)); m.CPUModel != "" {
		if _, err := os.Stat(p); err == nil {
			path = p
		}
	}
	base, err := loadBaseline(path)
	if err != nil {
		return a.fail(exitUsage, err)
	}
	if base.SchemaVersion != a.version {
		return a.fail(exitRed, &RebaselineError{Version: a.version, Reason: fmt.Sprintf("%s says schema version %d", path, base.SchemaVersion)})
	}
	size, err := recordBytes(a.vectorPath(&c))
	if err != nil {
		return a.fail(exitUsage, fmt.Errorf("record size: %w", err))
	}
	if size != base.RecordBytes {
		return a.fail(exitRed, &RebaselineError{Version: a.version, Reason: fmt.Sprintf("the benchmark record is %d bytes, the baseline's was %d: a different workload", size, base.RecordBytes)})
	}
	waivers, werr := loadWaivers(waiverPath, a.now)

	fmt.Fprintf(a.stdout, "baseline %s: schema v%d, %s, %s, %d CPUs, %s\n", path, base.SchemaVersion, base.Date, base.Machine.CPUModel, base.Machine.CPUs, base.Machine.Go)
	foreign := m.CPUModel != base.Machine.CPUModel || m.GOARCH != base.Machine.GOARCH
	switch {
	case foreign:
		fmt.Fprintf(a.stdout, "note: this run is on another CPU (%s, %d CPUs, %s): its ratios are shown, not gated (they move across CPU models); allocations and busy-%% are gated; `make rebaseline-cpu` records a baseline for this CPU\n", m.CPUModel, m.CPUs, m.GOARCH)
	case m.CPUs != base.Machine.CPUs:
		fmt.Fprintf(a.stdout, "note: this run has %d CPUs, the baseline %d: ratios still compare, absolute fsync times less so\n", m.CPUs, base.Machine.CPUs)
	}
	// Ratios are gated across GOMAXPROCS as across CPU counts, but a
	// parallel benchmark's moves with it: say so, so that a red
	// EmitterWorkers2 at GOMAXPROCS 1 is not read as the code's.
	if bp := base.Machine.GOMAXPROCS; bp > 0 && m.GOMAXPROCS != bp {
		fmt.Fprintf(a.stdout, "note: this run's benchmarks ran at GOMAXPROCS %d, the baseline's at %d (their -N suffix): the ratios of parallel benchmarks (EmitterWorkers2) move with it, not only with the code\n", m.GOMAXPROCS, bp)
	}
	r := compare(base, cur, sel, curWAL, waivers, latency, foreign)
	r.print(a.stdout)

	if werr != nil {
		fmt.Fprintf(a.stderr, "perfgate: waivers in %s:\n%v\n", waiverPath, werr)
	}
	red, waived, skipped, gated := r.count(vRed), r.count(vWaived), r.count(vSkip), r.gated()
	switch {
	case gated == 0:
		fmt.Fprintln(a.stdout, "perf gate: NOTHING GATED: no gated benchmark of the baseline is in this run")
		return exitRed
	case red > 0:
		fmt.Fprintf(a.stdout, "perf gate: RED: %d of %d checks failed (%d waived, %d skipped)\n", red, gated, waived, skipped)
		return exitRed
	case werr != nil:
		fmt.Fprintln(a.stdout, "perf gate: RED: the waiver file is invalid (see above), though every check passed")
		return exitRed
	}
	fmt.Fprintf(a.stdout, "perf gate: green: %d checks (%d waived, %d warned, %d skipped)\n", gated, waived, r.count(vWarn), skipped)
	return exitOK
}
