// Command benchtable reads `go test -bench` output and prints each
// benchmark next to its calibration bench from the same run, as the ratio
// our targets are written in, with the target and the seed's figure.
//
//	go test -run '^$' -bench . -benchmem -count 5 ./bench | benchtable [-check]
//
// `make bench` feeds it testing/performance/bench_rounds.sh's output
// instead: the same lines, with a benchmark's runs spread over the rounds.
// With several runs of a benchmark it uses the median ns/op. With -check it
// exits 1 when a target is missed.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/rustyonions/ron-audit-go/internal/benchfmt"
)

// target is one row of the table. Cost targets bound ns/op as a fraction of
// the calibration bench's ns/op; throughput targets bound ops/s as a
// fraction of the calibration's ops/s (that is, calib ns / bench ns).
// maxNs bounds ns/op itself, for the few targets that are absolute.
type target struct {
	bench      string  // its calibration bench is benchfmt.Calibrations[bench]
	throughput bool    // ratio is calib/bench ns (throughput) instead of bench/calib (cost)
	limit      float64 // cost: ratio <= limit; throughput: ratio >= limit; 0: informational
	maxNs      float64 // absolute bound on ns/op; 0: none
	seed       string  // the seed's target for the same thing, from ../shared/seed/PERFORMANCE.md
	// metric, if set, names a b.ReportMetric unit the row shows (its
	// median) instead of a ratio, bounded by maxMetric.
	metric    string
	maxMetric float64
}

var targets = []target{
	{bench: "CanonicalEncode", limit: 0.15, seed: "- (inside append)"},
	{bench: "CanonicalOpen", limit: 0.15, seed: "-"},
	{bench: "RecordHash", seed: "-"},
	{bench: "AppendHot", throughput: true, limit: 0.93, seed: ">= 120k ops/s; <= 8 allocs, 3 KiB"},
	{bench: "AppendSealed", throughput: true, limit: 0.75, seed: ">= 120k ops/s"},
	{bench: "VerifyHot", throughput: true, limit: 0.85, seed: ">= 400k ops/s"},
	{bench: "VerifyChain", throughput: true, limit: 0.80, seed: ">= 250k links/s"},
	{bench: "VerifySignature", throughput: true, seed: "-"},
	{bench: "DedupeKey", throughput: true, seed: "-"},
	{bench: "ColdStart", maxNs: 200e3, seed: "<= 2 ms"},
	{bench: "AppendHotParallel", throughput: true, seed: "-"},
	{bench: "DurableAppendBatch", throughput: true, limit: 0.90, seed: "fsync p95 <= 8 ms"},
	{bench: "EmitterWorkers1", throughput: true, seed: "-"},
	{bench: "EmitterWorkers2", throughput: true, limit: 1.8, seed: "-"},
	{bench: "EmitterDurable", throughput: true, limit: 0.90, seed: "fsync p95 <= 8 ms"},
	{bench: "EmitterOverhead", throughput: true, seed: "- (no-op signer)"},
	{bench: "EmitterDesignLoad", metric: "p99-us", maxMetric: 100, seed: "append p99 <= 1.5 ms"},
	{bench: "EmitterDesignLoad", metric: "busy-%", maxMetric: 0.5, seed: "busy <= 0.5% at design load"},
	{bench: "EmitterDesignLoad", metric: "tryemit-p99-ns", seed: "-"},
	{bench: "EmitterDesignLoad", metric: "p50-us", seed: "-"},
	{bench: "EmitterDesignLoad", metric: "os-preemptions", seed: "-"},
}

// result is one benchmark's runs, as the table reads them.
type result struct {
	*benchfmt.Benchmark
	bytes, allc float64 // the worst run's: an allocation in any run is one to see
}

// nsPerOp is the median ns/op of the runs.
func (r *result) nsPerOp() float64 {
	ns, _ := r.Median(benchfmt.NsPerOp)
	return ns
}

