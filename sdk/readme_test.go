package sdk_test

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/tools/go/packages"
)

// readmeSnippets are the free names of each ```go block of README.md, in
// order: the block is type-checked as the body of a func taking them, so
// that it compiles against the API as it is. A block added to the README
// needs its line here (the test says so).
var readmeSnippets = []string{
	// Quick start: the Log, append, verify.
	``,
	// Hosting: metrics and the Emitter, on the Log and record above.
	`log *sdk.Log, rec canonical.AuditRecord, ctx context.Context`,
	// node.Open; log is the standard library's here.
	`dir, exportDir string, signer sdk.Signer, m *metrics.Metrics, ctx context.Context`,
}

// TestReadmeSnippetsCompile type-checks the Go snippets of README.md, the
// first code a newcomer copies, so that a renamed field, function or type
// cannot leave them behind. Variables a snippet declares and does not use
// are allowed: a snippet shows the calls, not what is done with results.
func TestReadmeSnippetsCompile(t *testing.T) {
	if testing.Short() {
		t.Skip("loads type information with go list")
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```go\n(.*?)```").FindAllStringSubmatch(string(readme), -1)
	if len(blocks) != len(readmeSnippets) {
		t.Fatalf("README.md has %d ```go blocks, readmeSnippets describes %d: give each block its line", len(blocks), len(readmeSnippets))
	}
	imports := map[string]string{
		"canonical":  "github.com/rustyonions/ron-audit-go/canonical",
		"sdk":        "github.com/rustyonions/ron-audit-go/sdk",
		"metrics":    "github.com/rustyonions/ron-audit-go/sdk/metrics",
		"node":       "github.com/rustyonions/ron-audit-go/sdk/node",
		"prometheus": "github.com/prometheus/client_golang/prometheus",
		"context":    "context",
		"log":        "log",
	}
	var paths []string
	for _, p := range imports {
		paths = append(paths, p)
	}
	pkgs, err := packages.Load(&packages.Config{Mode: packages.NeedName | packages.NeedTypes, Dir: ".."}, paths...)
	if err != nil {
		t.Fatal(err)
	}
	byPath := map[string]*types.Package{}
	for _, p := range pkgs {
		if len(p.Errors) > 0 {
			t.Fatalf("loading %s: %v", p.PkgPath, p.Errors)
		}
		byPath[p.PkgPath] = p.Types
	}
	for i, b := range blocks {
		src := snippetFile(b[1], readmeSnippets[i], imports)
		if errs := typeCheck(src, byPath); len(errs) > 0 {
			t.Errorf("README.md ```go block %d does not compile:\n%s\n--- as checked:\n%s", i+1, strings.Join(errs, "\n"), src)
		}
	}
}

// snippetFile wraps a snippet as the body of a func with params as its
// parameters, importing only the packages the snippet or params name
// (an unused import is an error).
func snippetFile(body, params string, imports map[string]string) string {
	var b strings.Builder
	b.WriteString("package snippet\n\nimport (\n")
	for name, path := range imports {
		if regexp.MustCompile(`\b` + name + `\.`).MatchString(body + params) {
			// log is a variable in some snippets: import the package
			// only when the snippet does not declare log itself.
			if name == "log" && (strings.Contains(body, "log, err :=") || strings.Contains(params, "log *")) {
				continue
			}
			fmt.Fprintf(&b, "\t%q\n", path)
		}
	}
	fmt.Fprintf(&b, ")\n\nfunc snippet(%s) {\n%s\n}\n", params, body)
	return b.String()
}

type importerFunc func(path string) (*types.Package, error)

func (f importerFunc) Import(path string) (*types.Package, error) { return f(path) }

// typeCheck returns the type errors of src but "declared and not used".
func typeCheck(src string, pkgs map[string]*types.Package) []string {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "snippet.go", src, 0)
	if err != nil {
		return []string{err.Error()}
	}
	var errs []string
	conf := types.Config{
		Importer: importerFunc(func(path string) (*types.Package, error) {
			if p, ok := pkgs[path]; ok {
				return p, nil
			}
			return nil, fmt.Errorf("package %s not loaded", path)
		}),
		Error: func(err error) {
			if te, ok := err.(types.Error); ok && strings.HasPrefix(te.Msg, "declared and not used") {
				return
			}
			errs = append(errs, err.Error())
		},
	}
	_, _ = conf.Check("snippet", fset, []*ast.File{f}, nil)
	return errs
}

// docFigure is a sentence of a document that quotes figures from a
// committed snapshot: each group of pattern is one figure, checked
// against the JSON value at the path of the same index, times its scale
// (seconds to ms, say), rounded to as many decimals as the document
// gives.
type docFigure struct {
	doc, pattern, snapshot string
	paths                  []string
	scales                 []float64
}

