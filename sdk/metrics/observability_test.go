package metrics

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/sdk"
)

// The dashboard and the alert rules under testing/observability may only
// query metrics this package exports.

const (
	dashboardPath = "../../testing/observability/grafana/ron-audit.json"
	rulesPath     = "../../testing/observability/prometheus/ron-audit-rules.yml"
)

// promqlKeywords are the identifiers of PromQL that are not metric names
// when they are not followed by "(" (functions always are, and are
// skipped there).
var promqlKeywords = map[string]bool{
	"and": true, "or": true, "unless": true, "bool": true, "offset": true,
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
	"inf": true, "nan": true,
	// aggregation operators, whose "(" may come after a by/without clause
	"sum": true, "min": true, "max": true, "avg": true, "group": true, "stddev": true, "stdvar": true,
	"count": true, "count_values": true, "bottomk": true, "topk": true, "quantile": true,
	"limitk": true, "limit_ratio": true,
}

// groupingKeywords take a parenthesized list of label names.
var groupingKeywords = map[string]bool{
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
}

// metricNames returns the metric names expr selects: identifiers outside
// label matchers ({...}), ranges ([...]), strings and grouping label lists
// that are not function calls or keywords.
func metricNames(expr string) []string {
	var names []string
	isStart := func(c byte) bool { return c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
	isPart := func(c byte) bool { return isStart(c) || c >= '0' && c <= '9' }
	skipTo := func(i int, close byte) int {
		for i < len(expr) && expr[i] != close {
			if expr[i] == '"' || expr[i] == '\'' || expr[i] == '`' {
				q := expr[i]
				for i++; i < len(expr) && expr[i] != q; i++ {
					if expr[i] == '\\' {
						i++
					}
				}
			}
			i++
		}
		return i + 1
	}
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == '{':
			i = skipTo(i+1, '}')
		case c == '[':
			i = skipTo(i+1, ']')
		case c == '"' || c == '\'' || c == '`':
			i = skipTo(i+1, c)
		case c >= '0' && c <= '9' || c == '.':
			for i < len(expr) && (isPart(expr[i]) || expr[i] == '.') { // numbers, 1e-3, 0x1f
				i++
			}
		case isStart(c):
			j := i
			for j < len(expr) && isPart(expr[j]) {
				j++
			}
			id := expr[i:j]
			k := j
			for k < len(expr) && (expr[k] == ' ' || expr[k] == '\t' || expr[k] == '\n') {
				k++
			}
			lower := strings.ToLower(id)
			switch {
			case groupingKeywords[lower] && k < len(expr) && expr[k] == '(':
				j = skipTo(k+1, ')') // label list
			case k < len(expr) && expr[k] == '(': // a function call
			case promqlKeywords[lower]:
			default:
				names = append(names, id)
			}
			i = j
		default:
			i++
		}
	}
	return names
}

func TestMetricNamesExtractor(t *testing.T) {
	for expr, want := range map[string]string{
		`sum by(service,kind)(rate(audit_appended_total[5m]))`:                               "audit_appended_total",
		`histogram_quantile(0.95, sum(rate(wal_fsync_seconds_bucket[5m])) by (le))`:          "wal_fsync_seconds_bucket",
		`rate(x_total{reason="a{b}",job=~"rate(y)"}[5m] offset 1h) / on(job) group_left bar`: "x_total bar",
		`sum(rate(a[5m])) / (sum(rate(b[5m])) + sum(rate(c[5m]))) > 0.005`:                   "a b c",
		`audit_queue_depth > bool 1e3 and up`:                                                "audit_queue_depth up",
		`sum without (kind) (audit_appended_total) or max(nope_total)`:                       "audit_appended_total nope_total",
	} {
		if got := strings.Join(metricNames(expr), " "); got != want {
			t.Errorf("metricNames(%q) = %q, want %q", expr, got, want)
		}
	}
}

