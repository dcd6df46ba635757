package main

import (
	"os"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// The CLI is tested as a user runs it: testscript files under
// testdata/script run the real binary (built from this package) and check
// its output and exit codes.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"ronaudit": func() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) },
	})
}

func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{Dir: "testdata/script"})
}
