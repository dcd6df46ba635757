package analyzers

import (
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/tools/go/analysis"
)

// Module is the import path of this module.
const Module = "github.com/rustyonions/ron-audit-go"

// safeRoots are the package trees that may not import unsafe: the SDK and
// the canonical format, everything an embedding service links for
// auditing.
var safeRoots = []string{Module + "/sdk", Module + "/canonical"}

// NoUnsafe reports imports of "unsafe" under sdk/ and canonical/.
var NoUnsafe = &analysis.Analyzer{
	Name: "nounsafe",
	Doc: `report imports of "unsafe" in the SDK and the canonical format

The packages under sdk/ and canonical/ promise memory-safe code: the bytes
that are hashed and signed are written by checked Go, and a service that
embeds the SDK inherits none of unsafe's risks.`,
	URL: "https://pkg.go.dev/" + Module + "/tools/analyzers",
	Run: runNoUnsafe,
}

func runNoUnsafe(pass *analysis.Pass) (any, error) {
	if !underSafeRoot(pass.Pkg.Path()) {
		return nil, nil
	}
	for _, f := range pass.Files {
		for _, imp := range f.Imports {
			if path, err := strconv.Unquote(imp.Path.Value); err != nil || path != "unsafe" {
				continue
			}
			file := filepath.Base(pass.Fset.File(f.FileStart).Name())
			pass.Reportf(imp.Pos(), `%s imports "unsafe" in package %s: the SDK and the canonical format promise no unsafe code`,
				file, pass.Pkg.Path())
		}
	}
	return nil, nil
}

// underSafeRoot reports whether path, or the package an external test
// package (path_test) tests, is one of safeRoots or below one.
func underSafeRoot(path string) bool {
	path = strings.TrimSuffix(path, "_test")
	for _, root := range safeRoots {
		if path == root || strings.HasPrefix(path, root+"/") {
			return true
		}
	}
	return false
}
