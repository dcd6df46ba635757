// Command capnpc-ronaudit generates Go code from a compiled Cap'n Proto
// schema: canonical encoders, strict openers and zero-copy views (see
// package gen for what it emits and which schema shapes it refuses).
//
// Usage:
//
//	capnp compile -o- schema/audit.capnp > gen/testdata/audit.req
//	capnpc-ronaudit -pkg canonical -o canonical -req gen/testdata/audit.req
//
// Without -req it reads the request from standard input, so it also runs as
// a capnp plugin: capnp compile -ocapnpc-ronaudit:outdir file.capnp (then
// -pkg defaults to the output directory's name; a name that is not a Go
// identifier, such as wt-bytes, is refused: pass -pkg).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/rustyonions/ron-audit-go/gen"
)

func main() {
	pkg := flag.String("pkg", "", "Go package name (default: the output directory's name)")
	out := flag.String("o", ".", "output directory")
	reqPath := flag.String("req", "", "CodeGeneratorRequest file (default: standard input)")
	flag.Parse()
	if err := run(*pkg, *out, *reqPath); err != nil {
		fmt.Fprintln(os.Stderr, "capnpc-ronaudit:", err)
		os.Exit(1)
	}
}

func run(pkg, out, reqPath string) error {
	var req []byte
	var err error
	if reqPath == "" {
		req, err = io.ReadAll(os.Stdin)
	} else {
		req, err = os.ReadFile(reqPath)
	}
	if err != nil {
		return err
	}
	fromDir := ""
	if pkg == "" {
		abs, err := filepath.Abs(out)
		if err != nil {
			return err
		}
		fromDir, pkg = abs, filepath.Base(abs)
	}
	files, err := gen.Generate(req, gen.Options{Package: pkg})
	if fromDir != "" && errors.Is(err, gen.ErrPackageName) {
		// Refused rather than mangled into some identifier: the package
		// name is API, so the user picks it.
		return fmt.Errorf("output directory %s: its name is the default package name, and it is not a Go identifier: pass -pkg NAME (%w)", fromDir, err)
	}
	if err != nil {
		return err
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(out, f.Name), f.Source, 0o644); err != nil {
			return err
		}
	}
	return nil
}
