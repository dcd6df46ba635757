package analyzers

import (
	"fmt"
	"go/ast"
	"go/token"
	"go/types"
	"strings"

	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/types/typeutil"
)

// HotDirective marks a function whose body must stay free of the
// allocation-prone constructs HotPath reports. It is a directive comment:
// no space after the slashes, in the doc comment directly above the func
// (gofmt moves directives to the end of it), optionally followed by a
// space and a note.
const HotDirective = "//ronaudit:hot"

// HotPath reports allocation-prone code in functions marked hot.
var HotPath = &analysis.Analyzer{
	Name: "hotpath",
	Doc: `report allocation-prone code in functions marked //ronaudit:hot

A function whose doc comment holds the directive //ronaudit:hot may not:
call anything in package fmt; make a map, write a map literal, index a map,
delete from one or range over one; hold a function literal other than one
called on the spot; start a goroutine; or defer inside a loop (a deferred
call outside loops is open-coded and does not allocate, so it is allowed).
Append and Verify promise zero allocations per operation; build errors in a
separate unmarked helper instead of in the hot body.`,
	URL: "https://pkg.go.dev/" + Module + "/tools/analyzers",
	Run: runHotPath,
}

func runHotPath(pass *analysis.Pass) (any, error) {
	for _, f := range pass.Files {
		marks := map[*ast.Comment]bool{} // directives that mark a func
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Doc == nil {
				continue
			}
			marked := false // a second directive checks nothing twice
			for _, c := range fd.Doc.List {
				if IsHotDirective(c.Text) {
					if !marked && fd.Body != nil {
						checkHot(pass, fd)
					}
					marks[c], marked = true, true
				}
			}
		}
		// A directive that marks nothing (a blank line or another comment
		// between it and the func, or a misspelling) would leave a hot
		// function unchecked without a word: say so.
		for _, cg := range f.Comments {
			for _, c := range cg.List {
				switch {
				case marks[c]:
				case IsHotDirective(c.Text):
					pass.Reportf(c.Pos(), "%s marks no function: it must be in the doc comment directly above a func declaration", HotDirective)
				case IsHotDirective("//" + strings.TrimLeft(strings.TrimPrefix(c.Text, "//"), " \t")):
					pass.Reportf(c.Pos(), "\"// %s\" is not a directive, so it marks nothing: write %s with no space after the slashes", HotDirective[2:], HotDirective)
				}
			}
		}
	}
	return nil, nil
}

// keepMapsOff ends every map finding: maps hash on every access and
// allocate as they grow, where the hot paths index slices and arrays.
const keepMapsOff = "maps hash every access and allocate as they grow, keep them off the hot path"

// IsHotDirective reports whether a comment's text is the directive,
// alone or followed by a space and a note.
func IsHotDirective(text string) bool {
	rest, ok := strings.CutPrefix(text, HotDirective)
	return ok && (rest == "" || rest[0] == ' ' || rest[0] == '\t')
}

// checkHot reports every allocation-prone construct in the body of the
// hot function fd, including inside function literals it holds.
func checkHot(pass *analysis.Pass, fd *ast.FuncDecl) {
	name := fd.Name.Name
	if fd.Recv != nil && len(fd.Recv.List) == 1 {
		name = "(" + types.ExprString(fd.Recv.List[0].Type) + ")." + name
	}
	report := func(pos token.Pos, format string, args ...any) {
		pass.Report(analysis.Diagnostic{Pos: pos, Message: name + " is " + HotDirective + ": " + fmt.Sprintf(format, args...)})
	}
	info := pass.TypesInfo
	isMap := func(e ast.Expr) bool {
		t := info.TypeOf(e)
		if t == nil {
			return false
		}
		_, ok := t.Underlying().(*types.Map)
		return ok
	}
	var stack []ast.Node // the ancestors of the node being visited
	ast.Inspect(fd.Body, func(n ast.Node) bool {
		if n == nil {
			stack = stack[:len(stack)-1]
			return true
		}
		switch n := n.(type) {
		case *ast.CallExpr:
			if b, ok := typeutil.Callee(info, n).(*types.Builtin); ok {
				switch {
				case b.Name() == "make" && len(n.Args) > 0 && isMap(n.Args[0]):
					report(n.Pos(), "make(map) allocates a map; "+keepMapsOff)
				case b.Name() == "delete":
					report(n.Pos(), "delete indexes a map; "+keepMapsOff)
				}
			} else if fn, ok := typeutil.Callee(info, n).(*types.Func); ok && fn.Pkg() != nil && fn.Pkg().Path() == "fmt" && fn.Signature().Recv() == nil {
				report(n.Pos(), "calls fmt.%s, which allocates (its arguments escape into interfaces); build the value in a separate function not marked hot", fn.Name())
			}
		case *ast.CompositeLit:
			if isMap(n) {
				report(n.Pos(), "a map literal allocates a map; "+keepMapsOff)
			}
		case *ast.IndexExpr:
			if isMap(n.X) {
				report(n.Pos(), "indexes a map; "+keepMapsOff)
			}
		case *ast.RangeStmt:
			if isMap(n.X) {
				report(n.Pos(), "ranges over a map; "+keepMapsOff)
			}
		case *ast.FuncLit:
			if !calledOnTheSpot(n, stack) {
				report(n.Pos(), "a function literal that is not called on the spot is a closure that may escape and allocate; use a named function or method")
			}
		case *ast.GoStmt:
			report(n.Pos(), "a go statement allocates a goroutine; hand the work to a running goroutine instead")
		case *ast.DeferStmt:
			if inLoop(stack) {
				report(n.Pos(), "defer inside a loop is not open-coded: each deferred call takes a runtime defer record, from the heap when its pool is empty; move the loop body into a function")
			}
		}
		stack = append(stack, n)
		return true
	})
}

// inLoop reports whether a statement whose ancestors are stack runs in a
// loop of its own function: a function literal starts a new frame, whose
// top-level defers are open-coded again.
func inLoop(stack []ast.Node) bool {
	for i := len(stack) - 1; i >= 0; i-- {
		switch stack[i].(type) {
		case *ast.ForStmt, *ast.RangeStmt:
			return true
		case *ast.FuncLit:
			return false
		}
	}
	return false
}

// calledOnTheSpot reports whether the function literal lit, whose
// ancestors are stack, is the function of a call, as in func() {...}(), and
// that call is not a go statement's (its closure outlives the frame).
func calledOnTheSpot(lit *ast.FuncLit, stack []ast.Node) bool {
	var child ast.Node = lit
	i := len(stack) - 1
	for ; i >= 0; i-- {
		if _, ok := stack[i].(*ast.ParenExpr); !ok {
			break
		}
		child = stack[i]
	}
	if i < 0 {
		return false
	}
	call, ok := stack[i].(*ast.CallExpr)
	if !ok || call.Fun != child {
		return false
	}
	if i > 0 {
		if _, ok := stack[i-1].(*ast.GoStmt); ok {
			return false
		}
	}
	return true
}
