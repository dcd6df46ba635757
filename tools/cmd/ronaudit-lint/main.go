// Command ronaudit-lint runs the project's own analyzers (package
// tools/analyzers) over the packages named on its command line:
//
//	go run ./tools/cmd/ronaudit-lint ./...
//
// nounsafe: no "unsafe" under sdk/ and canonical/. generated: *.capnp.go
// files carry the generated-code header and still hash to the sum the
// generator wrote into it (no hand edits). hotpath: functions marked
// //ronaudit:hot call no fmt, use no maps, hold no escaping closures.
// nilness (from golang.org/x/tools, not in go vet's default set):
// impossible or redundant nil comparisons and nil dereferences.
//
// It exits 0 when nothing is reported and non-zero otherwise, printing
// file:line:col: message for each finding. It takes the flags of
// golang.org/x/tools/go/analysis/multichecker (for example -hotpath=false
// to run only the other analyzers, or -json).
package main

import (
	"golang.org/x/tools/go/analysis/multichecker"
	"golang.org/x/tools/go/analysis/passes/nilness"

	"github.com/rustyonions/ron-audit-go/tools/analyzers"
)

func main() {
	multichecker.Main(analyzers.NoUnsafe, analyzers.Generated, analyzers.HotPath, nilness.Analyzer)
}
