package analyzers

import (
	"bytes"
	"go/ast"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"golang.org/x/tools/go/analysis"

	"github.com/rustyonions/ron-audit-go/gen"
)

// Generated reports generated files that were edited by hand.
var Generated = &analysis.Analyzer{
	Name: "generated",
	Doc: `report generated files without their header or edited by hand

Every *.capnp.go file must start with Go's "// Code generated ... DO NOT
EDIT." line. Every such file, and every file whose header has a
"` + strings.TrimSpace(gen.SumPrefix) + `" line, must hash to the sum that
line records (SHA-256 of the file with the sum's digits zeroed; see
gen.SumPrefix): the canonical bytes of every record come from generated
code, so a hand edit there would change the format without a schema change.
Regenerate instead: make gen.`,
	URL: "https://pkg.go.dev/" + Module + "/tools/analyzers",
	Run: runGenerated,
}

// generatedHeader is Go's convention for a generated file's first line
// (https://go.dev/s/generatedcode, go/ast.IsGenerated).
var generatedHeader = regexp.MustCompile(`^// Code generated .* DO NOT EDIT\.$`)

func runGenerated(pass *analysis.Pass) (any, error) {
	for _, f := range pass.Files {
		name := pass.Fset.File(f.FileStart).Name()
		capnp := strings.HasSuffix(name, ".capnp.go")
		if !capnp && !hasSumLine(f) {
			continue
		}
		src, err := readFile(pass, name)
		if err != nil {
			return nil, err
		}
		base := filepath.Base(name)
		// Diagnostics go on the package clause: the edit can be anywhere,
		// and the clause is always there, header or not.
		first, _, _ := bytes.Cut(src, []byte("\n"))
		if capnp && !generatedHeader.Match(first) {
			pass.Reportf(f.Package, `%s does not start with the "// Code generated ... DO NOT EDIT." line: *.capnp.go files are written by capnpc-ronaudit only (make gen)`, base)
		}
		stated, actual, found := gen.FileSum(src)
		switch {
		case !found && capnp:
			pass.Reportf(f.Package, "%s has no %q line in its header: it was not written by this generator, or the header was edited; regenerate it (make gen)",
				base, strings.TrimSpace(gen.SumPrefix))
		case found && stated != actual:
			pass.Reportf(f.Package, "%s was edited by hand: its content hashes to %s, not the %s its header records; change the schema or the generator and regenerate (make gen)",
				base, short(actual), short(stated))
		}
	}
	return nil, nil
}

// hasSumLine reports whether the header of f (the comments before the
// package clause) holds a sum line, without reading the file again.
func hasSumLine(f *ast.File) bool {
	for _, cg := range f.Comments {
		if cg.Pos() > f.Package {
			break
		}
		for _, c := range cg.List {
			if strings.HasPrefix(c.Text, gen.SumPrefix) {
				return true
			}
		}
	}
	return false
}

// readFile reads a file of the package being analyzed through the driver
// when it offers to (it may hold unsaved editor buffers), else from disk.
func readFile(pass *analysis.Pass, name string) ([]byte, error) {
	if pass.ReadFile != nil {
		return pass.ReadFile(name)
	}
	return os.ReadFile(name)
}

// short abbreviates a hex sum for a message; twelve digits tell sums apart.
func short(sum string) string {
	if len(sum) > 12 {
		return sum[:12] + "..."
	}
	return sum
}
