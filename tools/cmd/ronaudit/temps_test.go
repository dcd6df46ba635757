package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/rustyonions/ron-audit-go/sdk/export"
)

// TestReportTemps: the message says what a sweep removed and what went
// wrong, counting only what it counted. A sweep that could not read the
// chain directory failed to remove nothing it saw: "0 stale temporary
// file(s) not removed" would read as nothing wrong (or as a count lost),
// and hide that the directory was not looked through at all.
func TestReportTemps(t *testing.T) {
	readErr := errors.New("looking for stale temporary files in out/w/s: permission denied")
	rmErr := errors.New("removing stale temporary file out/w/s/.tmp-1: operation not permitted")
	for _, tc := range []struct {
		name string
		st   export.TempStats
		want []string
		not  []string
	}{
		{"nothing", export.TempStats{}, nil, []string{"removed", "warning"}},
		{"removed", export.TempStats{Removed: 2}, []string{"x: removed 2 stale temporary file(s)"}, []string{"warning"}},
		{"failed", export.TempStats{Removed: 1, Failed: 3, Err: rmErr},
			[]string{"x: removed 1 stale", "x: warning: 3 stale temporary file(s) not removed: removing stale temporary file out/w/s/.tmp-1"}, nil},
		{"unreadable", export.TempStats{Err: readErr},
			[]string{"x: warning: " + readErr.Error()}, []string{"0 stale", "not removed"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			reportTemps(&b, "x", func() export.TempStats { return tc.st })
			for _, w := range tc.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("report %q lacks %q", b.String(), w)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(b.String(), n) {
					t.Errorf("report %q says %q", b.String(), n)
				}
			}
		})
	}
}
