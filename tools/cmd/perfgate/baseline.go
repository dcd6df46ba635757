package main

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rustyonions/ron-audit-go/internal/benchfmt"
)

const (
	defaultBaselineDir = "testing/performance/baselines/ron-audit"
	baselineName       = "bench.json"
	// ratioDefinition is written into every baseline so the file explains
	// its own numbers to whoever opens it.
	ratioDefinition = "calibration ns/op / benchmark ns/op, medians of the same run: throughput relative to the calibration bench, higher is faster"
)

// Machine is where a baseline was measured. Ratios are compared across
// machines; this says how far apart they were.
type Machine struct {
	GOOS   string `json:"goos"`
	GOARCH string `json:"goarch"`
	CPUs   int    `json:"cpus"`
	// GOMAXPROCS is the benchmarks' -N suffix (1 when absent).
	GOMAXPROCS int    `json:"gomaxprocs"`
	Go         string `json:"go"`
	CPUModel   string `json:"cpu_model,omitempty"`
}

// BenchResult is one benchmark's medians over the runs of the input.
type BenchResult struct {
	Pkg         string  `json:"pkg,omitempty"`
	Runs        int     `json:"runs"`
	NsPerOp     float64 `json:"ns_per_op"`
	BytesPerOp  float64 `json:"bytes_per_op"`
	AllocsPerOp float64 `json:"allocs_per_op"`
	// Calibration and Ratio are set when the benchmark has a calibration
	// and it ran too.
	Calibration string  `json:"calibration,omitempty"`
	Ratio       float64 `json:"ratio,omitempty"`
	// Metrics are the medians of the other units (MB/s and the
	// b.ReportMetric ones: busy-%, fsync-p95-ms, ...).
	Metrics map[string]float64 `json:"metrics,omitempty"`
}

// RigFsync is the WAL fsync p95 of a rig snapshot (wal_steady.json).
type RigFsync struct {
	Source          string  `json:"source"`
	Time            string  `json:"time,omitempty"`
	FsyncP95Seconds float64 `json:"fsync_p95_seconds"`
}

// BenchChange is one benchmark's cost change from the previous schema
// version's baseline to this one.
type BenchChange struct {
	Calibration    string  `json:"calibration"`
	PreviousRatio  float64 `json:"previous_ratio"`
	Ratio          float64 `json:"ratio"`
	RatioChangePct float64 `json:"ratio_change_pct"` // negative: slower relative to its calibration
	PreviousAllocs float64 `json:"previous_allocs_per_op"`
	AllocsPerOp    float64 `json:"allocs_per_op"`
	PreviousBytes  float64 `json:"previous_bytes_per_op"`
	BytesPerOp     float64 `json:"bytes_per_op"`
}

// VersionChange records, in a new schema version's baseline, what the
// schema change cost against the previous version's baseline.
type VersionChange struct {
	SchemaVersion     int                    `json:"schema_version"`
	Date              string                 `json:"date"`
	RecordBytes       int                    `json:"record_bytes"`
	RecordBytesChange int                    `json:"record_bytes_change"`
	Benchmarks        map[string]BenchChange `json:"benchmarks,omitempty"`
}

// Baseline is testing/performance/baselines/ron-audit/v<N>/bench.json.
type Baseline struct {
	SchemaVersion   int                    `json:"schema_version"`
	RecordBytes     int                    `json:"record_bytes"`
	Date            string                 `json:"date"`
	Machine         Machine                `json:"machine"`
	RatioDefinition string                 `json:"ratio_definition"`
	Benchmarks      map[string]BenchResult `json:"benchmarks"`
	WALSteady       *RigFsync              `json:"wal_steady,omitempty"`
	Previous        *VersionChange         `json:"previous_version,omitempty"`
}

// RebaselineError says the gate has no baseline to compare with under the
// current schema version: a schema change makes old figures a different
// workload, so it asks for a new baseline instead of comparing across.
type RebaselineError struct {
	Version int
	Reason  string
}

func (e *RebaselineError) Error() string {
	return fmt.Sprintf("no usable baseline for schema version %d: %s; run `make rebaseline` to measure one (it records the change against the previous version)", e.Version, e.Reason)
}

// errNotMeasurement is a value in a run that no benchmark measures: NaN
// or ±Inf (go test prints what b.ReportMetric got, 0/0 included), or an
// ns/op, B/op or allocs/op below zero, or an ns/op of zero. Compared, a
// NaN is never above a limit and an Inf calibration makes an infinite
// ratio, both green; a calibration of 0 ns/op leaves its benchmarks
// without a ratio, skipped, also green. So the run is refused instead.
var errNotMeasurement = errors.New("not a measurement")

