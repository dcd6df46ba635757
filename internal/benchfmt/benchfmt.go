// Package benchfmt parses the text `go test -bench` prints: each result
// line's benchmark name, GOMAXPROCS suffix, iterations and every
// "value unit" pair on it (ns/op, B/op and allocs/op from -benchmem, MB/s
// from SetBytes, and any b.ReportMetric unit), grouped by benchmark over
// the -count runs, with medians. The configuration lines go test prints
// before the results (goos, goarch, pkg, cpu) are kept too, and so are
// those testing/performance/bench_rounds.sh heads its output with
// (bench-pattern, bench-rounds). A run that failed or crashed (a panic,
// even on a result's own line) is not read as whole: its failure lines
// are in Set.Failures, and other output on a result's line is a
// *ParseError.
//
// It is the one parser the benchmark tools share (tools/cmd/benchtable,
// tools/cmd/perfgate), so the table and the gate read a run the same way.
package benchfmt

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// RecordVector is the vector, from the repository root, whose first record
// every benchmark works on (bench/record_test.go), and whose canonical size
// the gate records in a baseline (tools/cmd/perfgate). It is one file for
// every schema version: a baseline of a later version measures the same
// record unless this is changed, and then the benches and the gate read
// the new one together.
const RecordVector = "testing/vectors/v1/record-1kib.json"

// Units -benchmem and the testing package itself report.
const (
	NsPerOp     = "ns/op"
	BytesPerOp  = "B/op"
	AllocsPerOp = "allocs/op"
	MBPerS      = "MB/s"
)

// Calibrations names, per benchmark, the bench of the same run its ratio
// is taken against: the raw primitive that dominates its cost, so the
// ratio is what our code adds and holds across machines. The table
// (tools/cmd/benchtable, its "vs" column) and the gate (tools/cmd/perfgate)
// both take ratios against it. EmitterWorkers2 is against
// Workers1: its ratio is how well two signers scale.
var Calibrations = map[string]string{
	"CanonicalEncode":    "RawBLAKE3_1KiB",
	"CanonicalOpen":      "RawBLAKE3_1KiB",
	"RecordHash":         "RawBLAKE3_1KiB",
	"AppendHot":          "RawEd25519Sign",
	"AppendSealed":       "RawBLAKE3_1KiB",
	"VerifyHot":          "RawBLAKE3_1KiB",
	"VerifyChain":        "RawBLAKE3_1KiB",
	"VerifySignature":    "RawEd25519Sign",
	"DedupeKey":          "RawBLAKE3_1KiB",
	"AppendHotParallel":  "RawEd25519Sign",
	"DurableAppendBatch": "AppendHotParallel",
	"EmitterWorkers1":    "RawEd25519Sign",
	"EmitterWorkers2":    "EmitterWorkers1",
	"EmitterDurable":     "EmitterWorkers2",
	"EmitterOverhead":    "RawEd25519Sign",
}

// Benchmark is every run of one benchmark in the input.
type Benchmark struct {
	// Name is the name without its "Benchmark" prefix and GOMAXPROCS
	// suffix: "AppendHot" for "BenchmarkAppendHot-2".
	Name string
	// Pkg is the import path from the "pkg:" line before the results.
	Pkg string
	// Procs is the GOMAXPROCS suffix; go test omits it when it is 1.
	Procs int
	// Iterations holds b.N of each run, in input order.
	Iterations []int64
	// Samples holds, per unit, the value of each run that reported it, in
	// input order.
	Samples map[string][]float64
}

// Runs is how many result lines the benchmark had (its -count).
func (b *Benchmark) Runs() int { return len(b.Iterations) }

// Has reports whether any run reported unit.
func (b *Benchmark) Has(unit string) bool { return len(b.Samples[unit]) > 0 }

// Median is the median over the runs of unit, and whether any run
// reported it. Medians, not means: on a shared machine one run slowed by a
// neighbour should not move the figure.
func (b *Benchmark) Median(unit string) (float64, bool) {
	xs := b.Samples[unit]
	if len(xs) == 0 {
		return 0, false
	}
	return Median(xs), true
}

// Max is the largest value of unit over the runs, and whether any run
// reported it.
func (b *Benchmark) Max(unit string) (float64, bool) {
	xs := b.Samples[unit]
	if len(xs) == 0 {
		return 0, false
	}
	return slices.Max(xs), true
}

// Units lists the units the benchmark reported, sorted.
func (b *Benchmark) Units() []string {
	us := make([]string, 0, len(b.Samples))
	for u := range b.Samples {
		us = append(us, u)
	}
	slices.Sort(us)
	return us
}

// Set is one parsed `go test -bench` output.
type Set struct {
	// Config holds the "key: value" lines outside results (goos, goarch,
	// pkg, cpu, ...); a key seen twice keeps its last value.
	Config map[string]string
	// Benchmarks by Name.
	Benchmarks map[string]*Benchmark
	// Order lists the names in order of first appearance.
	Order []string
	// Failures holds the lines that say a test or benchmark failed
	// ("--- FAIL: ...", "FAIL ...") or the process crashed ("panic: ...",
	// "fatal error: ...", also right after a result's name): results from
	// such a run are not to be trusted, and a pipe through tee hides go
	// test's exit status.
	Failures []string
}

