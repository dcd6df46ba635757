package gen

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"capnproto.org/go/capnp/v3/std/capnp/schema"
)

var update = flag.Bool("update", false, "rewrite the golden files (generated code and expected errors)")

// goldens maps each compiled request under testdata to the checked-in file
// the generator must reproduce from it byte for byte.
var goldens = []struct {
	schema, req, pkg, out string
}{
	{"schema/audit.capnp", "testdata/audit.req", "canonical", "../canonical/audit.capnp.go"},
	{"gen/testdata/shapes.capnp", "testdata/shapes.req", "shapes", "internal/shapes/shapes.capnp.go"},
	{"gen/testdata/audit_v2.capnp", "testdata/audit_v2.req", "auditv2", "internal/auditv2/audit_v2.capnp.go"},
}

// TestGolden is the stale-code guard: the checked-in generated files are
// exactly what this generator writes from the checked-in requests.
func TestGolden(t *testing.T) {
	for _, g := range goldens {
		t.Run(g.pkg, func(t *testing.T) {
			req, err := os.ReadFile(g.req)
			if err != nil {
				t.Fatal(err)
			}
			out, err := Generate(req, Options{Package: g.pkg})
			if err != nil {
				t.Fatal(err)
			}
			if len(out) != 1 || out[0].Name != filepath.Base(g.out) {
				t.Fatalf("generated %d files, first %q; want %s", len(out), out[0].Name, filepath.Base(g.out))
			}
			if *update {
				if err := os.WriteFile(g.out, out[0].Source, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(g.out)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out[0].Source, want) {
				t.Errorf("%s is stale or hand-edited: run `make gen` (or go test ./gen -update)", g.out)
			}
		})
	}
}

var header = regexp.MustCompile(`(?m)^// Code generated .* DO NOT EDIT\.$`)

func TestHeader(t *testing.T) {
	for _, g := range goldens {
		b, err := os.ReadFile(g.out)
		if err != nil {
			t.Fatal(err)
		}
		if loc := header.FindIndex(b); loc == nil || loc[0] != 0 {
			t.Errorf("%s does not start with the generated-code header", g.out)
		}
	}
}

// requests maps each compiled request under testdata (from here) to the
// schemas, from the repository root, `make gen` compiles into it: the
// goldens' and multifile.req, which TestOneFilePerRequest reads. Those of
// testdata/unsupported come from its directory listing.
func requests(t *testing.T) map[string][]string {
	t.Helper()
	reqs := map[string][]string{
		"testdata/multifile.req": {"gen/testdata/multifile/a.capnp", "gen/testdata/multifile/b.capnp"},
	}
	for _, g := range goldens {
		reqs[g.req] = []string{g.schema}
	}
	unsupported, err := filepath.Glob("testdata/unsupported/*.capnp")
	if err != nil || len(unsupported) == 0 {
		t.Fatalf("no unsupported schemas: %v", err)
	}
	for _, path := range unsupported {
		reqs[strings.TrimSuffix(path, ".capnp")+".req"] = []string{"gen/" + path}
	}
	return reqs
}

// strayTestdata names each file the freshness check below would not cover:
// a request under dir that reqs lacks, and under dir/unsupported a .req or
// .err without its .capnp (left when a schema was deleted: `make gen` only
// writes requests, and TestUnsupported would go on checking the refusal
// of a schema nobody has) or a .capnp without its .req and .err.
func strayTestdata(dir string, reqs map[string][]string) ([]string, error) {
	var stray []string
	top, err := filepath.Glob(filepath.Join(dir, "*.req"))
	if err != nil {
		return nil, err
	}
	for _, path := range top {
		if _, ok := reqs["testdata/"+filepath.Base(path)]; !ok {
			stray = append(stray, filepath.Base(path)+" is compiled by no schema of the freshness check")
		}
	}
	entries, err := os.ReadDir(filepath.Join(dir, "unsupported"))
	if err != nil {
		return nil, err
	}
	have := map[string]bool{}
	for _, e := range entries {
		have[e.Name()] = true
	}
	for _, e := range entries { // sorted by name
		ext := filepath.Ext(e.Name())
		base := strings.TrimSuffix(e.Name(), ext)
		var want []string
		switch ext {
		case ".req", ".err":
			want = []string{".capnp"}
		case ".capnp":
			want = []string{".req", ".err"}
		}
		for _, x := range want {
			if !have[base+x] {
				stray = append(stray, "unsupported/"+e.Name()+" has no "+base+x)
			}
		}
	}
	return stray, nil
}

// TestRequestsFresh recompiles each schema with the capnp tool and compares
// with the request kept in testdata, so a schema edit without `make gen`
// fails here as well as in CI: the goldens' schemas, multifile's and those
// TestUnsupported refuses. First, without capnp, it checks that no request
// or expected error under testdata is left out of that (strayTestdata).
// Plain go test needs no capnp: the recompiling skips.
func TestRequestsFresh(t *testing.T) {
	reqs := requests(t)
	stray, err := strayTestdata("testdata", reqs)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range stray {
		t.Errorf("testdata/%s: delete it, or add what it lacks and run `make gen`", s)
	}
	if _, err := exec.LookPath("capnp"); err != nil {
		t.Skip("capnp not installed (Debian package capnproto); CI runs this check")
	}
	for req, schemas := range reqs {
		cmd := exec.Command("capnp", append([]string{"compile", "-o-"}, schemas...)...)
		cmd.Dir = ".."
		got, err := cmd.Output()
		if err != nil {
			t.Fatalf("capnp compile %s: %v", strings.Join(schemas, " "), err)
		}
		want, err := os.ReadFile(req)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is stale: run `make gen`", req)
		}
	}
}

