package analyzers_test

import (
	"go/ast"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/analysis/checker"
	"golang.org/x/tools/go/packages"

	"github.com/rustyonions/ron-audit-go/tools/analyzers"
)

// TestTree runs the analyzers over the packages they guard, as
// go run ./tools/cmd/ronaudit-lint does, so plain go test fails on a
// finding too. It also checks that the rules have something to check:
// the hot functions are still marked and the generated files are found.
func TestTree(t *testing.T) {
	cfg := &packages.Config{Mode: packages.LoadSyntax, Dir: "../..", Tests: true}
	pkgs, err := packages.Load(cfg, "./canonical/...", "./gen/...", "./sdk/...")
	if err != nil {
		t.Fatal(err)
	}
	if n := packages.PrintErrors(pkgs); n > 0 {
		t.Fatalf("%d errors loading the packages", n)
	}
	all := []*analysis.Analyzer{analyzers.NoUnsafe, analyzers.Generated, analyzers.HotPath}
	g, err := checker.Analyze(all, pkgs, nil)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{} // a test variant repeats its package's findings
	for act := range g.All() {
		if act.Err != nil {
			t.Errorf("%s: %v", act, act.Err)
		}
		for _, d := range act.Diagnostics {
			msg := act.Package.Fset.Position(d.Pos).String() + ": " + d.Message
			if !seen[msg] {
				seen[msg] = true
				t.Errorf("%s (%s)", msg, act.Analyzer.Name)
			}
		}
	}

	// The guards guard something: the functions Append and Verify keep
	// allocation-free are marked hot, and the generated files are where
	// the generated analyzer looks for them.
	marked, generated := map[string]bool{}, map[string]bool{}
	for _, p := range pkgs {
		for _, f := range p.Syntax {
			name := p.Fset.File(f.FileStart).Name()
			if strings.HasSuffix(name, ".capnp.go") {
				generated[filepath.Base(name)] = true
			}
			for _, d := range f.Decls {
				if fd, ok := d.(*ast.FuncDecl); ok && fd.Doc != nil {
					for _, c := range fd.Doc.List {
						if analyzers.IsHotDirective(c.Text) {
							marked[p.Types.Name()+"."+fd.Name.Name] = true
						}
					}
				}
			}
		}
	}
	for _, fn := range []string{
		"canonical.AppendRecord", "canonical.RecordHash",
		"sdk.appendLocked", "sdk.VerifyRecord", "sdk.VerifyHash",
		"sdk.link", "sdk.settle", "sdk.commitLocked", "sdk.emit", "sdk.encode",
	} {
		if !marked[fn] {
			t.Errorf("%s is not marked %s", fn, analyzers.HotDirective)
		}
	}
	for _, f := range []string{"audit.capnp.go", "shapes.capnp.go"} {
		if !generated[f] {
			t.Errorf("%s not found", f)
		}
	}
}
