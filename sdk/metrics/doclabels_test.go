package metrics

import (
	"encoding/json"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// The runbook (docs/PERFORMANCE.md) and the README tell an operator which
// label values to look for: audit_verify_fail_total's reasons
// (checkpoint_rollback, export_truncated, ...), a stage, an endpoint. A
// value renamed in the code and not in the docs sends them after a
// series that never exists, which no query test sees: the docs are not
// queries.

// docsWithLabelValues are the documents read, from this directory.
var docsWithLabelValues = []string{"../../docs/PERFORMANCE.md", "../../README.md"}

var (
	// backquoted is a `...` span of Markdown.
	backquoted = regexp.MustCompile("`([^`\n]+)`")
	// labelMatcher is metric{label="value"}, {label="value"} or
	// label="value" inside a span; the metric may be left out.
	labelMatcher = regexp.MustCompile(`(?:([a-z_]+)\{|\{)?([a-z]+)="([^"]*)"`)
	// verifyReasonToken is a span that is a whole reason label of a
	// checkpoint's or a bundle's failure, or manifest_gap.
	verifyReasonToken = regexp.MustCompile(`^(?:(?:checkpoint|export)_[a-z_]+|manifest_gap)$`)
)

// TestDocsLabelValues: every label value the docs name in a backquoted
// matcher is one a registry of New has on that metric (or, with the
// metric left out, on some metric), and every backquoted reason of a
// checkpoint's or a bundle's verification failure (checkpoint_*,
// export_*, manifest_gap) that is not a metric's name is one of
// audit_verify_fail_total's.
func TestDocsLabelValues(t *testing.T) {
	space := exportedLabelSpace(t)
	reasons := space[NameVerifyFail]["reason"]
	if len(reasons) == 0 {
		t.Fatalf("%s has no reason values", NameVerifyFail)
	}
	for _, doc := range docsWithLabelValues {
		b, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		matchers, tokens := 0, 0
		for _, span := range backquoted.FindAllStringSubmatch(string(b), -1) {
			text := span[1]
			for _, m := range labelMatcher.FindAllStringSubmatch(text, -1) {
				metric, label, value := m[1], m[2], m[3]
				matchers++
				if metric != "" {
					if msg := space.check(metric, label, "=", value); msg != "" {
						t.Errorf("%s: `%s`: %s", doc, text, msg)
					}
					continue
				}
				if !anyFamilyHas(space, label, value) {
					t.Errorf("%s: `%s`: no metric has %s=%q", doc, text, label, value)
				}
			}
			if verifyReasonToken.MatchString(text) && space[text] == nil {
				tokens++
				if !reasons[text] {
					t.Errorf("%s: `%s` is not a reason of %s (VerifyReasons)", doc, text, NameVerifyFail)
				}
			}
		}
		t.Logf("%s: %d label matchers, %d verify reasons checked", doc, matchers, tokens)
	}
}

// anyFamilyHas reports whether some family's label takes value (or any
// value).
func anyFamilyHas(space labelSpace, label, value string) bool {
	for _, ls := range space {
		values, ok := ls[label]
		if ok && (values == nil || values[value]) {
			return true
		}
	}
	return false
}

// TestDocsLabelBounds: the README's "the first N streams
// (`metrics.MaxStreams`)" and "the first N endpoints ...
// (`metrics.MaxEndpoints`)" are the constants' values, which bound what
// a dashboard or a scrape of one host can hold.
func TestDocsLabelBounds(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"MaxStreams": MaxStreams, "MaxEndpoints": MaxEndpoints}
	re := regexp.MustCompile("first ([0-9,]+) (?:streams|endpoints)[^()]*\\(`metrics\\.(Max[A-Za-z]+)`\\)")
	seen := map[string]bool{}
	for _, m := range re.FindAllStringSubmatch(string(b), -1) {
		n, err := strconv.Atoi(strings.ReplaceAll(m[1], ",", ""))
		if err != nil {
			t.Fatalf("%q: %v", m[0], err)
		}
		c, ok := want[m[2]]
		if !ok {
			t.Errorf("README.md: %q names metrics.%s, which this test does not know", m[0], m[2])
			continue
		}
		seen[m[2]] = true
		if n != c {
			t.Errorf("README.md: %q says %d, metrics.%s is %d", m[0], n, m[2], c)
		}
	}
	for name := range want {
		if !seen[name] {
			t.Errorf("README.md no longer says the bound metrics.%s (the pattern of this test may be stale)", name)
		}
	}
}

// TestRunbookSaysWhatRulesAndDashboardDo: each alert's heading in the
// runbook opens with its severity and how long its condition must hold
// ("Critical, at once", "Warning, after 10m"), which must be the rule's
// severity label and for:; and every dashboard panel the runbook sends
// an operator to (triage step 1's list, "the X panel") is a panel of the
// dashboard, by its title.
func TestRunbookSaysWhatRulesAndDashboardDo(t *testing.T) {
	b, err := os.ReadFile("../../docs/PERFORMANCE.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for _, r := range alertRules(t) {
		if r.line < 0 {
			continue
		}
		_, after, ok := strings.Cut(doc, "\n### "+r.name+"\n")
		if !ok {
			t.Errorf("docs/PERFORMANCE.md has no heading ### %s", r.name)
			continue
		}
		first := strings.TrimSpace(after)
		first, _, _ = strings.Cut(first, ":")
		hold := "after " + r.forClause
		if r.forClause == "0m" {
			hold = "at once"
		}
		if want := strings.ToUpper(r.severity[:1]) + r.severity[1:] + ", " + hold; first != want {
			t.Errorf("docs/PERFORMANCE.md, ### %s opens %q; the rule says %q (severity %s, for: %s)", r.name, first, want, r.severity, r.forClause)
		}
	}

	dash, err := os.ReadFile(dashboardPath)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title string `json:"title"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(dash, &d); err != nil {
		t.Fatal(err)
	}
	titles := map[string]bool{}
	for _, p := range d.Panels {
		titles[p.Title] = true
	}
	flat := strings.Join(strings.Fields(doc), " ")
	var named []string
	_, list, ok := strings.Cut(flat, "Dashboards first (`testing/observability/grafana/`): ")
	if !ok {
		t.Fatal("docs/PERFORMANCE.md: triage step 1 (Dashboards first ...) not found: the pattern of this test is stale")
	}
	list, _, _ = strings.Cut(list, ".")
	named = append(named, strings.Split(list, ", ")...)
	for _, m := range regexp.MustCompile(`\b[Tt]he ((?:[A-Z][a-z]+ )+)panel\b`).FindAllStringSubmatch(flat, -1) {
		named = append(named, strings.TrimSpace(m[1]))
	}
	for _, n := range named {
		if !titles[n] {
			t.Errorf("docs/PERFORMANCE.md names the dashboard panel %q; the dashboard's panels are %v", n, titles)
		}
	}
}