// parse reads go test output through internal/benchfmt, the parser
// tools/cmd/perfgate shares, so the table and the gate read a run alike.
func parse(r io.Reader) (map[string]*result, error) {
	set, err := benchfmt.Parse(r)
	if err != nil {
		return nil, err
	}
	// make bench pipes go test through tee, which hides its exit status.
	if len(set.Failures) > 0 {
		return nil, fmt.Errorf("the run failed: %s", set.Failures[0])
	}
	res := make(map[string]*result, len(set.Benchmarks))
	for name, b := range set.Benchmarks {
		if !b.Has(benchfmt.NsPerOp) {
			continue
		}
		r := &result{Benchmark: b}
		r.bytes, _ = b.Max(benchfmt.BytesPerOp)
		r.allc, _ = b.Max(benchfmt.AllocsPerOp)
		res[name] = r
	}
	return res, nil
}

func main() {
	check := flag.Bool("check", false, "exit 1 when a target is missed")
	flag.Parse()
	res, err := parse(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(2)
	}
	if len(res) == 0 {
		fmt.Fprintln(os.Stderr, "benchtable: no benchmark lines on standard input")
		os.Exit(2)
	}
	failed := printTable(os.Stdout, res)
	if *check && failed > 0 {
		fmt.Printf("%d target(s) missed\n", failed)
		os.Exit(1)
	}
}

func printTable(w io.Writer, res map[string]*result) (failed int) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "benchmark\tns/op\tops/s\tB/op\tallocs/op\tvs\tratio\ttarget\tok\tseed target")
	for _, t := range targets {
		r := res[t.bench]
		if r == nil {
			continue
		}
		ns := r.nsPerOp()
		calib, ratio, goal, ok := "-", "-", "-", "-"
		switch {
		case t.metric != "":
			v, found := r.Median(t.metric)
			if !found {
				continue
			}
			ratio = fmt.Sprintf("%g %s", v, t.metric)
			if t.maxMetric > 0 {
				goal, ok = fmt.Sprintf("<= %g", t.maxMetric), verdict(v <= t.maxMetric, &failed)
			}
		default:
			if name, has := benchfmt.Calibrations[t.bench]; has {
				calib = name
				if c := res[name]; c != nil {
					ratio, goal, ok = t.ratio(ns, c.nsPerOp(), &failed)
				}
			}
			if t.maxNs > 0 {
				goal, ok = fmt.Sprintf("<= %.0f us", t.maxNs/1e3), verdict(ns <= t.maxNs, &failed)
			}
			if r.allc > 0 && t.bench != "ColdStart" {
				ok += " (allocs!)"
			}
		}
		fmt.Fprintf(tw, "%s\t%.1f\t%.0f\t%.0f\t%.0f\t%s\t%s\t%s\t%s\t%s\n", t.bench, ns, 1e9/ns, r.bytes, r.allc, calib, ratio, goal, ok, t.seed)
	}
	for _, name := range []string{"RawBLAKE3_1KiB", "RawEd25519Sign"} {
		if c := res[name]; c != nil {
			ns := c.nsPerOp()
			fmt.Fprintf(tw, "%s\t%.1f\t%.0f\t%.0f\t%.0f\t(calibration)\t\t\t\t\n", name, ns, 1e9/ns, c.bytes, c.allc)
		}
	}
	tw.Flush()
	return failed
}

// ratio is t's ratio of ns/op ns to its calibration's cns, as throughput
// or as cost, with its goal and verdict when t has a limit.
func (t target) ratio(ns, cns float64, failed *int) (ratio, goal, ok string) {
	goal, ok = "-", "-"
	if t.throughput {
		x := cns / ns
		ratio = fmt.Sprintf("%.3fx thr", x)
		if t.limit > 0 {
			goal, ok = fmt.Sprintf(">= %.2fx", t.limit), verdict(x >= t.limit, failed)
		}
		return ratio, goal, ok
	}
	x := ns / cns
	ratio = fmt.Sprintf("%.3fx cost", x)
	if t.limit > 0 {
		goal, ok = fmt.Sprintf("<= %.2fx", t.limit), verdict(x <= t.limit, failed)
	}
	return ratio, goal, ok
}

func verdict(ok bool, failed *int) string {
	if ok {
		return "yes"
	}
	*failed++
	return "NO"
}
