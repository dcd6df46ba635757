// Command schemacheck keeps the record schema's evolution safe (see
// package tools/schemacheck for the rules).
//
//	schemacheck [-req gen/testdata/audit.req] [-history schema/history]
//	schemacheck record -version N [-req ...] [-history ...]
//
// The first form checks the current schema (its compiled request, which
// make gen keeps in step with schema/audit.capnp) against every released
// version recorded in the history, prints each problem with the field and
// the rule it breaks, and exits 1 if there is one, or if
// canonical.SchemaVersion is not the newest recorded version. record writes
// the current layout as released version N, which must be
// canonical.SchemaVersion (a history file is never overwritten). make
// schema-check runs the check; CI runs it with make test, and go test runs
// it too (TestRealSchemaCheck).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/tools/schemacheck"
)

func main() { os.Exit(run(os.Args[1:], canonical.SchemaVersion, os.Stdout, os.Stderr)) }

// run is the command for the schema version the code is built from
// (canonical.SchemaVersion; tests pass others).
func run(args []string, schemaVersion int, stdout, stderr io.Writer) int {
	record := len(args) > 0 && args[0] == "record"
	if record {
		args = args[1:]
	}
	fs := flag.NewFlagSet("schemacheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	req := fs.String("req", "gen/testdata/audit.req", "the compiled schema (capnp compile -o- schema/audit.capnp)")
	hist := fs.String("history", "schema/history", "the directory of released layouts (vN.json)")
	version := fs.Int("version", 0, "record: the released version to record the current layout as")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	b, err := os.ReadFile(*req)
	if err != nil {
		fmt.Fprintln(stderr, "schemacheck:", err)
		return 2
	}
	cur, err := schemacheck.ReadLayout(b)
	if err != nil {
		fmt.Fprintln(stderr, "schemacheck:", err)
		return 2
	}
	if record {
		return recordVersion(cur, *hist, *version, schemaVersion, stdout, stderr)
	}
	h, err := schemacheck.LoadHistory(*hist)
	if err != nil {
		fmt.Fprintln(stderr, "schemacheck:", err)
		return 2
	}
	if len(h) == 0 {
		fmt.Fprintf(stderr, "schemacheck: no released layouts in %s: record one with schemacheck record -version %d\n", *hist, schemaVersion)
		return 2
	}
	problems := h.CheckAll(cur)
	for _, p := range problems {
		fmt.Fprintln(stdout, p)
	}
	if len(problems) > 0 {
		fmt.Fprintf(stdout, "schemacheck: %d incompatible change(s) in %s: records written under an earlier version would not open, or would hash differently\n", len(problems), cur.File)
		return 1
	}
	last := h[len(h)-1]
	fmt.Fprintf(stdout, "schemacheck: %s is compatible with every released version (v%d..v%d)\n", cur.File, h[0].Version, last.Version)
	cur.Version = last.Version
	switch {
	case schemaVersion < last.Version:
		fmt.Fprintf(stdout, "schemacheck: canonical.SchemaVersion is %d but v%d is released\n", schemaVersion, last.Version)
		return 1
	case schemaVersion > last.Version:
		// Released without its layout: nothing would hold the fields it
		// added, and a later change to them would pass unseen.
		fmt.Fprintf(stdout, "schemacheck: canonical.SchemaVersion is %d but the newest recorded layout is v%d: record this one in the same change (schemacheck record -version %d)\n", schemaVersion, last.Version, last.Version+1)
		return 1
	case !reflect.DeepEqual(cur, last):
		fmt.Fprintf(stdout, "schemacheck: the schema grew since v%d (compatibly); when it is released, bump canonical.SchemaVersion to %d and run schemacheck record -version %d (canonical/SPEC.md section 8)\n", last.Version, last.Version+1, last.Version+1)
	}
	return 0
}

func recordVersion(cur *schemacheck.Layout, dir string, v, schemaVersion int, stdout, stderr io.Writer) int {
	if v < 1 {
		fmt.Fprintln(stderr, "schemacheck: record needs -version N (N >= 1)")
		return 2
	}
	if v != schemaVersion {
		fmt.Fprintf(stderr, "schemacheck: the code is built from schema version %d (canonical.SchemaVersion), not %d: bump it to %d first, then record\n", schemaVersion, v, v)
		return 2
	}
	path := filepath.Join(dir, fmt.Sprintf("v%d.json", v))
	if _, err := os.Stat(path); err == nil {
		fmt.Fprintf(stderr, "schemacheck: %s exists: a released layout is never rewritten\n", path)
		return 1
	} else if !errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintln(stderr, "schemacheck:", err)
		return 2
	}
	// No history yet is the first release; a history that cannot be read
	// must not let an unchecked layout in.
	h, err := schemacheck.LoadHistory(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintln(stderr, "schemacheck:", err)
		return 2
	}
	next := 1
	if len(h) > 0 {
		next = h[len(h)-1].Version + 1
	}
	if v != next {
		fmt.Fprintf(stderr, "schemacheck: the next version to record is v%d, not v%d: versions are released in order\n", next, v)
		return 2
	}
	if problems := h.CheckAll(cur); len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintln(stdout, p)
		}
		fmt.Fprintln(stderr, "schemacheck: not recording an incompatible layout")
		return 1
	}
	b, err := schemacheck.Marshal(cur, v)
	if err == nil {
		err = os.MkdirAll(dir, 0o755)
	}
	if err == nil {
		err = os.WriteFile(path, b, 0o644)
	}
	if err != nil {
		fmt.Fprintln(stderr, "schemacheck:", err)
		return 2
	}
	fmt.Fprintf(stdout, "schemacheck: recorded %s as v%d in %s\n", cur.File, v, path)
	return 0
}
