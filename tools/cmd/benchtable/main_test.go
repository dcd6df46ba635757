package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/rustyonions/ron-audit-go/internal/benchfmt"
)

const sample = `goos: linux
BenchmarkRawBLAKE3_1KiB-2    	 1000000	      1000 ns/op	1023.49 MB/s	       0 B/op	       0 allocs/op
BenchmarkRawBLAKE3_1KiB-2    	 1000000	      1200 ns/op	1023.49 MB/s	       0 B/op	       0 allocs/op
BenchmarkRawBLAKE3_1KiB-2    	 1000000	       900 ns/op	1023.49 MB/s	       0 B/op	       0 allocs/op
BenchmarkCanonicalEncode-2   	 2936668	       100.0 ns/op	2557.12 MB/s	       0 B/op	       0 allocs/op
BenchmarkCanonicalOpen-2     	 2381064	       300.0 ns/op	2028.54 MB/s	      16 B/op	       1 allocs/op
BenchmarkEmitterDesignLoad-2   	   84384	     14948 ns/op	  68.51 MB/s	         0.2 busy-%	     95577 capacity-rec/s	        19.00 p50-us	      80 p99-us	     31060 tryemit-p99-ns	       0 B/op	       0 allocs/op
BenchmarkEmitterDesignLoad-2   	   84384	     14948 ns/op	  68.51 MB/s	         0.9 busy-%	     95577 capacity-rec/s	        19.00 p50-us	      3795 p99-us	     31060 tryemit-p99-ns	       0 B/op	       0 allocs/op
BenchmarkEmitterDesignLoad-2   	   84384	     14948 ns/op	  68.51 MB/s	         0.1 busy-%	     95577 capacity-rec/s	        19.00 p50-us	      90 p99-us	     31060 tryemit-p99-ns	       0 B/op	       0 allocs/op
PASS
`

func TestTable(t *testing.T) {
	res, err := parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	if got := res["RawBLAKE3_1KiB"].nsPerOp(); got != 1000 {
		t.Fatalf("median %v", got)
	}
	var out bytes.Buffer
	failed := printTable(&out, res)
	if failed != 1 {
		t.Fatalf("%d failures, want 1 (Open at 0.3x)\n%s", failed, out.String())
	}
	// Medians of the reported metrics: p99 90 us and busy 0.2% pass.
	for _, want := range []string{"0.100x cost", "0.300x cost", "NO (allocs!)", "90 p99-us", "0.2 busy-%", "31060 tryemit-p99-ns"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
}

// TestTargetsCalibrated: a row with a ratio target has a calibration bench
// to take it against (benchfmt.Calibrations, shared with perfgate), and
// every calibration names a row of the table.
func TestTargetsCalibrated(t *testing.T) {
	rows := map[string]bool{}
	for _, tg := range targets {
		rows[tg.bench] = true
		_, ok := benchfmt.Calibrations[tg.bench]
		if tg.metric == "" && tg.maxNs == 0 && !ok {
			t.Errorf("%s: a ratio row without a calibration", tg.bench)
		}
	}
	for bench := range benchfmt.Calibrations {
		if !rows[bench] {
			t.Errorf("%s: calibrated, but not a row of the table", bench)
		}
	}
}

// TestFailedRun: a run whose output says it failed (make bench pipes go
// test through tee, which hides the exit status) is refused, not tabled.
func TestFailedRun(t *testing.T) {
	if _, err := parse(strings.NewReader(sample + "--- FAIL: BenchmarkAppendHot\nFAIL\n")); err == nil {
		t.Fatal("a failed run was tabled")
	}
}