// checkSamples refuses a benchmark whose runs hold errNotMeasurement.
func checkSamples(b *benchfmt.Benchmark) error {
	for _, u := range b.Units() {
		for i, v := range b.Samples[u] {
			bad := math.IsNaN(v) || math.IsInf(v, 0)
			switch u {
			case benchfmt.NsPerOp:
				bad = bad || v <= 0
			case benchfmt.BytesPerOp, benchfmt.AllocsPerOp:
				bad = bad || v < 0
			}
			if bad {
				return fmt.Errorf("benchmark %s, run %d: %g %s is %w", b.Name, i+1, v, u, errNotMeasurement)
			}
		}
	}
	return nil
}

// summarize turns a parsed run into medians and ratios. It needs
// -benchmem: without allocs/op the allocation rule could not be held.
func summarize(set *benchfmt.Set) (map[string]BenchResult, error) {
	if len(set.Failures) > 0 {
		return nil, fmt.Errorf("the benchmark run failed (%s): its figures are not a measurement", set.Failures[0])
	}
	if len(set.Benchmarks) == 0 {
		return nil, errors.New("no benchmark results in the input")
	}
	out := make(map[string]BenchResult, len(set.Benchmarks))
	for name, b := range set.Benchmarks {
		if err := checkSamples(b); err != nil {
			return nil, err
		}
		ns, ok := b.Median(benchfmt.NsPerOp)
		if !ok {
			return nil, fmt.Errorf("benchmark %s reports no ns/op", name)
		}
		bytes, okB := b.Median(benchfmt.BytesPerOp)
		allocs, okA := b.Median(benchfmt.AllocsPerOp)
		if !okB || !okA {
			return nil, fmt.Errorf("benchmark %s reports no B/op or allocs/op: run go test with -benchmem", name)
		}
		r := BenchResult{Pkg: b.Pkg, Runs: b.Runs(), NsPerOp: ns, BytesPerOp: bytes, AllocsPerOp: allocs}
		for _, u := range b.Units() {
			switch u {
			case benchfmt.NsPerOp, benchfmt.BytesPerOp, benchfmt.AllocsPerOp:
				continue
			}
			if r.Metrics == nil {
				r.Metrics = map[string]float64{}
			}
			r.Metrics[u], _ = b.Median(u)
		}
		out[name] = r
	}
	for name, r := range out {
		calib, ok := benchfmt.Calibrations[name]
		if !ok {
			continue
		}
		if c, ok := out[calib]; ok && r.NsPerOp > 0 {
			r.Calibration, r.Ratio = calib, round(c.NsPerOp/r.NsPerOp, 4)
			out[name] = r
		}
	}
	return out, nil
}

func round(x float64, places int) float64 {
	p := math.Pow(10, float64(places))
	return math.Round(x*p) / p
}

// machineOf describes the machine of the run from the bench output's own
// goos, goarch and cpu lines when it has them (they describe the run,
// even if the file came from elsewhere), else from this machine. The CPU
// count is this machine's: go test does not print it.
func machineOf(set *benchfmt.Set) Machine {
	m := Machine{GOOS: runtime.GOOS, GOARCH: runtime.GOARCH, CPUs: runtime.NumCPU(), Go: runtime.Version(), GOMAXPROCS: 1,
		CPUModel: set.Config["cpu"]}
	if v := set.Config["goos"]; v != "" {
		m.GOOS = v
	}
	if v := set.Config["goarch"]; v != "" {
		m.GOARCH = v
	}
	if len(set.Order) > 0 {
		m.GOMAXPROCS = set.Benchmarks[set.Order[0]].Procs
	}
	if m.CPUModel == "" {
		m.CPUModel = procCPUModel()
	}
	return m
}

func procCPUModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.EqualFold(strings.TrimSpace(k), "model name") {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// recordBytes reads the size of the benchmark record's canonical bytes
// from the vector the benches load (bench/record_test.go).
func recordBytes(path string) (int, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	var v struct {
		Records []struct {
			Canonical string `json:"canonical"`
		} `json:"records"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	if len(v.Records) == 0 {
		return 0, fmt.Errorf("%s: no records", path)
	}
	b, err := hex.DecodeString(v.Records[0].Canonical)
	if err != nil || len(b) == 0 {
		return 0, fmt.Errorf("%s: canonical bytes of the first record: %v", path, err)
	}
	return len(b), nil
}

// readWALSnapshot reads the fsync p95 of a wal_steady rig snapshot.
func readWALSnapshot(path string) (*RigFsync, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var s struct {
		Time  string `json:"time"`
		Fsync struct {
			P95 float64 `json:"p95"`
		} `json:"wal_fsync_seconds"`
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if s.Fsync.P95 <= 0 {
		return nil, fmt.Errorf("%s: no wal_fsync_seconds.p95", path)
	}
	return &RigFsync{Source: filepath.ToSlash(path), Time: s.Time, FsyncP95Seconds: s.Fsync.P95}, nil
}

var versionDir = regexp.MustCompile(`^v(\d+)$`)

// baselines lists the baseline files under dir by schema version.
// cpuBaselineName is the file name of the baseline of one CPU model
// beside a version's bench.json: "bench-amd-epyc.json" for "AMD EPYC".
func cpuBaselineName(model string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(model) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	return "bench-" + strings.TrimSuffix(b.String(), "-") + ".json"
}

func baselines(dir string) (map[int]string, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return map[int]string{}, nil
	}
	if err != nil {
		return nil, err
	}
	out := map[int]string{}
	for _, e := range ents {
		m := versionDir.FindStringSubmatch(e.Name())
		if m == nil || !e.IsDir() {
			continue
		}
		p := filepath.Join(dir, e.Name(), baselineName)
		if _, err := os.Stat(p); err != nil {
			continue
		}
		v, _ := strconv.Atoi(m[1])
		out[v] = p
	}
	return out, nil
}

func sortedVersions(m map[int]string) []int {
	vs := make([]int, 0, len(m))
	for v := range m {
		vs = append(vs, v)
	}
	slices.Sort(vs)
	return vs
}

func loadBaseline(path string) (*Baseline, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var b Baseline
	if err := json.Unmarshal(raw, &b); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(b.Benchmarks) == 0 {
		return nil, fmt.Errorf("%s: no benchmarks", path)
	}
	return &b, nil
}

func (b *Baseline) write(path string) error {
	raw, err := json.MarshalIndent(b, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, append(raw, '\n'), 0o644)
}

// changeFrom is what moved from the previous version's baseline to cur:
// the record size and, for each benchmark with a ratio in both against
// the same calibration, the ratio and allocations.
func changeFrom(prev, cur *Baseline) *VersionChange {
	vc := &VersionChange{
		SchemaVersion:     prev.SchemaVersion,
		Date:              prev.Date,
		RecordBytes:       prev.RecordBytes,
		RecordBytesChange: cur.RecordBytes - prev.RecordBytes,
	}
	for name, c := range cur.Benchmarks {
		p, ok := prev.Benchmarks[name]
		if !ok || p.Ratio <= 0 || c.Ratio <= 0 || p.Calibration != c.Calibration {
			continue
		}
		if vc.Benchmarks == nil {
			vc.Benchmarks = map[string]BenchChange{}
		}
		vc.Benchmarks[name] = BenchChange{
			Calibration:    c.Calibration,
			PreviousRatio:  p.Ratio,
			Ratio:          c.Ratio,
			RatioChangePct: round(100*(c.Ratio/p.Ratio-1), 1),
			PreviousAllocs: p.AllocsPerOp,
			AllocsPerOp:    c.AllocsPerOp,
			PreviousBytes:  p.BytesPerOp,
			BytesPerOp:     c.BytesPerOp,
		}
	}
	return vc
}

// makeBaseline builds the baseline of schema version `version` from a
// run, with the previous version's change when dir holds one.
func makeBaseline(set *benchfmt.Set, version, recBytes int, wal *RigFsync, dir string, now time.Time) (*Baseline, error) {
	results, err := summarize(set)
	if err != nil {
		return nil, err
	}
	b := &Baseline{
		SchemaVersion:   version,
		RecordBytes:     recBytes,
		Date:            now.UTC().Format(time.RFC3339),
		Machine:         machineOf(set),
		RatioDefinition: ratioDefinition,
		Benchmarks:      results,
		WALSteady:       wal,
	}
	have, err := baselines(dir)
	if err != nil {
		return nil, err
	}
	prev := -1
	for _, v := range sortedVersions(have) {
		if v < version {
			prev = v
		}
	}
	if prev >= 0 {
		p, err := loadBaseline(have[prev])
		if err != nil {
			return nil, fmt.Errorf("previous version's baseline: %w", err)
		}
		b.Previous = changeFrom(p, b)
	}
	return b, nil
}
