package analyzers_test

import (
	"slices"
	"strings"
	"testing"

	"golang.org/x/tools/go/callgraph/rta"
	"golang.org/x/tools/go/packages"
	"golang.org/x/tools/go/ssa"
	"golang.org/x/tools/go/ssa/ssautil"
)

const module = "github.com/rustyonions/ron-audit-go"

// durablePackages are the parts of the SDK that write to disk: a Micronode
// (RAM only, "amnesia") must reach none of their code.
var durablePackages = []string{module + "/sdk/wal", module + "/sdk/checkpoint", module + "/sdk/export", module + "/internal/fsutil"}

// fileWriters are the os functions and *os.File methods that create,
// change or remove files.
var fileWriters = []string{
	"os.Create", "os.CreateTemp", "os.OpenFile", "os.WriteFile", "os.Mkdir", "os.MkdirAll", "os.MkdirTemp",
	"os.Remove", "os.RemoveAll", "os.Rename", "os.Truncate", "os.Chmod", "os.Chtimes", "os.Link", "os.Symlink",
	"(*os.File).Write", "(*os.File).WriteAt", "(*os.File).WriteString", "(*os.File).ReadFrom",
	"(*os.File).Sync", "(*os.File).Truncate", "(*os.File).Chmod",
}

// TestMicronodeAmnesia proves "nothing touches disk" for a Micronode host
// statically, over every path and not one run: from the program in
// testdata/micronode, which uses the Log on its MemStore, the signing
// policies, privacy helpers, verification, the merge iterator and the
// Emitter, rapid type analysis (golang.org/x/tools/go/callgraph/rta)
// finds every function the program can reach, interface calls resolved to
// the types it can create. None of the durable packages' code is among
// them (only their package initializers, which set variables), and no
// function of this module calls a file-writing os function, directly or
// through an interface. Reading the key file is the host's business and
// not part of the program: it makes its key in memory.
func TestMicronodeAmnesia(t *testing.T) {
	res := analyzeMain(t, "./tools/analyzers/testdata/micronode", nil)
	reached := amnesiaViolations(res)
	for _, v := range reached {
		t.Error(v)
	}
	// Not vacuous: the Micronode path itself was reached.
	for _, want := range []string{
		"(*" + module + "/sdk.Log).Append", "(*" + module + "/sdk.MemStore).Put", module + "/sdk.VerifyChain",
		"(*" + module + "/sdk.Emitter).TryEmit", "(*" + module + "/sdk.Privacy).Apply",
	} {
		if !reachable(res, want) {
			t.Errorf("%s is not reachable from the program: the check proves nothing about it", want)
		}
	}
}

// TestAmnesiaCheckSeesDisk is the check's control: the same program with
// sdk.OpenDurable also reachable breaks both rules.
func TestAmnesiaCheckSeesDisk(t *testing.T) {
	res := analyzeMain(t, "./tools/analyzers/testdata/micronode", []string{module + "/sdk.OpenDurable"})
	v := strings.Join(amnesiaViolations(res), "\n")
	if !strings.Contains(v, module+"/sdk/wal") || !strings.Contains(v, "calls os.") && !strings.Contains(v, "calls (*os.File)") {
		t.Fatalf("with OpenDurable reachable the check found only:\n%s", v)
	}
	t.Logf("with OpenDurable reachable:\n%s", v)
}

// analyzeMain runs RTA from the main and init functions of the program
// in dir (relative to the module root), plus the functions named in more.
func analyzeMain(t *testing.T, dir string, more []string) *rta.Result {
	t.Helper()
	if testing.Short() || raceEnabled {
		t.Skip("loads and builds the whole program (seconds; make test runs it without -race)")
	}
	cfg := &packages.Config{Mode: packages.LoadAllSyntax, Dir: "../.."}
	pkgs, err := packages.Load(cfg, dir)
	if err != nil {
		t.Fatal(err)
	}
	if n := packages.PrintErrors(pkgs); n > 0 {
		t.Fatalf("%d errors loading %s", n, dir)
	}
	prog, ssaPkgs := ssautil.AllPackages(pkgs, ssa.InstantiateGenerics)
	prog.Build()
	main := ssaPkgs[0]
	roots := []*ssa.Function{main.Func("main"), main.Func("init")}
	for _, name := range more {
		dot := strings.LastIndex(name, ".")
		pkgPath, fn := name[:dot], name[dot+1:]
		p := prog.ImportedPackage(pkgPath)
		if p == nil || p.Func(fn) == nil {
			t.Fatalf("no function %s", name)
		}
		roots = append(roots, p.Func(fn))
	}
	return rta.Analyze(roots, true)
}

func amnesiaViolations(res *rta.Result) []string {
	var out []string
	for fn := range res.Reachable {
		if fn.Pkg != nil && slices.Contains(durablePackages, fn.Pkg.Pkg.Path()) && fn.Name() != "init" {
			out = append(out, "reachable: "+fn.String())
		}
	}
	for fn, node := range res.CallGraph.Nodes {
		if fn == nil || fn.Pkg == nil || !strings.HasPrefix(fn.Pkg.Pkg.Path(), module) {
			continue
		}
		for _, e := range node.Out {
			if slices.Contains(fileWriters, e.Callee.Func.String()) {
				out = append(out, fn.String()+" calls "+e.Callee.Func.String())
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func reachable(res *rta.Result, name string) bool {
	for fn := range res.Reachable {
		if fn.String() == name {
			return true
		}
	}
	return false
}