// docFigures are the README's and the runbook's figures that come from
// the committed rig snapshots and baseline, which a rig or rebaseline
// run overwrites: the sentence that quotes them must follow, or say it
// means another run.
var docFigures = []docFigure{
	{"README.md", "`make rig-wal` at ([0-9.]+) kHz measured fsync p50 ([0-9.]+) ms, p95 ([0-9.]+) ms, p99 ([0-9.]+) ms",
		"testing/performance/baselines/ron-audit/wal_steady.json",
		[]string{"rate_hz", "wal_fsync_seconds.p50", "wal_fsync_seconds.p95", "wal_fsync_seconds.p99"}, []float64{1e-3, 1e3, 1e3, 1e3}},
	{"README.md", "writes `export_batch.json` beside it \\(p95 ([0-9.]+) ms here\\)",
		"testing/performance/baselines/ron-audit/export_batch.json",
		[]string{"export_batch_seconds.p95"}, []float64{1e3}},
	{"README.md", "measured `TryEmit` p50 ([0-9.]+) us and p99 ([0-9.]+) us \\(target 5 us\\), every record counted, no goroutine left, ([0-9.]+) byte allocated per `TryEmit`",
		"testing/performance/baselines/ron-audit/shed_storm.json",
		[]string{"tryemit_seconds.p50", "tryemit_seconds.p99", "heap_bytes.alloc_per_offered"}, []float64{1e6, 1e6, 1}},
	{"README.md", "\\(RawBLAKE3_1KiB ([0-9,]+) ns, RawEd25519Sign ([0-9,]+) ns\\): AppendHot ([0-9.]+)x, AppendSealed ([0-9.]+)x, VerifyHot ([0-9.]+)x, VerifyChain ([0-9.]+)x",
		"testing/performance/baselines/ron-audit/v1/bench.json",
		[]string{"benchmarks.RawBLAKE3_1KiB.ns_per_op", "benchmarks.RawEd25519Sign.ns_per_op", "benchmarks.AppendHot.ratio",
			"benchmarks.AppendSealed.ratio", "benchmarks.VerifyHot.ratio", "benchmarks.VerifyChain.ratio"}, []float64{1, 1, 1, 1, 1, 1}},
	{"docs/PERFORMANCE.md", "TryEmit p99 in a 110% storm \\(`make rig-shed`\\) \\| - \\| < 5 us \\| ([0-9.]+) us in the snapshot",
		"testing/performance/baselines/ron-audit/shed_storm.json",
		[]string{"tryemit_seconds.p99"}, []float64{1e6}},
	{"docs/PERFORMANCE.md", "\\(([0-9.]+) us in the committed snapshot\\)",
		"testing/performance/baselines/ron-audit/shed_storm.json",
		[]string{"tryemit_seconds.p99"}, []float64{1e6}},
	{"docs/PERFORMANCE.md", "\\(`STORE=wal make rig-shed`\\) \\| - \\| < 5 us \\| ([0-9.]+) us in the snapshot",
		"testing/performance/baselines/ron-audit/shed_storm_wal.json",
		[]string{"tryemit_seconds.p99"}, []float64{1e6}},
	{"docs/PERFORMANCE.md", "WAL fsync p95 \\(`make rig-wal`, ([0-9.]+) kHz\\) \\| <= 8 ms \\| <= 2 ms \\| ([0-9.]+) ms \\(p99 ([0-9.]+) ms\\)",
		"testing/performance/baselines/ron-audit/wal_steady.json",
		[]string{"rate_hz", "wal_fsync_seconds.p95", "wal_fsync_seconds.p99"}, []float64{1e-3, 1e3, 1e3}},
	{"docs/PERFORMANCE.md", "10k records \\(`make rig-export`\\) \\| p95 <= 250 ms \\| p95 <= 25 ms \\| ([0-9.]+) ms",
		"testing/performance/baselines/ron-audit/export_batch.json",
		[]string{"export_batch_seconds.p95"}, []float64{1e3}},
	{"docs/PERFORMANCE.md", "\\(`make rig-export`, ([0-9.]+) ms here\\)",
		"testing/performance/baselines/ron-audit/export_batch.json",
		[]string{"export_batch_seconds.p95"}, []float64{1e3}},
}