// exportedFamilies returns the metric families of a registry built by New,
// by name, after one record (so the labelled vecs without preset label
// values have a series).
func exportedFamilies(t *testing.T) map[string]dto.MetricType {
	t.Helper()
	m, reg := newMetrics(t)
	m.Appended(canonical.KindGetServed, "probe", 1)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]dto.MetricType{}
	for _, mf := range mfs {
		out[mf.GetName()] = mf.GetType()
	}
	return out
}

// checkQueried reports a query of a metric the registry lacks; a
// _bucket/_sum/_count suffix must be of a histogram (or summary).
func checkQueried(fams map[string]dto.MetricType, name string) string {
	if _, ok := fams[name]; ok {
		return ""
	}
	for _, suf := range []string{"_bucket", "_sum", "_count"} {
		base, ok := strings.CutSuffix(name, suf)
		if !ok {
			continue
		}
		typ, ok := fams[base]
		switch {
		case !ok:
		case typ == dto.MetricType_HISTOGRAM, typ == dto.MetricType_SUMMARY && suf != "_bucket":
			return ""
		default:
			return name + ": " + base + " is a " + typ.String() + ", not a histogram"
		}
	}
	return name + ": not exported by package metrics"
}

type queried struct{ where, expr, legend string }

func dashboardQueries(t *testing.T) []queried {
	t.Helper()
	b, err := os.ReadFile(dashboardPath)
	if err != nil {
		t.Fatal(err)
	}
	type panel struct {
		Title   string `json:"title"`
		Targets []struct {
			RefID  string `json:"refId"`
			Expr   string `json:"expr"`
			Legend string `json:"legendFormat"`
		} `json:"targets"`
		Panels []json.RawMessage `json:"panels"` // rows
	}
	var d struct {
		Panels []panel `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashboardPath, err)
	}
	var out []queried
	titles := map[string]bool{}
	for _, p := range d.Panels {
		titles[p.Title] = true
		if len(p.Targets) == 0 {
			t.Errorf("panel %q queries nothing", p.Title)
		}
		for _, tg := range p.Targets {
			out = append(out, queried{"panel " + p.Title + " " + tg.RefID, tg.Expr, tg.Legend})
		}
	}
	for _, want := range []string{"Audit Throughput", "Queue Health", "Shedding", "Verification", "Durability",
		"Export Latency", "Dedupe Hits"} {
		if !titles[want] {
			t.Errorf("dashboard lacks the seed's panel %q", want)
		}
	}
	return out
}

// ruleQueries scans the rules file's "expr:" lines (one line each: a
// block scalar is refused so nothing is missed).
func ruleQueries(t *testing.T) []queried {
	t.Helper()
	f, err := os.Open(rulesPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []queried
	alerts, alert := 0, ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		line = strings.TrimPrefix(line, "- ")
		if v, ok := strings.CutPrefix(line, "alert:"); ok {
			alerts++
			alert = strings.TrimSpace(v)
		}
		if v, ok := strings.CutPrefix(line, "record:"); ok {
			alerts++
			alert = strings.TrimSpace(v)
		}
		v, ok := strings.CutPrefix(line, "expr:")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		if v == "" || v[0] == '|' || v[0] == '>' {
			t.Fatalf("%s:%d: multi-line expr: the scanner reads one-line exprs only", rulesPath, n)
		}
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		out = append(out, queried{"rule " + alert, v, ""})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if alerts == 0 || len(out) != alerts {
		t.Fatalf("%s: %d rules, %d exprs", rulesPath, alerts, len(out))
	}
	return out
}

// TestObservabilityQueries: every metric a dashboard panel or an alert
// rule queries is exported by a registry built by New.
func TestObservabilityQueries(t *testing.T) {
	fams := exportedFamilies(t)
	used := map[string]bool{}
	for _, q := range append(dashboardQueries(t), ruleQueries(t)...) {
		names := metricNames(q.expr)
		if len(names) == 0 {
			t.Errorf("%s: %q queries no metric", q.where, q.expr)
		}
		for _, n := range names {
			if msg := checkQueried(fams, n); msg != "" {
				t.Errorf("%s: %s (expr %q)", q.where, msg, q.expr)
			}
			used[strings.TrimSuffix(n, "_bucket")] = true
		}
	}
	// The check can fail: a query of a metric we do not export is caught.
	if checkQueried(fams, "audit_appended") == "" || checkQueried(fams, "audit_queue_depth_bucket") == "" {
		t.Fatal("checkQueried accepts metrics the registry lacks")
	}
	var unused []string
	for n := range fams {
		if !used[n] {
			unused = append(unused, n)
		}
	}
	sort.Strings(unused)
	t.Logf("exported but on no panel or rule: %v", unused)
}

// TestObservabilityLabels: every label a query groups by, matches on or
// puts in a legend is on the metrics it names (grouping by a label no
// series has gives one unnamed series: the throughput panel grouped by a
// "service" nothing exports).
func TestObservabilityLabels(t *testing.T) {
	m, reg := newMetrics(t)
	m.Appended(canonical.KindGetServed, "probe", 1)
	m.VerifyFailed(&sdk.VerifyError{Reason: sdk.ReasonHashMismatch})
	m.Busy("emit")
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	labels := map[string]map[string]bool{} // metric -> its labels
	for _, mf := range mfs {
		ls := map[string]bool{}
		for _, mm := range mf.GetMetric() {
			for _, lp := range mm.GetLabel() {
				ls[lp.GetName()] = true
			}
		}
		if mf.GetType() == dto.MetricType_HISTOGRAM {
			ls["le"] = true
		}
		labels[mf.GetName()] = ls
	}
	// Labels a scrape adds to every series.
	scrape := map[string]bool{"job": true, "instance": true}
	grouping := regexp.MustCompile(`\b(?:by|without)\s*\(([^)]*)\)`)
	matchers := regexp.MustCompile(`([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}`)
	matcher := regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)`)
	legend := regexp.MustCompile(`\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}`)
	for _, q := range append(dashboardQueries(t), ruleQueries(t)...) {
		names := metricNames(q.expr)
		onSome := func(l string) bool { // on a series of a metric the query names
			for _, n := range names {
				base := n
				for _, suf := range []string{"_bucket", "_sum", "_count"} {
					if b, ok := strings.CutSuffix(n, suf); ok && labels[b] != nil {
						base = b
					}
				}
				if labels[base][l] {
					return true
				}
			}
			return scrape[l]
		}
		var used []string
		for _, g := range grouping.FindAllStringSubmatch(q.expr, -1) {
			for _, l := range strings.Split(g[1], ",") {
				if l = strings.TrimSpace(l); l != "" {
					used = append(used, l)
				}
			}
		}
		for _, g := range legend.FindAllStringSubmatch(q.legend, -1) {
			used = append(used, g[1])
		}
		for _, l := range used {
			if !onSome(l) {
				t.Errorf("%s: label %q is on no series of %v (expr %q, legend %q)", q.where, l, names, q.expr, q.legend)
			}
		}
		for _, g := range matchers.FindAllStringSubmatch(q.expr, -1) {
			for _, mm := range matcher.FindAllStringSubmatch(g[2], -1) {
				if ls := labels[g[1]]; ls != nil && !ls[mm[1]] && !scrape[mm[1]] {
					t.Errorf("%s: %s has no label %q (expr %q)", q.where, g[1], mm[1], q.expr)
				}
			}
		}
	}
}

