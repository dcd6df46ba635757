package benchfmt

import (
	"errors"
	"strings"
	"testing"
)

const out = `goos: linux
goarch: amd64
pkg: github.com/rustyonions/ron-audit-go/bench
cpu: Intel(R) Xeon(R) Processor
BenchmarkRawBLAKE3_1KiB-2      	  357463	       975.4 ns/op	1049.79 MB/s	       0 B/op	       0 allocs/op
BenchmarkRawBLAKE3_1KiB-2      	  380930	       939.8 ns/op	1089.64 MB/s	       0 B/op	       0 allocs/op
BenchmarkRawBLAKE3_1KiB-2      	  386299	       955.0 ns/op	1072.30 MB/s	       0 B/op	       0 allocs/op
BenchmarkEmitterDesignLoad
    emitter_bench_test.go:99: a log line: with a colon
BenchmarkEmitterDesignLoad-2   	   23304	     14890 ns/op	  68.77 MB/s	         0 busy-%	     96067 capacity-rec/s	        45.00 os-preemptions	      3711 p99-us	       0 B/op	       0 allocs/op
BenchmarkEmitterDesignLoad-2   	   21115	     16449 ns/op	  62.25 MB/s	       0.5 busy-%	     87164 capacity-rec/s	        85.00 os-preemptions	      3914 p99-us	       0 B/op	       1 allocs/op
BenchmarkSub/size-64-2         	     100	       10 ns/op
PASS
ok  	github.com/rustyonions/ron-audit-go/bench	15.190s
pkg: github.com/rustyonions/ron-audit-go/sdk/wal
BenchmarkWALAppendAlways-2     	    1000	    250000 ns/op	   4.10 MB/s	         1.500 fsync-p95-ms	    1024 B/op	       2 allocs/op
PASS
`

