package analyzers_test

import (
	"testing"

	"golang.org/x/tools/go/analysis/analysistest"

	"github.com/rustyonions/ron-audit-go/tools/analyzers"
)

// Each testdata package holds the cases an analyzer must report, marked
// with // want comments, and the allowed cases next to them, unmarked:
// analysistest fails on a missing report and on an unexpected one.

func TestNoUnsafe(t *testing.T) {
	analysistest.Run(t, analysistest.TestData(), analyzers.NoUnsafe,
		analyzers.Module+"/sdk/bad",
		analyzers.Module+"/sdk/clean",
		analyzers.Module+"/canonical",
		analyzers.Module+"/internal/fast",
		analyzers.Module+"/sdkextra",
	)
}

func TestGenerated(t *testing.T) {
	analysistest.Run(t, analysistest.TestData(), analyzers.Generated, "gendata")
}

func TestHotPath(t *testing.T) {
	analysistest.Run(t, analysistest.TestData(), analyzers.HotPath, "hot")
}
