package sdk_test

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"os"
	"regexp"
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