// TestDocFiguresMatchSnapshots: the figures docFigures lists are those of
// the committed snapshots, as the documents round them.
func TestDocFiguresMatchSnapshots(t *testing.T) {
	space := regexp.MustCompile(`\s+`)
	docs := map[string]string{}
	for _, f := range docFigures {
		if _, ok := docs[f.doc]; !ok {
			b, err := os.ReadFile(filepath.Join("..", f.doc))
			if err != nil {
				t.Fatal(err)
			}
			docs[f.doc] = space.ReplaceAllString(string(b), " ")
		}
		m := regexp.MustCompile(f.pattern).FindStringSubmatch(docs[f.doc])
		if m == nil {
			t.Errorf("%s no longer has a sentence matching %q: update docFigures", f.doc, f.pattern)
			continue
		}
		if len(m)-1 != len(f.paths) || len(f.paths) != len(f.scales) {
			t.Fatalf("docFigures entry %q: %d groups, %d paths, %d scales", f.pattern, len(m)-1, len(f.paths), len(f.scales))
		}
		b, err := os.ReadFile(filepath.Join("..", f.snapshot))
		if err != nil {
			t.Fatal(err)
		}
		var snap any
		if err := json.Unmarshal(b, &snap); err != nil {
			t.Fatalf("%s: %v", f.snapshot, err)
		}
		for i, path := range f.paths {
			v := snap
			for _, k := range strings.Split(path, ".") {
				obj, _ := v.(map[string]any)
				v = obj[k]
			}
			x, ok := v.(float64)
			if !ok {
				t.Errorf("%s has no number at %s", f.snapshot, path)
				continue
			}
			said := strings.ReplaceAll(m[i+1], ",", "")
			decimals := 0
			if _, frac, ok := strings.Cut(said, "."); ok {
				decimals = len(frac)
			}
			if want := strconv.FormatFloat(x*f.scales[i], 'f', decimals, 64); said != want {
				t.Errorf("%s says %s where %s has %s = %v, which it would give as %s:\n\t%s", f.doc, m[i+1], f.snapshot, path, x, want, m[0])
			}
		}
	}
}

// TestDocsMakeTargets: every make target README.md and docs/PERFORMANCE.md
// name in code (`make X`, or an indented command line) is one of the
// Makefile's.
func TestDocsMakeTargets(t *testing.T) {
	mk, err := os.ReadFile("../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	targets := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^([a-z][a-z0-9-]*):`).FindAllStringSubmatch(string(mk), -1) {
		targets[m[1]] = true
	}
	code := regexp.MustCompile("`([^`\n]+)`|(?m)^    (.+)$")
	makeCmd := regexp.MustCompile(`(?:^|[\s;&|(])make ([a-z][a-z0-9-]*)`)
	for _, doc := range []string{"../README.md", "../docs/PERFORMANCE.md"} {
		b, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, c := range code.FindAllStringSubmatch(string(b), -1) {
			for _, m := range makeCmd.FindAllStringSubmatch(c[1]+c[2], -1) {
				n++
				if !targets[m[1]] {
					t.Errorf("%s: `%s` names make %s, which the Makefile has no target for", doc, strings.TrimSpace(c[1]+c[2]), m[1])
				}
			}
		}
		if n == 0 {
			t.Errorf("%s: no make command found: the pattern of this test is stale", doc)
		}
	}
}

// TestMakeFuzzRunsEveryFuzzTarget: the README says make fuzz "fuzzes every
// decoder and verifier": every Fuzz function of the module's tests is a
// line of the Makefile's fuzz target, with its package's directory, so a
// new fuzz target is not left out of it.
func TestMakeFuzzRunsEveryFuzzTarget(t *testing.T) {
	mk, err := os.ReadFile("../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	run := map[string]bool{} // "./dir FuzzX"
	for _, m := range regexp.MustCompile(`-fuzz '\^(Fuzz\w+)\$\$' \$\(FUZZFLAGS\) (\./\S+)`).FindAllStringSubmatch(string(mk), -1) {
		run[m[2]+" "+m[1]] = true
	}
	if len(run) == 0 {
		t.Fatal("no fuzz line found in the Makefile: the pattern of this test is stale")
	}
	fuzzFunc := regexp.MustCompile(`(?m)^func (Fuzz\w+)\(`)
	found := 0
	err = filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != ".." && (strings.HasPrefix(name, ".") || name == "testdata" || name == "target") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel("..", filepath.Dir(path))
		if err != nil {
			return err
		}
		for _, m := range fuzzFunc.FindAllStringSubmatch(string(b), -1) {
			found++
			key := "./" + filepath.ToSlash(rel) + " " + m[1]
			if !run[key] {
				t.Errorf("%s: %s is not run by make fuzz (want a line fuzzing '^%s$$' in ./%s)", path, m[1], m[1], filepath.ToSlash(rel))
			}
			delete(run, key)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for k := range run {
		t.Errorf("make fuzz runs %s, which no test file defines", k)
	}
	t.Logf("%d fuzz targets found", found)
}