// TestPromtoolCheckRules runs promtool (Debian package prometheus) on the
// rules file, and its unit tests (ron-audit-rules.test.yml), when it is
// installed.
func TestPromtoolCheckRules(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not installed (Debian: apt-get install prometheus); rules file not checked by promtool")
	}
	abs, err := filepath.Abs(rulesPath)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(promtool, "check", "rules", abs).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
	t.Logf("%s", out)
	// The rules' unit tests: what fires on which series.
	tests := strings.TrimSuffix(abs, ".yml") + ".test.yml"
	out, err = exec.Command(promtool, "test", "rules", tests).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool test rules: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}

// alertRule is what TestAlertRulesForAndRunbook reads of one alert.
type alertRule struct {
	name, forClause, runbook, severity string
	line                               int
}

// alertRules scans the rules file's alerts: their for:, their severity
// label and their runbook annotation (one line each, as ruleQueries reads
// expr:).
func alertRules(t *testing.T) []alertRule {
	t.Helper()
	b, err := os.ReadFile(rulesPath)
	if err != nil {
		t.Fatal(err)
	}
	var out []alertRule
	for n, line := range strings.Split(string(b), "\n") {
		line = strings.TrimPrefix(strings.TrimSpace(line), "- ")
		key, v, ok := strings.Cut(line, ":")
		if !ok || strings.HasPrefix(key, "#") {
			continue
		}
		v = strings.Trim(strings.TrimSpace(v), `"'`)
		switch key {
		case "alert":
			out = append(out, alertRule{name: v, line: n + 1})
		case "record":
			out = append(out, alertRule{line: -1}) // a recording rule: no for:, no runbook
		case "for":
			if len(out) > 0 {
				out[len(out)-1].forClause = v
			}
		case "runbook":
			if len(out) > 0 {
				out[len(out)-1].runbook = v
			}
		case "severity":
			if len(out) > 0 {
				out[len(out)-1].severity = v
			}
		}
	}
	return out
}