// ParseError is a result line that does not read as one.
type ParseError struct {
	Line int
	Text string
	Err  error
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("line %d: %v: %q", e.Line, e.Err, e.Text)
}

func (e *ParseError) Unwrap() error { return e.Err }

// ConflictError is one benchmark name seen in two packages or with two
// GOMAXPROCS values (go test -cpu 1,2): its runs are different benchmarks
// and must not share a median.
type ConflictError struct {
	Name, Field string
	First, Then string
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("benchmark %s: %s %s, then %s: runs of different benchmarks under one name", e.Name, e.Field, e.First, e.Then)
}

var (
	errOddFields = errors.New("values and units do not pair up")
	// errInterrupted is other output between a result's name and its
	// iteration count.
	errInterrupted = errors.New("other output between a result's name and its figures")
	// configLine is how go test prints its configuration: a key starting
	// with a lower-case letter, no spaces, a colon and a space.
	configLine = regexp.MustCompile(`^([a-z][^\s:]*):\s+(.*)$`)
	procsTail  = regexp.MustCompile(`-(\d+)$`)
)

// Parse reads go test output. Lines that are neither results nor
// configuration (logs, PASS, ok) are skipped. A line that starts like a
// result (BenchmarkName, then an iteration count) but does not read as one
// is a *ParseError, and so is a result's name followed by other output
// than its figures or a failure (addResult).
func Parse(r io.Reader) (*Set, error) {
	s := &Set{Config: map[string]string{}, Benchmarks: map[string]*Benchmark{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for n := 1; sc.Scan(); n++ {
		text := sc.Text()
		switch {
		case failureLine(text):
			s.Failures = append(s.Failures, text)
			continue
		case strings.HasPrefix(text, "Benchmark"):
			if err := s.addResult(n, text); err != nil {
				return nil, err
			}
			continue
		}
		if m := configLine.FindStringSubmatch(text); m != nil {
			s.Config[m[1]] = strings.TrimSpace(m[2])
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return s, nil
}

// failureLine reports whether a line says the run failed: go test's
// "--- FAIL:" and "FAIL" lines, and what a crash prints instead of them
// ("panic: ", "fatal error: " from the runtime). A test binary run
// directly, as bench_rounds.sh runs it, prints no FAIL line when a
// benchmark panics or the runtime dies: the process just ends, and the
// results before the crash would read as a whole run.
func failureLine(text string) bool {
	for _, p := range []string{"--- FAIL:", "FAIL\t", "FAIL ", "panic: ", "fatal error: "} {
		if strings.HasPrefix(text, p) {
			return true
		}
	}
	return text == "FAIL"
}

// addResult adds one result line. A "BenchmarkName" line without an
// iteration count is the name go test prints before a benchmark's log
// output: not a result, skipped. Without -v, go test prints a result's
// name before measuring and its figures after, so what the benchmark's
// run prints in between lands on the name's line: a failure (b.Fatal, a
// panic) is one of the run's Failures, anything else a *ParseError, as
// the figures it pushed onto a line of their own would otherwise be lost
// without a word.
func (s *Set) addResult(n int, text string) error {
	f := strings.Fields(text)
	if len(f) < 2 {
		return nil
	}
	iters, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		if rest := strings.TrimSpace(strings.TrimPrefix(text, f[0])); failureLine(rest) {
			s.Failures = append(s.Failures, text)
			return nil
		}
		return &ParseError{Line: n, Text: text, Err: errInterrupted}
	}
	if (len(f)-2)%2 != 0 {
		return &ParseError{Line: n, Text: text, Err: errOddFields}
	}
	name, procs := strings.TrimPrefix(f[0], "Benchmark"), 1
	// The suffix is GOMAXPROCS; go test leaves it off when GOMAXPROCS is
	// 1, so a sub-benchmark named "x-64" run at 1 proc reads as procs 64,
	// the same ambiguity golang.org/x/perf accepts.
	if m := procsTail.FindStringSubmatchIndex(name); m != nil {
		p, err := strconv.Atoi(name[m[2]:m[3]])
		if err == nil && m[0] > 0 {
			name, procs = name[:m[0]], p
		}
	}
	if name == "" {
		return &ParseError{Line: n, Text: text, Err: errors.New("empty benchmark name")}
	}
	pkg := s.Config["pkg"]
	b := s.Benchmarks[name]
	if b == nil {
		b = &Benchmark{Name: name, Pkg: pkg, Procs: procs, Samples: map[string][]float64{}}
		s.Benchmarks[name] = b
		s.Order = append(s.Order, name)
	}
	if b.Pkg != pkg {
		return &ConflictError{Name: name, Field: "package", First: b.Pkg, Then: pkg}
	}
	if b.Procs != procs {
		return &ConflictError{Name: name, Field: "GOMAXPROCS", First: strconv.Itoa(b.Procs), Then: strconv.Itoa(procs)}
	}
	b.Iterations = append(b.Iterations, iters)
	for i := 2; i < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return &ParseError{Line: n, Text: text, Err: fmt.Errorf("value %q of %s: %w", f[i], f[i+1], err)}
		}
		b.Samples[f[i+1]] = append(b.Samples[f[i+1]], v)
	}
	return nil
}

// Median of xs (the mean of the middle two for an even count); xs is not
// modified. It panics on an empty slice, which has no median.
func Median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