// TestStrayTestdata: the check above names a request no schema compiles,
// at the top and under unsupported, an expected error without its schema,
// and a schema without its request or error.
func TestStrayTestdata(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "unsupported"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{
		"shapes.req", "old.req",
		"unsupported/union.capnp", "unsupported/union.req", "unsupported/union.err",
		"unsupported/gone.req", "unsupported/gone2.err", "unsupported/new.capnp", "unsupported/new.req",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	stray, err := strayTestdata(dir, map[string][]string{"testdata/shapes.req": {"gen/testdata/shapes.capnp"}})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"old.req is compiled by no schema of the freshness check",
		"unsupported/gone.req has no gone.capnp",
		"unsupported/gone2.err has no gone2.capnp",
		"unsupported/new.capnp has no new.err",
	}
	if got := strings.Join(stray, "\n"); got != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", got, strings.Join(want, "\n"))
	}
}

// TestUnsupported: each schema under testdata/unsupported is refused with the
// typed error kept next to it in a .err file.
func TestUnsupported(t *testing.T) {
	reqs, err := filepath.Glob("testdata/unsupported/*.req")
	if err != nil || len(reqs) < 8 {
		t.Fatalf("found %d requests: %v", len(reqs), err)
	}
	for _, path := range reqs {
		name := strings.TrimSuffix(filepath.Base(path), ".req")
		t.Run(name, func(t *testing.T) {
			req, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Generate(req, Options{Package: "x"})
			var ue *UnsupportedError
			if !errors.As(err, &ue) {
				t.Fatalf("got %v, want an *UnsupportedError", err)
			}
			errFile := strings.TrimSuffix(path, ".req") + ".err"
			if *update {
				if err := os.WriteFile(errFile, []byte(err.Error()+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err2 := os.ReadFile(errFile)
			if err2 != nil {
				t.Fatal(err2)
			}
			if got := err.Error() + "\n"; got != string(want) {
				t.Errorf("got  %q\nwant %q", got, want)
			}
		})
	}
}

// TestOneFilePerRequest: a request of two schema files (b.capnp uses a
// type of a.capnp) is refused, not turned into two files of one package
// that redeclare the helpers and lack the list code of the shared type.
func TestOneFilePerRequest(t *testing.T) {
	req, err := os.ReadFile("testdata/multifile.req")
	if err != nil {
		t.Fatal(err)
	}
	out, err := Generate(req, Options{Package: "x"})
	var ue *UnsupportedError
	if !errors.As(err, &ue) || ue.Node != "gen/testdata/multifile/b.capnp" {
		t.Fatalf("generated %d files, error %v; want an *UnsupportedError naming b.capnp", len(out), err)
	}
}

func TestGoName(t *testing.T) {
	for in, want := range map[string]string{
		"writerId": "WriterID", "capId": "CapID", "id": "ID", "idle": "Idle",
		"ledgerTxid": "LedgerTxid", "tsMs": "TsMs", "ipAddr": "IPAddr", "ipsum": "Ipsum",
		"homeUrl": "HomeURL", "v": "V", "utf8Name": "UTF8Name",
	} {
		if got := GoName(in); got != want {
			t.Errorf("GoName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestGenerateNeedsPackage(t *testing.T) {
	req, err := os.ReadFile("testdata/audit.req")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Generate(req, Options{}); err == nil {
		t.Fatal("no error without a package name")
	}
	if _, err := Generate([]byte("not a request"), Options{Package: "x"}); err == nil {
		t.Fatal("no error for a malformed request")
	}
}

// TestGenerateRefusesBadPackage: a package name that is not a Go
// identifier (a directory name such as wt-bytes, in plugin mode) is refused
// up front, naming it, not passed to gofmt, whose error quoted the whole
// generated file.
func TestGenerateRefusesBadPackage(t *testing.T) {
	req, err := os.ReadFile("testdata/audit.req")
	if err != nil {
		t.Fatal(err)
	}
	for _, pkg := range []string{"wt-bytes", "1st", "func", "_", "a.b"} {
		out, err := Generate(req, Options{Package: pkg})
		if !errors.Is(err, ErrPackageName) || !strings.Contains(err.Error(), `"`+pkg+`"`) || len(err.Error()) > 200 {
			t.Errorf("package %q: generated %d files, error (%d bytes) %.300v; want ErrPackageName naming it", pkg, len(out), len(fmt.Sprint(err)), err)
		}
	}
}

// TestWalk: the walk the generator and tools/schemacheck share visits a
// file, then each declaration before the ones nested in it, named by
// scope, and names a node the request lacks.
func TestWalk(t *testing.T) {
	req, err := os.ReadFile("testdata/shapes.req")
	if err != nil {
		t.Fatal(err)
	}
	r, nodes, err := ReadRequest(req)
	if err != nil {
		t.Fatal(err)
	}
	files, err := r.RequestedFiles()
	if err != nil || files.Len() != 1 {
		t.Fatalf("requested files: %v, %v", files.Len(), err)
	}
	var names []string
	if err := Walk(nodes, files.At(0).Id(), "", func(name string, _ schema.Node) error {
		names = append(names, name)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(names, " "), " Color Scalars Pair Leaf Empty Shapes Shapes.Nested"; got != want {
		t.Errorf("visited %q, want %q", got, want)
	}
	stop := errors.New("stop")
	n := 0
	if err := Walk(nodes, files.At(0).Id(), "", func(string, schema.Node) error { n++; return stop }); err != stop || n != 1 {
		t.Errorf("visit's error: Walk returned %v after %d visits, want it after 1", err, n)
	}
	err = Walk(nodes, 0x1234, "Gone", func(string, schema.Node) error { return nil })
	if !errors.Is(err, ErrMissingNode) || !strings.Contains(err.Error(), "Gone (@0x0000000000001234)") {
		t.Errorf("missing node: %v", err)
	}
}
