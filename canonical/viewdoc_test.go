package canonical

import (
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"strings"
	"testing"
)

// TestViewDocNamesTheStricterOpener: OpenAuditRecord (generated) checks
// the encoding only, and so opens records Open refuses (here, seq 0 and
// version 2). The generated godoc of AuditRecordView must therefore not
// send readers to OpenAuditRecord as the way to get one, as it did, but
// to the stricter opener the package documents: Open.
func TestViewDocNamesTheStricterOpener(t *testing.T) {
	for _, r := range []AuditRecord{
		{V: Version, Seq: 0, Prev: make([]byte, 32), WriterID: "w", Stream: "s"},
		{V: Version + 1, Seq: 1, Prev: make([]byte, 32), WriterID: "w", Stream: "s"},
	} {
		b, err := r.AppendCanonical(nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := OpenAuditRecord(b); err != nil {
			t.Fatalf("OpenAuditRecord of canonical bytes: %v", err)
		}
		if _, err := Open(b); !errors.Is(err, ErrInvalid) {
			t.Fatalf("Open of seq %d, v %d: %v, want ErrInvalid", r.Seq, r.V, err)
		}
	}

	fset := token.NewFileSet()
	docOf := func(file, name string) (pkgDoc, typeDoc string) {
		f, err := parser.ParseFile(fset, file, nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		if f.Doc != nil {
			pkgDoc = f.Doc.Text()
		}
		for _, d := range f.Decls {
			if g, ok := d.(*ast.GenDecl); ok && g.Tok == token.TYPE && g.Doc != nil {
				for _, s := range g.Specs {
					if s.(*ast.TypeSpec).Name.Name == name {
						typeDoc = g.Doc.Text()
					}
				}
			}
		}
		return pkgDoc, typeDoc
	}
	_, view := docOf("audit.capnp.go", "AuditRecordView")
	view = strings.Join(strings.Fields(view), " ")
	if strings.Contains(view, "Get one from OpenAuditRecord") || !strings.Contains(view, "stricter opener") {
		t.Errorf("AuditRecordView's godoc sends readers to OpenAuditRecord, not to the stricter opener: %q", view)
	}
	pkg, _ := docOf("doc.go", "")
	if pkg = strings.Join(strings.Fields(pkg), " "); !strings.Contains(pkg, "Reading: Open checks") {
		t.Errorf("canonical's package doc names no stricter opener (Open) for AuditRecordView: %q", pkg)
	}
}
