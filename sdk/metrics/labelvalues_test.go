package metrics

import (
	"bufio"
	"maps"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/rustyonions/ron-audit-go/canonical"
)

// An alert that matches a label value no series ever has never fires,
// and its promtool unit test, fed series with the same made-up value,
// passes all the same: audit_drop_total{reason="backpressure"} (the
// value is audit_backpressure) would be silent forever. The label values
// the dashboard and the rules select, and those of the series the rules'
// unit tests feed promtool, must be ones a registry of New has.

const rulesTestPath = "../../testing/observability/prometheus/ron-audit-rules.test.yml"

// labelSpace is, per metric family, per label, the values its series
// take; a nil set means any value (a stream, a scrape's instance).
type labelSpace map[string]map[string]map[string]bool

// scrapeLabels are the labels a scrape adds to every series: any value.
var scrapeLabels = []string{"job", "instance"}

// exportedLabelSpace gathers a registry of New after a record of every
// kind (audit_appended_total's series are made by the records) and reads
// each family's label values, and each histogram's bucket bounds (le).
func exportedLabelSpace(t *testing.T) labelSpace {
	t.Helper()
	m, reg := newMetrics(t)
	for k := range numKinds {
		m.Appended(canonical.Kind(k), "probe", 1)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	space := labelSpace{}
	for _, mf := range mfs {
		ls := map[string]map[string]bool{}
		for _, mt := range mf.GetMetric() {
			for _, lp := range mt.GetLabel() {
				if ls[lp.GetName()] == nil {
					ls[lp.GetName()] = map[string]bool{}
				}
				ls[lp.GetName()][lp.GetValue()] = true
			}
			if h := mt.GetHistogram(); h != nil {
				le := map[string]bool{"+Inf": true}
				for _, b := range h.GetBucket() {
					le[strconv.FormatFloat(b.GetUpperBound(), 'g', -1, 64)] = true
				}
				ls["le"] = le
			}
		}
		space[mf.GetName()] = ls
	}
	// Streams come from the records: any value.
	space[NameAppended]["stream"] = nil
	for _, l := range scrapeLabels {
		for _, ls := range space {
			ls[l] = nil
		}
	}
	return space
}

// check reports a matcher of metric (a family name, or a histogram's
// _bucket, _sum or _count series) on label that no series of it can
// satisfy: a label it lacks, a value (op "=") it never has, a regexp
// (op "=~") that matches none of its values. "" if it can match.
func (s labelSpace) check(metric, label, op, value string) string {
	ls, ok := s[metric]
	suffix := ""
	if !ok {
		for _, suf := range []string{"_bucket", "_sum", "_count"} {
			if base, cut := strings.CutSuffix(metric, suf); cut && s[base] != nil {
				ls, ok, suffix = s[base], true, suf
			}
		}
	}
	if !ok {
		return metric + ": not exported by package metrics"
	}
	values, has := ls[label]
	if !has || label == "le" && suffix != "_bucket" {
		return metric + " has no label " + label
	}
	if values == nil {
		return ""
	}
	switch op {
	case "=":
		if label == "le" {
			// histogram_quantile reads le as a number: 2e-3 is 0.002.
			if f, err := strconv.ParseFloat(value, 64); err == nil {
				value = strconv.FormatFloat(f, 'g', -1, 64)
				if f > 1e308 {
					value = "+Inf"
				}
			}
		}
		if !values[value] {
			return metric + `{` + label + `="` + value + `"}: no series has that value (` + strings.Join(sortedKeys(values), ", ") + ")"
		}
	case "=~":
		re, err := regexp.Compile("^(?:" + value + ")$")
		if err != nil {
			return metric + ": bad regexp " + value + ": " + err.Error()
		}
		for v := range values {
			if re.MatchString(v) {
				return ""
			}
		}
		return metric + `{` + label + `=~"` + value + `"}: matches no value of it (` + strings.Join(sortedKeys(values), ", ") + ")"
	}
	return ""
}

func sortedKeys(m map[string]bool) []string {
	return slices.Sorted(maps.Keys(m))
}

var (
	// selectorRE finds a metric name and its label matchers.
	selectorRE = regexp.MustCompile(`([a-zA-Z_:][a-zA-Z0-9_:]*)\{((?:[^}"]|"(?:[^"\\]|\\.)*")*)\}`)
	// matcherRE is one matcher: label, op, quoted value.
	matcherRE = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"`)
)

// selectorProblems checks every selector with matchers in expr.
func (s labelSpace) selectorProblems(expr string) []string {
	var out []string
	for _, sel := range selectorRE.FindAllStringSubmatch(expr, -1) {
		for _, mm := range matcherRE.FindAllStringSubmatch(sel[2], -1) {
			if msg := s.check(sel[1], mm[1], mm[2], mm[3]); msg != "" {
				out = append(out, msg)
			}
		}
	}
	return out
}

// TestObservabilityLabelValues: every label value a dashboard panel or an
// alert rule selects is one a series of the metric has.
func TestObservabilityLabelValues(t *testing.T) {
	space := exportedLabelSpace(t)
	for _, q := range append(dashboardQueries(t), ruleQueries(t)...) {
		for _, msg := range space.selectorProblems(q.expr) {
			t.Errorf("%s: %s (expr %q)", q.where, msg, q.expr)
		}
	}
	// The check can fail: made-up values, labels and bounds are caught.
	for _, bad := range []string{
		`rate(audit_drop_total{reason="backpressure"}[5m])`,
		`audit_verify_fail_total{reason=~"nope.*"}`,
		`wal_fsync_seconds_bucket{le="0.003"}`,
		`audit_appended_total{kind="get"}`,
		`wal_fsync_seconds_count{le="0.002"}`,
		`audit_export_fail_total{stage="export"}`,
	} {
		if len(space.selectorProblems(bad)) == 0 {
			t.Errorf("selectorProblems(%q) found nothing", bad)
		}
	}
	for _, good := range []string{
		`audit_appended_total{kind="cap_issued",stream="anything",instance="h:1"}`,
		`wal_fsync_seconds_bucket{le="2e-3"}`, `export_batch_seconds_bucket{le="+Inf"}`,
		`busy_rejections_total{endpoint="emit"}`,
	} {
		if p := space.selectorProblems(good); len(p) != 0 {
			t.Errorf("selectorProblems(%q) = %v", good, p)
		}
	}
}

// TestObservabilityRulesTestSeries: the series the rules' unit tests feed promtool
// are series this package exports: metric names, labels, label values
// (bucket bounds included). A unit test fed a series no registry has
// tests nothing.
func TestObservabilityRulesTestSeries(t *testing.T) {
	space := exportedLabelSpace(t)
	f, err := os.Open(rulesTestPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	seriesRE := regexp.MustCompile(`^-?\s*series:\s*'(.*)'\s*$`)
	nameRE := regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
	fams := exportedFamilies(t)
	n := 0
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		s := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(s, "- series:") || strings.HasPrefix(s, "series:") {
			mm := seriesRE.FindStringSubmatch(s)
			if mm == nil {
				t.Fatalf("%s:%d: a series the scanner cannot read (one single-quoted line wanted): %s", rulesTestPath, line, s)
			}
			sel := strings.ReplaceAll(mm[1], "''", "'")
			n++
			if nameRE.MatchString(sel) {
				if msg := checkQueried(fams, sel); msg != "" {
					t.Errorf("%s:%d: %s", rulesTestPath, line, msg)
				}
				continue
			}
			if !selectorRE.MatchString(sel) {
				t.Errorf("%s:%d: series %q is not NAME{LABELS}", rulesTestPath, line, sel)
				continue
			}
			for _, msg := range space.selectorProblems(sel) {
				t.Errorf("%s:%d: %s", rulesTestPath, line, msg)
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatalf("%s: no series read", rulesTestPath)
	}
}

// quantileShape is what a histogram_quantile query computes: over which
// buckets, grouped by which labels, over which range.
type quantileShape struct {
	bucket, by, window string
}

var (
	quantileBucketRE = regexp.MustCompile(`([a-zA-Z_:][a-zA-Z0-9_:]*_bucket)(?:\{[^}]*\})?\[([^\]]+)\]`)
	quantileByRE     = regexp.MustCompile(`\bby\s*\(([^)]*)\)`)
)

// quantileShapes returns the shapes of expr's histogram_quantile calls
// (one a call: the scanners read the one-line exprs of this repository).
func quantileShapes(expr string) []quantileShape {
	var out []quantileShape
	for _, call := range strings.Split(expr, "histogram_quantile(")[1:] {
		b := quantileBucketRE.FindStringSubmatch(call)
		if b == nil {
			continue
		}
		var labels []string
		for _, g := range quantileByRE.FindAllStringSubmatch(call, -1) {
			for _, l := range strings.Split(g[1], ",") {
				if l = strings.TrimSpace(l); l != "" {
					labels = append(labels, l)
				}
			}
		}
		slices.Sort(labels)
		out = append(out, quantileShape{bucket: b[1], by: strings.Join(slices.Compact(labels), ","), window: b[2]})
	}
	return out
}

// TestObservabilityPanelsShowAlertQuantiles: the quantile an alert
// fires on is one a dashboard panel draws, grouped by the same labels
// over the same range. AuditWalFsyncSlow fires per instance; the
// Durability panel summed every instance's buckets, so the fleet's p95
// it drew could sit under 2 ms while one host's alert fired, and the
// panel could not show which.
func TestObservabilityPanelsShowAlertQuantiles(t *testing.T) {
	drawn := map[quantileShape]bool{}
	for _, q := range dashboardQueries(t) {
		for _, s := range quantileShapes(q.expr) {
			drawn[s] = true
		}
	}
	alerts := 0
	for _, q := range ruleQueries(t) {
		for _, s := range quantileShapes(q.expr) {
			alerts++
			if !drawn[s] {
				t.Errorf("%s: no panel draws its quantile of %s by (%s) over [%s] (panels draw %v)", q.where, s.bucket, s.by, s.window, drawn)
			}
		}
	}
	if alerts == 0 {
		t.Fatal("no alert on a histogram_quantile found: the scanner is broken")
	}
	// The shapes are read as written, in either place of the by clause.
	a := quantileShapes(`histogram_quantile(0.95, sum(rate(x_bucket[5m])) by (le, instance))`)
	b := quantileShapes(`histogram_quantile(0.95, sum by (instance,le) (rate(x_bucket{job="a"}[5m]))) > 0.002`)
	if len(a) != 1 || len(b) != 1 || a[0] != b[0] || a[0] != (quantileShape{"x_bucket", "instance,le", "5m"}) {
		t.Fatalf("quantileShapes: %v, %v", a, b)
	}
}

// heldCondition returns the part of an alert's expr that holds without a
// range (the counter itself, "sum by (...) (metric) > 0"), the first
// operand of a top-level "or", or "" when the expr has none.
func heldCondition(expr string) string {
	depth := 0
	for i := 0; i < len(expr); i++ {
		switch expr[i] {
		case '(', '[', '{':
			depth++
		case ')', ']', '}':
			depth--
		}
		if depth == 0 && strings.HasPrefix(expr[i:], " or ") {
			first := strings.TrimSpace(expr[:i])
			if strings.Contains(first, "[") { // a range: it lapses
				return ""
			}
			return first
		}
	}
	return ""
}

// TestObservabilityPanelsHoldAsAlertsHold: an alert that holds while the
// counter is above 0 (AuditVerifyFailures, AuditCheckpointFailing: a
// failure stays suspect until someone looks) has a panel drawing that
// same condition. Their panels drew rates over 5m or 15m: a page at
// 3 am, the dashboard opened at 3:20 showed nothing for a critical alert
// still firing (a stopped export fails once and stays stopped).
func TestObservabilityPanelsHoldAsAlertsHold(t *testing.T) {
	norm := func(s string) string { return strings.Join(strings.Fields(s), " ") }
	drawn := map[string]bool{}
	for _, q := range dashboardQueries(t) {
		drawn[norm(q.expr)] = true
	}
	held := 0
	for _, q := range ruleQueries(t) {
		c := heldCondition(q.expr)
		if c == "" {
			continue
		}
		held++
		if !drawn[norm(c)] {
			t.Errorf("%s: no panel draws %q, which holds the alert", q.where, c)
		}
	}
	if held < 2 {
		t.Fatalf("%d alerts held by their counter found, want AuditVerifyFailures and AuditCheckpointFailing: the scanner is broken", held)
	}
	if c := heldCondition(`sum by (a) (x) > 0 or sum by (a) (increase(x[1h])) > 0`); c != "sum by (a) (x) > 0" {
		t.Fatalf("heldCondition = %q", c)
	}
	if c := heldCondition(`sum(rate(x[5m])) / (sum(rate(y[5m])) or 0 * z) > 0.005`); c != "" {
		t.Fatalf("heldCondition of a rate = %q", c)
	}
}

// aggregationRE finds an aggregation and its by clause, before or after
// its operand: "sum by (a, b) (", "sum(...) by (a)".
var aggregationRE = regexp.MustCompile(`\b(?:sum|min|max|avg|count|group|topk|bottomk|quantile|stddev|stdvar)\b`)

// TestObservabilityLegendsTellSeriesApart: a panel query's legend names
// every label its series differ by: the labels it groups by (but le,
// which histogram_quantile consumes), and for a query that aggregates
// nothing, instance and the metric's own labels. Queue Health, the
// Verification rate and the checkpoint rate drew one line per instance,
// every line under the same name ("queue depth"): the panel could not
// say which host was full.
func TestObservabilityLegendsTellSeriesApart(t *testing.T) {
	space := exportedLabelSpace(t)
	legend := regexp.MustCompile(`\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}`)
	for _, q := range dashboardQueries(t) {
		named := map[string]bool{}
		for _, g := range legend.FindAllStringSubmatch(q.legend, -1) {
			named[g[1]] = true
		}
		need := map[string]bool{}
		if aggregationRE.MatchString(q.expr) {
			for _, g := range quantileByRE.FindAllStringSubmatch(q.expr, -1) {
				for _, l := range strings.Split(g[1], ",") {
					if l = strings.TrimSpace(l); l != "" && l != "le" {
						need[l] = true
					}
				}
			}
		} else {
			need["instance"] = true
			for _, n := range metricNames(q.expr) {
				for l := range space[n] {
					if l != "job" && l != "le" {
						need[l] = true
					}
				}
			}
		}
		for _, l := range sortedKeys(need) {
			if !named[l] {
				t.Errorf("%s: its series differ by %s, which the legend %q does not name (expr %q)", q.where, l, q.legend, q.expr)
			}
		}
	}
}