// headingAnchors returns the anchors of a Markdown file's headings, as
// GitHub makes them: lower case, spaces to "-", other punctuation gone.
func headingAnchors(md string) map[string]bool {
	anchors := map[string]bool{}
	for _, line := range strings.Split(md, "\n") {
		if !strings.HasPrefix(line, "#") {
			continue
		}
		h := strings.TrimSpace(strings.TrimLeft(line, "#"))
		var a strings.Builder
		for _, r := range strings.ToLower(h) {
			switch {
			case r == ' ':
				a.WriteByte('-')
			case r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
				a.WriteRune(r)
			}
		}
		anchors[a.String()] = true
	}
	return anchors
}

// TestAlertRulesForAndRunbook: every alert says how long its condition
// must hold (for:, 0m included, so that the choice is made, not
// forgotten) and names its runbook: a file of this repository and the
// anchor of a heading in it, both of which must exist.
func TestAlertRulesForAndRunbook(t *testing.T) {
	rules := alertRules(t)
	want := map[string]bool{"AuditVerifyFailures": false, "AuditShedAboveBudget": false, "AuditWalFsyncSlow": false,
		"AuditExportSlow": false, "AuditCheckpointFailing": false}
	for _, r := range rules {
		if r.line < 0 {
			continue
		}
		if _, ok := want[r.name]; ok {
			want[r.name] = true
		}
		if r.forClause == "" {
			t.Errorf("%s:%d: alert %s has no for: clause", rulesPath, r.line, r.name)
		}
		file, anchor, ok := strings.Cut(r.runbook, "#")
		if r.runbook == "" || !ok || file == "" || anchor == "" {
			t.Errorf("%s:%d: alert %s: runbook %q is not FILE#ANCHOR", rulesPath, r.line, r.name, r.runbook)
			continue
		}
		md, err := os.ReadFile(filepath.Join("../..", filepath.FromSlash(file)))
		if err != nil {
			t.Errorf("alert %s: runbook: %v", r.name, err)
			continue
		}
		if !headingAnchors(string(md))[anchor] {
			t.Errorf("alert %s: runbook %s has no heading with anchor #%s", r.name, file, anchor)
		}
	}
	for name, found := range want {
		if !found {
			t.Errorf("%s: no alert %s (docs/PERFORMANCE.md names it)", rulesPath, name)
		}
	}
	// The anchors are GitHub's.
	if a := headingAnchors("## 6. Runbook\n### AuditWalFsyncSlow\n"); !a["6-runbook"] || !a["auditwalfsyncslow"] {
		t.Fatalf("headingAnchors = %v", a)
	}
}