func TestParse(t *testing.T) {
	s, err := Parse(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Order; strings.Join(got, ",") != "RawBLAKE3_1KiB,EmitterDesignLoad,Sub/size-64,WALAppendAlways" {
		t.Fatalf("order %v", got)
	}
	if s.Config["cpu"] != "Intel(R) Xeon(R) Processor" || s.Config["goarch"] != "amd64" {
		t.Fatalf("config %v", s.Config)
	}
	if len(s.Failures) != 0 {
		t.Fatalf("failures %v", s.Failures)
	}

	b := s.Benchmarks["RawBLAKE3_1KiB"]
	if b.Runs() != 3 || b.Procs != 2 || b.Pkg != "github.com/rustyonions/ron-audit-go/bench" {
		t.Fatalf("%+v", b)
	}
	if m, _ := b.Median(NsPerOp); m != 955.0 {
		t.Fatalf("median ns/op %v, want 955", m)
	}
	if m, ok := b.Median(AllocsPerOp); !ok || m != 0 {
		t.Fatalf("median allocs/op %v %v", m, ok)
	}

	d := s.Benchmarks["EmitterDesignLoad"]
	if d.Runs() != 2 {
		t.Fatalf("the name line before a log counted as a run: %d runs", d.Runs())
	}
	if m, _ := d.Median("busy-%"); m != 0.25 {
		t.Fatalf("median busy-%% %v, want 0.25 (mean of the middle two)", m)
	}
	if m, _ := d.Max(AllocsPerOp); m != 1 {
		t.Fatalf("max allocs/op %v", m)
	}
	if _, ok := d.Median("no-such-unit"); ok {
		t.Fatal("median of an absent unit")
	}
	if got := strings.Join(d.Units(), " "); got != "B/op MB/s allocs/op busy-% capacity-rec/s ns/op os-preemptions p99-us" {
		t.Fatalf("units %q", got)
	}

	if sub := s.Benchmarks["Sub/size-64"]; sub == nil || sub.Procs != 2 || sub.Has(AllocsPerOp) {
		t.Fatalf("sub-benchmark %+v", sub)
	}
	w := s.Benchmarks["WALAppendAlways"]
	if w.Pkg != "github.com/rustyonions/ron-audit-go/sdk/wal" {
		t.Fatalf("pkg %q", w.Pkg)
	}
	if m, _ := w.Median("fsync-p95-ms"); m != 1.5 {
		t.Fatalf("fsync-p95-ms %v", m)
	}
}

func TestParseNoProcsSuffix(t *testing.T) {
	s, err := Parse(strings.NewReader("BenchmarkX \t 10\t 5 ns/op\n"))
	if err != nil {
		t.Fatal(err)
	}
	if b := s.Benchmarks["X"]; b == nil || b.Procs != 1 {
		t.Fatalf("%+v", s.Benchmarks)
	}
}

func TestParseFailures(t *testing.T) {
	s, err := Parse(strings.NewReader("BenchmarkX\n    x_test.go:1: boom\n--- FAIL: BenchmarkX\nFAIL\nFAIL\tgithub.com/a/b\t1.0s\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Failures) != 3 || len(s.Benchmarks) != 0 {
		t.Fatalf("failures %q, benchmarks %v", s.Failures, s.Benchmarks)
	}
}

func TestParseErrors(t *testing.T) {
	var pe *ParseError
	if _, err := Parse(strings.NewReader("goos: linux\nBenchmarkX-2 \t 10\t 5 ns/op\t 3\n")); !errors.As(err, &pe) || pe.Line != 2 {
		t.Fatalf("odd fields: %v", err)
	}
	if _, err := Parse(strings.NewReader("BenchmarkX-2 \t 10\t five ns/op\n")); !errors.As(err, &pe) {
		t.Fatalf("bad value: %v", err)
	}
	var ce *ConflictError
	two := "pkg: a\nBenchmarkX-2 \t 10\t 5 ns/op\npkg: b\nBenchmarkX-2 \t 10\t 5 ns/op\n"
	if _, err := Parse(strings.NewReader(two)); !errors.As(err, &ce) || ce.Field != "package" {
		t.Fatalf("two packages: %v", err)
	}
	cpus := "BenchmarkX \t 10\t 5 ns/op\nBenchmarkX-2 \t 10\t 5 ns/op\n"
	if _, err := Parse(strings.NewReader(cpus)); !errors.As(err, &ce) || ce.Field != "GOMAXPROCS" {
		t.Fatalf("two GOMAXPROCS: %v", err)
	}
}

func TestMedian(t *testing.T) {
	xs := []float64{3, 1, 2}
	if Median(xs) != 2 || xs[0] != 3 {
		t.Fatal("median of odd count, or input reordered")
	}
	if Median([]float64{4, 1, 3, 2}) != 2.5 {
		t.Fatal("median of even count")
	}
}

// TestParseCrash: a benchmark binary run directly (bench_rounds.sh does)
// prints no FAIL line when a benchmark panics or the runtime dies: the
// process just ends. The panic comes at the start of a line in a
// benchmark's first run, and right after its name (which go test prints
// before the later runs) otherwise; b.Fatal in a later run also follows
// the name. Each is a failure, so a crashed run is not read as the
// benchmarks before the crash.
func TestParseCrash(t *testing.T) {
	const ok = "BenchmarkRawBLAKE3_1KiB-2 \t 1000\t 955 ns/op\t 0 B/op\t 0 allocs/op\n"
	const trace = "\ngoroutine 7 [running]:\ngithub.com/rustyonions/ron-audit-go/bench.BenchmarkAppendHot(0xc000132008)\n\t/work/bench/x_test.go:12 +0x45\ncreated by testing.(*B).run1 in goroutine 6\n\t/usr/local/go/src/testing/benchmark.go:238 +0x9f\n"
	for name, in := range map[string]string{
		"panic in the first run":     ok + "panic: boom\n" + trace,
		"panic after the name":       ok + "BenchmarkAppendHot-2     \tpanic: runtime error: index out of range [3] with length 3\n" + trace,
		"runtime fatal error":        ok + "fatal error: concurrent map writes\n" + trace,
		"timeout":                    ok + "BenchmarkAppendHot-2     \tpanic: test timed out after 10m0s\n" + trace,
		"b.Fatal in a later run":     ok + "BenchmarkAppendHot-2     \t--- FAIL: BenchmarkAppendHot-2\n    x_test.go:9: boom\n",
		"fatal error after the name": ok + "BenchmarkAppendHot-2     \tfatal error: out of memory\n" + trace,
	} {
		t.Run(name, func(t *testing.T) {
			s, err := Parse(strings.NewReader(in))
			if err != nil {
				t.Fatal(err)
			}
			if len(s.Failures) == 0 {
				t.Fatalf("a crashed run reads as benchmarks %v with no failure", s.Order)
			}
		})
	}
	// Other output between a result's name and its figures (a log line
	// from the code under benchmark, on the merged stderr) leaves the
	// figures on a line of their own: the result is lost, so that is an
	// error, not a benchmark quietly missing from the run.
	var pe *ParseError
	in := ok + "BenchmarkAppendHot-2     \t2026/11/28 08:00:00 signer: slow\n   10000\t 17000 ns/op\t 0 B/op\t 0 allocs/op\n"
	if _, err := Parse(strings.NewReader(in)); !errors.As(err, &pe) || pe.Line != 2 {
		t.Fatalf("interrupted result line: %v", err)
	}
}
